import assert from "node:assert/strict";
import { CrcOffload } from "./crc_offload.ts";
import { Crc64 } from "./crc64.ts";

Deno.test("CrcOffload: digests of several sequences match Crc64, in order; backlog drains", async () => {
  const off = CrcOffload.create();
  assert.ok(off);
  try {
    const data = new Uint8Array(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 27;
    const seqs = [data.subarray(0, 0), data.subarray(5, 70), data, data.subarray(1 << 20, (2 << 20) + 17)];
    const got: Array<Promise<Uint8Array>> = [];
    for (const s of seqs) {
      for (let i = 0; i < s.length; i += 700_000) off.update(s.subarray(i, i + 700_000));
      got.push(off.end());
    }
    const want = seqs.map((s) => [...new Crc64().update(s).digest()]);
    assert.deepEqual((await Promise.all(got)).map((d) => [...d]), want);
    assert.equal(off.backlog, 0);
    // More than the ring holds (32 MiB) in one call: update waits for the worker.
    const big = new Uint8Array(40 << 20);
    big[12345] = 7;
    off.update(big);
    assert.deepEqual([...await off.end()], [...new Crc64().update(big).digest()]);
  } finally {
    off.close();
  }
  await assert.rejects(off.end(), /closed/);
});

Deno.test("CrcOffload: a sequence seeded with a CRC computed in-process goes on from it", async () => {
  const off = CrcOffload.create();
  assert.ok(off);
  try {
    const data = new Uint8Array(5_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) ^ (i >>> 9);
    const local = new Crc64().update(data.subarray(0, 1_234_567));
    off.seed(local.value());
    off.update(data.subarray(1_234_567));
    assert.deepEqual([...await off.end()], [...new Crc64().update(data).digest()]);
    // The next sequence starts from zero again.
    off.update(data.subarray(0, 100));
    assert.deepEqual([...await off.end()], [...new Crc64().update(data.subarray(0, 100)).digest()]);
    while (!off.started) await new Promise((r) => setTimeout(r, 1));
    assert.equal(off.started, true);
  } finally {
    off.close();
  }
});

Deno.test("CrcOffload: parts checksummed in-process (worker busy) are combined in order", async () => {
  const off = CrcOffload.create(0); // always "busy": chunks of 64 KiB+ are checksummed here
  assert.ok(off);
  try {
    const data = new Uint8Array(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) ^ (i >>> 7);
    // Mixed: small pieces go to the worker's ring, large ones are combined.
    for (const [a, b] of [[0, 100], [100, 500_000], [500_000, 500_010], [500_010, 3_000_000]]) {
      off.update(data.subarray(a, b));
    }
    assert.deepEqual([...await off.end()], [...new Crc64().update(data).digest()]);
  } finally {
    off.close();
  }
});
