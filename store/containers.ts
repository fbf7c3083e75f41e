/**
 * The container store: `DRIVER-containers/containers.json` (+ HEAD's
 * `volatile-containers.json`), guarded by `containers.lock`, with one big-data
 * directory per container. In transient-store mode the lock and the volatile file live
 * in the run root's `DRIVER-containers/`. Every method expects the caller to hold the lock.
 *
 * @module
 */
import {
  ContainerUnknownError,
  DigestUnknownError,
  DuplicateIDError,
  DuplicateNameError,
  InvalidBigDataNameError,
  SizeUnknownError,
  SystemError,
} from "./errors.ts";
import type { Container, IDMap } from "./types.ts";
import { decodeContainer, encodeContainer, type ExtraFields } from "./json.ts";
import { type LoadOutcome, RecordFile } from "./recordfile.ts";
import {
  applyNameOperation,
  bigDataFileName,
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
import { sha256Digest } from "./digest.ts";

/** What `ContainerStore.create` needs. */
export interface NewContainer {
  /** ID (already generated or validated by the caller). */
  id: string;
  /** Names. */
  names?: string[];
  /** Image ID or "". */
  imageId: string;
  /** The read-write layer's ID. */
  layerId: string;
  /** Metadata. */
  metadata?: string;
  /** Flags (MountLabel, ProcessLabel, ...). */
  flags?: Record<string, unknown>;
  /** The container's UID map. */
  uidMap?: IDMap[];
  /** The container's GID map. */
  gidMap?: IDMap[];
  /** Sets flag `Volatile: true` and keeps the record in the volatile file. */
  volatile?: boolean;
  /** Sets flag `MountOpts`. */
  mountOpts?: string[];
}

/** `DRIVER-containers/` of the store. */
export class ContainerStore extends RecordFile<Container> {
  protected readonly kind = "container";
  private byLayer = new Map<string, Container>();

  /**
   * `runDir` (the run root's `DRIVER-containers`) takes the lock and the volatile file
   * in transient-store mode.
   */
  constructor(dir: string, readOnly = false, runDir: string | null = null) {
    const home = runDir ?? dir;
    super(dir, "containers.json", `${home}/containers.lock`, readOnly, `${home}/volatile-containers.json`);
  }

  protected decode(v: unknown): { record: Container; extra?: ExtraFields } {
    return decodeContainer(v);
  }
  protected encode(r: Container, extra?: ExtraFields): string {
    return encodeContainer(r, extra);
  }

  protected install(records: Container[], lockedForWriting: boolean): Promise<LoadOutcome> {
    const dup = this.index.reset(records);
    this.reindexLayers();
    if (dup) {
      if (this.readOnly) {
        throw new DuplicateNameError(
          "read-only container store assigns the same name to multiple containers",
        );
      }
      if (!lockedForWriting) return Promise.resolve({ needsRepair: true });
      this.save();
    }
    return Promise.resolve({ needsRepair: false });
  }

  private reindexLayers(): void {
    this.byLayer.clear();
    for (const c of this.index.list) this.byLayer.set(c.layerId, c);
  }

  /** Resolves a container: ID, name, full ID of its layer, unique ID prefix. */
  lookup(ref: string): Container | undefined {
    const ix = this.index;
    return ix.byId.get(ref) ?? ix.byName.get(ref) ?? this.byLayer.get(ref) ?? ix.byPrefix(ref);
  }

  /** Resolves a container or throws `container not known`. */
  get(ref: string): Container {
    const c = this.lookup(ref);
    if (!c) throw new ContainerUnknownError();
    return c;
  }

  /** Copies of all containers. */
  list(): Container[] {
    return this.index.list.map((c) => clone(c));
  }

  /** The container whose layer is `layerId`, if any. */
  byLayerId(layerId: string): Container | undefined {
    return this.byLayer.get(layerId);
  }

  /** Whether an ID is taken. */
  idInUse(id: string): boolean {
    return this.index.byId.has(id);
  }

  /** A fresh random ID not used by any container. */
  newId(): string {
    return generateId((x) => this.index.byId.has(x));
  }

  /** Directory of a container's big data (`GRAPH/DRIVER-containers/ID`). */
  dataDir(id: string): string {
    return `${this.dir}/${id}`;
  }

  /** Creates the record and saves. */
  create(opts: NewContainer): Container {
    this.assertWritable();
    validateId(opts.id);
    if (this.index.byId.has(opts.id)) throw new DuplicateIDError();
    const names = dedupeNames(opts.names ?? []);
    for (const n of names) {
      const other = this.index.byName.get(n);
      if (other) {
        throw new DuplicateNameError(
          `the container name ${JSON.stringify(n)} is already in use by ${other.id}. ` +
            `You have to remove that container to be able to reuse that name`,
        );
      }
    }
    const flags: Record<string, unknown> = { ...(opts.flags ?? {}) };
    if (opts.mountOpts) flags.MountOpts = [...opts.mountOpts];
    if (opts.volatile) flags.Volatile = true;
    const c: Container = {
      id: opts.id,
      names,
      imageId: opts.imageId,
      layerId: opts.layerId,
      metadata: opts.metadata ?? "",
      bigDataNames: [],
      bigDataSizes: {},
      bigDataDigests: {},
      created: nowTimestamp(),
      uidMap: (opts.uidMap ?? []).map((m) => ({ ...m })),
      gidMap: (opts.gidMap ?? []).map((m) => ({ ...m })),
      flags,
    };
    this.addRecord(c, opts.volatile ? "volatile" : "stable");
    this.byLayer.set(c.layerId, c);
    this.save();
    return clone(c);
  }

  /** Removes the record and its big-data directory, and saves. */
  async delete(ref: string): Promise<void> {
    this.assertWritable();
    const c = this.get(ref);
    this.removeRecord(c);
    this.reindexLayers();
    this.save();
    await removeAll(this.dataDir(c.id));
  }

  /** Changes names, moving them from other containers. */
  updateNames(ref: string, names: string[], op: NameOperation): string[] {
    this.assertWritable();
    const c = this.get(ref);
    const result = applyNameOperation(c.names, names, op);
    this.index.setNames(c, result);
    this.save();
    return [...result];
  }

  /** Replaces the metadata. */
  setMetadata(ref: string, metadata: string): void {
    this.assertWritable();
    this.get(ref).metadata = metadata;
    this.save();
  }

  /** Stores a big-data item with its size and sha256 digest. */
  async setBigData(ref: string, key: string, data: Uint8Array): Promise<void> {
    if (key === "") throw new InvalidBigDataNameError("can't set empty name for container big data item");
    this.assertWritable();
    const c = this.get(ref);
    await writeBigDataFile(this.dataDir(c.id), key, "container", data);
    if (noteBigData(c, key, data.length, sha256Digest(data))) this.save();
  }

  /** Reads a big-data item; a missing file fails with the OS error, as in Go. */
  async bigData(ref: string, key: string): Promise<Uint8Array> {
    if (key === "") {
      throw new InvalidBigDataNameError("can't retrieve container big data value for empty name");
    }
    const c = this.get(ref);
    const name = bigDataFileName(key, "container");
    const path = `${this.dataDir(c.id)}/${name}`;
    const data = await readFileOrNull(path);
    if (data === null) throw new SystemError(`open ${path}: no such file or directory`, 2, "ENOENT");
    return data;
  }

  /** Recorded size of a big-data item. */
  bigDataSize(ref: string, key: string): number {
    if (key === "") {
      throw new InvalidBigDataNameError("can't retrieve size of container big data with empty name");
    }
    const size = this.get(ref).bigDataSizes[key];
    if (size === undefined) throw new SizeUnknownError();
    return size;
  }

  /** Recorded digest of a big-data item. */
  bigDataDigest(ref: string, key: string): string {
    if (key === "") {
      throw new InvalidBigDataNameError("can't retrieve digest of container big data value with empty name");
    }
    const d = this.get(ref).bigDataDigests[key];
    if (d === undefined) throw new DigestUnknownError();
    return d;
  }

  /** Keys of a container's big data. */
  bigDataNames(ref: string): string[] {
    return [...this.get(ref).bigDataNames];
  }

  /** Removes every container record (and big-data directory). */
  async wipe(): Promise<void> {
    for (const c of [...this.index.list]) await this.delete(c.id);
  }
}
