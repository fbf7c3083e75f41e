import assert from "node:assert/strict";
import {
  compress,
  Compression,
  decompress,
  detectCompression,
  UnsupportedCompressionError,
} from "./compression.ts";
import { ArchiveError } from "../store/errors.ts";
import { collect, rm, sh, sha256, streamOf, tmp } from "./test_util.ts";

Deno.test("detectCompression recognises the four magic numbers and nothing else", () => {
  const b = (...x: number[]) => new Uint8Array(x);
  assert.equal(detectCompression(b(0x42, 0x5a, 0x68, 0x39)), Compression.Bzip2);
  assert.equal(detectCompression(b(0x1f, 0x8b, 0x08, 0)), Compression.Gzip);
  assert.equal(detectCompression(b(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)), Compression.Xz);
  assert.equal(detectCompression(b(0x28, 0xb5, 0x2f, 0xfd)), Compression.Zstd);
  assert.equal(detectCompression(b(0x1f, 0x8b, 0x07)), Compression.None);
  assert.equal(detectCompression(b(0xfd, 0x37, 0x7a, 0x58, 0x5a)), Compression.None);
  assert.equal(detectCompression(b()), Compression.None);
});

Deno.test("decompress handles files made by gzip, zstd, xz, bzip2 (and none), in tiny and large chunks", async () => {
  const d = tmp();
  try {
    sh(
      `head -c 400000 /usr/bin/bash > plain && gzip -k plain && zstd -q -k plain && xz -k plain && bzip2 -k plain
        (gzip -c plain; gzip -c plain) > multi.gz`,
      d,
    );
    const plain = Deno.readFileSync(`${d}/plain`);
    const want = sha256(plain);
    const cases: Array<[string, Compression]> = [
      ["plain", Compression.None],
      ["plain.gz", Compression.Gzip],
      ["plain.zst", Compression.Zstd],
      ["plain.xz", Compression.Xz],
      ["plain.bz2", Compression.Bzip2],
    ];
    for (const [f, c] of cases) {
      for (const chunk of [1, 4096, 65536]) {
        if (chunk === 1 && f !== "plain.gz" && f !== "plain") continue; // keep the test quick
        const data = Deno.readFileSync(`${d}/${f}`);
        const src = chunk === 1 ? streamOf(data.subarray(0, 64), 1) : streamOf(data, chunk);
        if (chunk === 1) {
          // only the peeking logic is exercised on 1-byte chunks: the rest follows in one piece
          const rest = streamOf(data.subarray(64), 65536);
          const both = new ReadableStream<Uint8Array>({
            async start(ctl) {
              for await (const x of src) ctl.enqueue(x);
              for await (const x of rest) ctl.enqueue(x);
              ctl.close();
            },
          });
          const r = await decompress(both);
          assert.equal(r.compression, c, f);
          assert.equal(sha256(await collect(r.stream)), want, f);
          continue;
        }
        const r = await decompress(src);
        assert.equal(r.compression, c, `${f} ${chunk}`);
        assert.equal(sha256(await collect(r.stream)), want, `${f} ${chunk}`);
      }
    }
    const multi = await decompress(streamOf(Deno.readFileSync(`${d}/multi.gz`)));
    assert.equal((await collect(multi.stream)).length, plain.length * 2);
    const empty = await decompress(streamOf(new Uint8Array(0)));
    assert.equal(empty.compression, Compression.None);
    assert.equal((await collect(empty.stream)).length, 0);
  } finally {
    rm(d);
  }
});

Deno.test("corrupt compressed streams error with ArchiveError", async () => {
  const d = tmp();
  try {
    sh(`head -c 200000 /usr/bin/bash > p && gzip -k p && zstd -q -k p && xz -k p && bzip2 -k p`, d);
    for (const f of ["p.gz", "p.zst", "p.xz", "p.bz2"]) {
      const z = Deno.readFileSync(`${d}/${f}`);
      const truncated = z.slice(0, z.length >> 1);
      const garbled = z.slice();
      garbled.fill(0xaa, 30, 300);
      for (const c of [truncated, garbled]) {
        const r = await decompress(streamOf(c, 8192));
        await assert.rejects(collect(r.stream), (e) => e instanceof ArchiveError, f);
      }
    }
  } finally {
    rm(d);
  }
});

Deno.test("compress produces gzip and zstd that the system tools read; bzip2/xz are unsupported", async () => {
  const d = tmp();
  try {
    const data = new TextEncoder().encode("layer data ".repeat(50000));
    const gz = await collect(compress(streamOf(data), Compression.Gzip));
    const zst = await collect(compress(streamOf(data), Compression.Zstd));
    Deno.writeFileSync(`${d}/o.gz`, gz);
    Deno.writeFileSync(`${d}/o.zst`, zst);
    assert.equal(sha256(new TextEncoder().encode(sh(`gzip -dc o.gz`, d))), sha256(data));
    assert.equal(sha256(new TextEncoder().encode(sh(`zstd -q -dc o.zst`, d))), sha256(data));
    assert.equal(await collect(compress(streamOf(data), Compression.None)).then(sha256), sha256(data));
    assert.throws(
      () => compress(streamOf(data), Compression.Bzip2),
      (e) =>
        e instanceof UnsupportedCompressionError && e.message === "unsupported compression format tar.bz2",
    );
    assert.throws(() => compress(streamOf(data), Compression.Xz), /unsupported compression format tar.xz/);
  } finally {
    rm(d);
  }
});
