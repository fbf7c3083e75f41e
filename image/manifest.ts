/**
 * OCI and Docker schema 2 manifests, indexes and image configs: media types, parsing with
 * validation, platform choice, and serialisation in the field order containers/image uses
 * (Go struct order), so that synthesised manifests get the digests skopeo computes.
 *
 * @module
 */
import { goQuote } from "../store/json.ts";
import { isValidDigest } from "../store/digest.ts";
import { ImageChoiceError, ManifestError } from "./errors.ts";

/** Media types this module knows. */
export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OciLayerNondistributableZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** Compression a layer media type announces. */
export type LayerCompression = "none" | "gzip" | "zstd";

const LAYER_TYPES: Record<string, LayerCompression> = {
  [MediaType.OciLayer]: "none",
  [MediaType.OciLayerGzip]: "gzip",
  [MediaType.OciLayerZstd]: "zstd",
  [MediaType.OciLayerNondistributable]: "none",
  [MediaType.OciLayerNondistributableGzip]: "gzip",
  [MediaType.OciLayerNondistributableZstd]: "zstd",
  [MediaType.DockerLayer]: "none",
  [MediaType.DockerLayerGzip]: "gzip",
  [MediaType.DockerForeignLayerGzip]: "gzip",
};

/** The compression announced by a layer media type, or null for a type that is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | null {
  return LAYER_TYPES[mediaType] ?? null;
}

/** The OCI layer media type for a compression (optionally the non-distributable kind). */
export function ociLayerType(c: LayerCompression, nondistributable = false): string {
  if (nondistributable) {
    return c === "gzip"
      ? MediaType.OciLayerNondistributableGzip
      : c === "zstd"
      ? MediaType.OciLayerNondistributableZstd
      : MediaType.OciLayerNondistributable;
  }
  return c === "gzip" ? MediaType.OciLayerGzip : c === "zstd" ? MediaType.OciLayerZstd : MediaType.OciLayer;
}

/** Whether a layer media type is a non-distributable (Docker: foreign) one. */
export function isNondistributable(mediaType: string): boolean {
  return mediaType.includes(".nondistributable.") || mediaType.includes(".foreign.");
}

/** An OS/architecture pair, as in index entries and image configs. */
export interface Platform {
  /** `architecture`, e.g. `amd64`. */
  architecture: string;
  /** `os`, e.g. `linux`. */
  os: string;
  /** `variant`, e.g. `v8`. */
  variant?: string;
}

/** A content descriptor. */
export interface Descriptor {
  /** `mediaType` (may be empty in old documents). */
  mediaType: string;
  /** `digest`, validated. */
  digest: string;
  /** `size` in bytes. */
  size: number;
  /** `urls`. */
  urls?: string[];
  /** `annotations`. */
  annotations?: Record<string, string>;
  /** `platform` (index entries). */
  platform?: Platform;
}

/** A parsed image manifest (OCI or Docker schema 2). */
export interface ImageManifest {
  /** The manifest's media type (explicit or inferred). */
  mediaType: string;
  /** The config descriptor. */
  config: Descriptor;
  /** The layer descriptors, base first. */
  layers: Descriptor[];
  /** `annotations` (OCI). */
  annotations?: Record<string, string>;
}

/** A parsed index (OCI image index or Docker manifest list). */
export interface ImageIndex {
  /** The index's media type. */
  mediaType: string;
  /** Its entries. */
  manifests: Descriptor[];
}

/** The parts of an image config the store cares about. */
export interface ImageConfig {
  /** `created`, as written (may be empty). */
  created: string;
  /** `architecture`. */
  architecture: string;
  /** `os`. */
  os: string;
  /** `variant`. */
  variant?: string;
  /** `rootfs.diff_ids`, base first. */
  diffIds: string[];
}

function parseJSON(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ManifestError(`parsing ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ManifestError(`parsing ${what}: not a JSON object`);
  }
  return v as Record<string, unknown>;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function parseStringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new ManifestError(`${what}: not an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string") throw new ManifestError(`${what}: value of ${k} is not a string`);
    out[k] = x;
  }
  return out;
}

/** Parses and validates one descriptor. */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ManifestError(`${what}: descriptor is not an object`);
  }
  const o = v as Record<string, unknown>;
  const digest = str(o.digest);
  if (!isValidDigest(digest)) throw new ManifestError(`${what}: invalid digest ${JSON.stringify(o.digest)}`);
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < -1) {
    throw new ManifestError(`${what}: invalid size ${JSON.stringify(o.size)}`);
  }
  const d: Descriptor = { mediaType: str(o.mediaType), digest, size: o.size };
  if (Array.isArray(o.urls)) d.urls = o.urls.filter((u): u is string => typeof u === "string");
  const ann = parseStringMap(o.annotations, `${what} annotations`);
  if (ann) d.annotations = ann;
  if (o.platform && typeof o.platform === "object") {
    const p = o.platform as Record<string, unknown>;
    d.platform = { architecture: str(p.architecture), os: str(p.os) };
    if (str(p.variant)) d.platform.variant = str(p.variant);
  }
  return d;
}

/**
 * Guesses a document's media type from its fields when it has no `mediaType`
 * (as containers/image's GuessMIMEType does).
 */
export function guessMediaType(bytes: Uint8Array): string {
  const o = parseQuietly(bytes);
  return str(o.mediaType) || guessFromFields(o);
}

function parseQuietly(bytes: Uint8Array): Record<string, unknown> {
  try {
    return parseJSON(bytes, "manifest");
  } catch {
    return {};
  }
}

function guessFromFields(o: Record<string, unknown>): string {
  if (o.schemaVersion === 1) return MediaType.DockerSchema1;
  if (Array.isArray(o.manifests)) return MediaType.OciIndex;
  if (o.config && typeof o.config === "object") {
    const cfgType = str((o.config as Record<string, unknown>).mediaType);
    return cfgType === MediaType.DockerConfig ? MediaType.DockerManifest : MediaType.OciManifest;
  }
  return "";
}

/** Whether a media type names an index or manifest list. */
export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

/** Whether a media type names a single-image manifest this module can import. */
export function isManifestType(mediaType: string): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

/**
 * The media type of a manifest document: its own `mediaType`, else the one its
 * descriptor gave, else a guess; a conflict between the two is an error.
 */
export function manifestMediaType(bytes: Uint8Array, descriptorType = ""): string {
  const o = parseQuietly(bytes);
  const explicit = str(o.mediaType);
  if (explicit && descriptorType && explicit !== descriptorType) {
    throw new ManifestError(
      `manifest media type ${JSON.stringify(explicit)} does not match descriptor media type ${
        JSON.stringify(descriptorType)
      }`,
    );
  }
  return explicit || descriptorType || guessFromFields(o);
}

/** Parses an OCI or Docker schema 2 image manifest; any other type is refused. */
export function parseManifest(bytes: Uint8Array, mediaType = manifestMediaType(bytes)): ImageManifest {
  if (!isManifestType(mediaType)) {
    throw new ManifestError(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
  const o = parseJSON(bytes, "manifest");
  if (o.schemaVersion !== 2) {
    throw new ManifestError(`unsupported manifest schemaVersion ${JSON.stringify(o.schemaVersion)}`);
  }
  if (!Array.isArray(o.layers)) throw new ManifestError("manifest has no layers list");
  const config = parseDescriptor(o.config, "manifest config");
  const layers = o.layers.map((l, i) => parseDescriptor(l, `manifest layer ${i}`));
  for (const [i, l] of layers.entries()) {
    if (layerCompression(l.mediaType) === null) {
      throw new ManifestError(`unsupported layer media type ${JSON.stringify(l.mediaType)} (layer ${i})`);
    }
  }
  const m: ImageManifest = { mediaType, config, layers };
  const ann = parseStringMap(o.annotations, "manifest annotations");
  if (ann) m.annotations = ann;
  return m;
}

/** Parses an OCI image index or Docker manifest list. */
export function parseIndex(bytes: Uint8Array, mediaType = MediaType.OciIndex as string): ImageIndex {
  const o = parseJSON(bytes, "index");
  if (o.schemaVersion !== 2) {
    throw new ManifestError(`unsupported index schemaVersion ${JSON.stringify(o.schemaVersion)}`);
  }
  if (!Array.isArray(o.manifests)) throw new ManifestError("index has no manifests list");
  return {
    mediaType: str(o.mediaType) || mediaType,
    manifests: o.manifests.map((m, i) => parseDescriptor(m, `index entry ${i}`)),
  };
}

/** Parses an image config, checking `rootfs`. */
export function parseConfig(bytes: Uint8Array): ImageConfig {
  const o = parseJSON(bytes, "image config");
  const rootfs = o.rootfs as Record<string, unknown> | undefined;
  if (!rootfs || typeof rootfs !== "object" || rootfs.type !== "layers" || !Array.isArray(rootfs.diff_ids)) {
    throw new ManifestError('image config has no rootfs of type "layers"');
  }
  const diffIds = rootfs.diff_ids.map((d) => {
    if (typeof d !== "string" || !isValidDigest(d)) {
      throw new ManifestError(`image config: invalid diff ID ${JSON.stringify(d)}`);
    }
    return d;
  });
  const c: ImageConfig = {
    created: str(o.created),
    architecture: str(o.architecture),
    os: str(o.os),
    diffIds,
  };
  if (str(o.variant)) c.variant = str(o.variant);
  return c;
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new ImageChoiceError(`invalid platform ${JSON.stringify(s)}: expected OS/ARCH[/VARIANT]`);
  }
  const p: Platform = { os: parts[0], architecture: parts[1] };
  if (parts[2]) p.variant = parts[2];
  return p;
}

function platformString(p?: Platform): string {
  if (!p) return "(no platform)";
  return `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`;
}

/**
 * Chooses the entry of an index to import: the one matching `platform` when given,
 * else the only image entry. Several candidates without a choice, or no match, fail
 * with ImageChoiceError naming the platforms present.
 */
export function choosePlatform(index: ImageIndex, platform?: Platform): Descriptor {
  // Attestation manifests and the like carry an "unknown" platform and are never images to run.
  const images = index.manifests.filter((d) => d.platform?.os !== "unknown");
  if (images.length === 0) throw new ImageChoiceError("index lists no images");
  if (platform) {
    const hits = images.filter((d) =>
      d.platform && d.platform.os === platform.os && d.platform.architecture === platform.architecture &&
      (!platform.variant || d.platform.variant === platform.variant)
    );
    if (hits.length === 0) {
      throw new ImageChoiceError(
        `no image found in index for platform ${platformString(platform)} (available: ${
          images.map((d) => platformString(d.platform)).join(", ")
        })`,
      );
    }
    return hits[0];
  }
  if (images.length > 1) {
    throw new ImageChoiceError(
      `index lists ${images.length} images (${
        images.map((d) => platformString(d.platform)).join(", ")
      }): choose one with a platform (OS/ARCH[/VARIANT])`,
    );
  }
  return images[0];
}

/** A JSON value whose objects keep their key order when encoded (Go struct order). */
export type Ordered = string | number | boolean | null | Ordered[] | { [k: string]: Ordered | undefined };

/**
 * Encodes like Go's encoding/json for struct values: compact, keys in insertion order,
 * HTML-safe strings; undefined members are skipped (omitempty).
 */
export function encodeOrdered(v: Ordered | undefined): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return goQuote(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "[" + v.map(encodeOrdered).join(",") + "]";
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    if (x !== undefined) parts.push(goQuote(k) + ":" + encodeOrdered(x));
  }
  return "{" + parts.join(",") + "}";
}

function sortedMap(m?: Record<string, string>): Ordered | undefined {
  if (!m || Object.keys(m).length === 0) return undefined;
  const out: Record<string, Ordered> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k];
  return out;
}

/** A descriptor in OCI field order (mediaType, digest, size, urls, annotations). */
function ociDescriptor(d: Descriptor): Ordered {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    urls: d.urls?.length ? d.urls : undefined,
    annotations: sortedMap(d.annotations),
  };
}

/** Serialises an OCI image manifest as containers/image does. */
export function serializeOciManifest(
  m: { config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> },
): Uint8Array {
  return new TextEncoder().encode(encodeOrdered({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: ociDescriptor(m.config),
    layers: m.layers.map(ociDescriptor),
    annotations: sortedMap(m.annotations),
  }));
}

/**
 * Serialises a Docker schema 2 manifest as containers/image does (descriptor order
 * mediaType, size, digest), e.g. the one it synthesises for a `docker save` archive.
 */
export function serializeDockerManifest(config: Descriptor, layers: Descriptor[]): Uint8Array {
  const desc = (d: Descriptor): Ordered => ({
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    urls: d.urls?.length ? d.urls : undefined,
  });
  return new TextEncoder().encode(encodeOrdered({
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: desc(config),
    layers: layers.map(desc),
  }));
}

/** Serialises an OCI index (for `index.json` of a layout). */
export function serializeOciIndex(manifests: Descriptor[], annotations?: Record<string, string>): Uint8Array {
  return new TextEncoder().encode(encodeOrdered({
    schemaVersion: 2,
    manifests: manifests.map((d) => ({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      urls: d.urls?.length ? d.urls : undefined,
      annotations: sortedMap(d.annotations),
      platform: d.platform
        ? { architecture: d.platform.architecture, os: d.platform.os, variant: d.platform.variant }
        : undefined,
    })),
    annotations: sortedMap(annotations),
  }));
}
