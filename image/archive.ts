/**
 * Image archives: `oci-archive` (a tar of an OCI layout) and `docker-archive` (`docker
 * save` format). The tar is indexed in one pass through the tar parser of `archive/`
 * (entry name → payload offset and size) and blobs are then streamed straight from
 * their byte ranges, so nothing is extracted. A compressed archive is decompressed once
 * into a temporary file first, since its ranges cannot be read in place.
 *
 * @module
 */
import { decompress, detectCompression } from "../archive/compression.ts";
import { cleanRel, cleanRelStrict, dirOf, joinRel } from "../archive/paths.ts";
import { isHeaderOnlyType, TarParser } from "../archive/tar_reader.ts";
import { type TarHeader, TypeFlag } from "../archive/types.ts";
import { sha256Digest } from "../store/digest.ts";
import { ArchiveError } from "../store/errors.ts";
import { Compression } from "../store/types.ts";
import { BlobUnknownError, ImageChoiceError, ManifestError } from "./errors.ts";
import { type Descriptor, MediaType, parseConfig, serializeDockerManifest } from "./manifest.ts";
import { normalizeName } from "./names.ts";
import {
  type BlobReader,
  chooseOciImage,
  type ChooseOptions,
  namesFromRefName,
  type SourceImage,
} from "./source.ts";
import { fileRangeStream } from "./verify.ts";

/** Where an archive member's payload lies in the (uncompressed) archive file. */
export interface TarMember {
  /** Offset of the payload. */
  offset: number;
  /** Payload size. */
  size: number;
  /** Type flag. */
  type: number;
  /** Link target (symbolic or hard links). */
  linkname: string;
}

/** An indexed tar file: members by cleaned name, read by byte range. */
export class TarIndex {
  private constructor(
    /** The (uncompressed) tar file read from. */
    readonly path: string,
    /** Members by cleaned name (a later member with the same name wins, as when extracting). */
    readonly members: Map<string, TarMember>,
    private readonly tempDir: string | null,
  ) {}

  /** Indexes `path`, decompressing it into a temporary file first when it is compressed. */
  static async open(path: string): Promise<TarIndex> {
    const head = new Uint8Array(8);
    const f = await Deno.open(path, { read: true });
    let n = 0;
    try {
      while (n < head.length) {
        const r = await f.read(head.subarray(n));
        if (r === null) break;
        n += r;
      }
    } finally {
      f.close();
    }
    let file = path;
    let tempDir: string | null = null;
    if (detectCompression(head.subarray(0, n)) !== Compression.None) {
      tempDir = await Deno.makeTempDir({ prefix: "cs-image-" });
      file = `${tempDir}/archive.tar`;
      const { stream } = await decompress(await fileRangeStream(path));
      await Deno.writeFile(file, stream);
    }
    try {
      return new TarIndex(file, await indexTar(file), tempDir);
    } catch (e) {
      if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  /** Resolves a name through symbolic and hard links to a regular member, or null. */
  resolve(name: string): TarMember | null {
    let cur = cleanRel(name);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(cur);
      if (!m) return null;
      if (m.type === TypeFlag.Reg) return m;
      if (m.type === TypeFlag.Symlink) {
        const t = m.linkname.startsWith("/")
          ? cleanRelStrict(m.linkname)
          : cleanRelStrict(joinRel(dirOf(cur), m.linkname));
        if (t === null) return null;
        cur = t;
      } else if (m.type === TypeFlag.Link) {
        const t = cleanRelStrict(m.linkname);
        if (t === null) return null;
        cur = t;
      } else return null;
    }
    return null;
  }

  /** A member's payload as a stream. */
  async open(m: TarMember): Promise<ReadableStream<Uint8Array>> {
    return await fileRangeStream(this.path, m.offset, m.size);
  }

  /** A small member whole. */
  async read(m: TarMember): Promise<Uint8Array> {
    const out = new Uint8Array(m.size);
    let o = 0;
    for await (const c of await this.open(m)) (out.set(c, o), o += c.length);
    if (o !== m.size) throw new ManifestError(`archive member truncated (${o} of ${m.size} bytes)`);
    return out;
  }

  /** Removes the temporary decompressed copy, if any. */
  async close(): Promise<void> {
    if (this.tempDir) await Deno.remove(this.tempDir, { recursive: true }).catch(() => {});
  }
}

const ZEROS = new Uint8Array(1 << 20);

/**
 * Walks a tar file through the parser and records where each payload lies. Payloads are
 * not read: the file offset jumps over them while the parser is fed zeros of the same
 * length, so indexing costs one read per header, not a read of the whole archive.
 */
async function indexTar(path: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  let offset = 0;
  let skip = 0;
  const parser = new TarParser([{
    segment: (b) => void (offset += b.length),
    payload: (b) => {
      offset += b.length;
      skip -= b.length;
    },
    entry: (h: TarHeader) => {
      members.set(cleanRel(h.name), { offset, size: h.size, type: h.type, linkname: h.linkname });
      skip = isHeaderOnlyType(h.type) ? 0 : h.size;
    },
  }]);
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, ZEROS.length);
        await f.seek(n, Deno.SeekMode.Current);
        parser.push(ZEROS.subarray(0, n));
        continue;
      }
      const n = await f.read(buf);
      if (n === null) break;
      parser.push(buf.subarray(0, n));
    }
  } finally {
    f.close();
  }
  parser.finish();
  // A payload cut short by the end of the file was "read" as zeros past the end.
  if (offset > (await Deno.stat(path)).size) throw new ArchiveError("unexpected EOF");
  return members;
}

/** The blobs of an oci-archive: `blobs/<alg>/<hex>` members. */
class OciArchiveBlobs implements BlobReader {
  constructor(private readonly tar: TarIndex) {}

  #member(digest: string): TarMember | null {
    const i = digest.indexOf(":");
    return this.tar.resolve(`blobs/${digest.slice(0, i)}/${digest.slice(i + 1)}`);
  }

  stat(digest: string): Promise<number | null> {
    return Promise.resolve(this.#member(digest)?.size ?? null);
  }

  async open(digest: string): Promise<ReadableStream<Uint8Array>> {
    const m = this.#member(digest);
    if (!m) throw new BlobUnknownError(digest, "reading blob");
    return await this.tar.open(m);
  }

  close(): Promise<void> {
    return this.tar.close();
  }
}

/** Opens the image named `ref` (or the only one) in an oci-archive file. */
export async function openOciArchive(
  path: string,
  ref: string,
  options: ChooseOptions = {},
): Promise<SourceImage> {
  const tar = await TarIndex.open(path);
  const blobs = new OciArchiveBlobs(tar);
  try {
    const index = tar.resolve("index.json");
    if (!index || !tar.resolve("oci-layout")) {
      throw new ManifestError(`${path} is not an OCI archive (no index.json or oci-layout)`);
    }
    const { refName, ...chosen } = await chooseOciImage(await tar.read(index), blobs, ref, options);
    return { ...chosen, names: namesFromRefName(refName), blobs };
  } catch (e) {
    await blobs.close();
    throw e;
  }
}

/** A docker-archive blob: an archive member, decompressed on read when `compressed`. */
interface DockerBlob {
  member: TarMember;
  compressed: boolean;
}

class DockerArchiveBlobs implements BlobReader {
  constructor(private readonly tar: TarIndex, private readonly byDigest: Map<string, DockerBlob>) {}

  stat(digest: string): Promise<number | null> {
    const b = this.byDigest.get(digest);
    return Promise.resolve(b ? (b.compressed ? -1 : b.member.size) : null);
  }

  async open(digest: string): Promise<ReadableStream<Uint8Array>> {
    const b = this.byDigest.get(digest);
    if (!b) throw new BlobUnknownError(digest, "reading blob");
    const raw = await this.tar.open(b.member);
    return b.compressed ? (await decompress(raw)).stream : raw;
  }

  close(): Promise<void> {
    return this.tar.close();
  }
}

interface DockerItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseDockerManifest(bytes: Uint8Array): DockerItem[] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ManifestError(`parsing manifest.json: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(v)) throw new ManifestError("manifest.json is not an array");
  return v.map((x, i) => {
    const o = (x ?? {}) as Record<string, unknown>;
    if (
      typeof o.Config !== "string" || !Array.isArray(o.Layers) || o.Layers.some((l) => typeof l !== "string")
    ) {
      throw new ManifestError(`manifest.json item ${i} lacks Config or Layers`);
    }
    const tags = Array.isArray(o.RepoTags)
      ? o.RepoTags.filter((t): t is string => typeof t === "string")
      : [];
    return { Config: o.Config, RepoTags: tags, Layers: o.Layers as string[] };
  });
}

function normalizeQuietly(name: string): string | null {
  try {
    return normalizeName(name);
  } catch {
    return null;
  }
}

/** Picks the item of a docker-archive by `@N`, by tag, or the only one. */
function chooseDockerItem(items: DockerItem[], ref: string): DockerItem {
  if (items.length === 0) throw new ImageChoiceError("archive lists no images");
  if (ref.startsWith("@")) {
    const n = Number(ref.slice(1));
    if (!Number.isInteger(n) || n < 0 || n >= items.length) {
      throw new ImageChoiceError(`invalid index ${ref}: archive lists ${items.length} images`);
    }
    return items[n];
  }
  if (ref) {
    const want = normalizeName(ref);
    const hit = items.find((it) => it.RepoTags.some((t) => normalizeQuietly(t) === want));
    if (!hit) throw new ImageChoiceError(`no image tagged ${JSON.stringify(ref)} in the archive`);
    return hit;
  }
  if (items.length > 1) {
    throw new ImageChoiceError(
      `archive lists ${items.length} images: choose one with docker-archive:FILE:NAME or docker-archive:FILE:@N`,
    );
  }
  return items[0];
}

/**
 * Opens an image of a `docker save` archive. Its manifest is synthesised as
 * containers/image does (Docker schema 2, layers named by their diff IDs), so that the
 * manifest digest equals the one skopeo records for the same archive.
 */
export async function openDockerArchive(path: string, ref: string): Promise<SourceImage> {
  const tar = await TarIndex.open(path);
  try {
    const mf = tar.resolve("manifest.json");
    if (!mf) throw new ManifestError(`${path} is not a docker archive (no manifest.json)`);
    const item = chooseDockerItem(parseDockerManifest(await tar.read(mf)), ref);
    const cfgMember = tar.resolve(item.Config);
    if (!cfgMember) throw new BlobUnknownError(item.Config, "reading config");
    const cfgBytes = await tar.read(cfgMember);
    const configDigest = sha256Digest(cfgBytes);
    const config = parseConfig(cfgBytes);
    if (config.diffIds.length !== item.Layers.length) {
      throw new ManifestError(
        `config lists ${config.diffIds.length} layers but manifest.json lists ${item.Layers.length}`,
      );
    }
    const byDigest = new Map<string, DockerBlob>([[configDigest, { member: cfgMember, compressed: false }]]);
    const layers: Descriptor[] = [];
    for (const [i, file] of item.Layers.entries()) {
      const member = tar.resolve(file);
      if (!member) throw new BlobUnknownError(config.diffIds[i], `reading layer ${file}`);
      const head = await readHead(tar, member);
      const compressed = detectCompression(head) !== Compression.None;
      byDigest.set(config.diffIds[i], { member, compressed });
      layers.push({
        mediaType: MediaType.DockerLayerGzip,
        size: compressed ? -1 : member.size,
        digest: config.diffIds[i],
      });
    }
    const manifest = serializeDockerManifest(
      { mediaType: MediaType.DockerConfig, size: cfgBytes.length, digest: configDigest },
      layers,
    );
    const names = item.RepoTags.map(normalizeQuietly).filter((n): n is string => n !== null);
    return {
      manifest,
      manifestDigest: sha256Digest(manifest),
      mediaType: MediaType.DockerManifest,
      names,
      blobs: new DockerArchiveBlobs(tar, byDigest),
    };
  } catch (e) {
    await tar.close();
    throw e;
  }
}

/** The first bytes of a member (enough to detect compression). */
async function readHead(tar: TarIndex, m: TarMember): Promise<Uint8Array> {
  const s = await tar.open({ ...m, size: Math.min(m.size, 8) });
  const out = new Uint8Array(Math.min(m.size, 8));
  let o = 0;
  for await (const c of s) (out.set(c, o), o += c.length);
  return out.subarray(0, o);
}
