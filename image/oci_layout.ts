/**
 * OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): a blob
 * reader over one, choosing an image by its `org.opencontainers.image.ref.name`, and a
 * writer that adds blobs and manifests to a new or existing layout as skopeo does.
 *
 * @module
 */
import { nodeCrypto } from "../store/node_lazy.ts";
import { isValidDigest } from "../store/digest.ts";
import { BlobUnknownError, ImageReferenceError, ManifestError } from "./errors.ts";
import { type Descriptor, parseIndex, serializeOciIndex } from "./manifest.ts";
import {
  type BlobReader,
  chooseOciImage,
  type ChooseOptions,
  namesFromRefName,
  type SourceImage,
} from "./source.ts";
import { fileRangeStream } from "./verify.ts";

/** The annotation naming an image in a layout's index. */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

const LAYOUT_FILE = "oci-layout";
const LAYOUT_CONTENT = '{"imageLayoutVersion": "1.0.0"}';

/** The path of a blob under a layout root; the digest is validated first (no path tricks). */
export function blobPath(root: string, digest: string): string {
  if (!isValidDigest(digest)) throw new ManifestError(`invalid blob digest ${JSON.stringify(digest)}`);
  const i = digest.indexOf(":");
  return `${root}/blobs/${digest.slice(0, i)}/${digest.slice(i + 1)}`;
}

/** Reads blobs from a layout directory. */
export class OciDirBlobs implements BlobReader {
  constructor(readonly root: string) {}

  async stat(digest: string): Promise<number | null> {
    try {
      const st = await Deno.stat(blobPath(this.root, digest));
      return st.isFile ? st.size : null;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  }

  async open(digest: string): Promise<ReadableStream<Uint8Array>> {
    try {
      return await fileRangeStream(blobPath(this.root, digest));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new BlobUnknownError(digest, "reading blob", { cause: e });
      throw e;
    }
  }

  async close(): Promise<void> {}
}

/** Reads `index.json` of a layout, checking `oci-layout` first. */
export async function readLayoutIndex(root: string): Promise<Uint8Array> {
  try {
    await Deno.stat(`${root}/${LAYOUT_FILE}`);
    return await Deno.readFile(`${root}/index.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ImageReferenceError(
        `${root} is not an OCI image layout (no ${LAYOUT_FILE} or index.json)`,
        undefined,
        {
          cause: e,
        },
      );
    }
    throw e;
  }
}

/** Opens the image named `ref` (or the only one) in a layout directory. */
export async function openOciLayout(
  root: string,
  ref: string,
  options: ChooseOptions = {},
): Promise<SourceImage> {
  const index = await readLayoutIndex(root);
  const blobs = new OciDirBlobs(root);
  const { refName, ...chosen } = await chooseOciImage(index, blobs, ref, options);
  return { ...chosen, names: namesFromRefName(refName), blobs };
}

/**
 * Writes blobs and manifests into a layout directory, created when missing. Blobs go
 * through a temp file and are renamed into place under their computed digest;
 * `commit()` writes `index.json` (replacing an entry with the same ref name) and
 * `oci-layout`.
 */
export class OciLayoutWriter {
  readonly #added: Descriptor[] = [];

  private constructor(readonly root: string) {}

  /** Prepares `root` (creating `blobs/sha256`). */
  static async create(root: string): Promise<OciLayoutWriter> {
    await Deno.mkdir(`${root}/blobs/sha256`, { recursive: true });
    return new OciLayoutWriter(root);
  }

  /**
   * Streams a blob into the layout, hashing it; returns its sha256 digest and size.
   */
  async putBlob(data: ReadableStream<Uint8Array> | Uint8Array): Promise<{ digest: string; size: number }> {
    const dir = `${this.root}/blobs/sha256`;
    const tmp = `${dir}/.tmp-blob${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    const hash = nodeCrypto().createHash("sha256");
    let size = 0;
    let ok = false;
    try {
      const write = async (c: Uint8Array) => {
        hash.update(c);
        size += c.length;
        for (let o = 0; o < c.length;) o += await f.write(c.subarray(o));
      };
      if (data instanceof Uint8Array) await write(data);
      else for await (const c of data) await write(c);
      await f.syncData();
      ok = true;
    } finally {
      f.close();
      if (!ok) await Deno.remove(tmp).catch(() => {});
    }
    const digest = "sha256:" + hash.digest("hex");
    await Deno.rename(tmp, blobPath(this.root, digest));
    return { digest, size };
  }

  /** Records a manifest (already stored as a blob) for `index.json`. */
  addManifest(d: Descriptor): void {
    this.#added.push(d);
  }

  /** Writes `index.json` (merged with the existing one) and `oci-layout`. */
  async commit(): Promise<void> {
    let existing: Descriptor[] = [];
    try {
      existing = parseIndex(await Deno.readFile(`${this.root}/index.json`)).manifests;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const newRefs = new Set(this.#added.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter(Boolean));
    // As skopeo: an entry whose ref name is reused loses it (and the entry goes away).
    const kept = existing.filter((d) => !newRefs.has(d.annotations?.[REF_NAME_ANNOTATION]));
    await writeSmallAtomic(`${this.root}/index.json`, serializeOciIndex([...kept, ...this.#added]));
    await writeSmallAtomic(`${this.root}/${LAYOUT_FILE}`, new TextEncoder().encode(LAYOUT_CONTENT));
  }
}

/** Writes a small file through a temp file and rename, mode 0644 as skopeo's layout files. */
async function writeSmallAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  await Deno.writeFile(tmp, data, { mode: 0o644, createNew: true });
  try {
    const f = await Deno.open(tmp, { write: true });
    try {
      await f.syncData();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
