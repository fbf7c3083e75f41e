/** Child of store_concurrency_test.ts: creates N named layers on a shared store. */
import { openStore } from "../mod.ts";

const [graph, run, tag, count] = Deno.args;
const store = await openStore({ graphRoot: graph, runRoot: run, driverName: "vfs" });
let parent: string | undefined;
for (let i = 0; i < Number(count); i++) {
  // Every other layer stacks on the previous one, so parents are exercised across writers.
  const l = await store.createLayer({ names: [`${tag}-${i}`], parent: i % 2 ? parent : undefined });
  parent = l.id;
}
await store.close();
