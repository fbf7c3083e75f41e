import assert from "node:assert/strict";
import { SystemError } from "./errors.ts";
import { AtomicFileWriter, writeFileAtomic, writeFileAtomicSync } from "./atomic.ts";

function tmp(): string {
  return Deno.makeTempDirSync({ prefix: "cs-atomic-" });
}
async function* gen() {
  yield new TextEncoder().encode("a");
  yield new TextEncoder().encode("bc");
}
async function* failing() {
  yield new TextEncoder().encode("partial new content");
  throw new Error("source broke");
}
const leftovers = (d: string) =>
  [...Deno.readDirSync(d)].map((e) => e.name).filter((n) => n.startsWith(".tmp-"));

Deno.test("writeFileAtomic: content, default mode 0600, explicit mode, replaces existing", async () => {
  const d = tmp();
  try {
    const p = `${d}/layers.json`;
    await writeFileAtomic(p, new TextEncoder().encode("[]"));
    assert.equal(Deno.readTextFileSync(p), "[]");
    assert.equal(Deno.statSync(p).mode! & 0o7777, 0o600);
    await writeFileAtomic(p, "[1]", { mode: 0o644, sync: false });
    assert.equal(Deno.readTextFileSync(p), "[1]");
    assert.equal(Deno.statSync(p).mode! & 0o7777, 0o644);
    writeFileAtomicSync(p, "[2]");
    assert.equal(Deno.readTextFileSync(p), "[2]");
    assert.equal(Deno.statSync(p).mode! & 0o7777, 0o600);
    assert.deepEqual(leftovers(d), []);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("writeFileAtomic streams chunk by chunk (ReadableStream and async iterable)", async () => {
  const d = tmp();
  try {
    const p = `${d}/big`;
    const chunk = new Uint8Array(1 << 16).fill(0x61);
    let pulled = 0;
    let sizeAtHalf = -1;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulled === 64) return c.close();
        if (pulled === 32) {
          // Halfway: the data so far is already in the temp file, not held in memory.
          const tmpName = leftovers(d)[0];
          sizeAtHalf = Deno.statSync(`${d}/${tmpName}`).size;
        }
        pulled++;
        c.enqueue(chunk);
      },
    });
    await writeFileAtomic(p, stream);
    // The stream may be pulled a chunk or two ahead of the writes.
    assert.ok(sizeAtHalf >= 30 * chunk.length && sizeAtHalf <= 32 * chunk.length, `temp size ${sizeAtHalf}`);
    assert.equal(Deno.statSync(p).size, 64 * chunk.length);
    await writeFileAtomic(p, gen());
    assert.equal(Deno.readTextFileSync(p), "abc");
    assert.deepEqual(leftovers(d), []);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("writeFileAtomic: an error leaves the old file and no temp file", async () => {
  const d = tmp();
  try {
    const p = `${d}/images.json`;
    Deno.writeTextFileSync(p, "old");
    await assert.rejects(() => writeFileAtomic(p, failing()), /source broke/);
    assert.equal(Deno.readTextFileSync(p), "old");
    assert.deepEqual(leftovers(d), []);
    // Renaming over a directory fails after the data was written: still cleaned up.
    Deno.mkdirSync(`${d}/dir`);
    Deno.writeTextFileSync(`${d}/dir/x`, "");
    assert.throws(() => writeFileAtomicSync(`${d}/dir`, "data"), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.match(e.message, /^rename .*\/\.tmp-dir\d+ .*\/dir: is a directory$/);
      return true;
    });
    assert.deepEqual(leftovers(d), []);
    // A missing directory: Go-like open error.
    await assert.rejects(() => writeFileAtomic(`${d}/nodir/f`, "x"), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.code, "ENOENT");
      assert.match(e.message, new RegExp(`^open ${d}/nodir/\\.tmp-f\\d+: no such file or directory$`));
      return true;
    });
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("a reader that opened the old file keeps the old content after replacement", async () => {
  const d = tmp();
  try {
    const p = `${d}/containers.json`;
    Deno.writeTextFileSync(p, "old content");
    const reader = Deno.openSync(p, { read: true });
    try {
      await writeFileAtomic(p, "new content, longer than before");
      const buf = new Uint8Array(100);
      const n = reader.readSync(buf)!;
      assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "old content");
    } finally {
      reader.close();
    }
    assert.equal(Deno.readTextFileSync(p), "new content, longer than before");
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("AtomicFileWriter: temp name, incremental writes, commit, abort, writable", async () => {
  const d = tmp();
  try {
    const p = `${d}/abc.tar-split.gz`;
    Deno.writeTextFileSync(p, "previous");
    const w = AtomicFileWriter.create(p);
    assert.match(w.tempPath, new RegExp(`^${d}/\\.tmp-abc\\.tar-split\\.gz\\d+$`));
    assert.equal(Deno.statSync(w.tempPath).mode! & 0o777, 0o600);
    w.writeSync(new Uint8Array([1, 2]));
    await w.write(new Uint8Array([3]));
    const sw = w.writable.getWriter();
    await sw.write(new Uint8Array([4, 5]));
    await sw.close();
    assert.equal(w.size, 5);
    assert.equal(Deno.readTextFileSync(p), "previous");
    w.commit();
    assert.deepEqual(Deno.readFileSync(p), new Uint8Array([1, 2, 3, 4, 5]));
    assert.throws(() => w.writeSync(new Uint8Array(1)));
    w.abort(); // no-op after commit
    assert.equal(Deno.statSync(p).size, 5);

    const w2 = AtomicFileWriter.create(p, { mode: 0o640 });
    w2.writeSync(new Uint8Array([9]));
    w2.abort();
    assert.equal(Deno.statSync(p).size, 5);
    assert.deepEqual(leftovers(d), []);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});
