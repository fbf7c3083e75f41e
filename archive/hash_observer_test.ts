import assert from "node:assert/strict";
import { HashObserver } from "./hash_observer.ts";
import { scanTar } from "./tar_reader.ts";
import { makeTar, sha256, streamOf } from "./test_util.ts";

Deno.test("HashObserver digests the whole stream, trailing bytes included", async () => {
  const tar = makeTar([{ name: "a", data: "x".repeat(700) }, { name: "b", data: "" }]);
  const padded = new Uint8Array(tar.length + 777).fill(9);
  padded.set(tar);
  const h = new HashObserver();
  await scanTar(streamOf(padded, 100), [h]);
  assert.equal(h.size, padded.length);
  assert.equal(h.digest(), `sha256:${sha256(padded)}`);
});
