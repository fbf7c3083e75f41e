import assert from "node:assert/strict";
import { fileSource, readerStream } from "./source.ts";
import { collect, rm, sha256, tmp } from "./test_util.ts";

Deno.test("fileSource and readerStream deliver the whole file in large chunks", async () => {
  const d = tmp();
  try {
    const data = new Uint8Array(3 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    Deno.writeFileSync(`${d}/f`, data);
    const sizes: number[] = [];
    const s = await fileSource(`${d}/f`, 1 << 20);
    const parts: Uint8Array[] = [];
    for await (const c of s) (sizes.push(c.length), parts.push(c));
    assert.deepEqual(sizes, [1 << 20, 1 << 20, 1 << 20, 123]);
    assert.equal(sha256(new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer())), sha256(data));
    const r = await collect(readerStream(await Deno.open(`${d}/f`), 100_000));
    assert.equal(sha256(r), sha256(data));
    await assert.rejects(fileSource(`${d}/missing`), Deno.errors.NotFound);
  } finally {
    rm(d);
  }
});
