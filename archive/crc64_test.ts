import assert from "node:assert/strict";
import { Crc64, crc64, crc64Combine } from "./crc64.ts";

/** Bit-at-a-time reference (Go's crc64 ISO definition). */
function reference(data: Uint8Array): bigint {
  const poly = 0xd800000000000000n;
  let crc = 0xffffffffffffffffn;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ 0xffffffffffffffffn;
}

Deno.test("crc64 ISO check values from the tar-split spec", () => {
  const e = new TextEncoder();
  assert.equal(new Crc64().update(e.encode("x\n")).value().toString(16), "6153100000000000");
  assert.equal(new Crc64().update(e.encode("base\n")).value().toString(16), "6142cc7416f00000");
  assert.deepEqual([...crc64(e.encode("x\n"))], [0x61, 0x53, 0x10, 0, 0, 0, 0, 0]);
  assert.equal(new Crc64().value(), 0n);
});

Deno.test("crc64 matches a bitwise reference for every length 0..80 and any split", () => {
  const data = new Uint8Array(300);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  for (let n = 0; n <= 80; n++) {
    const want = reference(data.subarray(0, n));
    assert.equal(new Crc64().update(data.subarray(0, n)).value(), want, `len ${n}`);
    const c = new Crc64();
    for (let i = 0; i < n; i += 3) c.update(data.subarray(i, Math.min(n, i + 3)));
    assert.equal(c.value(), want, `split len ${n}`);
  }
  assert.equal(new Crc64().update(data).value(), reference(data));
});

Deno.test("crc64 WebAssembly kernel agrees with the JS loop past its window and on unaligned views", () => {
  const data = new Uint8Array((2 << 20) + 1237);
  let x = 12345;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  const want = new Crc64().updateJs(data).value();
  assert.equal(new Crc64().update(data).value(), want);
  const c = new Crc64();
  for (let i = 0; i < data.length;) {
    const n = 1 + ((i * 7919) % 300_000);
    c.update(data.subarray(i, i + n));
    i += n;
  }
  assert.equal(c.value(), want);
  const odd = data.subarray(3, 3 + 1000);
  assert.equal(new Crc64().update(odd).value(), new Crc64().updateJs(odd).value());
});

Deno.test("crc64Combine joins the CRCs of two parts into the CRC of the whole", () => {
  const data = new Uint8Array(300_000);
  let x = 99;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  for (const cut of [0, 1, 7, 8, 63, 64, 1000, 65_536, 123_457, 299_999, 300_000]) {
    const a = new Crc64().update(data.subarray(0, cut)).value();
    const b = new Crc64().update(data.subarray(cut)).value();
    assert.equal(crc64Combine(a, b, data.length - cut), new Crc64().update(data).value(), `cut ${cut}`);
  }
});
