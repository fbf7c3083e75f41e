/**
 * Image sources and destinations named by transport strings (`oci:DIR[:REF]`,
 * `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`), the blob-reader interface the
 * formats implement, and the choice of one image manifest inside an OCI index.
 *
 * @module
 */
import { BlobUnknownError, ImageChoiceError, ImageReferenceError, ManifestError } from "./errors.ts";
import {
  choosePlatform,
  type Descriptor,
  isIndexType,
  isManifestType,
  manifestMediaType,
  parseIndex,
  type Platform,
} from "./manifest.ts";
import { normalizeLocalName } from "./names.ts";
import { readVerified } from "./verify.ts";

/** Transports the import and export functions understand. */
export type Transport = "oci" | "oci-archive" | "docker-archive";

/** A parsed transport string. */
export interface ImageLocation {
  /** The transport. */
  transport: Transport;
  /** Directory (oci) or archive file (the others), absolute or relative to the cwd. */
  path: string;
  /** Reference inside: OCI `ref.name` annotation, or a docker-archive tag / `@N` index. */
  ref: string;
}

const TRANSPORTS: Transport[] = ["oci", "oci-archive", "docker-archive"];

/** Parses `TRANSPORT:PATH[:REF]`. */
export function parseLocation(s: string): ImageLocation {
  const i = s.indexOf(":");
  const transport = s.slice(0, i) as Transport;
  if (i <= 0 || !TRANSPORTS.includes(transport)) {
    throw new ImageReferenceError(
      `unsupported image location ${
        JSON.stringify(s)
      }: expected oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]`,
    );
  }
  const rest = s.slice(i + 1);
  const j = rest.indexOf(":");
  const path = j < 0 ? rest : rest.slice(0, j);
  const ref = j < 0 ? "" : rest.slice(j + 1);
  if (path === "") throw new ImageReferenceError(`no path in image location ${JSON.stringify(s)}`);
  return { transport, path, ref };
}

/** Random access to the blobs of a source. */
export interface BlobReader {
  /** The size of a blob, or null when the source lacks it. */
  stat(digest: string): Promise<number | null>;
  /** The raw bytes of a blob (not yet verified). Throws BlobUnknownError. */
  open(digest: string): Promise<ReadableStream<Uint8Array>>;
  /** Releases files and temporary data. */
  close(): Promise<void>;
}

/** One image chosen in a source, with everything needed to import it. */
export interface SourceImage {
  /** The image manifest's bytes, exactly as stored in the source. */
  manifest: Uint8Array;
  /** Its digest. */
  manifestDigest: string;
  /** Its media type. */
  mediaType: string;
  /** The index the manifest was chosen from, when the source pointed at one. */
  toplevel?: { bytes: Uint8Array; digest: string };
  /** Names the source gives the image (docker-archive tags, OCI ref names as podman load does), normalised. */
  names: string[];
  /** The source's blobs. */
  blobs: BlobReader;
}

/** What import needs to choose an image in a source. */
export interface ChooseOptions {
  /** The platform to pick from an index with several. */
  platform?: Platform;
}

const MANIFEST_LIMIT = 4 << 20;

/** The name podman load gives an image of an OCI layout: its ref name, as a local name; none if invalid. */
export function namesFromRefName(refName: string): string[] {
  if (!refName) return [];
  try {
    return [normalizeLocalName(refName)];
  } catch {
    return [];
  }
}

/** Reads a small blob named by a descriptor, verifying digest and size. */
export async function readDescribed(
  blobs: BlobReader,
  d: Descriptor,
  limit = MANIFEST_LIMIT,
): Promise<Uint8Array> {
  const size = await blobs.stat(d.digest);
  if (size === null) throw new BlobUnknownError(d.digest, "reading blob");
  return await readVerified(await blobs.open(d.digest), d.digest, d.size, limit);
}

/**
 * Picks the image manifest named by `ref` (or the only one) in an OCI `index.json`,
 * following a nested index with the platform choice; reads and verifies it.
 */
export async function chooseOciImage(
  indexBytes: Uint8Array,
  blobs: BlobReader,
  ref: string,
  options: ChooseOptions,
): Promise<Omit<SourceImage, "names" | "blobs"> & { refName: string }> {
  const index = parseIndex(indexBytes);
  let desc: Descriptor;
  if (ref) {
    const hits = index.manifests.filter((d) => d.annotations?.["org.opencontainers.image.ref.name"] === ref);
    if (hits.length === 0) {
      throw new ImageChoiceError(`no descriptor found for reference ${JSON.stringify(ref)}`);
    }
    if (hits.length > 1 && !options.platform) {
      throw new ImageChoiceError(`more than one descriptor found for reference ${JSON.stringify(ref)}`);
    }
    desc = hits.length > 1 ? choosePlatform({ ...index, manifests: hits }, options.platform) : hits[0];
  } else if (index.manifests.length === 1) {
    desc = index.manifests[0];
  } else if (index.manifests.length > 1 && index.manifests.every((d) => d.platform)) {
    desc = choosePlatform(index, options.platform);
  } else if (index.manifests.length === 0) {
    throw new ImageChoiceError("no images in the index");
  } else {
    throw new ImageChoiceError("more than one image in oci, choose an image");
  }
  const refName = desc.annotations?.["org.opencontainers.image.ref.name"] ?? "";
  let bytes = await readDescribed(blobs, desc);
  let mediaType = manifestMediaType(bytes, desc.mediaType);
  let digest = desc.digest;
  let toplevel: { bytes: Uint8Array; digest: string } | undefined;
  if (isIndexType(mediaType)) {
    toplevel = { bytes, digest };
    const inner = choosePlatform(parseIndex(bytes, mediaType), options.platform);
    bytes = await readDescribed(blobs, inner);
    mediaType = manifestMediaType(bytes, inner.mediaType);
    digest = inner.digest;
  }
  if (!isManifestType(mediaType)) {
    throw new ManifestError(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
  return { manifest: bytes, manifestDigest: digest, mediaType, toplevel, refName };
}
