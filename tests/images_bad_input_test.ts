/**
 * Bad input for import: a missing blob, a digest mismatch, a manifest of an unknown
 * media type, a truncated layer, a wrong diff ID, an index with several platforms and no
 * choice. Each must fail with a clear error and leave the store exactly as it was: no
 * image, no layer records, no layer directories (a first good layer is undone too).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { openStore } from "../mod.ts";
import type { Store } from "../mod.ts";
import { importImage } from "../image/import.ts";
import {
  BlobSizeMismatchError,
  BlobUnknownError,
  DigestMismatchError,
  ImageChoiceError,
  ManifestError,
} from "../image/errors.ts";
import { MediaType, serializeOciManifest } from "../image/manifest.ts";
import {
  must,
  readImagesJson,
  readLayersJson,
  tarOf,
  writeBlob,
  writeImageBlobs,
  writeIndex,
} from "./images_helpers.ts";
import type { HandImage } from "./images_helpers.ts";

const TWO_LAYERS: HandImage = {
  layers: [{ "etc/base.txt": "base layer\n" }, { "etc/top.txt": "top layer\n".repeat(500) }],
};

/** What a failed import must not change. */
async function snapshot(store: Store, graph: string): Promise<string> {
  const dirs: string[] = [];
  // The store keeps at least the good image's layer, so the directory exists.
  for await (const e of Deno.readDir(`${graph}/vfs/dir`)) dirs.push(e.name);
  const layers = (await store.layers()).map((l) => l.id);
  const images = (await store.images()).map((i) => i.id);
  return JSON.stringify({ layers, images, dirs: dirs.sort(), files: await readLayersJson(graph, "vfs") });
}

/**
 * Runs `fn` with a store that already holds one good image (so "unchanged" is a real
 * state, not just an empty store) and a layout directory to spoil.
 */
async function withStore(fn: (store: Store, layout: string, graph: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "cs-img-bad-" });
  const graph = `${root}/g`;
  const store = await openStore({ graphRoot: graph, runRoot: `${root}/r`, driverName: "vfs" });
  try {
    const good = `${root}/good`;
    const w = await writeImageBlobs(good, { layers: [{ "a.txt": "already here\n" }] });
    await writeIndex(good, [w.manifest]);
    await importImage(store, `oci:${good}`, { names: ["localhost/good:1"] });
    await fn(store, `${root}/layout`, graph);
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
}

async function expectUnchanged(
  store: Store,
  graph: string,
  source: string,
  error: new (...a: any[]) => Error,
  message: RegExp,
  platform?: string,
): Promise<void> {
  const before = await snapshot(store, graph);
  const imagesBefore = JSON.stringify(await readImagesJson(graph, "vfs"));
  await assert.rejects(importImage(store, source, { names: ["localhost/bad:1"], platform }), (e: Error) => {
    assert.ok(e instanceof error, `${e.constructor.name}: ${e.message}`);
    assert.match(e.message, message);
    if (Deno.env.get("SHOW_ERRORS")) console.log(e.message);
    return true;
  });
  assert.equal(await snapshot(store, graph), before);
  assert.equal(JSON.stringify(await readImagesJson(graph, "vfs")), imagesBefore);
}

Deno.test("import: a missing layer blob fails before anything is written", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    await writeIndex(layout, [w.manifest]);
    await Deno.remove(w.layerPaths[1]);
    await expectUnchanged(
      store,
      graph,
      `oci:${layout}`,
      BlobUnknownError,
      new RegExp(`${w.layers[1].digest} not found`),
    );
  });
});

Deno.test("import: a layer whose bytes do not match its digest is undone with the layer below it", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    await writeIndex(layout, [w.manifest]);
    // Valid gzip of another tar, stored under the original digest with a descriptor of
    // the right size: only the digest can tell.
    const other = gzipSync(await tarOf({ "etc/top.txt": "evil layer\n".repeat(500) }));
    await Deno.writeFile(w.layerPaths[1], other);
    const layers = [w.layers[0], { ...w.layers[1], size: other.length }];
    const m = await writeBlob(
      layout,
      MediaType.OciManifest,
      serializeOciManifest({ config: w.config, layers }),
    );
    await writeIndex(layout, [m]);
    await expectUnchanged(store, graph, `oci:${layout}`, DigestMismatchError, /Digest did not match/);
  });
});

Deno.test("import: a valid blob whose diff ID differs from the config is undone", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    // A config that lists the layers' diff IDs swapped: layer 0 then does not match.
    const cfg = new TextEncoder().encode(JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [w.diffIds[1], w.diffIds[0]] },
    }));
    const config = await writeBlob(layout, MediaType.OciConfig, cfg);
    const m = await writeBlob(
      layout,
      MediaType.OciManifest,
      serializeOciManifest({ config, layers: w.layers }),
    );
    await writeIndex(layout, [m]);
    await expectUnchanged(store, graph, `oci:${layout}`, DigestMismatchError, /diff ID/);
  });
});

Deno.test("import: a manifest of an unknown media type is refused", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    const text = new TextDecoder().decode(serializeOciManifest(w));
    const odd = text.replace(MediaType.OciManifest, "application/vnd.example.manifest.v9+json");
    const m = await writeBlob(
      layout,
      "application/vnd.example.manifest.v9+json",
      new TextEncoder().encode(odd),
    );
    await writeIndex(layout, [m]);
    await expectUnchanged(store, graph, `oci:${layout}`, ManifestError, /unsupported manifest media type/);
  });
});

Deno.test("import: a truncated layer (consistent digest, cut gzip stream) is undone", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    const full = await Deno.readFile(w.layerPaths[1]);
    const cut = full.subarray(0, Math.floor(full.length / 2));
    const layer = await writeBlob(layout, MediaType.OciLayerGzip, cut);
    const m = await writeBlob(
      layout,
      MediaType.OciManifest,
      serializeOciManifest({ config: w.config, layers: [w.layers[0], layer] }),
    );
    await writeIndex(layout, [m]);
    await expectUnchanged(store, graph, `oci:${layout}`, Error, /unexpected EOF|truncated|end of file/i);
  });
});

Deno.test("import: a blob file shorter than its descriptor fails before anything is written", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    await writeIndex(layout, [w.manifest]);
    await Deno.truncate(w.layerPaths[1], 10);
    await expectUnchanged(store, graph, `oci:${layout}`, BlobSizeMismatchError, /size 10 does not match/);
  });
});

Deno.test("import: a truncated oci-archive fails with a clear error", async () => {
  await withStore(async (store, layout, graph) => {
    const w = await writeImageBlobs(layout, TWO_LAYERS);
    await writeIndex(layout, [w.manifest]);
    const archive = `${layout}.tar`;
    await must("tar", ["-C", layout, "-cf", archive, "blobs", "index.json", "oci-layout"]);
    const size = (await Deno.stat(archive)).size;
    await Deno.truncate(archive, size - 3000);
    await expectUnchanged(
      store,
      graph,
      `oci-archive:${archive}`,
      Error,
      /unexpected EOF|not an OCI archive|not found/,
    );
  });
});

Deno.test("import: an index with several platforms needs a choice; with one it imports that image", async () => {
  await withStore(async (store, layout, graph) => {
    const amd = await writeImageBlobs(layout, { layers: [{ "arch": "amd64\n" }] });
    const arm = await writeImageBlobs(layout, {
      layers: [{ "arch": "arm64\n" }],
      platform: { os: "linux", architecture: "arm64" },
    });
    const entries = [
      { ...amd.manifest, platform: { os: "linux", architecture: "amd64" } },
      { ...arm.manifest, platform: { os: "linux", architecture: "arm64" } },
    ];
    await writeIndex(layout, entries);
    await expectUnchanged(store, graph, `oci:${layout}`, ImageChoiceError, /linux\/amd64, linux\/arm64/);
    const r = await importImage(store, `oci:${layout}`, {
      platform: "linux/arm64",
      names: ["localhost/multi:arm"],
    });
    assert.equal(r.image.id, arm.config.digest.slice(7));
    assert.deepEqual(r.image.names, ["localhost/multi:arm"]);
  });
});
