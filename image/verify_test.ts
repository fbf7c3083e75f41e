import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BlobSizeMismatchError, DigestMismatchError } from "./errors.ts";
import { fileRangeStream, readVerified, VerifyingStream } from "./verify.ts";

const data = new TextEncoder().encode("hello, blob ".repeat(1000));
const digest = "sha256:" + createHash("sha256").update(data).digest("hex");

function chunks(bytes: Uint8Array, size = 777): ReadableStream<Uint8Array> {
  let o = 0;
  return new ReadableStream({
    pull(c) {
      if (o >= bytes.length) return c.close();
      c.enqueue(bytes.slice(o, o + size));
      o += size;
    },
  });
}

Deno.test("VerifyingStream: passes the bytes through and verifies", async () => {
  const v = new VerifyingStream(chunks(data), digest, data.length);
  const got = new Uint8Array(await new Response(v.stream).arrayBuffer());
  assert.deepEqual(got, data);
  await v.verify();
  assert.equal(v.bytesRead, data.length);
});

Deno.test("VerifyingStream: a digest mismatch errors the stream and verify()", async () => {
  const bad = data.slice();
  bad[10] ^= 1;
  const v = new VerifyingStream(chunks(bad), digest, data.length);
  await assert.rejects(new Response(v.stream).arrayBuffer(), DigestMismatchError);
  await assert.rejects(v.verify(), DigestMismatchError);
});

Deno.test("VerifyingStream: truncated and overlong blobs fail on size", async () => {
  const short = new VerifyingStream(chunks(data.subarray(0, 5000)), digest, data.length);
  await assert.rejects(new Response(short.stream).arrayBuffer(), BlobSizeMismatchError);
  const long = new Uint8Array(data.length + 10);
  long.set(data);
  const over = new VerifyingStream(chunks(long), digest, data.length);
  await assert.rejects(new Response(over.stream).arrayBuffer(), BlobSizeMismatchError);
});

Deno.test("VerifyingStream: a consumer that stops early still gets the whole blob checked", async () => {
  const bad = data.slice();
  bad[bad.length - 1] ^= 1;
  const v = new VerifyingStream(chunks(bad), digest, -1);
  const r = v.stream.getReader();
  await r.read();
  await r.cancel();
  await assert.rejects(v.verify(), DigestMismatchError);
  const good = new VerifyingStream(chunks(data), digest, -1);
  const r2 = good.stream.getReader();
  await r2.read();
  await r2.cancel();
  await good.verify();
});

Deno.test("readVerified and fileRangeStream read byte ranges of a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = `${dir}/blob`;
    const padded = new Uint8Array(data.length + 200);
    padded.set(data, 100);
    await Deno.writeFile(f, padded);
    assert.deepEqual(
      await readVerified(await fileRangeStream(f, 100, data.length), digest, data.length),
      data,
    );
    await assert.rejects(
      readVerified(await fileRangeStream(f, 99, data.length), digest, data.length),
      DigestMismatchError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
