/**
 * Differential tests against skopeo: the same busybox image (built by buildah) is copied
 * by skopeo into OCI layout, OCI archive and docker archive form; skopeo then imports each
 * into a Go store and our import-image into one of ours. The image records must be the
 * same (ID, digest, names, metadata, big-data keys, sizes and digests, created) and so
 * must the layer records (IDs, digests, sizes, compression, ID sets). Then the exports:
 * skopeo reads what export-image writes, and skopeo's copy out of our store and back into
 * another store keeps the image ID and the layer digests.
 */
import assert from "node:assert/strict";
import { openStore } from "../mod.ts";
import { importImage } from "../image/import.ts";
import { exportImage } from "../image/export.ts";
import {
  addLayer,
  buildBusybox,
  must,
  readImagesJson,
  readLayersJson,
  storageRef,
} from "./images_helpers.ts";

const NAME = "localhost/fmt:1";

function withoutCreated(layers: Record<string, unknown>[]): Record<string, unknown>[] {
  return layers.map(({ created: _, ...rest }) => rest);
}

Deno.test("import-image matches skopeo's records for oci, oci-archive and docker-archive; exports round-trip", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "cs-img-fmt-" });
  try {
    const bg = `${root}/build/g`, br = `${root}/build/r`;
    await buildBusybox("vfs", bg, br, "localhost/fmt-base:1", "formats");
    // Two layers, so that the child layer's chain ID is exercised too.
    const builtId = await addLayer("vfs", bg, br, "localhost/fmt-base:1", NAME, "second layer\n");
    const sources = {
      oci: `oci:${root}/layout:fmt`,
      "oci-archive": `oci-archive:${root}/image.oci.tar:fmt`,
      "docker-archive": `docker-archive:${root}/image.docker.tar:${NAME}`,
    };
    for (const dest of Object.values(sources)) {
      await must("skopeo", ["copy", "-q", storageRef("vfs", bg, br, NAME), dest]);
    }

    for (const [kind, src] of Object.entries(sources)) {
      await t.step(`${kind}: same image and layer records as skopeo`, async () => {
        const goG = `${root}/go-${kind}/g`, goR = `${root}/go-${kind}/r`;
        await must("skopeo", ["copy", "-q", src, storageRef("vfs", goG, goR, NAME)]);
        const ourG = `${root}/ours-${kind}/g`;
        const store = await openStore({
          graphRoot: ourG,
          runRoot: `${root}/ours-${kind}/r`,
          driverName: "vfs",
        });
        try {
          const r = await importImage(store, src, { names: [NAME] });
          assert.equal(r.image.id, builtId, "image ID is the config digest");
          assert.equal(r.createdLayers.length, 2);
          assert.deepEqual(await readImagesJson(ourG, "vfs"), await readImagesJson(goG, "vfs"));
          assert.deepEqual(
            withoutCreated(await readLayersJson(ourG, "vfs")),
            withoutCreated(await readLayersJson(goG, "vfs")),
          );
          // A second import reuses every layer and changes nothing but nothing.
          const again = await importImage(store, src, { names: [NAME] });
          assert.deepEqual(again.createdLayers, []);
          assert.equal(again.reusedLayers.length, r.createdLayers.length);
          assert.equal((await store.layers()).length, r.createdLayers.length);
        } finally {
          await store.close();
        }
      });
    }

    await t.step(
      "without --name: a docker-archive's tag, an OCI ref name as podman load gives it",
      async () => {
        const g = `${root}/tags/g`;
        const store = await openStore({ graphRoot: g, runRoot: `${root}/tags/r`, driverName: "vfs" });
        try {
          const r = await importImage(store, `docker-archive:${root}/image.docker.tar`);
          assert.deepEqual(r.image.names, [NAME]);
          // An OCI ref name becomes a local name, as podman load names it.
          const o = await importImage(store, `oci-archive:${root}/image.oci.tar`);
          const podmanDir = `${root}/podman-load`;
          const p = ["--root", `${podmanDir}/g`, "--runroot", `${podmanDir}/r`, "--storage-driver", "vfs"];
          await must("podman", [
            ...p,
            "--tmpdir",
            `${podmanDir}/tmp`,
            "--events-backend",
            "none",
            "load",
            "-q",
            "-i",
            `${root}/image.oci.tar`,
          ]);
          const loaded = await readImagesJson(`${podmanDir}/g`, "vfs");
          assert.deepEqual([...o.image.names].sort(), [NAME, ...loaded[0].names as string[]].sort());
        } finally {
          await store.close();
        }
      },
    );

    await t.step(
      "export-image output is read by skopeo; skopeo's copy out of our store keeps IDs",
      async () => {
        const g = `${root}/ours-oci/g`, r = `${root}/ours-oci/r`;
        const store = await openStore({ graphRoot: g, runRoot: r, driverName: "vfs" });
        let exported;
        try {
          exported = await exportImage(store, NAME, `oci-archive:${root}/export.tar:x`);
          await exportImage(store, NAME, `oci:${root}/export-dir:x`, { compression: "none" });
        } finally {
          await store.close();
        }
        const inspect = JSON.parse(await must("skopeo", ["inspect", `oci-archive:${root}/export.tar:x`]));
        assert.deepEqual(inspect.Layers, exported.layers.map((l) => l.digest));
        const cfg = JSON.parse(await must("skopeo", ["inspect", "--config", `oci:${root}/export-dir:x`]));
        const built = JSON.parse(
          await must("skopeo", ["inspect", "--config", storageRef("vfs", bg, br, NAME)]),
        );
        assert.deepEqual(cfg.rootfs.diff_ids, built.rootfs.diff_ids);

        // skopeo reads our store (Go's c/storage on files we wrote), writes a layout, and
        // that layout goes into a fresh Go store with the same image ID and layer digests.
        await must("skopeo", ["copy", "-q", storageRef("vfs", g, r, NAME), `oci:${root}/from-ours:x`]);
        const back = storageRef("vfs", `${root}/back/g`, `${root}/back/r`, NAME);
        await must("skopeo", ["copy", "-q", `oci:${root}/from-ours:x`, back]);
        const copy = JSON.parse(await must("skopeo", ["inspect", back]));
        const fromOurs = JSON.parse(await must("skopeo", ["inspect", `oci:${root}/from-ours:x`]));
        assert.deepEqual(copy.Layers, fromOurs.Layers);
        const backImages = await readImagesJson(`${root}/back/g`, "vfs");
        assert.equal(backImages[0].id, builtId);
        const backLayers = (await readLayersJson(`${root}/back/g`, "vfs")).map((l) => l["diff-digest"]);
        assert.deepEqual(backLayers, built.rootfs.diff_ids);
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
