/**
 * The image store: `DRIVER-images/images.json`, guarded by `images.lock`, with one
 * big-data directory per image. Every method expects the caller to hold the lock
 * (`startReading`/`startWriting`), as Store does.
 *
 * @module
 */
import {
  DigestUnknownError,
  DuplicateIDError,
  DuplicateNameError,
  ImageUnknownError,
  InvalidBigDataNameError,
  NotExistError,
  SizeUnknownError,
  wrapError,
} from "./errors.ts";
import type { Image } from "./types.ts";
import { decodeImage, encodeImage, type ExtraFields } from "./json.ts";
import { type LoadOutcome, RecordFile } from "./recordfile.ts";
import {
  applyNameOperation,
  bigDataFileName,
  bigDataPath,
  clone,
  dedupeNames,
  generateId,
  type NameOperation,
  noteBigData,
  nowTimestamp,
  readFileOrNull,
  removeAll,
  validateId,
  writeBigDataFile,
} from "./records.ts";
import { sha256Digest, validateDigest } from "./digest.ts";
import { goList } from "./quote.ts";

/** Whether a big-data key holds a manifest (its digest joins the image's digest list). */
export function isManifestKey(key: string): boolean {
  return key.startsWith("manifest");
}

/** What `ImageStore.create` needs. */
export interface NewImage {
  /** Caller-chosen ID (validated) or empty for a random one. */
  id?: string;
  /** Names. */
  names?: string[];
  /** Top layer full ID or "". */
  topLayer: string;
  /** Extra digest. */
  digest?: string;
  /** Metadata. */
  metadata?: string;
  /** Creation time (RFC 3339) instead of now. */
  created?: string;
  /** Flags. */
  flags?: Record<string, unknown>;
  /** Names history (for copies of read-only images). */
  namesHistory?: string[];
}

/**
 * Recomputes an image's digest list (go: recomputeDigests): `digest` first, then the
 * distinct digests of manifest big-data items in key order. An empty `digest` is set to
 * the first manifest digest. Invalid digests throw with Go's wording.
 */
export function recomputeDigests(image: Image): void {
  const list: string[] = [];
  const seen = new Set<string>();
  if (image.digest !== "") {
    try {
      validateDigest(image.digest);
    } catch (e) {
      throw wrapError(e, `validating image digest ${JSON.stringify(image.digest)}`);
    }
    seen.add(image.digest);
    list.push(image.digest);
  }
  const keys = [...image.bigDataNames];
  for (const k of Object.keys(image.bigDataDigests)) if (!keys.includes(k)) keys.push(k);
  for (const key of keys) {
    if (!isManifestKey(key)) continue;
    const d = image.bigDataDigests[key];
    if (d === undefined) continue;
    try {
      validateDigest(d);
    } catch (e) {
      throw wrapError(e, `validating digest ${JSON.stringify(d)} for big data item ${JSON.stringify(key)}`);
    }
    if (!seen.has(d)) {
      seen.add(d);
      list.push(d);
    }
  }
  if (image.digest === "" && list.length > 0) image.digest = list[0];
  image.digests = list;
}

/** `DRIVER-images/` of one store root. */
export class ImageStore extends RecordFile<Image> {
  protected readonly kind = "image";
  private byDigest = new Map<string, Image[]>();

  constructor(dir: string, readOnly: boolean) {
    super(dir, "images.json", `${dir}/images.lock`, readOnly);
  }

  protected decode(v: unknown): { record: Image; extra?: ExtraFields } {
    return decodeImage(v);
  }
  protected encode(r: Image, extra?: ExtraFields): string {
    return encodeImage(r, extra);
  }

  protected install(records: Image[], lockedForWriting: boolean): Promise<LoadOutcome> {
    for (const img of records) {
      try {
        recomputeDigests(img);
      } catch (e) {
        throw wrapError(
          e,
          `computing digests for image with ID ${JSON.stringify(img.id)} (${goList(img.names)})`,
        );
      }
      img.readOnly = this.readOnly;
    }
    const dup = this.index.reset(records);
    this.reindexDigests();
    if (dup) {
      if (this.readOnly) {
        throw new DuplicateNameError(`read-only image store assigns the same name to multiple images`);
      }
      if (!lockedForWriting) return Promise.resolve({ needsRepair: true });
      this.save();
    }
    return Promise.resolve({ needsRepair: false });
  }

  private reindexDigests(): void {
    this.byDigest.clear();
    for (const img of this.index.list) {
      for (const d of img.digests) {
        const l = this.byDigest.get(d);
        if (l) l.push(img);
        else this.byDigest.set(d, [img]);
      }
    }
  }

  /** Resolves an image (ID, name, unique prefix); the live record. */
  lookup(ref: string): Image | undefined {
    return this.index.lookup(ref);
  }

  /** Resolves an image or throws `locating image with ID "REF": image not known`. */
  get(ref: string): Image {
    const img = this.lookup(ref);
    if (!img) throw new ImageUnknownError(`locating image with ID ${JSON.stringify(ref)}`);
    return img;
  }

  /** Copies of all images. */
  list(): Image[] {
    return this.index.list.map((i) => clone(i));
  }

  /** Images whose digest list contains `digest`. */
  listByDigest(digest: string): Image[] {
    return (this.byDigest.get(digest) ?? []).map((i) => clone(i));
  }

  /** Directory of an image's big data. */
  dataDir(id: string): string {
    return `${this.dir}/${id}`;
  }

  /** Creates an image record and saves. */
  create(opts: NewImage): Image {
    this.assertWritable();
    let id = opts.id ?? "";
    if (id === "") id = generateId((x) => this.index.byId.has(x));
    else validateId(id);
    if (this.index.byId.has(id)) {
      throw new DuplicateIDError(`an image with ID ${JSON.stringify(id)} already exists`);
    }
    const names = dedupeNames(opts.names ?? []);
    for (const n of names) {
      const other = this.index.byName.get(n);
      if (other) {
        throw new DuplicateNameError(
          `image name ${JSON.stringify(n)} is already associated with image ${JSON.stringify(other.id)}`,
        );
      }
    }
    const image: Image = {
      id,
      digest: opts.digest ?? "",
      digests: [],
      names,
      namesHistory: [...(opts.namesHistory ?? [])],
      topLayer: opts.topLayer,
      mappedTopLayers: [],
      metadata: opts.metadata ?? "",
      bigDataNames: [],
      bigDataSizes: {},
      bigDataDigests: {},
      created: opts.created || nowTimestamp(),
      flags: { ...(opts.flags ?? {}) },
      readOnly: false,
    };
    try {
      recomputeDigests(image);
    } catch (e) {
      throw wrapError(e, "validating digests for new image");
    }
    this.addRecord(image);
    this.reindexDigests();
    this.save();
    return clone(image);
  }

  /** Removes an image record and its big data, and saves. */
  async delete(ref: string): Promise<void> {
    this.assertWritable();
    const img = this.get(ref);
    this.removeRecord(img);
    this.reindexDigests();
    this.save();
    await removeAll(this.dataDir(img.id));
  }

  /** Changes names (moving them from other images) and records them in names-history. */
  updateNames(ref: string, names: string[], op: NameOperation): string[] {
    this.assertWritable();
    const img = this.get(ref);
    const result = applyNameOperation(img.names, names, op);
    this.index.setNames(img, result);
    for (const n of result) img.namesHistory = dedupeNames([n, ...img.namesHistory]);
    this.save();
    return [...result];
  }

  /** Replaces the metadata. */
  setMetadata(ref: string, metadata: string): void {
    this.assertWritable();
    this.get(ref).metadata = metadata;
    this.save();
  }

  /** Records an ID-mapped copy of the top layer. */
  addMappedTopLayer(ref: string, layer: string): void {
    this.assertWritable();
    const img = this.get(ref);
    img.mappedTopLayers = [...img.mappedTopLayers, layer];
    this.save();
  }

  /** Forgets an ID-mapped copy of the top layer. */
  removeMappedTopLayer(ref: string, layer: string): void {
    this.assertWritable();
    const img = this.get(ref);
    img.mappedTopLayers = img.mappedTopLayers.filter((l) => l !== layer);
    this.save();
  }

  /**
   * Stores a big-data item: file written atomically, size and digest recorded (the
   * given digest for manifest keys when provided, else sha256), digest list updated.
   */
  async setBigData(ref: string, key: string, data: Uint8Array, digest?: string): Promise<void> {
    if (key === "") throw new InvalidBigDataNameError("can't set empty name for image big data item");
    this.assertWritable();
    const img = this.get(ref);
    bigDataFileName(key, "image");
    let newDigest = sha256Digest(data);
    if (digest !== undefined && digest !== "" && isManifestKey(key)) {
      try {
        validateDigest(digest);
      } catch (e) {
        throw wrapError(e, `digesting manifest`);
      }
      newDigest = digest;
    }
    await writeBigDataFile(this.dataDir(img.id), key, "image", data);
    let save = noteBigData(img, key, data.length, newDigest);
    const before = img.digest;
    recomputeDigests(img);
    if (img.digest !== before) save = true;
    this.reindexDigests();
    if (save) this.save();
  }

  /** Reads a big-data item. */
  async bigData(ref: string, key: string): Promise<Uint8Array> {
    if (key === "") throw new InvalidBigDataNameError("can't retrieve image big data value for empty name");
    const img = this.get(ref);
    // A key that cannot name a file is missing too.
    const path = bigDataPath(this.dataDir(img.id), key, "image");
    const data = path === null ? null : await readFileOrNull(path);
    if (data === null) {
      throw new NotExistError(
        `locating item named ${JSON.stringify(key)} for image with ID ${
          JSON.stringify(img.id)
        } (consider removing the image to resolve the issue)`,
      );
    }
    return data;
  }

  /** Recorded size of a big-data item (falls back to the file's length). */
  async bigDataSize(ref: string, key: string): Promise<number> {
    if (key === "") {
      throw new InvalidBigDataNameError("can't retrieve size of image big data with empty name");
    }
    const img = this.get(ref);
    const size = img.bigDataSizes[key];
    if (size !== undefined) return size;
    try {
      return (await this.bigData(ref, key)).length;
    } catch {
      throw new SizeUnknownError();
    }
  }

  /** Recorded digest of a big-data item. */
  bigDataDigest(ref: string, key: string): string {
    if (key === "") {
      throw new InvalidBigDataNameError("can't retrieve digest of image big data value with empty name");
    }
    const d = this.get(ref).bigDataDigests[key];
    if (d === undefined) throw new DigestUnknownError();
    return d;
  }

  /** Keys of an image's big data, in first-set order. */
  bigDataNames(ref: string): string[] {
    return [...this.get(ref).bigDataNames];
  }

  /** Removes every image. */
  async wipe(): Promise<void> {
    for (const img of [...this.index.list]) await this.delete(img.id);
  }
}
