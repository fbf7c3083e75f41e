import assert from "node:assert/strict";
import { openStore } from "./store.ts";
import type { Store } from "./types.ts";
import {
  DriverNotSupportedError,
  ImageUnknownError,
  ImageUsedByContainerError,
  LayerHasChildrenError,
  LayerUnknownError,
  LayerUsedByContainerError,
  LayerUsedByImageError,
  NotAContainerError,
  NotALayerError,
  NotALayerImageOrContainerError,
  NotAnImageError,
  ParentIsContainerError,
  StoreOptionsMissingError,
} from "./errors.ts";
import { collect, makeTar } from "./testdata/tar.ts";

async function withStore(fn: (s: Store, root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "cs-store-" });
  try {
    const s = await openStore({ graphRoot: `${root}/g`, runRoot: `${root}/r`, driverName: "vfs" });
    try {
      await fn(s, root);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("openStore: roots, errors with Go's messages", async () => {
  await assert.rejects(() => openStore({ driverName: "vfs" }), (e) =>
    e instanceof StoreOptionsMissingError &&
    e.message === "no storage runroot or graphroot specified: missing necessary StoreOptions");
  const root = await Deno.makeTempDir({ prefix: "cs-open-" });
  try {
    await assert.rejects(
      () => openStore({ graphRoot: `${root}/g`, runRoot: `${root}/r`, driverName: "bogus" }),
      (e) =>
        e instanceof DriverNotSupportedError &&
        e.message === `failed to GetDriver graph bogus ${root}/g: driver not supported`,
    );
    await assert.rejects(
      () =>
        openStore({
          graphRoot: `${root}/g`,
          runRoot: `${root}/r`,
          driverName: "vfs",
          driverOptions: ["vfs.bogus=1"],
        }),
      /vfs driver does not support vfs.bogus options/,
    );
    const s = await openStore({
      graphRoot: `${root}/g2/`,
      runRoot: `${root}/r2`,
      driverName: "vfs",
      driverOptions: ["vfs.ignore_chown_errors=true"],
    });
    assert.equal(s.graphRoot, `${root}/g2`);
    assert.equal((await Deno.stat(`${root}/g2`)).mode! & 0o777, 0o700);
    for (const d of ["g2/vfs-layers", "g2/vfs-images", "g2/vfs-containers", "r2/vfs-layers"]) {
      assert.ok(await exists(`${root}/${d}`), d);
    }
    assert.deepEqual((await s.status()).slice(0, 4), [
      ["Root", `${root}/g2`],
      ["Run Root", `${root}/r2`],
      ["Driver Name", "vfs"],
      ["Driver Options", "[vfs.ignore_chown_errors=true]"],
    ]);
    assert.equal((await s.version())[0][0], "Version");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deleteLayer refuses children, image tops and container layers whatever the argument's form", () =>
  withStore(async (s) => {
    const base = await s.createLayer({ names: ["base"] });
    const mid = await s.createLayer({ parent: "base", names: ["mid"] });
    const img = await s.createImage({ layer: "mid", names: ["img"] });
    const ctr = await s.createContainer({ image: "img", names: ["ctr"] });
    for (const ref of ["base", base.id, base.id.slice(0, 8)]) {
      await assert.rejects(
        () => s.deleteLayer(ref),
        (e) =>
          e instanceof LayerHasChildrenError && e.message === `used by layer ${mid.id}: layer has children`,
      );
    }
    const top = await s.createLayer({ parent: "mid", names: ["top"] });
    await s.createImage({ layer: "top", id: "topimg" });
    for (const ref of ["top", top.id.slice(0, 10)]) {
      await assert.rejects(() => s.deleteLayer(ref), (e) =>
        e instanceof LayerUsedByImageError &&
        e.message === `layer ${top.id} used by image topimg: layer is in use by an image`);
    }
    await assert.rejects(
      () => s.deleteLayer(ctr.layerId.slice(0, 12)),
      (e) =>
        e instanceof LayerUsedByContainerError &&
        e.message === `layer ${ctr.layerId} used by container ${ctr.id}: layer is in use by a container`,
    );
    await assert.rejects(() => s.deleteLayer("img"), NotALayerError);
    await assert.rejects(() => s.createLayer({ parent: ctr.layerId }), ParentIsContainerError);
    assert.equal(img.topLayer, mid.id);
  }));

Deno.test("deleteImage removes the layers only it uses (dry run first), refuses images in use", () =>
  withStore(async (s) => {
    const a = await s.createLayer({ names: ["a"] });
    const b = await s.createLayer({ parent: "a" });
    const c = await s.createLayer({ parent: b.id });
    const d = await s.createLayer({ parent: b.id });
    await s.createImage({ id: "chain", layer: c.id });
    await s.createImage({ id: "side", layer: d.id });
    await s.createImage({ id: "mid", layer: b.id });
    assert.deepEqual(await s.deleteImage("chain", false), { deletedLayers: [c.id] });
    assert.equal((await s.images()).length, 3, "a dry run changes nothing");
    assert.deepEqual(await s.deleteImage("chain"), { deletedLayers: [c.id] });
    assert.deepEqual(await s.deleteImage("side"), { deletedLayers: [d.id] });
    assert.deepEqual(await s.deleteImage("mid"), { deletedLayers: [b.id, a.id] });
    assert.deepEqual(await s.layers(), []);
    await s.createImage({ id: "used" });
    await s.createContainer({ id: "uc", image: "used" });
    await assert.rejects(
      () => s.deleteImage("used"),
      (e) =>
        e instanceof ImageUsedByContainerError &&
        e.message === "image used by uc: image is in use by a container",
    );
    await assert.rejects(() => s.deleteImage("nosuch"), NotAnImageError);
  }));

Deno.test("delete without checks, deleteContainer and their directories", () =>
  withStore(async (s, root) => {
    await s.createLayer({ id: "p" });
    await s.createLayer({ id: "child", parent: "p" });
    await s.createImage({ id: "img", layer: "child" });
    const c1 = await s.createContainer({ id: "c1", image: "img" });
    const c2 = await s.createContainer({ id: "c2", image: "img" });
    for (const c of ["c1", "c2"]) {
      await s.containerDirectory(c);
      await s.containerRunDirectory(c);
      await s.setContainerBigData(c, "k", new Uint8Array([1]));
    }
    await s.delete("c1");
    assert.equal(await exists(`${root}/g/vfs-containers/c1`), false);
    assert.equal(await exists(`${root}/r/vfs-containers/c1`), true, "delete keeps the run directory");
    assert.equal(await exists(`${root}/r/vfs-containers/c1/userdata`), false);
    await assert.rejects(() => s.layer(c1.layerId), LayerUnknownError);
    await s.deleteContainer("c2");
    assert.equal(await exists(`${root}/g/vfs-containers/c2`), false);
    assert.equal(await exists(`${root}/r/vfs-containers/c2`), false);
    await assert.rejects(() => s.layer(c2.layerId), LayerUnknownError);
    await assert.rejects(() => s.deleteContainer("img"), NotAContainerError);
    await s.delete("img");
    assert.equal((await s.layers()).length, 2, "delete on an image leaves its layers");
    await s.delete("p");
    assert.deepEqual((await s.layers()).map((l) => [l.id, l.parent]), [["child", "p"]]);
    await assert.rejects(() => s.delete("nosuch"), LayerUnknownError);
  }));

Deno.test("names, metadata and exists across kinds", () =>
  withStore(async (s) => {
    await s.createLayer({ id: "same", names: ["lname"] });
    await s.createImage({ id: "same", names: ["iname"] });
    await s.createImage({ id: "i2", names: ["taken"] });
    const c = await s.createContainer({ image: "", names: ["cname"], metadata: "cm" });
    assert.equal(await s.exists("same"), "layer");
    assert.equal(await s.exists("iname"), "image");
    assert.equal(await s.exists("cname"), "container");
    assert.equal(await s.exists("nope"), null);
    assert.deepEqual(await s.names("same"), ["lname"]);
    assert.deepEqual(await s.addNames("iname", ["taken", "new"]), ["taken", "new", "iname"]);
    assert.deepEqual((await s.image("i2")).names, []);
    assert.deepEqual(await s.setNames("cname", ["c2"]), ["c2"]);
    assert.deepEqual(await s.removeNames("c2", ["c2"]), []);
    await assert.rejects(() => s.names("nope"), LayerUnknownError);
    await s.setMetadata("iname", "im");
    assert.equal(await s.metadata("iname"), "im");
    assert.equal(await s.metadata(c.id), "cm");
    await assert.rejects(() => s.setMetadata("nope", "x"), NotALayerImageOrContainerError);
    await assert.rejects(() => s.metadata("nope"), NotALayerImageOrContainerError);
  }));

Deno.test("containers: image top layer, flags, Go's errors; mapped copies on vfs", () =>
  withStore(async (s, root) => {
    const tar = makeTar([{ name: "f", data: "x", uid: 5, gid: 6 }]);
    const l = await s.createLayer({ id: "l1", diff: tar });
    await s.createImage({ id: "img", layer: "l1", names: ["img"] });
    const c = await s.createContainer({ image: "img", names: ["n"], volatile: true });
    const cl = await s.layer(c.layerId);
    assert.equal(cl.parent, "l1");
    assert.deepEqual(c.flags, { MountLabel: "", ProcessLabel: "", Volatile: true });
    assert.equal(c.imageId, "img");
    await assert.rejects(
      () => s.createContainer({ image: "img", names: ["n"] }),
      /the container name "n" is already in use by/,
    );
    await assert.rejects(
      () => s.createContainer({ image: "nope" }),
      (e) => e instanceof ImageUnknownError && e.message === 'locating image with ID "nope": image not known',
    );
    assert.equal((await s.layers()).length, 2, "failed creations leave no layer behind");
    // A container with maps that the top layer lacks gets an ID-mapped copy (vfs cannot shift).
    const uidMap = [{ containerId: 0, hostId: 100000, size: 65536 }];
    const gidMap = [{ containerId: 0, hostId: 200000, size: 65536 }];
    const m1 = await s.createContainer({ image: "img", uidMap, gidMap });
    const img = await s.image("img");
    assert.equal(img.mappedTopLayers.length, 1);
    const copy = await s.layer(img.mappedTopLayers[0]);
    assert.deepEqual([copy.parent, copy.uidMap, copy.gidMap], ["", uidMap, gidMap]);
    assert.equal(copy.uncompressedDigest, l.uncompressedDigest);
    const st = await Deno.lstat(`${root}/g/vfs/dir/${copy.id}/f`);
    assert.deepEqual([st.uid, st.gid], [100005, 200006]);
    assert.deepEqual((await s.layer(m1.layerId)).parent, copy.id);
    assert.deepEqual(m1.uidMap, uidMap);
    // The copy is reused by the next container with the same maps and replays the original tar.
    const m2 = await s.createContainer({ image: "img", uidMap, gidMap });
    assert.equal((await s.layer(m2.layerId)).parent, copy.id);
    assert.deepEqual(await collect(await s.diff(null, copy.id, { compression: "none" })), tar);
    // Deleting the mapped layer directly drops it from the image.
    await s.deleteContainer(m1.id);
    await s.deleteContainer(m2.id);
    await s.deleteLayer(copy.id);
    assert.deepEqual((await s.image("img")).mappedTopLayers, []);
  }));

Deno.test("sizes, mounts, shutdown and wipe", () =>
  withStore(async (s, root) => {
    const tar = makeTar([{ name: "f", data: "hello" }]);
    await s.createLayer({ id: "l1", diff: tar });
    await s.createImage({ id: "img", layer: "l1" });
    await s.setImageBigData("img", "manifest", new TextEncoder().encode("12345"));
    assert.equal(await s.imageSize("img"), tar.length + 5);
    const c = await s.createContainer({ image: "img" });
    const dir = await s.containerDirectory(c.id);
    await Deno.writeTextFile(`${dir}/x`, "abc");
    await s.setContainerBigData(c.id, "k", new Uint8Array(7));
    assert.equal(await s.containerSize(c.id), 0 + 7 + 3);
    const p = await s.mount(c.id);
    assert.equal(p, `${root}/g/vfs/dir/${c.layerId}`);
    assert.equal(await s.mount(c.layerId), p);
    assert.equal(await s.mounted(c.id), 2);
    assert.equal((await s.layer(c.layerId)).mountCount, 2);
    await assert.rejects(() => s.shutdown(), (e) =>
      e instanceof LayerUsedByContainerError &&
      e.message === "a layer is mounted: layer is in use by a container");
    assert.deepEqual(await s.shutdown(true), [c.layerId]);
    assert.equal(await s.mounted(c.id), 0);
    assert.equal(await s.mountImage("img"), `${root}/g/vfs/dir/l1`);
    assert.equal(await s.unmountImage("img"), false);
    await s.mount("l1");
    await s.wipe();
    assert.deepEqual([await s.layers(), await s.images(), await s.containers()], [[], [], []]);
    assert.equal(await Deno.readTextFile(`${root}/r/vfs-layers/mountpoints.json`), "[]");
    assert.deepEqual([...Deno.readDirSync(`${root}/g/vfs/dir`)], []);
  }));

Deno.test("additional read-only image stores: listed, usable as bases, not modifiable", async () => {
  const root = await Deno.makeTempDir({ prefix: "cs-ro-" });
  try {
    const ro = await openStore({ graphRoot: `${root}/ro`, runRoot: `${root}/ror`, driverName: "vfs" });
    await ro.createLayer({ id: "rol", diff: makeTar([{ name: "f", data: "ro" }]) });
    await ro.createImage({ id: "roi", layer: "rol", names: ["roimg"] });
    await ro.close();
    const s = await openStore({
      graphRoot: `${root}/g`,
      runRoot: `${root}/r`,
      driverName: "vfs",
      driverOptions: [`vfs.imagestore=${root}/ro`],
    });
    try {
      await s.createLayer({ id: "own" });
      assert.deepEqual((await s.layers()).map((l) => [l.id, l.readOnly]), [["own", false], ["rol", true]]);
      assert.deepEqual((await s.images()).map((i) => [i.id, i.readOnly]), [["roi", true]]);
      const c = await s.createContainer({ image: "roimg" });
      assert.equal((await s.layer(c.layerId)).parent, "rol");
      const p = await s.mount(c.id);
      assert.equal(await Deno.readTextFile(`${p}/f`), "ro");
      await s.unmount(c.id);
      await assert.rejects(() => s.setMetadata("roi", "x"), NotALayerImageOrContainerError);
      await assert.rejects(() => s.deleteImage("roi"), NotAnImageError);
      await assert.rejects(() => s.deleteLayer("rol"), NotALayerError);
      // set-names on a read-only image makes a writable copy of its record (as Go).
      assert.deepEqual(await s.setNames("roi", ["n1", "n2"]), ["n2"]);
      assert.deepEqual((await s.images()).map((i) => [i.id, i.readOnly, i.names]), [
        ["roi", false, ["n2"]],
        ["roi", true, ["roimg"]],
      ]);
      // Deleting the writable copy leaves the read-only store's layers alone.
      await s.deleteContainer(c.id);
      assert.deepEqual(await s.deleteImage("roi"), { deletedLayers: [] });
      assert.deepEqual((await s.images()).map((i) => [i.id, i.readOnly]), [["roi", true]]);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
