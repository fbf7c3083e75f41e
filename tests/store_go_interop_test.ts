/**
 * A store written by this library is read by the Go CLI, and a store written by the Go
 * CLI is read by this library, field for field; content (tar-split) and mount counts
 * cross over too.
 */
import assert from "node:assert/strict";
import { openStore } from "../mod.ts";
import { encodeContainer, encodeImage, encodeLayer } from "../store/json.ts";
import type { Store } from "../store/types.ts";
import { collect, gzip, makeTar } from "../store/testdata/tar.ts";
import { goCli, goJSON, goOk, type TempStore, withTempStore } from "./store_util.ts";

const enc = new TextEncoder();

/** What both implementations print for the store, as parsed JSON. */
async function ours(s: Store) {
  return {
    layers: (await s.layers()).map((l) => JSON.parse(encodeLayer(l))),
    images: (await s.images()).map((i) => JSON.parse(encodeImage(i))),
    containers: (await s.containers()).map((c) => JSON.parse(encodeContainer(c))),
  };
}

async function theirs(t: TempStore) {
  return {
    layers: await goJSON(t, ["layers", "-j"]),
    images: (await goJSON(t, ["images", "-j"])) ?? [],
    containers: await goJSON(t, ["containers", "-j"]),
  };
}

const open = (t: TempStore) => openStore({ graphRoot: t.graph, runRoot: t.run, driverName: "vfs" });

Deno.test("a store written by this library is read by the Go CLI", () =>
  withTempStore("interop-ours", async (t) => {
    const tar = makeTar([{ name: "etc/" }, { name: "etc/hostname", data: "box\n", uid: 1000, gid: 42 }]);
    const gz = await gzip(tar);
    const s = await open(t);
    try {
      await s.createLayer({ id: "base", names: ["base-layer", "a<b>&c"] });
      await s.createLayer({
        parent: "base",
        names: ["imported"],
        diff: gz,
        uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
        gidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
      });
      await s.setMetadata("base-layer", "layer meta\n");
      await s.setLayerBigData("base", "Layer Key!", enc.encode("lbd"));
      await s.createImage({ id: "img1", layer: "imported", names: ["localhost/x:1"], metadata: "{}" });
      await s.setImageBigData("img1", "manifest", enc.encode('{"schemaVersion":2}'));
      await s.setImageBigData("img1", "sha256:cfg", enc.encode("cfg"));
      await s.addNames("img1", ["alias"]);
      // Not volatile: volatile records go to HEAD's volatile files, which 1.43 does not read.
      await s.createContainer({ id: "ctr1", image: "img1", names: ["c1"], metadata: "cm" });
      await s.setContainerBigData("ctr1", "config.json", enc.encode("{}"));
      const mine = await ours(s);
      assert.deepEqual(await theirs(t), mine);
      assert.equal(mine.layers.length, 3);

      // Go finds what we stored, and replays our tar-split into the original tar.
      assert.equal(await goOk(t, ["get-layer-data", "base", "Layer Key!"]), "lbd");
      assert.equal(await goOk(t, ["get-image-data", "alias", "sha256:cfg"]), "cfg");
      const d = await new Deno.Command("containers-storage", {
        args: ["--graph", t.graph, "--run", t.run, "-s", "vfs", "diff", "-u", "imported"],
        stdout: "piped",
      }).output();
      assert.deepEqual(new Uint8Array(d.stdout), tar);

      // Mount counts are shared through mountpoints.json.
      const path = await s.mount("c1");
      assert.equal((await goCli(t, ["mounted", "c1"])).stdout, "c1 mounted\n");
      assert.equal((await goOk(t, ["mount", "c1"])).trim(), path);
      assert.equal(await s.mounted("ctr1"), 2);
      assert.equal(await s.unmount("ctr1"), true);
      assert.equal(await s.unmount("ctr1"), false);
      assert.equal((await goCli(t, ["mounted", "c1"])).stdout, "");

      // Go's changes are seen by us (token / mtime driven reloads).
      await goOk(t, ["set-names", "-n", "renamed", "img1"]);
      await goOk(t, ["delete-container", "ctr1"]);
      assert.deepEqual((await s.image("img1")).names, ["renamed"]);
      assert.deepEqual(await s.containers(), []);
      assert.deepEqual(await ours(s), await theirs(t));
    } finally {
      await s.close();
    }
  }));

Deno.test("a store written by the Go CLI is read by this library", () =>
  withTempStore("interop-go", async (t) => {
    const tar = makeTar([{ name: "d/" }, { name: "d/f", data: "hi\n", uid: 7, gid: 8 }]);
    const gz = await gzip(tar);
    await goOk(t, ["create-layer", "--id", "l1", "-n", "base"]);
    await goOk(t, ["import-layer", "--id", "l2", "-n", "imp", "l1"], gz);
    await goOk(t, ["set-metadata", "-m", "meta & <more>", "l2"]);
    await goOk(t, ["set-layer-data", "l1", "???"], enc.encode("v"));
    await goOk(t, ["create-image", "--id", "i1", "-n", "img", "-d", "sha256:" + "1".repeat(64), "l2"]);
    await goOk(t, ["set-image-data", "i1", "manifest"], enc.encode("m"));
    await goOk(t, ["add-names", "-n", "img2", "i1"]);
    await goOk(t, ["create-container", "--id", "c1", "-n", "ctr", "-m", "cm", "--volatile", "img"]);
    await goOk(t, ["set-container-data", "c1", "k"], enc.encode("x"));
    await goOk(t, ["mount", "c1"]);
    const s = await open(t);
    try {
      assert.deepEqual(await ours(s), await theirs(t));
      const img = await s.image("img2");
      assert.equal(img.digests.length, 2);
      assert.equal((await s.imagesByDigest("sha256:" + "1".repeat(64)))[0].id, "i1");
      assert.equal(new TextDecoder().decode(await s.layerBigData("l1", "???")), "v");
      assert.equal(await s.mounted("ctr"), 1);
      assert.equal((await s.layer((await s.container("c1")).layerId)).mountCount, 1);
      // Go's tar-split replays through our code into the original tar.
      assert.deepEqual(await collect(await s.diff(null, "imp", { compression: "none" })), tar);
      assert.deepEqual((await s.layer("imp")).uidSet, [0, 7]);
      // We change it; Go sees our changes.
      await s.unmount("c1");
      await s.deleteContainer("ctr");
      await s.deleteImage("img");
      assert.deepEqual(await theirs(t), { layers: [], images: [], containers: [] });
    } finally {
      await s.close();
    }
  }));

Deno.test("while Go creates a layer (holding layers.lock), our reader waits and then sees it complete", () =>
  withTempStore("interop-wait", async (t) => {
    const s = await open(t);
    const tar = makeTar([{ name: "f", data: "x".repeat(5000) }]);
    const go = new Deno.Command("containers-storage", {
      args: ["--graph", t.graph, "--run", t.run, "-s", "vfs", "import-layer", "--id", "slow"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const w = go.stdin.getWriter();
    try {
      await w.write(tar.slice(0, 1024));
      // Go saves the incomplete record under its write lock before reading the rest.
      while (
        !(await Deno.readTextFile(`${t.graph}/vfs-layers/layers.json`).catch(() => "")).includes("incomplete")
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      let resolved = false;
      const listing = s.layers().then((l) => {
        resolved = true;
        return l;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(resolved, false, "the reader waits for Go's write lock");
      await w.write(tar.slice(1024));
      await w.close();
      const layers = await listing;
      assert.deepEqual(layers.map((l) => [l.id, l.flags]), [["slow", {}]]);
      assert.equal((await go.output()).code, 0);
    } finally {
      await w.close().catch(() => {});
      await go.status;
      await s.close();
    }
  }));
