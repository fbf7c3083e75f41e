import assert from "node:assert/strict";
import { ContainerStore } from "./containers.ts";
import { LockFile } from "./lockfile.ts";
import { MultiLock } from "./recordfile.ts";
import { withTempDir } from "./testdata/harness.ts";

function withDir(fn: (root: string) => Promise<void>) {
  return withTempDir("cs-recfile-", fn);
}

const ino = (p: string) => Deno.statSync(p).ino;

Deno.test("recordfile: transient containers keep lock and volatile file in the run dir; unchanged files stay", () =>
  withDir(async (root) => {
    const dir = `${root}/g/vfs-containers`, run = `${root}/r/vfs-containers`;
    const s = new ContainerStore(dir, false, run);
    await s.startWriting();
    try {
      assert.equal(s.lock.path, `${run}/containers.lock`);
      s.create({ id: "vol", imageId: "", layerId: "L1", volatile: true });
      // Only the volatile file exists: no empty containers.json is made.
      assert.deepEqual([...Deno.readDirSync(dir)], []);
      assert.match(Deno.readTextFileSync(`${run}/volatile-containers.json`), /"id":"vol"/);
      s.create({ id: "keep", imageId: "", layerId: "L2" });
      assert.match(Deno.readTextFileSync(`${dir}/containers.json`), /^\[\{"id":"keep"/);
      // Saving for one location leaves the other file alone (same inode: not replaced).
      const before = ino(`${dir}/containers.json`);
      s.setMetadata("vol", "m");
      assert.equal(ino(`${dir}/containers.json`), before);
      assert.match(Deno.readTextFileSync(`${run}/volatile-containers.json`), /"metadata":"m"/);
    } finally {
      s.stop();
    }
    // Another instance reads both files back, each record where it was.
    const t = new ContainerStore(dir, false, run);
    await t.startReading();
    try {
      assert.deepEqual(t.list().map((c) => c.id).sort(), ["keep", "vol"]);
      assert.equal(t.locationOf(t.get("vol")), "volatile");
      assert.equal(t.locationOf(t.get("keep")), "stable");
    } finally {
      t.stop();
    }
    // Without the run dir, the volatile records of the run dir are not seen.
    const plain = new ContainerStore(dir);
    await plain.startReading();
    try {
      assert.deepEqual(plain.list().map((c) => c.id), ["keep"]);
    } finally {
      plain.stop();
    }
  }));

Deno.test("recordfile: MultiLock takes every lock, writes every token, compares the first", () =>
  withDir(async (root) => {
    const a = LockFile.get(`${root}/a/layers.lock`), b = LockFile.get(`${root}/b/layers.lock`);
    const m = new MultiLock([a, b]);
    await m.lock();
    let token: Uint8Array;
    try {
      assert.ok(a.lockedForWriting() && b.lockedForWriting());
      token = m.recordWrite();
      assert.deepEqual(a.getLastWrite(), token);
      assert.equal(b.getLastWrite().length, 64);
    } finally {
      m.unlock();
    }
    assert.ok(!a.locked() && !b.locked());
    assert.equal(m.modifiedSince(token), false);
    await b.lock();
    b.recordWrite();
    b.unlock();
    assert.equal(m.modifiedSince(token), false, "only the first lock's token is compared (HEAD)");
    await m.rLock();
    assert.ok(a.locked() && b.locked() && !a.lockedForWriting());
    m.unlock();
  }));
