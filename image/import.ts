/**
 * Importing an image from an OCI layout, OCI archive or docker archive into a store,
 * writing the same records skopeo (containers/image) would: layer IDs are chain IDs,
 * the image ID is the config digest, big data holds the config, the manifest(s) and an
 * empty signature list, and the metadata records the signature sizes.
 *
 * Every blob is verified while it streams into the store. What a failed import created
 * (layers, the image record) is removed again, so a failure leaves the store as it was.
 *
 * @module
 */
import { nodeCrypto } from "../store/node_lazy.ts";
import { DuplicateIDError, ImageUnknownError, LayerUnknownError } from "../store/errors.ts";
import { EMPTY_SHA256, sha256Digest } from "../store/digest.ts";
import type { Image, Layer, Store } from "../store/types.ts";
import { BlobSizeMismatchError, BlobUnknownError, DigestMismatchError, ManifestError } from "./errors.ts";
import { type Descriptor, parseConfig, parseManifest, parsePlatform, type Platform } from "./manifest.ts";
import { normalizeName } from "./names.ts";
import { openImageSource } from "./open.ts";
import { type ImageLocation, readDescribed, type SourceImage } from "./source.ts";
import { VerifyingStream } from "./verify.ts";

/** Progress of an import or export, reported per chunk of layer data. */
export interface LayerProgress {
  /** Index of the layer (base = 0). */
  index: number;
  /** Number of layers. */
  count: number;
  /** The layer blob's digest. */
  digest: string;
  /** Bytes of the blob processed so far. */
  bytes: number;
  /** The blob's size, or -1 when unknown. */
  total: number;
  /** `reused`: the layer was already stored; `done`: finished; `copying`: in progress. */
  state: "copying" | "reused" | "done";
}

/** Options of importImage. */
export interface ImportOptions {
  /** Names for the image, normalised as c/image does; default: the names the source gives. */
  names?: string[];
  /** Platform (`os/arch[/variant]`) to choose from an index listing several. */
  platform?: string | Platform;
  /** Called as layer data is copied. */
  onProgress?: (p: LayerProgress) => void;
}

/** What importImage did. */
export interface ImportResult {
  /** The image record as stored. */
  image: Image;
  /** IDs of layers created by this import, base first. */
  createdLayers: string[];
  /** IDs of layers that were already stored and reused. */
  reusedLayers: string[];
}

/** The hex part of a digest. */
function hexOf(d: string): string {
  return d.slice(d.indexOf(":") + 1);
}

/** Layer ID as containers/image chooses it: the diff ID for a base, else sha256(`parent+diffIDhex`). */
export function chainLayerId(parentId: string, diffId: string): string {
  if (!parentId) return hexOf(diffId);
  return nodeCrypto().createHash("sha256").update(`${parentId}+${hexOf(diffId)}`).digest("hex");
}

/** Go's RFC 3339 rendering of a parsed timestamp keeps the offset and trims fractional zeros. */
export function goTimestamp(s: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const frac = (m[2] ?? "").slice(0, 9).replace(/0+$/, "");
  return m[1] + (frac ? "." + frac : "") + m[3];
}

async function tryLayer(store: Store, id: string): Promise<Layer | null> {
  try {
    const l = await store.layer(id);
    return l.id === id ? l : null;
  } catch (e) {
    if (e instanceof LayerUnknownError) return null;
    throw e;
  }
}

async function tryImage(store: Store, id: string): Promise<Image | null> {
  try {
    const i = await store.image(id);
    return i.id === id ? i : null;
  } catch (e) {
    if (e instanceof ImageUnknownError) return null;
    throw e;
  }
}

/** Checks that every layer blob is present with the size its descriptor gives. */
async function checkBlobs(src: SourceImage, layers: Descriptor[]): Promise<void> {
  for (const d of layers) {
    const size = await src.blobs.stat(d.digest);
    if (size === null) throw new BlobUnknownError(d.digest, "reading blob");
    if (size >= 0 && d.size >= 0 && size !== d.size) throw new BlobSizeMismatchError(d.digest, d.size, size);
  }
}

/** Counts bytes for progress reports without copying them. */
function counting(
  stream: ReadableStream<Uint8Array>,
  report: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  let n = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        n += chunk.length;
        report(n);
        c.enqueue(chunk);
      },
    }),
  );
}

/**
 * Imports the image at `source` (`oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:REF]`) into `store`. Layers already stored under the same chain
 * ID, or with the same diff ID on the same parent, are reused. On failure, layers and the
 * image record created by this call are deleted again before the error is rethrown.
 */
export async function importImage(
  store: Store,
  source: string | ImageLocation,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const platform = typeof options.platform === "string" ? parsePlatform(options.platform) : options.platform;
  const names = options.names?.map(normalizeName);
  const src = await openImageSource(source, { platform });
  const created: string[] = [];
  const reused: string[] = [];
  let createdImage = "";
  try {
    const manifest = parseManifest(src.manifest, src.mediaType);
    const cfgBytes = await readDescribed(src.blobs, manifest.config);
    const config = parseConfig(cfgBytes);
    if (config.diffIds.length !== manifest.layers.length) {
      throw new ManifestError(
        `image config lists ${config.diffIds.length} diff IDs for ${manifest.layers.length} layers`,
      );
    }
    if (!manifest.config.digest.startsWith("sha256:")) {
      throw new ManifestError(`unsupported config digest algorithm in ${manifest.config.digest}`);
    }
    await checkBlobs(src, manifest.layers);

    let parent = "";
    for (const [index, desc] of manifest.layers.entries()) {
      const diffId = config.diffIds[index];
      const report = (bytes: number, state: LayerProgress["state"]) =>
        options.onProgress?.({
          index,
          count: manifest.layers.length,
          digest: desc.digest,
          bytes,
          total: desc.size,
          state,
        });
      const layer = await reuseLayer(store, parent, diffId) ??
        await createLayer(
          store,
          src,
          desc,
          parent,
          diffId,
          created,
          options.onProgress && ((n) => report(n, "copying")),
        );
      if (created[created.length - 1] === layer.id) report(desc.size, "done");
      else {
        reused.push(layer.id);
        report(desc.size, "reused");
      }
      parent = layer.id;
    }

    const imageId = hexOf(manifest.config.digest);
    const bigData = imageBigData(src, manifest.config.digest, cfgBytes);
    const metadata = JSON.stringify({ "signatures-sizes": { [src.manifestDigest]: [] } });
    let image = await tryImage(store, imageId);
    if (image) {
      if (image.topLayer !== parent) {
        throw new ManifestError(
          `image ${imageId} is already stored with top layer ${JSON.stringify(image.topLayer)}, expected ${
            JSON.stringify(parent)
          }`,
        );
      }
      for (const b of bigData) await store.setImageBigData(imageId, b.key, b.data, b.digest);
      await store.setMetadata(imageId, metadata);
    } else {
      try {
        image = await store.createImage({
          id: imageId,
          layer: parent || undefined,
          bigData,
          metadata,
          created: goTimestamp(config.created),
        });
        createdImage = image.id;
      } catch (e) {
        // Another process stored the same image meanwhile: use it as skopeo does.
        if (!(e instanceof DuplicateIDError)) throw e;
        for (const b of bigData) await store.setImageBigData(imageId, b.key, b.data, b.digest);
      }
    }
    const wanted = names ?? src.names;
    if (wanted.length > 0) await store.addNames(imageId, wanted);
    return { image: await store.image(imageId), createdLayers: created, reusedLayers: reused };
  } catch (e) {
    await undo(store, createdImage, created);
    throw e;
  } finally {
    await src.blobs.close();
  }
}

/** The big-data items c/image stores with an image, in its order. */
function imageBigData(
  src: SourceImage,
  configDigest: string,
  cfgBytes: Uint8Array,
): Array<{ key: string; data: Uint8Array; digest: string }> {
  const items = [{ key: configDigest, data: cfgBytes, digest: sha256Digest(cfgBytes) }];
  if (src.toplevel) {
    items.push({
      key: `manifest-${src.toplevel.digest}`,
      data: src.toplevel.bytes,
      digest: src.toplevel.digest,
    });
  }
  items.push(
    { key: `manifest-${src.manifestDigest}`, data: src.manifest, digest: src.manifestDigest },
    { key: "manifest", data: src.manifest, digest: src.manifestDigest },
    { key: `signature-${hexOf(src.manifestDigest)}`, data: new Uint8Array(0), digest: EMPTY_SHA256 },
  );
  return items;
}

/** A stored layer to use for `diffId` on `parent`: the chain ID, else any layer with that diff on that parent. */
async function reuseLayer(store: Store, parent: string, diffId: string): Promise<Layer | null> {
  const byId = await tryLayer(store, chainLayerId(parent, diffId));
  if (byId && byId.parent === parent && !byId.flags?.incomplete) return byId;
  const same = await store.layersByUncompressedDigest(diffId);
  return same.find((l) => l.parent === parent && !l.flags?.incomplete) ?? null;
}

/** Creates one layer from a blob, verifying the blob and the resulting diff ID. */
async function createLayer(
  store: Store,
  src: SourceImage,
  desc: Descriptor,
  parent: string,
  diffId: string,
  created: string[],
  progress: ((bytes: number) => void) | undefined,
): Promise<Layer> {
  const id = chainLayerId(parent, diffId);
  const size = await src.blobs.stat(desc.digest);
  const v = new VerifyingStream(await src.blobs.open(desc.digest), desc.digest, size === -1 ? -1 : desc.size);
  let layer: Layer;
  try {
    layer = await store.createLayer({
      id,
      parent: parent || undefined,
      diff: progress ? counting(v.stream, progress) : v.stream,
    });
  } catch (e) {
    // A decompressor or tar reader in the store wraps the verifier's error: report the original.
    const own = v.error;
    await v.abort();
    if (!own && e instanceof DuplicateIDError) {
      // Created by another process meanwhile.
      const other = await tryLayer(store, id);
      if (other) return other;
    } else if (await tryLayer(store, id)) {
      // The store should have removed its half-made layer; make sure.
      await store.deleteLayer(id).catch(() => {});
    }
    throw own ?? e;
  }
  created.push(layer.id);
  await v.verify();
  if (layer.uncompressedDigest !== diffId) {
    throw new DigestMismatchError(
      diffId,
      layer.uncompressedDigest || "(none)",
      `layer ${desc.digest} diff ID`,
    );
  }
  return layer;
}

/** Removes what a failed import created: the image record, then its new layers top first. */
async function undo(store: Store, imageId: string, layers: string[]): Promise<void> {
  if (imageId) await store.delete(imageId).catch(() => {});
  for (const id of [...layers].reverse()) await store.deleteLayer(id).catch(() => {});
}
