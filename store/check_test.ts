import assert from "node:assert/strict";
import { openStore, type StoreImpl } from "./store.ts";
import type { CheckReport } from "./types.ts";
import { makeTar } from "./testdata/tar.ts";

async function withStore(fn: (s: StoreImpl, g: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "cs-check-" });
  try {
    const s = await openStore({
      graphRoot: `${root}/g`,
      runRoot: `${root}/r`,
      driverName: "vfs",
    }) as StoreImpl;
    await fn(s, `${root}/g`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const DAY = 24 * 3600 * 1000;
const keys = (r: CheckReport) => ({
  layers: [...r.layers.keys()].sort(),
  images: [...r.images.keys()].sort(),
  containers: [...r.containers.keys()].sort(),
});

Deno.test("check finds missing and modified content; repair removes what depends on it", () =>
  withStore(async (s, g) => {
    await s.createLayer({ id: "base", diff: makeTar([{ name: "a", data: "aaa" }]) });
    await s.createLayer({ id: "top", parent: "base", diff: makeTar([{ name: "b", data: "bbb" }]) });
    await s.createLayer({ id: "other", diff: makeTar([{ name: "c", data: "ccc" }]) });
    await s.createImage({ id: "img", layer: "top" });
    await s.createImage({ id: "img2", layer: "other" });
    await s.setImageBigData("img2", "manifest", new TextEncoder().encode("m"));
    const c = await s.createContainer({ id: "ctr", image: "img" });
    await s.setContainerBigData("ctr", "k", new Uint8Array([1]));
    assert.deepEqual(keys(await s.check({ maxAgeMs: DAY, quick: false })), {
      layers: [],
      images: [],
      containers: [],
    });

    // Content changed behind the store's back; a big-data file went away.
    await Deno.writeTextFile(`${g}/vfs/dir/base/a`, "AAA");
    await Deno.remove(`${g}/vfs-images/img2/manifest`);
    await Deno.remove(`${g}/vfs-containers/ctr/k`);
    // Digests are re-read in both modes; images and containers inherit their layers' problems.
    const expected = { layers: ["base"], images: ["img", "img2"], containers: ["ctr"] };
    assert.deepEqual(keys(await s.check({ maxAgeMs: DAY, quick: true })), expected);
    const full = await s.check({ maxAgeMs: DAY, quick: false });
    assert.deepEqual(keys(full), expected);
    assert.deepEqual(full.layers.get("base"), ['layer base: file integrity checksum failed for "a"']);
    assert.deepEqual(full.images.get("img2"), [
      'image img2: data item "manifest": image data item is missing',
    ]);
    assert.deepEqual(full.images.get("img"), full.layers.get("base"));
    assert.deepEqual(full.containers.get("ctr"), [
      'container ctr: data item "k": container data item is missing',
      ...full.layers.get("base")!,
    ]);

    // Without removing containers, the damaged container keeps its image and layers.
    assert.deepEqual(await s.repair(full, { removeContainers: false }), []);
    assert.deepEqual((await s.images()).map((i) => i.id), ["img"]);
    assert.deepEqual((await s.layers()).map((l) => l.id).sort(), ["base", c.layerId, "top"].sort());
    assert.deepEqual(
      await s.repair(await s.check({ maxAgeMs: DAY, quick: false }), { removeContainers: true }),
      [],
    );
    assert.deepEqual(await s.containers(), []);
    assert.deepEqual(await s.images(), []);
    assert.deepEqual(await s.layers(), []);
    assert.deepEqual(keys(await s.check({ maxAgeMs: 0, quick: false })), {
      layers: [],
      images: [],
      containers: [],
    });
  }));

Deno.test("full check compares mounted contents with the diffs; driver layers without records", () =>
  withStore(async (s, g) => {
    await s.createLayer({ id: "base", diff: makeTar([{ name: "a", data: "aaa" }, { name: "d/" }]) });
    await s.createLayer({ id: "top", parent: "base", diff: makeTar([{ name: "b", data: "bbb" }]) });
    await s.createImage({ id: "img", layer: "top" });
    const orphan = await s.createDriverLayer({});
    // Files added or re-moded without touching the recorded content: the digest still matches.
    await Deno.writeTextFile(`${g}/vfs/dir/top/extra`, "x");
    await Deno.chmod(`${g}/vfs/dir/top/b`, 0o600);
    const quick = await s.check({ maxAgeMs: DAY, quick: true });
    assert.deepEqual(keys(quick).layers, [orphan]);
    assert.deepEqual(quick.layers.get(orphan), [
      `layer ${orphan}: layer in lower level storage driver not accounted for`,
    ]);
    const full = await s.check({ maxAgeMs: DAY, quick: false });
    assert.deepEqual(full.layers.get("top"), [
      "layer top: /b(mode:0644→0600), layer content has been modified",
      "layer top: +/extra, layer content has been modified",
    ]);
    assert.deepEqual(keys(full).images, ["img"]);
    assert.deepEqual(await s.repair(full, { removeContainers: false }), []);
    assert.deepEqual(await s.driverLayers(), []);
    assert.deepEqual(await s.layers(), []);
  }));

Deno.test("check reports old unreferenced layers and missing driver data", () =>
  withStore(async (s, g) => {
    await s.createLayer({ id: "lonely" });
    await s.createLayer({ id: "gone" });
    await s.createImage({ id: "img", layer: "gone" });
    assert.deepEqual(keys(await s.check({ maxAgeMs: DAY, quick: true })).layers, []);
    await Deno.remove(`${g}/vfs/dir/gone`, { recursive: true });
    const r = await s.check({ maxAgeMs: 0, quick: true });
    assert.deepEqual(keys(r).layers, ["gone", "lonely"]);
    assert.deepEqual(r.layers.get("lonely"), [
      "layer lonely: layer not referenced by any images or containers",
    ]);
    assert.deepEqual(r.layers.get("gone"), ["layer gone: layer is missing"]);
  }));

Deno.test("gc removes driver layers and data directories without records; HEAD's directory helpers", () =>
  withStore(async (s, g) => {
    await s.createLayer({ id: "kept" });
    const orphan = await s.createDriverLayer({ parent: "kept" });
    assert.deepEqual((await s.driverLayers()).sort(), ["kept", orphan].sort());
    assert.deepEqual((await s.layers()).map((l) => l.id), ["kept"]);
    const stray = "a".repeat(64);
    await Deno.mkdir(`${g}/vfs-images/${stray}`, { recursive: true });
    await Deno.mkdir(`${g}/vfs-containers/${stray}`, { recursive: true });
    await Deno.mkdir(`${g}/vfs-images/not-an-id`, { recursive: true });
    await s.createImage({ id: "i", layer: "kept" });
    assert.equal(await s.imageDirectory("i"), `${g}/vfs-images/i/userdata`);
    await s.garbageCollect();
    assert.deepEqual(await s.driverLayers(), ["kept"]);
    const left = [...Deno.readDirSync(`${g}/vfs-images`)].map((e) => e.name).sort();
    assert.deepEqual(left, ["i", "images.json", "images.lock", "not-an-id"]);
    assert.deepEqual([...Deno.readDirSync(`${g}/vfs-containers`)].map((e) => e.name), ["containers.lock"]);
  }));
