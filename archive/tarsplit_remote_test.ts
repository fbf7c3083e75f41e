import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { RemoteTarSplit } from "./tarsplit_remote.ts";
import { tarSplitCore } from "./tarsplit_core.ts";
import { Crc64 } from "./crc64.ts";

/** Feeds the same events to a core: segments, and files of the given payloads. */
function feed(
  t: Pick<RemoteTarSplit, "segment" | "fileStart" | "payload" | "fileEnd">,
  files: Array<[string, Uint8Array]>,
) {
  for (const [name, data] of files) {
    t.segment(new TextEncoder().encode(`header of ${name}`));
    t.fileStart();
    for (let i = 0; i < data.length; i += 100_000) t.payload(data.subarray(i, i + 100_000));
    t.fileEnd(name, null, data.length);
  }
  t.segment(new Uint8Array(1024));
}

Deno.test("RemoteTarSplit: the worker's text and sha256 match an in-process core, checksums in-process or not", async () => {
  const big = new Uint8Array(3_000_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) ^ (i >>> 5);
  const files: Array<[string, Uint8Array]> = [["a", big], ["b", new Uint8Array(10)], [
    "c<&>",
    big.subarray(7, 999_999),
  ]];
  let local = "";
  const core = tarSplitCore({ text: (t) => local += t, crc: new Crc64(), pos: 3 });
  feed({
    segment: (b) => core.segment(b),
    fileStart: () => (core.flushSegment(), core.fileStart()),
    payload: (b) => core.payload(b),
    fileEnd: (n, r, size) => core.fileEnd(n, r, size),
  }, files);
  core.flushSegment();
  core.flush();
  const sha = createHash("sha256");
  for (const [name, data] of files) sha.update(new TextEncoder().encode(`header of ${name}`)).update(data);
  sha.update(new Uint8Array(1024));
  const want = sha.digest("hex");
  for (const busy of [16, 0]) {
    const out: Uint8Array[] = [];
    const r = RemoteTarSplit.start(3, (gz) => out.push(gz.slice()), true, "", busy);
    assert.ok(r);
    feed(r, files);
    r.end();
    await r.settle();
    assert.equal(new TextDecoder().decode(gunzipSync(Buffer.concat(out))), local, `busy ${busy}`);
    assert.equal(r.sha, want, `busy ${busy}`);
  }
});
