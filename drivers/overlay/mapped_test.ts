/** ID-mapped copies (diff1..N layout) and additional image stores. */
import assert from "node:assert/strict";
import { lstatNs } from "../../sys/fs.ts";
import { mountAt } from "../../sys/mount.ts";
import { goOk, ls, openDriver, tarBytes, tarStream, type TEntry, withTempStore } from "./testutil.ts";

const T = { sanitizeResources: false, sanitizeOps: false };

const BASE: TEntry[] = [
  { name: "etc/" },
  { name: "etc/passwd", data: "root:x:0:0\n" },
  { name: "home/", uid: 1000, gid: 1000 },
  { name: "home/user", data: "u", uid: 1000, gid: 1000, mode: 0o4755 },
];
const TOP: TEntry[] = [{ name: "top", data: "t", uid: 33, gid: 33 }];
const MAP = [{ containerId: 0, hostId: 100000, size: 65536 }];

Deno.test("overlay: ID-mapped copy gets the diff1 layout and mounts here and in Go", T, async () => {
  await withTempStore(async (s) => {
    await goOk(s, ["layers"]);
    const d = await openDriver(s);
    const home = `${s.graph}/overlay`;
    await d.create("base", null, {});
    await d.applyDiff("base", null, tarStream(BASE), {});
    await d.create("top", "base", {});
    await d.applyDiff("top", "base", tarStream(TOP), {});
    // The copy stacks on the top layer, then is re-owned to the new maps.
    await d.create("copy", "top", { uidMap: MAP, gidMap: MAP });
    await d.updateLayerIDMap("copy", null, { uidMap: MAP, gidMap: MAP });

    assert.deepEqual(ls(`${home}/copy`), ["diff", "diff1", "link", "lower", "work"]);
    assert.deepEqual(ls(`${home}/copy/diff`), []);
    const diffSt = lstatNs(`${home}/copy/diff`);
    assert.deepEqual([diffSt.uid, diffSt.gid, diffSt.mode & 0o7777], [100000, 100000, 0o555]);
    const user = lstatNs(`${home}/copy/diff1/home/user`);
    assert.deepEqual([user.uid, user.gid, user.mode & 0o7777], [101000, 101000, 0o4755], "setuid kept");
    assert.equal(lstatNs(`${home}/copy/diff1/top`).uid, 100033);
    // The originals are untouched.
    assert.equal(lstatNs(`${home}/base/diff/home/user`).uid, 1000);

    const merged = await d.get("copy", {});
    try {
      assert.deepEqual(ls(merged), ["etc", "home", "top"]);
      assert.equal(lstatNs(`${merged}/home/user`).uid, 101000);
      assert.equal(lstatNs(`${merged}/etc/passwd`).uid, 100000);
    } finally {
      await d.put("copy");
    }
    // Tar-split replay reads through diff, diff1, then the lowers.
    const g = await d.diffGetter("copy");
    try {
      const f = await g.open("home/user");
      assert.ok(f);
      f.close();
    } finally {
      await g.close();
    }

    // Go mounts the same layout (it puts diff1 before the lowers too).
    const m = (x: number) => [{ container_id: 0, host_id: x, size: 65536 }];
    Deno.writeTextFileSync(
      `${s.graph}/overlay-layers/layers.json`,
      JSON.stringify([
        { id: "base", created: "2026-01-01T00:00:00Z" },
        { id: "top", parent: "base", created: "2026-01-01T00:00:01Z" },
        { id: "copy", parent: "base", created: "2026-01-01T00:00:02Z", uidmap: m(100000), gidmap: m(100000) },
      ]),
    );
    const goMerged = (await goOk(s, ["mount", "copy"])).trim();
    try {
      assert.deepEqual(ls(goMerged), ["etc", "home", "top"]);
      assert.equal(lstatNs(`${goMerged}/home/user`).uid, 101000);
    } finally {
      await goOk(s, ["unmount", "copy"]);
    }
  }, { go: true });
});

Deno.test("overlay: lowers are resolved in additional image stores", T, async () => {
  await withTempStore(async (ro) => {
    await goOk(ro, ["import-layer", "--id", "robase"], tarBytes(BASE));
    await goOk(ro, ["shutdown"]);
    await withTempStore(async (s) => {
      const d = await openDriver(s, [["overlay.imagestore", ro.graph]]);
      assert.equal(await d.exists("robase"), true);
      await d.create("child", "robase", {});
      await d.applyDiff("child", "robase", tarStream(TOP), {});
      const merged = await d.get("child", {});
      try {
        assert.deepEqual(ls(merged), ["etc", "home", "top"]);
        assert.equal(Deno.readTextFileSync(`${merged}/etc/passwd`), "root:x:0:0\n");
      } finally {
        await d.put("child");
      }
      // A layer of the read-only store mounts read-only, from where it is.
      const roMerged = await d.get("robase", {});
      try {
        assert.equal(roMerged, `${s.graph}/overlay/robase/merged`);
        assert.deepEqual(ls(roMerged), ["etc", "home"]);
        assert.throws(() => Deno.writeTextFileSync(`${roMerged}/x`, "x"));
      } finally {
        await d.put("robase");
      }
      assert.ok(!ls(`${s.graph}/overlay`).includes("robase"), "the mount point in our home is cleaned up");
      assert.deepEqual(await d.changes("child", "robase", {}), [{ path: "/top", kind: 1 }]);
      await assert.rejects(() => d.applyDiff("robase", null, tarStream(TOP), {}), /read-only/);

      // Go resolves the same lowers through its imagestore option.
      await goOk(s, ["--storage-opt", `overlay.imagestore=${ro.graph}`, "layers"]);
      Deno.writeTextFileSync(
        `${s.graph}/overlay-layers/layers.json`,
        JSON.stringify([{ id: "child", parent: "robase", created: "2026-01-01T00:00:00Z" }]),
      );
      const goMerged = (await goOk(s, ["--storage-opt", `overlay.imagestore=${ro.graph}`, "mount", "child"]))
        .trim();
      try {
        assert.deepEqual(ls(goMerged), ["etc", "home", "top"]);
      } finally {
        await goOk(s, ["--storage-opt", `overlay.imagestore=${ro.graph}`, "unmount", "child"]);
      }
    }, { go: true });
  }, { go: true });
});

Deno.test("overlay: idmapped lowers shift a container's view as Go's do", T, async () => {
  await withTempStore(async (s) => {
    await goOk(s, ["import-layer", "--id", "base"], tarBytes(BASE));
    await goOk(s, ["create-image", "--id", "img", "base"]);
    await goOk(s, [
      "create-container",
      "--id",
      "ctr",
      "--uidmap",
      "0:100000:65536",
      "--gidmap",
      "0:100000:65536",
      "img",
    ]);
    const layer = /Layer: (\S+)/.exec(await goOk(s, ["container", "ctr"]))![1];
    const owners = (root: string) =>
      ["etc/passwd", "home", "home/user"].map((p) => {
        const st = lstatNs(`${root}/${p}`);
        return `${p} ${st.uid}:${st.gid}`;
      });
    const goMerged = (await goOk(s, ["mount", "ctr"])).trim();
    const goOwners = owners(goMerged);
    await goOk(s, ["unmount", "ctr"]);
    assert.deepEqual(goOwners, ["etc/passwd 100000:100000", "home 101000:101000", "home/user 101000:101000"]);

    const d = await openDriver(s);
    assert.equal(d.supportsShifting(), true);
    const merged = await d.get(layer, { uidMap: MAP, gidMap: MAP });
    try {
      assert.deepEqual(owners(merged), goOwners);
      const info = mountAt(merged)!;
      assert.match(
        info.superOptions,
        new RegExp(`lowerdir=${s.graph}/overlay/${layer}/mapped/0/l/[A-Z2-7]{26}`),
      );
      // The idmapped clones are detached once the overlay holds them.
      assert.equal(mountAt(`${s.graph}/overlay/${layer}/mapped/0`), null);
      // Files created by the container's root land in the upper with the host ID it maps to.
      Deno.writeTextFileSync(`${merged}/new`, "n");
    } finally {
      await d.put(layer);
    }
    // Without maps the same layer shows the unshifted IDs.
    const plain = await d.get(layer, {});
    try {
      assert.deepEqual(owners(plain), ["etc/passwd 0:0", "home 1000:1000", "home/user 1000:1000"]);
    } finally {
      await d.put(layer);
    }
  }, { go: true });
});
