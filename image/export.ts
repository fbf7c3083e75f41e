/**
 * Exporting a stored image as an OCI layout directory or an OCI archive that skopeo
 * reads back. The image's own manifest and config are kept when the layer blobs can be
 * reproduced with the digests it lists (always for uncompressed layers); otherwise an
 * OCI manifest with the new layer descriptors is written, with the same config, so the
 * image ID (config digest) and the diff IDs stay the same.
 *
 * @module
 */
import { baseName as basename, dirName as dirname, resolvePath as resolve } from "../store/paths.ts";
import { compress } from "../archive/compression.ts";
import { TarWriter } from "../archive/tar_writer.ts";
import { TypeFlag } from "../archive/types.ts";
import { DigestCounter } from "../store/digest.ts";
import { ImageUnknownError, IntegrityError } from "../store/errors.ts";
import { Compression, type Image, type Layer, type Store } from "../store/types.ts";
import { ImageReferenceError, ManifestError } from "./errors.ts";
import type { LayerProgress } from "./import.ts";
import {
  type Descriptor,
  type ImageManifest,
  isManifestType,
  isNondistributable,
  type LayerCompression,
  layerCompression,
  manifestMediaType,
  MediaType,
  ociLayerType,
  parseManifest,
  serializeOciManifest,
} from "./manifest.ts";
import { isReference, normalizeName } from "./names.ts";
import { OciLayoutWriter, REF_NAME_ANNOTATION } from "./oci_layout.ts";
import { type ImageLocation, parseLocation } from "./source.ts";

/** Options of exportImage. */
export interface ExportOptions {
  /**
   * Layer compression: `auto` (default) keeps what the stored manifest lists (gzip or
   * zstd layers are compressed again, uncompressed ones stay as they are) and gzips
   * when the image has no manifest; the others force one compression for all layers.
   */
  compression?: "auto" | LayerCompression;
  /** Called as layer data is written. */
  onProgress?: (p: LayerProgress) => void;
}

/** What exportImage wrote. */
export interface ExportResult {
  /** Digest of the manifest written. */
  manifestDigest: string;
  /** Whether the stored manifest was written unchanged. */
  manifestKept: boolean;
  /** Config descriptor. */
  config: Descriptor;
  /** Layer descriptors, base first. */
  layers: Descriptor[];
}

const ENC = new TextEncoder();

/** The layers of an image, base first. */
async function layerChain(store: Store, image: Image): Promise<Layer[]> {
  const chain: Layer[] = [];
  for (let id = image.topLayer; id;) {
    const l = await store.layer(id);
    chain.unshift(l);
    id = l.parent;
  }
  return chain;
}

/** The stored manifest and config, when the image has usable ones. */
async function storedManifest(
  store: Store,
  image: Image,
): Promise<{ manifest: ImageManifest; bytes: Uint8Array; config: Uint8Array } | null> {
  if (!image.bigDataNames.includes("manifest")) return null;
  const bytes = await store.imageBigData(image.id, "manifest");
  const type = manifestMediaType(bytes);
  if (!isManifestType(type)) return null;
  const manifest = parseManifest(bytes, type);
  if (!image.bigDataNames.includes(manifest.config.digest)) return null;
  const config = await store.imageBigData(image.id, manifest.config.digest);
  return { manifest, bytes, config };
}

function goArch(): string {
  const a = Deno.build.arch as string;
  return a === "x86_64" ? "amd64" : a === "aarch64" ? "arm64" : a;
}

/** Streams one layer into the layout and returns its descriptor and diff ID. */
async function writeLayer(
  store: Store,
  out: OciLayoutWriter,
  layer: Layer,
  compression: LayerCompression,
  template: Descriptor | undefined,
  progress: (bytes: number) => void,
): Promise<{ desc: Descriptor; diffId: string }> {
  const raw = await store.diff(null, layer.id, { compression: "none" });
  const counter = new DigestCounter();
  const hashed = raw.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        counter.update(chunk);
        progress(counter.size);
        c.enqueue(chunk);
      },
    }),
  );
  const c = compression === "gzip"
    ? Compression.Gzip
    : compression === "zstd"
    ? Compression.Zstd
    : Compression.None;
  const { digest, size } = await out.putBlob(compress(hashed, c));
  const diffId = counter.digest();
  if (layer.uncompressedDigest && layer.uncompressedDigest !== diffId) {
    throw new IntegrityError(
      `layer ${layer.id}: diff has digest ${diffId}, but the layer records ${layer.uncompressedDigest}`,
    );
  }
  const desc: Descriptor = {
    mediaType: ociLayerType(compression, template ? isNondistributable(template.mediaType) : false),
    digest,
    size,
  };
  if (template?.urls) desc.urls = template.urls;
  if (template?.annotations) desc.annotations = template.annotations;
  return { desc, diffId };
}

/** The compression to write a layer with. */
function chooseCompression(
  option: ExportOptions["compression"],
  layer: Layer,
  template: Descriptor | undefined,
): LayerCompression {
  if (option && option !== "auto") return option;
  if (template) {
    if (template.digest === layer.uncompressedDigest) return "none";
    return layerCompression(template.mediaType) ?? "gzip";
  }
  return layer.compression === Compression.Zstd ? "zstd" : "gzip";
}

/**
 * Writes the image `ref` of `store` to `dest` (`oci:DIR[:REF]` or
 * `oci-archive:FILE[:REF]`). An OCI layout that exists already keeps its other images;
 * an archive is replaced as a whole once complete.
 */
export async function exportImage(
  store: Store,
  ref: string,
  dest: string | ImageLocation,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const loc = typeof dest === "string" ? parseLocation(dest) : dest;
  if (loc.transport === "docker-archive") {
    throw new ImageReferenceError("export to docker-archive is not supported; use oci: or oci-archive:");
  }
  const image = await findImage(store, ref);
  if (loc.transport === "oci") return await exportToLayout(store, image, loc.path, loc.ref, options);

  const target = resolve(loc.path);
  const work = await Deno.makeTempDir({ dir: dirname(target), prefix: `.tmp-${basename(target)}-` });
  try {
    const result = await exportToLayout(store, image, work, loc.ref, options);
    await tarLayout(work, target);
    return result;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/**
 * Resolves an image by ID, name or ID prefix, then by its normalised name (`bb` finds
 * `docker.io/library/bb:latest`), as the containers-storage transport of c/image does.
 */
export async function findImage(store: Store, ref: string): Promise<Image> {
  try {
    return await store.image(ref);
  } catch (e) {
    if (!(e instanceof ImageUnknownError) || !isReference(ref)) throw e;
    const normalized = normalizeName(ref);
    if (normalized === ref) throw e;
    try {
      return await store.image(normalized);
    } catch {
      throw e;
    }
  }
}

async function exportToLayout(
  store: Store,
  image: Image,
  root: string,
  refName: string,
  options: ExportOptions,
): Promise<ExportResult> {
  const chain = await layerChain(store, image);
  const stored = await storedManifest(store, image);
  if (stored && stored.manifest.layers.length !== chain.length) {
    throw new ManifestError(
      `stored manifest of image ${image.id} lists ${stored.manifest.layers.length} layers, the image has ${chain.length}`,
    );
  }
  const out = await OciLayoutWriter.create(root);
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const [index, layer] of chain.entries()) {
    const template = stored?.manifest.layers[index];
    const compression = chooseCompression(options.compression, layer, template);
    const report = (bytes: number, state: LayerProgress["state"]) =>
      options.onProgress?.({
        index,
        count: chain.length,
        digest: template?.digest ?? layer.uncompressedDigest,
        bytes,
        total: layer.uncompressedSize || -1,
        state,
      });
    const { desc, diffId } = await writeLayer(
      store,
      out,
      layer,
      compression,
      template,
      (n) => report(n, "copying"),
    );
    report(layer.uncompressedSize || -1, "done");
    layers.push(desc);
    diffIds.push(diffId);
  }

  let configBytes: Uint8Array;
  let manifestBytes: Uint8Array;
  let kept = false;
  if (stored) {
    configBytes = stored.config;
    const same = stored.manifest.mediaType === MediaType.OciManifest &&
      stored.manifest.layers.every((d, i) =>
        d.digest === layers[i].digest && d.size === layers[i].size && d.mediaType === layers[i].mediaType
      );
    kept = same;
    manifestBytes = same ? stored.bytes : serializeOciManifest({
      config: {
        mediaType: MediaType.OciConfig,
        digest: stored.manifest.config.digest,
        size: configBytes.length,
      },
      layers,
      annotations: stored.manifest.annotations,
    });
  } else {
    configBytes = ENC.encode(JSON.stringify({
      created: image.created,
      architecture: goArch(),
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: diffIds },
    }));
    manifestBytes = new Uint8Array(0);
  }
  const config = await out.putBlob(configBytes);
  if (stored && config.digest !== stored.manifest.config.digest) {
    throw new IntegrityError(
      `config of image ${image.id} does not match its digest ${stored.manifest.config.digest}`,
    );
  }
  const configDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size };
  if (!stored) manifestBytes = serializeOciManifest({ config: configDesc, layers });
  const m = await out.putBlob(manifestBytes);
  out.addManifest({
    mediaType: MediaType.OciManifest,
    digest: m.digest,
    size: m.size,
    annotations: refName ? { [REF_NAME_ANNOTATION]: refName } : undefined,
  });
  await out.commit();
  return { manifestDigest: m.digest, manifestKept: kept, config: configDesc, layers };
}

/** Writes a layout directory as a tar file (blobs, index.json, oci-layout), replacing `target` atomically. */
async function tarLayout(root: string, target: string): Promise<void> {
  const tmp = `${target}.tmp-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const w = new TarWriter();
  const mtimeNs = BigInt(Date.now()) * 1_000_000n;
  const producer = (async () => {
    try {
      await w.add({ name: "blobs/", type: TypeFlag.Dir, mode: 0o755, mtimeNs });
      for await (const alg of Deno.readDir(`${root}/blobs`)) {
        if (!alg.isDirectory) continue;
        await w.add({ name: `blobs/${alg.name}/`, type: TypeFlag.Dir, mode: 0o755, mtimeNs });
        const names: string[] = [];
        for await (const e of Deno.readDir(`${root}/blobs/${alg.name}`)) if (e.isFile) names.push(e.name);
        for (const n of names.sort()) {
          const p = `${root}/blobs/${alg.name}/${n}`;
          await w.addFile({
            name: `blobs/${alg.name}/${n}`,
            mode: 0o644,
            size: (await Deno.stat(p)).size,
            mtimeNs,
          }, p);
        }
      }
      for (const n of ["index.json", "oci-layout"]) {
        const p = `${root}/${n}`;
        await w.addFile({ name: n, mode: 0o644, size: (await Deno.stat(p)).size, mtimeNs }, p);
      }
      await w.close();
    } catch (e) {
      w.abort(e);
    }
  })();
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      for await (const c of w.readable) for (let o = 0; o < c.length;) o += await f.write(c.subarray(o));
      await f.syncData();
    } finally {
      f.close();
    }
    await producer;
    await Deno.rename(tmp, target);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
