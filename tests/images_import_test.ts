/**
 * Import details beyond skopeo parity: a layer stored under another ID (e.g. by
 * import-layer) with the same diff ID on the same parent is reused, and an image that is
 * already stored gets the new manifest and names without new layers.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { openStore } from "../mod.ts";
import { chainLayerId, importImage } from "../image/import.ts";
import { tarOf, writeImageBlobs, writeIndex } from "./images_helpers.ts";

Deno.test("import reuses a stored layer with the same diff ID and parent, whatever its ID", async () => {
  const root = await Deno.makeTempDir({ prefix: "cs-img-reuse-" });
  const store = await openStore({ graphRoot: `${root}/g`, runRoot: `${root}/r`, driverName: "vfs" });
  try {
    const files: Record<string, string>[] = [{ "base.txt": "base\n" }, { "top.txt": "top\n" }];
    const base = await store.createLayer({ diff: gzipSync(await tarOf(files[0])) });
    const w = await writeImageBlobs(`${root}/layout`, { layers: files });
    await writeIndex(`${root}/layout`, [w.manifest]);
    assert.notEqual(base.id, chainLayerId("", w.diffIds[0]));

    const r = await importImage(store, `oci:${root}/layout`, { names: ["localhost/reuse:1"] });
    assert.deepEqual(r.reusedLayers, [base.id]);
    assert.equal(r.createdLayers.length, 1);
    const top = await store.layer(r.image.topLayer);
    assert.equal(top.parent, base.id);
    assert.equal(top.id, chainLayerId(base.id, w.diffIds[1]));
    assert.equal((await store.layers()).length, 2);

    // The same image again under another name: the stored image gains it, no new layers.
    const again = await importImage(store, `oci:${root}/layout`, { names: ["localhost/reuse:2"] });
    assert.deepEqual(again.createdLayers, []);
    assert.deepEqual([...again.image.names].sort(), ["localhost/reuse:1", "localhost/reuse:2"]);
    assert.equal((await store.images()).length, 1);
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
});
