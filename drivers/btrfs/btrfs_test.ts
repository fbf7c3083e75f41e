import assert from "node:assert/strict";
import { type Change, ChangeKind } from "../../store/types.ts";
import { DriverOptionError, DriverPrerequisitesError, SystemError } from "../../store/errors.ts";
import { lstatNs } from "../../sys/fs.ts";
import { mountAt } from "../../sys/mount.ts";
import { driverFactory } from "../driver.ts";
import "../registry.ts";
import { createVfsDriver } from "../vfs.ts";
import { chainTars, listing, streamOf } from "../vfs_testutil.ts";
import { type BtrfsDriver, createBtrfsDriver } from "./btrfs.ts";
import { isSubvolume, quotaEnabled, subvolCreate } from "./ioctl.ts";
import { sh, subvolumes, withScratchBtrfs } from "./testutil.ts";

function driverOn(graph: string, options: Array<[string, string]> = [], uid: number[] = []) {
  const maps = uid.length ? [{ containerId: 0, hostId: uid[0], size: 65536 }] : [];
  return createBtrfsDriver({
    graphRoot: graph,
    runRoot: `${graph}-run`,
    options,
    uidMap: maps,
    gidMap: maps,
  });
}

/** Runs `fn` with a btrfs driver on a scratch filesystem; cleans up the driver's home mount too. */
function withDriver(
  fn: (d: BtrfsDriver, mnt: string, scratch: string) => Promise<void>,
  options: Array<[string, string]> = [],
): Promise<void> {
  return withScratchBtrfs(async ({ mnt, dir }) => {
    const d = await driverOn(`${mnt}/g`, options);
    try {
      await fn(d, mnt, dir);
    } finally {
      await d.cleanup();
    }
  });
}

function norm(list: Change[]): string[] {
  return list.map((c) => `${ChangeKind[c.kind]} ${c.path}`).sort();
}

/**
 * A generated tar with the mtime and checksum of its `.wh.` entries zeroed: Go (and we)
 * stamp deletions with the export time, so two diffs made a second apart differ there.
 */
function stampless(tar: Uint8Array): Uint8Array {
  const out = tar.slice();
  const dec = new TextDecoder();
  for (let off = 0; off + 512 <= out.length;) {
    const block = out.subarray(off, off + 512);
    if (block.every((b) => b === 0)) break;
    const name = dec.decode(block.subarray(0, 100)).replace(/\0.*$/s, "");
    const size = parseInt(dec.decode(block.subarray(124, 136)).replace(/\0.*$/s, "").trim() || "0", 8);
    if (name.split("/").pop()!.startsWith(".wh.")) block.fill(0, 136, 156);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("btrfs refuses a home that is not on btrfs with Go's message; the registry knows btrfs", async () => {
  assert.equal(driverFactory("btrfs"), createBtrfsDriver);
  const graph = await Deno.makeTempDir({ prefix: "cs-btrfs-ext-" });
  try {
    await assert.rejects(driverOn(graph), (e: Error) => {
      assert.ok(e instanceof DriverPrerequisitesError);
      assert.equal(
        e.message,
        `"${graph}/btrfs" is not on a btrfs filesystem: prerequisites for driver not satisfied (wrong filesystem?)`,
      );
      return true;
    });
    // Like Go, the home is created before the check, and nothing is mounted.
    assert.equal(Deno.statSync(`${graph}/btrfs`).mode! & 0o777, 0o700);
    assert.equal(mountAt(`${graph}/btrfs`), null);
  } finally {
    await Deno.remove(graph, { recursive: true });
  }
});

Deno.test("btrfs init makes the home a private bind mount, cleanup removes it; options as Go", () =>
  withScratchBtrfs(async ({ mnt }) => {
    const graph = `${mnt}/g`;
    const d = await driverOn(graph);
    try {
      const m = mountAt(`${graph}/btrfs`);
      assert.ok(m, "home is a mount point");
      assert.equal(m.root, "/g/btrfs");
      assert.ok(!m.optional.some((o) => o.startsWith("shared:")), "private");
      // A second driver (another process in real life) does not stack another mount.
      const d2 = await driverOn(graph);
      assert.equal(
        (await sh("cat", "/proc/self/mountinfo")).split("\n").filter((l) => l.includes(` ${graph}/btrfs `))
          .length,
        1,
      );
      await d2.cleanup();
      assert.equal(mountAt(`${graph}/btrfs`), null);
      assert.deepEqual(await d.status(), [
        ["Build Version", `Btrfs ${/v[\d.]+/.exec(await sh("btrfs", "--version"))![0]}`],
        ["Library Version", "102"],
      ]);
      assert.deepEqual(await d.metadata("x"), {});
      assert.equal(d.supportsShifting(), false);
      assert.equal(d.whiteoutFormat, "delete");
    } finally {
      await d.cleanup();
    }
    for (
      const [opt, msg] of [
        [["foo", "1"], "unknown option foo"],
        [["btrfs.size", "10M"], "unknown option btrfs.size"],
        [["btrfs.mountopt", "x"], "btrfs driver does not support mount options"],
        [["btrfs.min_space", "abc"], "invalid size: 'abc'"],
      ] as Array<[[string, string], string]>
    ) {
      await assert.rejects(driverOn(graph, [opt]), (e: Error) => {
        assert.ok(e instanceof DriverOptionError);
        assert.equal(e.message, msg);
        return true;
      });
      // Go has made the home private before it parses the options.
      await sh("umount", `${graph}/btrfs`);
    }
    assert.equal(await quotaEnabled(mnt), false, "no option so far turned quotas on");
  }));

Deno.test("btrfs base layers are subvolumes, children snapshots; get, exists, list, remove", () =>
  withDriver(async (d, mnt) => {
    await d.create("base", null, {});
    const base = `${mnt}/g/btrfs/subvolumes/base`;
    assert.ok(isSubvolume(base));
    assert.equal(lstatNs(base).mode & 0o7777, 0o555);
    assert.equal(lstatNs(`${mnt}/g/btrfs/subvolumes`).mode & 0o7777, 0o700);
    Deno.chmodSync(base, 0o755);
    Deno.writeTextFileSync(`${base}/f`, "parent");
    Deno.mkdirSync(`${base}/d`);

    await d.createReadWrite("child", "base", {});
    const child = `${mnt}/g/btrfs/subvolumes/child`;
    assert.ok(isSubvolume(child));
    assert.equal(Deno.readTextFileSync(`${child}/f`), "parent");
    Deno.writeTextFileSync(`${child}/f`, "child");
    assert.equal(Deno.readTextFileSync(`${base}/f`), "parent", "a snapshot, not a shared tree");

    const subs = await subvolumes(mnt);
    assert.deepEqual(subs.map((s) => s.path).sort(), ["g/btrfs/subvolumes/base", "g/btrfs/subvolumes/child"]);
    const b = subs.find((s) => s.path.endsWith("/base"))!;
    const c = subs.find((s) => s.path.endsWith("/child"))!;
    assert.equal(b.parentUuid, "-");
    assert.equal(c.parentUuid, b.uuid, "child is a snapshot of base");

    assert.equal(await d.get("child", {}), child);
    assert.equal(await d.get("child", { options: ["ro"] }), child);
    await assert.rejects(
      d.get("child", { options: ["nodev"] }),
      /btrfs driver does not support mount options/,
    );
    await assert.rejects(d.get("nope", {}), (e: Error) => {
      assert.equal(e.message, `stat ${mnt}/g/btrfs/subvolumes/nope: no such file or directory`);
      return true;
    });
    assert.equal(await d.isMounted("child", child), true);
    assert.equal(await d.isMounted("child", base), false);
    await d.put("child");
    await assert.rejects(
      d.create("orphan", "nope", {}),
      /stat .*\/subvolumes\/nope: no such file or directory/,
    );
    await assert.rejects(d.create("base", null, {}), (e: Error) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.message, "failed to create btrfs subvolume: file exists");
      return true;
    });
    assert.equal(await d.exists("base"), true);
    assert.equal(await d.exists("nope"), false);
    assert.deepEqual((await d.listLayers()).sort(), ["base", "child"]);

    await d.remove("child");
    await d.remove("child");
    assert.equal(await d.exists("child"), false);
    assert.deepEqual((await subvolumes(mnt)).map((s) => s.path), ["g/btrfs/subvolumes/base"]);
    assert.equal(Deno.readTextFileSync(`${base}/f`), "parent");
  }));

Deno.test("btrfs remove deletes subvolumes nested at any depth, and plain directories", () =>
  withDriver(async (d, mnt) => {
    await d.create("l", null, {});
    const l = `${mnt}/g/btrfs/subvolumes/l`;
    Deno.chmodSync(l, 0o755);
    subvolCreate(l, "nested");
    subvolCreate(`${l}/nested`, "deeper");
    Deno.mkdirSync(`${l}/a/b`, { recursive: true });
    subvolCreate(`${l}/a/b`, "n2");
    Deno.writeTextFileSync(`${l}/a/b/n2/file`, "x");
    assert.equal((await subvolumes(mnt)).length, 4);
    await d.remove("l");
    assert.deepEqual(await subvolumes(mnt), []);
    assert.equal(await d.exists("l"), false);

    // A leftover that is not a subvolume (e.g. copied in by hand) goes too.
    Deno.mkdirSync(`${mnt}/g/btrfs/subvolumes/plain/x`, { recursive: true });
    await d.remove("plain");
    assert.equal(await d.exists("plain"), false);
  }));

Deno.test("btrfs applyDiff, changes, diffSize and diff match the vfs driver on a chain with whiteouts", () =>
  withDriver(async (d) => {
    const vgraph = await Deno.makeTempDir({ prefix: "cs-btrfs-vfs-" });
    try {
      const v = await createVfsDriver({
        graphRoot: vgraph,
        runRoot: vgraph,
        options: [],
        uidMap: [],
        gidMap: [],
      });
      const tars = chainTars();
      let parent: string | null = null;
      for (const [i, tar] of tars.entries()) {
        const id = `l${i + 1}`;
        for (const drv of [d, v]) {
          await drv.create(id, parent, {});
          await drv.applyDiff(id, parent, streamOf(tar), {});
        }
        parent = id;
      }
      for (const id of ["l1", "l2", "l3"]) {
        assert.deepEqual(listing(await d.get(id, {})), listing(await v.get(id, {})), id);
      }
      // The child's changes did not leak into the snapshots' parents.
      assert.ok(listing(await d.get("l1", {})).includes("gone/f f644 0:0 x"));
      for (const [id, p] of [["l1", null], ["l2", "l1"], ["l3", "l2"]] as Array<[string, string | null]>) {
        const bc = await d.changes(id, p, {});
        assert.deepEqual(norm(bc), norm(await v.changes(id, p, {})), id);
        assert.ok(bc.length > 0);
        assert.equal(await d.diffSize(id, p, {}), await v.diffSize(id, p, {}), id);
        assert.deepEqual(
          stampless(await bytesOf(await d.diff(id, p, {}))),
          stampless(await bytesOf(await v.diff(id, p, {}))),
          id,
        );
      }
      assert.ok(norm(await d.changes("l2", "l1", {})).includes("Delete /gone"));

      // Round trip: l2's diff applied on a fresh snapshot of l1 gives l2 back (but the
      // root's mode, which diffs never carry).
      await d.create("again", "l1", {});
      await d.applyDiff("again", "l1", await d.diff("l2", "l1", {}), {});
      const noRoot = (l: string[]) => l.filter((x) => !x.startsWith(". "));
      assert.deepEqual(noRoot(listing(await d.get("again", {}))), noRoot(listing(await d.get("l2", {}))));

      // The getter reads the layer's files for tar-split replay.
      const g = await d.diffGetter("l3");
      try {
        const f = await g.open("etc/new");
        assert.ok(f);
        assert.equal(new TextDecoder().decode(await new Response(f.readable).arrayBuffer()), "3");
        assert.equal(await g.open("usr/bin/tool"), null);
      } finally {
        await g.close();
      }
    } finally {
      await Deno.remove(vgraph, { recursive: true });
    }
  }));

Deno.test("btrfs with a remapped root owns subvolumes by the mapped root; updateLayerIDMap re-owns files", () =>
  withScratchBtrfs(async ({ mnt }) => {
    const d = await driverOn(`${mnt}/g`, [], [100000]);
    try {
      await d.create("base", null, {});
      const base = d.dir("base");
      assert.deepEqual([lstatNs(base).uid, lstatNs(base).gid], [100000, 100000]);
      const sv = `${mnt}/g/btrfs/subvolumes`;
      assert.deepEqual([lstatNs(sv).uid, lstatNs(sv).gid], [100000, 100000]);
      Deno.chmodSync(base, 0o755);
      Deno.writeTextFileSync(`${base}/f`, "x");
      Deno.chownSync(`${base}/f`, 100007, 100008);
      await d.create("copy", "base", {});
      const map = (h: number) => [{ containerId: 0, hostId: h, size: 65536 }];
      await d.updateLayerIDMap("copy", { uidMap: map(100000), gidMap: map(100000) }, {
        uidMap: map(200000),
        gidMap: map(200000),
      });
      assert.deepEqual([lstatNs(`${d.dir("copy")}/f`).uid, lstatNs(`${d.dir("copy")}/f`).gid], [
        200007,
        200008,
      ]);
      assert.equal(lstatNs(`${base}/f`).uid, 100007, "the template keeps its owners");
    } finally {
      await d.cleanup();
    }
  }));

async function qgroupMaxRfer(mnt: string, subvolPath: string): Promise<string> {
  const out = await sh("btrfs", "qgroup", "show", "-r", "--raw", mnt);
  const id = (await sh("btrfs", "subvolume", "show", subvolPath)).match(/Subvolume ID:\s+(\d+)/)![1];
  const line = out.split("\n").find((l) => l.startsWith(`0/${id} `))!;
  return line.trim().split(/\s+/)[3];
}

Deno.test("btrfs quotas: min_space turns them on, size limits a layer's qgroup, errors as Go", () =>
  withDriver(async (d, mnt) => {
    assert.equal(quotaEnabled(mnt), true, "btrfs.min_space enabled quotas at init");
    await assert.rejects(d.create("small", null, { storageOpt: { size: "1M" } }), (e: Error) => {
      assert.equal(e.message, "btrfs: storage size cannot be less than 2.097MB");
      return true;
    });
    await d.remove("small");
    await assert.rejects(
      d.create("zero", null, { storageOpt: { size: "0" } }),
      /^.*btrfs: invalid storage size: 0B$/,
    );
    await d.remove("zero");
    await assert.rejects(
      d.create("other", null, { storageOpt: { size: "4M", foo: "1" } }),
      /unknown option foo/,
    );
    await d.remove("other");
    // Keys other than size are ignored when size is absent (as Go does).
    await d.create("nosize", null, { storageOpt: { foo: "1" } });

    await d.create("q", null, { storageOpt: { size: "4M" } });
    const q = d.dir("q");
    assert.equal(Deno.readTextFileSync(`${mnt}/g/btrfs/quotas/q`), String(4 * 1024 * 1024));
    assert.equal(await qgroupMaxRfer(mnt, q), String(4 * 1024 * 1024));
    Deno.chmodSync(q, 0o755);
    // Writing past the limit fails with EDQUOT.
    const data = new Uint8Array(1024 * 1024).fill(7);
    const f = Deno.openSync(`${q}/big`, { create: true, write: true });
    let failed: unknown = null;
    try {
      for (let i = 0; i < 8; i++) {
        f.writeSync(data);
        f.syncSync();
      }
    } catch (e) {
      failed = e;
    } finally {
      f.close();
    }
    assert.ok(failed, "the quota stops writes");
    assert.match(String(failed), /quota exceeded/i);

    // Get re-applies the limit recorded in the quota file.
    await sh("btrfs", "qgroup", "limit", "none", q);
    assert.equal(await qgroupMaxRfer(mnt, q), "none");
    assert.equal(await d.get("q", {}), q);
    assert.equal(await qgroupMaxRfer(mnt, q), String(4 * 1024 * 1024));

    await d.remove("q");
    assert.equal(await d.exists("q"), false);
    await assert.rejects(Deno.stat(`${mnt}/g/btrfs/quotas/q`), Deno.errors.NotFound);
  }, [["btrfs.min_space", "2M"]]));

Deno.test("btrfs quotas: size turns quotas on by itself; failing to turn them on says so", () =>
  withDriver(async (d, mnt) => {
    assert.equal(quotaEnabled(mnt), false);
    await d.create("q", null, { storageOpt: { size: "8M" } });
    assert.equal(quotaEnabled(mnt), true);
    assert.equal(await qgroupMaxRfer(mnt, d.dir("q")), String(8 * 1024 * 1024));

    await sh("btrfs", "quota", "disable", mnt);
    await d.create("ro", null, {});
    await sh("mount", "-o", "remount,ro", mnt);
    try {
      const fresh = await driverOn(`${mnt}/g`);
      try {
        assert.throws(() => fresh.enableQuota(), (e: Error) => {
          assert.ok(e instanceof SystemError);
          assert.match(
            e.message,
            /^failed to enable btrfs quota for .*\/g\/btrfs: read-only file system \(btrfs quota groups are needed/,
          );
          return true;
        });
      } finally {
        await fresh.cleanup();
      }
    } finally {
      await sh("mount", "-o", "remount,rw", mnt);
    }
  }));
