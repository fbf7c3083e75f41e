import assert from "node:assert/strict";
import { replayTarSplit, TarSplitRecorder } from "../archive/tarsplit.ts";
import { DriverOptionError, SystemError } from "../store/errors.ts";
import { lstatNs } from "../sys/fs.ts";
import { driverFactory } from "./driver.ts";
import "./registry.ts";
import { createVfsDriver, parseVfsOptions, type VfsDriver } from "./vfs.ts";
import { chainTars, file, listing, makeTar, snapshotTree, streamOf, tempDir } from "./vfs_testutil.ts";

async function withDriver(
  fn: (d: VfsDriver, graph: string) => Promise<void>,
  options: Array<[string, string]> = [],
): Promise<void> {
  const graph = tempDir("graph");
  try {
    const d = await createVfsDriver({
      graphRoot: graph,
      runRoot: `${graph}/run`,
      options,
      uidMap: [],
      gidMap: [],
    });
    await fn(d, graph);
  } finally {
    Deno.removeSync(graph, { recursive: true });
  }
}

Deno.test("vfs options are parsed as Go's driver does", () => {
  assert.deepEqual(parseVfsOptions([]), { imageStores: [], ignoreChownErrors: false });
  assert.deepEqual(
    parseVfsOptions([["vfs.imagestore", "/a,/b"], [".imagestore", "/c"], [
      "VFS.Ignore_Chown_Errors",
      "True",
    ]]),
    { imageStores: ["/a", "/b", "/c"], ignoreChownErrors: true },
  );
  const msg = (opts: Array<[string, string]>) => {
    try {
      parseVfsOptions(opts);
    } catch (err) {
      assert.ok(err instanceof DriverOptionError);
      return err.message;
    }
    return "no error";
  };
  assert.equal(msg([["vfs.bogus", "1"]]), "vfs driver does not support vfs.bogus options");
  assert.equal(msg([["Vfs.Bogus", "x"]]), "vfs driver does not support vfs.bogus options");
  assert.equal(msg([["overlay.mountopt", "nodev"]]), "vfs driver does not support overlay.mountopt options");
  assert.equal(msg([["vfs.mount_program", "/x"]]), "vfs driver does not support vfs.mount_program options");
  assert.equal(msg([["vfs.size", "10G"]]), "vfs driver does not support vfs.size options");
  assert.equal(msg([["vfs.mountopt", "nodev"]]), "vfs driver does not support mount options");
  assert.equal(
    msg([["vfs.ignore_chown_errors", "maybe"]]),
    'strconv.ParseBool: parsing "maybe": invalid syntax',
  );
});

Deno.test("the registry knows vfs; the factory creates GRAPH/vfs 0700 and rejects bad options", async () => {
  const factory = driverFactory("vfs");
  assert.ok(factory);
  const graph = tempDir("graph");
  try {
    const d = await factory({
      graphRoot: graph,
      runRoot: `${graph}/run`,
      options: [],
      uidMap: [],
      gidMap: [],
    });
    assert.equal(d.name, "vfs");
    assert.equal(d.home, `${graph}/vfs`);
    assert.equal(d.whiteoutFormat, "delete");
    assert.equal(lstatNs(`${graph}/vfs`).mode & 0o7777, 0o700);
    assert.deepEqual(await d.status(), []);
    assert.equal(d.supportsShifting(), false);
    await assert.rejects(
      factory({ graphRoot: graph, runRoot: graph, options: [["vfs.bogus", "1"]], uidMap: [], gidMap: [] }),
      /vfs driver does not support vfs.bogus options/,
    );
  } finally {
    Deno.removeSync(graph, { recursive: true });
  }
});

Deno.test("vfs create, child copy, get, exists, list, remove", () =>
  withDriver(async (d, graph) => {
    await d.create("base", null, {});
    const base = `${graph}/vfs/dir/base`;
    let st = lstatNs(base);
    assert.equal(st.mode & 0o7777, 0o555);
    assert.deepEqual([st.uid, st.gid], [0, 0]);
    assert.equal(lstatNs(`${graph}/vfs/dir`).mode & 0o7777, 0o700);
    assert.deepEqual(await d.metadata("base"), {});

    // Populate the base by hand, then a child must be an exact copy, root included.
    Deno.chmodSync(base, 0o755);
    Deno.mkdirSync(`${base}/etc`);
    Deno.writeTextFileSync(`${base}/etc/hostname`, "box\n");
    Deno.symlinkSync("etc/hostname", `${base}/link`);
    Deno.linkSync(`${base}/etc/hostname`, `${base}/hard`);
    await d.create("child", "base", {});
    const child = `${graph}/vfs/dir/child`;
    assert.deepEqual(snapshotTree(child, { skipAtime: true }), snapshotTree(base, { skipAtime: true }));

    assert.equal(await d.get("child", {}), child);
    assert.equal(await d.get("child", { options: ["ro"] }), child);
    await assert.rejects(
      d.get("child", { options: ["ro", "nosuid"] }),
      /vfs driver does not support mount options/,
    );
    await assert.rejects(d.get("child", { options: ["nodev"] }), /vfs driver does not support mount options/);
    await assert.rejects(d.get("nosuch", {}), (err: unknown) => {
      assert.ok(err instanceof SystemError);
      assert.equal(err.message, `stat ${graph}/vfs/dir/nosuch: no such file or directory`);
      return true;
    });
    assert.equal(await d.isMounted("child", child), true);
    assert.equal(await d.isMounted("child", `${graph}/elsewhere`), false);
    await d.put("child");
    assert.deepEqual((await d.listLayers()).sort(), ["base", "child"]);

    // Missing parent: Go stats it first and creates nothing.
    await assert.rejects(d.create("orphan", "nosuch", {}), /stat .*nosuch: no such file or directory/);
    assert.equal(await d.exists("orphan"), false);
    await assert.rejects(
      d.create("x", null, { storageOpt: { size: "1G" } }),
      /--storage-opt is not supported for vfs/,
    );

    await d.remove("child");
    assert.equal(await d.exists("child"), false);
    await d.remove("child"); // missing is fine
    assert.deepEqual(await d.listLayers(), ["base"]);
    st = lstatNs(`${base}/etc/hostname`);
    assert.equal(st.nlink, 2, "removing the child left the parent alone");
  }));

Deno.test("vfs create with ID maps owns the root by the mapped root (as Go does, vfs/dir too)", () =>
  withDriver(async (d, graph) => {
    const uidMap = [{ containerId: 0, hostId: 100000, size: 65536 }];
    const gidMap = [{ containerId: 0, hostId: 200000, size: 65536 }];
    await d.create("m", null, { uidMap, gidMap });
    const st = lstatNs(`${graph}/vfs/dir/m`);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [100000, 200000, 0o555]);
    const dirs = lstatNs(`${graph}/vfs/dir`);
    assert.deepEqual([dirs.uid, dirs.gid], [100000, 200000]);
  }));

Deno.test("vfs applyDiff through a chain of three layers with whiteouts", () =>
  withDriver(async (d, graph) => {
    const [l1, l2, l3] = chainTars();
    await d.create("l1", null, {});
    await d.applyDiff("l1", null, streamOf(l1), {});
    await d.create("l2", "l1", {});
    await d.applyDiff("l2", "l1", streamOf(l2), {});
    await d.create("l3", "l2", {});
    await d.applyDiff("l3", "l2", streamOf(l3), {});

    assert.deepEqual(listing(`${graph}/vfs/dir/l1`), [
      ". d755 0:0",
      "etc d755 0:0",
      "etc/hostname f644 0:0 one",
      "etc/shadow f600 0:0 secret",
      "gone d755 0:0",
      "gone/f f644 0:0 x",
      "lnk l777 0:0 -> etc/hostname",
      "opaque d755 0:0",
      "opaque/old1 f644 0:0 o1",
      "opaque/olddir d755 0:0",
      "opaque/olddir/deep f644 0:0 d",
      "top f644 1000:1000 top",
      "usr d755 0:0",
      "usr/bin d755 0:0",
      "usr/bin/tool f4755 0:0 tool",
    ]);
    assert.deepEqual(listing(`${graph}/vfs/dir/l2`), [
      ". d750 0:0",
      "deep d755 0:0",
      "deep/x d755 0:0",
      "etc d755 0:0",
      "etc/hostname f644 0:0 two",
      "hl f644 0:0 tool",
      "lnk l777 0:0 -> etc/hostname",
      "opaque d755 0:0",
      "opaque/new f644 0:0 n",
      "usr d755 0:0",
      "usr/bin d755 0:0",
      "usr/bin/tool f644 0:0 tool",
    ]);
    assert.deepEqual(listing(`${graph}/vfs/dir/l3`), [
      ". d750 0:0",
      "deep d755 0:0",
      "deep/x d755 0:0",
      "etc d755 0:0",
      "etc/hostname f644 0:0 two",
      "etc/new f644 1001:2000 3",
      "hl f644 0:0 tool",
      "opaque d755 0:0",
      "opaque/new f644 0:0 n",
      "top f644 5:6 back",
      "usr d755 0:0",
    ]);
    // The hard link made in l2 survives into l3's copy as a hard link.
    assert.equal(lstatNs(`${graph}/vfs/dir/l2/hl`).ino, lstatNs(`${graph}/vfs/dir/l2/usr/bin/tool`).ino);
    assert.equal(lstatNs(`${graph}/vfs/dir/l3/hl`).nlink, 1, "its other name was whited out in l3");
  }));

Deno.test("vfs applyDiff maps owners through the layer's maps; unmappable IDs fail", () =>
  withDriver(async (d, graph) => {
    const uidMap = [{ containerId: 0, hostId: 100000, size: 65536 }];
    const gidMap = [{ containerId: 0, hostId: 200000, size: 65536 }];
    await d.create("m", null, { uidMap, gidMap });
    await d.applyDiff("m", null, streamOf(makeTar([file("f", "x", { uid: 7, gid: 8 })])), { uidMap, gidMap });
    const st = lstatNs(`${graph}/vfs/dir/m/f`);
    assert.deepEqual([st.uid, st.gid], [100007, 200008]);
    await assert.rejects(
      d.applyDiff("m", null, streamOf(makeTar([file("g", "x", { uid: 70000 })])), { uidMap, gidMap }),
      /cannot be mapped/,
    );
  }));

Deno.test("vfs diffGetter opens layer files and keeps symlinks inside the layer", () =>
  withDriver(async (d, graph) => {
    await d.create("l", null, {});
    const root = `${graph}/vfs/dir/l`;
    Deno.mkdirSync(`${root}/usr/lib`, { recursive: true });
    Deno.writeTextFileSync(`${root}/usr/lib/libx`, "inside");
    Deno.symlinkSync("/usr/lib", `${root}/lib`); // absolute: must resolve inside the layer
    Deno.symlinkSync("../../../../../../etc", `${root}/up`);
    const g = await d.diffGetter("l");
    try {
      const f = await g.open("lib/libx");
      assert.ok(f);
      const buf = new Uint8Array(16);
      const n = f.readSync(buf)!;
      f.close();
      assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "inside");
      assert.equal(await g.open("up/passwd"), null, "the host's /etc/passwd is not reachable");
      assert.equal(await g.open("../../../etc/passwd"), null);
      assert.equal(await g.open("nosuch"), null);
    } finally {
      await g.close();
    }
  }));

Deno.test("vfs finds layers of additional image stores and never removes them", () =>
  withDriver(async (ro) => {
    await ro.create("shared", null, {});
    const roGraph = ro.home.slice(0, -"/vfs".length);
    const graph = tempDir("graph2");
    try {
      const d = await createVfsDriver({
        graphRoot: graph,
        runRoot: graph,
        options: [["vfs.imagestore", roGraph]],
        uidMap: [],
        gidMap: [],
      });
      assert.equal(await d.exists("shared"), true);
      assert.equal(await d.get("shared", {}), `${roGraph}/vfs/dir/shared`);
      // A child of a read-only layer is copied into the writable home.
      Deno.chmodSync(`${roGraph}/vfs/dir/shared`, 0o755);
      Deno.writeTextFileSync(`${roGraph}/vfs/dir/shared/f`, "ro");
      await d.create("mine", "shared", {});
      assert.equal(Deno.readTextFileSync(`${graph}/vfs/dir/mine/f`), "ro");
      await d.remove("shared");
      assert.equal(await d.exists("shared"), true);
      assert.deepEqual(await d.listLayers(), ["mine"]);
    } finally {
      Deno.removeSync(graph, { recursive: true });
    }
  }));

Deno.test("vfs applyDiff passes every byte to the observers, record padding included", () =>
  withDriver(async (d) => {
    const tar = makeTar([file("a", "x".repeat(1000))]);
    const padded = new Uint8Array(10240);
    padded.set(tar);
    let seen = 0, entries = 0, ended = false;
    await d.create("l", null, {});
    await d.applyDiff("l", null, streamOf(padded), {
      observers: [{
        segment: (b) => (seen += b.length),
        payload: (b) => (seen += b.length),
        entry: () => entries++,
        end: () => (ended = true),
      }],
    });
    assert.equal(seen, padded.length);
    assert.equal(entries, 1);
    assert.ok(ended);
  }));

Deno.test("vfs applyDiff recording tar-split, then replay through diffGetter gives the tar back", () =>
  withDriver(async (d, graph) => {
    const tars = chainTars();
    for (let i = 0; i < 3; i++) {
      const id = `l${i + 1}`, parent = i ? `l${i}` : null;
      const ts = `${graph}/${id}.tar-split.gz`;
      await d.create(id, parent, {});
      const rec = TarSplitRecorder.create(ts);
      await d.applyDiff(id, parent, streamOf(tars[i]), { observers: [rec] });
      await rec.commit();
      const getter = await d.diffGetter(id);
      try {
        const replay = new Uint8Array(await new Response(replayTarSplit(ts, getter)).arrayBuffer());
        assert.deepEqual(replay, tars[i], id);
      } finally {
        await getter.close();
      }
    }
  }));
