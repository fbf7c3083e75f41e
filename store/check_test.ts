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
    const quick = await s.check({ maxAgeMs: DAY, quick: true });
    assert.deepEqual(keys(quick), { layers: [], images: ["img2"], containers: ["ctr"] });
    const full = await s.check({ maxAgeMs: DAY, quick: false });
    assert.deepEqual(keys(full), { layers: ["base"], images: ["img2"], containers: ["ctr"] });
    assert.match(full.layers.get("base")![0], /base/);
    assert.deepEqual(full.images.get("img2"), [
      'image img2 data item "manifest": image data item is missing',
    ]);

    // Without removing containers, the container keeps its layers; images on them go.
    await s.repair(full, { removeContainers: false });
    assert.deepEqual((await s.images()).map((i) => i.id), []);
    assert.deepEqual((await s.layers()).map((l) => l.id).sort(), ["base", c.layerId, "other", "top"].sort());
    await s.repair(await s.check({ maxAgeMs: DAY, quick: false }), { removeContainers: true });
    assert.deepEqual(await s.containers(), []);
    assert.deepEqual((await s.layers()).map((l) => l.id), ["other"]);
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
