/**
 * Child of store_crash_test.ts: starts creating a layer from a diff stream that delivers
 * one tar header and then never ends, prints `applying` once the extraction has begun,
 * and waits to be killed.
 */
import { openStore } from "../mod.ts";
import { encodeHeader } from "../archive/tar_writer.ts";

const [graph, run] = Deno.args;
const store = await openStore({ graphRoot: graph, runRoot: run, driverName: "vfs" });
// Keeps the event loop alive while the stream below waits forever.
setInterval(() => {}, 60_000);
const header = encodeHeader({ name: "big", size: 1 << 30, mode: 0o644, mtimeNs: 0n });
let sent = 0;
const diff = new ReadableStream<Uint8Array>({
  pull(c) {
    if (sent === 0) {
      sent++;
      c.enqueue(header);
      c.enqueue(new Uint8Array(4096));
      return;
    }
    if (sent === 1) {
      sent++;
      console.log("applying");
    }
    return new Promise(() => {});
  },
}, { highWaterMark: 0 });
await store.createLayer({ id: "crashy", names: ["crash"], diff });
