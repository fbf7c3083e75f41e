/**
 * The layer store: `DRIVER-layers/layers.json` (+ HEAD's `volatile-layers.json`),
 * guarded by `layers.lock`; mount counts in `RUN/DRIVER-layers/mountpoints.json`,
 * guarded by `mountpoints.lock` (innermost lock); tar-split files; layer big data.
 * Content goes through the driver. Every method expects the caller to hold the layers
 * lock (`startReading`/`startWriting`), as Store does.
 *
 * @module
 */
import { nodeZlib } from "./node_lazy.ts";
import {
  CorruptFileError,
  DuplicateIDError,
  DuplicateNameError,
  InvalidBigDataNameError,
  LayerNotMountedError,
  LayerUnknownError,
  NotExistError,
  NotSupportedError,
  StorageError,
  wrapError,
} from "./errors.ts";
import type { ByteSource, Change, IDMap, Layer } from "./types.ts";
import { Compression } from "./types.ts";
import type { Driver, DriverMountOptions } from "../drivers/driver.ts";
import {
  decodeLayer,
  decodeMountPoints,
  encodeArray,
  encodeLayer,
  encodeMountPoint,
  type ExtraFields,
} from "./json.ts";
import { type LoadOutcome, type Location, MultiLock, RecordFile, type StoreLock } from "./recordfile.ts";
import {
  applyNameOperation,
  bigDataPath,
  clone,
  dedupeNames,
  generateId,
  type NameOperation,
  nowTimestamp,
  parseTimestampNs,
  readFileOrNull,
  removeAll,
  validateId,
  writeBigDataFile,
} from "./records.ts";
import { LockFile } from "./lockfile.ts";
import { cleanPath } from "./paths.ts";
import { writeFileAtomic, writeFileAtomicSync } from "./atomic.ts";
import { DigestCounter, EMPTY_SHA256 } from "./digest.ts";
import { lstatNs } from "../sys/fs.ts";
import { IDSetCollector } from "../archive/idset.ts";
import { concatBytes, toReadableStream } from "./streams.ts";
import { mapsEqual } from "./idmap.ts";
import { chownTreeByMaps, ownerMapper } from "../drivers/copy_chown.ts";

const INCOMPLETE = "incomplete";

/** What `LayerStore.create` needs. */
export interface NewLayer {
  /** Caller-chosen ID or empty for a random one. */
  id?: string;
  /** Parent layer record, or null for a base layer. */
  parent: Layer | null;
  /** Names. */
  names?: string[];
  /** SELinux mount label. */
  mountLabel?: string;
  /** Driver's read-write creation (container layers) instead of read-only. */
  writeable?: boolean;
  /** UID map of the layer. */
  uidMap?: IDMap[];
  /** GID map of the layer. */
  gidMap?: IDMap[];
  /** Flags to record. */
  flags?: Record<string, unknown>;
  /** Per-layer driver options. */
  storageOpt?: Record<string, string>;
  /** Content to apply. */
  diff?: ByteSource;
  /** Keep the record in the volatile file (layers of volatile containers). */
  volatile?: boolean;
  /**
   * Make an ID-mapped copy of this layer (Go's template layer): the driver copies it,
   * the copy is re-owned to the new maps, and its digests, sizes and tar-split are
   * copied. The record's parent stays `parent` (the template's parent).
   */
  template?: Layer;
}

/** Has a layer record the `incomplete` flag set to JSON true? */
function isIncomplete(l: Layer): boolean {
  return l.flags[INCOMPLETE] === true;
}

function mtimeNs(path: string): bigint {
  try {
    return lstatNs(path).mtimeNs;
  } catch {
    return -1n;
  }
}

/** Where HEAD's layer stores keep more than `layers.json`. */
export interface LayerStoreOptions {
  /** Transient store: `volatile-layers.json` lives in the run root's `DRIVER-layers/`. */
  transient?: boolean;
  /**
   * `IMAGESTORE/DRIVER-layers` of a split image store: read-only layers are recorded in
   * its `layers.json`, and its `layers.lock` is taken and token-updated with ours.
   */
  imageDir?: string;
}

/** `DRIVER-layers/` of the store, with its run-root companion. */
export class LayerStore extends RecordFile<Layer> {
  protected readonly kind = "layer";
  /** The driver that holds the layers' content. */
  driver: Driver;
  /** `RUN/DRIVER-layers`. */
  readonly runDir: string;
  /** `RUN/DRIVER-layers/mountpoints.json`. */
  readonly mountsPath: string;
  /** `RUN/DRIVER-layers/mountpoints.lock`. */
  readonly mountsLock: LockFile | null;
  private mountsToken: Uint8Array | null = null;
  private mtimes: bigint[] = [];
  private byCompressed = new Map<string, Layer[]>();
  private byUncompressed = new Map<string, Layer[]>();

  /** Whether read-only layers go to the split image store. */
  private readonly hasImageDir: boolean;

  constructor(
    dir: string,
    runDir: string,
    driver: Driver,
    readOnly: boolean,
    options: LayerStoreOptions = {},
  ) {
    let lock: string | StoreLock = `${dir}/layers.lock`;
    if (options.imageDir && !readOnly) {
      lock = new MultiLock([LockFile.get(lock), LockFile.get(`${options.imageDir}/layers.lock`)]);
    }
    super(dir, "layers.json", lock, readOnly, {
      volatile: `${options.transient && !readOnly ? runDir : dir}/volatile-layers.json`,
      imagestore: options.imageDir && !readOnly ? `${options.imageDir}/layers.json` : undefined,
    });
    this.hasImageDir = Boolean(options.imageDir) && !readOnly;
    this.driver = driver;
    this.runDir = runDir;
    this.mountsPath = `${runDir}/mountpoints.json`;
    // Read-only (additional) stores have no mount counts of their own.
    this.mountsLock = readOnly ? null : LockFile.get(`${runDir}/mountpoints.lock`);
  }

  protected decode(v: unknown): { record: Layer; extra?: ExtraFields } {
    return decodeLayer(v);
  }
  protected encode(r: Layer, extra?: ExtraFields): string {
    return encodeLayer(r, extra);
  }

  protected override changedOnDisk(): boolean {
    if (this.mtimes.length === 0) return true;
    return this.paths.some(([, p], i) => mtimeNs(p) !== this.mtimes[i]);
  }

  protected override noteFileState(): void {
    this.mtimes = this.paths.map(([, p]) => mtimeNs(p));
  }

  protected async install(records: Layer[], lockedForWriting: boolean): Promise<LoadOutcome> {
    const dup = this.index.reset(records);
    this.reindexDigests();
    let incomplete = false;
    for (const l of records) {
      l.readOnly = this.readOnly;
      if (isIncomplete(l)) incomplete = true;
    }
    if (this.readOnly) {
      if (dup) throw new DuplicateNameError("read-only layer store assigns the same name to multiple layers");
      return { needsRepair: false };
    }
    const stale = hasStaleTempDirs(this.tempDir);
    if ((dup || incomplete || stale) && !lockedForWriting) return { needsRepair: true };
    await this.withMountsRead(() => this.loadMounts());
    // Deferred deletions (HEAD) whose deleting process is gone are finished here.
    if (stale) await recoverStaleTempDirs(this.tempDir);
    if (dup || incomplete) {
      // A previous writer crashed while creating or deleting these: finish the deletion.
      for (const l of [...this.index.list]) {
        if (isIncomplete(l)) await this.deleteInternal(l);
      }
      await this.saveAll();
    }
    return { needsRepair: false };
  }

  private reindexDigests(): void {
    this.byCompressed.clear();
    this.byUncompressed.clear();
    const add = (m: Map<string, Layer[]>, d: string, l: Layer) => {
      if (d === "") return;
      const list = m.get(d);
      if (list) list.push(l);
      else m.set(d, [l]);
    };
    for (const l of this.index.list) {
      add(this.byCompressed, l.compressedDigest, l);
      add(this.byUncompressed, l.uncompressedDigest, l);
    }
  }

  // ------------------------------------------------------------ mount counts

  private async withMountsRead<T>(fn: () => T | Promise<T>): Promise<T> {
    if (!this.mountsLock) return await fn();
    await this.mountsLock.rLock();
    try {
      return await fn();
    } finally {
      this.mountsLock.unlock();
    }
  }

  private async withMountsWrite<T>(fn: () => T | Promise<T>): Promise<T> {
    if (!this.mountsLock) throw new NotSupportedError(`mount counts of read-only layer store ${this.dir}`);
    await this.mountsLock.lock();
    try {
      if (this.mountsLock.modifiedSince(this.mountsToken)) this.loadMounts();
      return await fn();
    } finally {
      this.mountsLock.unlock();
    }
  }

  /** Reads mountpoints.json into the records (caller holds the mountpoints lock). */
  private loadMounts(): void {
    if (!this.mountsLock) return;
    this.mountsToken = this.mountsLock.getLastWrite();
    let data: Uint8Array | null = null;
    try {
      data = Deno.readFileSync(this.mountsPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    let entries;
    try {
      entries = decodeMountPoints(
        data === null || data.length === 0 ? [] : JSON.parse(new TextDecoder().decode(data)),
      );
    } catch (e) {
      const detail = e instanceof SyntaxError ? `invalid JSON: ${e.message}` : (e as Error).message;
      throw new CorruptFileError(this.mountsPath, detail, { cause: e });
    }
    for (const l of this.index.list) {
      l.mountPoint = "";
      l.mountCount = 0;
    }
    for (const m of entries) {
      const l = this.index.lookup(m.id);
      if (l) {
        l.mountPoint = m.path;
        l.mountCount = m.count;
      }
    }
  }

  /** Writes mountpoints.json (caller holds the mountpoints write lock). */
  private saveMounts(): void {
    if (!this.mountsLock) return;
    Deno.mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    const items: string[] = [];
    for (const l of this.index.list) {
      if (l.mountPoint !== "" && l.mountCount > 0) {
        items.push(encodeMountPoint({ id: l.id, path: l.mountPoint, count: l.mountCount }));
      }
    }
    this.mountsToken = this.mountsLock.recordWrite();
    writeFileAtomicSync(this.mountsPath, encodeArray(items), { mode: 0o600 });
  }

  /** Checks mountpoints.json for changes by other processes (under the layers lock). */
  async refreshMounts(): Promise<void> {
    if (!this.mountsLock) return;
    await this.withMountsRead(() => {
      if (this.mountsLock!.modifiedSince(this.mountsToken)) this.loadMounts();
    });
  }

  /** Saves layers.json and mountpoints.json (Go's Save: mountpoints lock, layers, mounts). */
  async saveAll(): Promise<void> {
    this.assertWritable();
    await this.withMountsWrite(() => {
      this.save();
      this.saveMounts();
    });
  }

  // ------------------------------------------------------------ lookups

  /** Resolves a layer: exact ID, name, unique prefix (live record). */
  lookup(ref: string): Layer | undefined {
    return this.index.lookup(ref);
  }

  /** Resolves a layer or throws `layer not known`. */
  get(ref: string): Layer {
    const l = this.lookup(ref);
    if (!l) throw new LayerUnknownError();
    return l;
  }

  /** Copies of all layers in store order. */
  list(): Layer[] {
    return this.index.list.map((l) => clone(l));
  }

  /** Layers with this compressed digest. */
  listByCompressedDigest(d: string): Layer[] {
    return (this.byCompressed.get(d) ?? []).map((l) => clone(l));
  }

  /** Layers with this uncompressed digest. */
  listByUncompressedDigest(d: string): Layer[] {
    return (this.byUncompressed.get(d) ?? []).map((l) => clone(l));
  }

  /** HEAD's deferred-deletion staging directory (`DRIVER-layers/tmp`). */
  get tempDir(): string {
    return `${this.dir}/tmp`;
  }

  /** Path of a layer's tar-split file. */
  tarSplitPath(id: string): string {
    return `${this.dir}/${id}.tar-split.gz`;
  }

  /** Directory of a layer's big data. */
  dataDir(id: string): string {
    return `${this.dir}/${id}`;
  }

  /** A random ID not used by any layer here. */
  newId(): string {
    return generateId((x) => this.index.byId.has(x));
  }

  // ------------------------------------------------------------ create / delete

  /**
   * Creates a layer: the record is saved with `incomplete: true` first, then the driver
   * makes the directories and the diff (if any) is applied, then the flag is cleared.
   * The caller holds the write lock throughout. On failure everything is removed again.
   */
  async create(opts: NewLayer): Promise<Layer> {
    this.assertWritable();
    let id = opts.id ?? "";
    if (id === "") id = this.newId();
    else validateId(id);
    if (this.index.byId.has(id)) throw new DuplicateIDError();
    const names = dedupeNames(opts.names ?? []);
    for (const n of names) if (this.index.byName.has(n)) throw new DuplicateNameError();
    const parent = opts.parent?.id ?? "";
    const layer: Layer = {
      id,
      names,
      parent,
      metadata: "",
      mountLabel: opts.mountLabel ?? "",
      created: nowTimestamp(),
      compressedDigest: "",
      compressedSize: 0,
      uncompressedDigest: "",
      tocDigest: "",
      uncompressedSize: 0,
      compression: Compression.None,
      uidSet: [],
      gidSet: [],
      flags: { ...(opts.flags ?? {}), [INCOMPLETE]: true },
      uidMap: (opts.uidMap ?? []).map((m) => ({ ...m })),
      gidMap: (opts.gidMap ?? []).map((m) => ({ ...m })),
      bigDataNames: [],
      readOnly: false,
      mountPoint: "",
      mountCount: 0,
    };
    this.addRecord(layer, this.pickLocation(opts));
    let ok = false;
    try {
      await this.saveAll();
      const createOpts = {
        mountLabel: layer.mountLabel,
        storageOpt: opts.storageOpt,
        uidMap: layer.uidMap,
        gidMap: layer.gidMap,
      };
      const base = opts.template ?? opts.parent;
      try {
        if (opts.writeable) await this.driver.createReadWrite(id, base?.id ?? null, createOpts);
        else await this.driver.create(id, base?.id ?? null, createOpts);
      } catch (e) {
        throw wrapError(
          e,
          `creating ${opts.writeable ? "read-write" : "read-only"} layer with ID ${JSON.stringify(id)}`,
        );
      }
      // Content copied from a parent or template carries that layer's IDs: re-own it.
      if (base && (!mapsEqual(base.uidMap, layer.uidMap) || !mapsEqual(base.gidMap, layer.gidMap))) {
        await this.chownLayer(layer, base);
      }
      if (opts.template) {
        const t = opts.template;
        layer.compressedDigest = t.compressedDigest;
        layer.compressedSize = t.compressedSize;
        layer.uncompressedDigest = t.uncompressedDigest;
        layer.uncompressedSize = t.uncompressedSize;
        layer.compression = t.compression;
        layer.uidSet = [...t.uidSet];
        layer.gidSet = [...t.gidSet];
        const ts = await Deno.open(this.tarSplitPath(t.id)).catch((e) => {
          if (e instanceof Deno.errors.NotFound) return null;
          throw e;
        });
        if (ts) await writeFileAtomic(this.tarSplitPath(id), ts.readable, { mode: 0o600 });
        this.reindexDigests();
      }
      if (opts.diff !== undefined) await this.applyDiffTo(layer, opts.diff);
      delete layer.flags[INCOMPLETE];
      await this.saveAll();
      ok = true;
      return clone(layer);
    } finally {
      if (!ok) {
        // A diff stream nobody started reading is released too.
        if (opts.diff instanceof ReadableStream && !opts.diff.locked) {
          await opts.diff.cancel().catch(() => {});
        }
        try {
          await this.deleteInternal(layer);
          await this.saveAll();
        } catch {
          // The incomplete record stays; the next writer that loads the store removes it.
        }
      }
    }
  }

  /** HEAD's pickStoreLocation: volatile, else read-only layers in the split image store. */
  private pickLocation(opts: NewLayer): Location {
    if (opts.volatile) return "volatile";
    if (!opts.writeable && this.hasImageDir) return "imagestore";
    return "stable";
  }

  /**
   * Re-owns a layer's files from `from`'s maps to the layer's own (Go's naive
   * UpdateLayerIDMap): the driver's own method when it has one, else mount, chown every
   * entry but the root through the maps, unmount.
   */
  private async chownLayer(layer: Layer, from: Layer): Promise<void> {
    const maps = (l: Layer) =>
      l.uidMap.length || l.gidMap.length ? { uidMap: l.uidMap, gidMap: l.gidMap } : null;
    if (this.driver.updateLayerIDMap) {
      return await this.driver.updateLayerIDMap(layer.id, maps(from), maps(layer), layer.mountLabel);
    }
    const path = await this.driver.get(layer.id, { mountLabel: layer.mountLabel });
    try {
      chownTreeByMaps(path, ownerMapper(maps(from), maps(layer)));
    } finally {
      await this.driver.put(layer.id);
    }
  }

  /**
   * Removes a layer's data and record without saving (Go's deleteInternal): the record is
   * marked incomplete first so that a crash midway leaves it to be cleaned up.
   */
  private async deleteInternal(layer: Layer): Promise<void> {
    if (!isIncomplete(layer)) {
      layer.flags = { ...layer.flags, [INCOMPLETE]: true };
      await this.saveAll();
    }
    try {
      await this.driver.remove(layer.id);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.remove(this.tarSplitPath(layer.id)).catch(() => {});
    await removeAll(this.dataDir(layer.id));
    this.removeRecord(layer);
    this.reindexDigests();
  }

  /** Deletes a layer: unmounts it completely, removes data and record, saves. */
  async delete(ref: string): Promise<void> {
    this.assertWritable();
    const layer = this.get(ref);
    // Unmount first so that the driver can remove the directories.
    while (true) {
      const stillMounted = await this.unmount(layer.id, false, true).catch((e) => {
        if (e instanceof LayerNotMountedError) return null;
        throw e;
      });
      if (stillMounted === null || !stillMounted) break;
    }
    await this.deleteInternal(layer);
    await this.saveAll();
  }

  /** Deletes every layer, newest first. */
  async wipe(): Promise<void> {
    this.assertWritable();
    const order = [...this.index.list].sort((a, b) => {
      const x = parseTimestampNs(a.created), y = parseTimestampNs(b.created);
      return x > y ? -1 : x < y ? 1 : 0;
    });
    for (const l of order) await this.delete(l.id);
  }

  // ------------------------------------------------------------ names, metadata, big data

  /** Changes names, moving them from other layers. */
  async updateNames(ref: string, names: string[], op: NameOperation): Promise<string[]> {
    this.assertWritable();
    const l = this.get(ref);
    const result = applyNameOperation(l.names, names, op);
    this.index.setNames(l, result);
    await this.saveAll();
    return [...result];
  }

  /** Replaces the metadata. */
  async setMetadata(ref: string, metadata: string): Promise<void> {
    this.assertWritable();
    this.get(ref).metadata = metadata;
    await this.saveAll();
  }

  /** Stores a big-data item (streamed to a temp file, renamed into place). */
  async setBigData(ref: string, key: string, data: ByteSource): Promise<void> {
    if (key === "") throw new InvalidBigDataNameError("can't set empty name for layer big data item");
    this.assertWritable();
    const l = this.get(ref);
    await writeBigDataFile(
      this.dataDir(l.id),
      key,
      "layer",
      data instanceof Uint8Array ? data : toReadableStream(data),
    );
    if (!l.bigDataNames.includes(key)) {
      l.bigDataNames = [...l.bigDataNames, key];
      await this.saveAll();
    }
  }

  /** Reads a big-data item. */
  async bigData(ref: string, key: string): Promise<Uint8Array> {
    if (key === "") throw new InvalidBigDataNameError("can't retrieve layer big data value for empty name");
    const l = this.get(ref);
    // A key that cannot name a file is missing too.
    const path = bigDataPath(this.dataDir(l.id), key, "layer");
    const data = path === null ? null : await readFileOrNull(path);
    if (data === null) {
      throw new NotExistError(
        `locating item named ${JSON.stringify(key)} for layer with ID ${JSON.stringify(l.id)}`,
      );
    }
    return data;
  }

  // ------------------------------------------------------------ content

  /**
   * Applies a (possibly compressed) tar to an existing layer and records what it was:
   * digests and sizes of the input as given and of the uncompressed tar, compression,
   * uid/gid sets, and the tar-split file. Returns the uncompressed size.
   */
  async applyDiff(ref: string, diff: ByteSource): Promise<number> {
    this.assertWritable();
    const layer = this.get(ref);
    await this.applyDiffTo(layer, diff);
    await this.saveAll();
    return layer.uncompressedSize;
  }

  private async applyDiffTo(layer: Layer, source: ByteSource): Promise<void> {
    // Digest and size of the input as given, and of the uncompressed tar.
    let given = { digest: EMPTY_SHA256, size: 0 };
    let tarSum = given;
    const input = await nonEmpty(toReadableStream(source));
    const tsPath = this.tarSplitPath(layer.id);
    let compression = Compression.None;
    let uidSet: number[] = [];
    let gidSet: number[] = [];
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (input === null) {
      // Go records the digests of empty input and a tar-split holding one empty segment.
      const ts = nodeZlib().gzipSync('{"type":2,"payload":"","position":0}\n', { level: 1 });
      await writeFileAtomic(tsPath, new Uint8Array(ts.buffer, ts.byteOffset, ts.byteLength), { mode: 0o600 });
    } else {
      // Content code is loaded here, not with the store: most commands never apply a diff.
      const [{ decompress }, { TarSplitRecorder }, { sourceSize }] = await Promise.all([
        import("../archive/compression.ts"),
        import("../archive/tarsplit.ts"),
        import("../archive/source.ts"),
      ]);
      const inputCount = new LazyCounter();
      const d = await decompress(input.pipeThrough(inputCount.stream));
      compression = d.compression;
      // A large input (a file of known size) has its tar hashed by the tar-split worker,
      // beside the extraction, instead of on this thread; uncompressed input is its own
      // tar, and is then not hashed here at all.
      const offload = (sourceSize(source) ?? 0) >= HASH_OFFLOAD_MIN;
      if (offload && compression === Compression.None) inputCount.stop();
      else inputCount.start();
      let tarCount: LazyCounter | null = null;
      let tar = d.stream;
      if (compression !== Compression.None && !offload) {
        tarCount = new LazyCounter();
        tarCount.start();
        tar = d.stream.pipeThrough(tarCount.stream);
      }
      const recorder = TarSplitRecorder.create(tsPath, { digest: offload });
      const ids = new IDSetCollector();
      try {
        await this.driver.applyDiff(layer.id, layer.parent || null, tar, {
          uidMap: layer.uidMap,
          gidMap: layer.gidMap,
          mountLabel: layer.mountLabel,
          observers: [recorder, ids],
        });
        await recorder.settle();
        await recorder.commit();
      } catch (e) {
        recorder.abort();
        throw e;
      }
      uidSet = ids.uidSet();
      gidSet = ids.gidSet();
      tarSum = offload
        ? { digest: recorder.digest, size: recorder.size }
        : await (tarCount ?? inputCount).result();
      given = compression === Compression.None ? tarSum : await inputCount.result();
    }
    layer.compressedDigest = given.digest;
    layer.compressedSize = given.size;
    layer.uncompressedDigest = tarSum.digest;
    layer.uncompressedSize = tarSum.size;
    layer.compression = compression;
    layer.uidSet = uidSet;
    layer.gidSet = gidSet;
    this.reindexDigests();
  }

  /**
   * Resolves `from`/`to` as Go's findParentAndLayer: `from` defaults to the parent, and
   * an unknown `from` falls back to the parent too. `fromId` is what the driver gets: a
   * parent recorded in another store (an additional image store) is still the parent.
   */
  parentAndLayer(from: string | null, to: string): { from: Layer | null; fromId: string; to: Layer } {
    const toLayer = this.get(to);
    let fromRef = from ?? "";
    if (fromRef === "") fromRef = toLayer.parent;
    let fromLayer: Layer | null = null;
    if (fromRef !== "") {
      fromLayer = this.lookup(fromRef) ?? (toLayer.parent ? this.lookup(toLayer.parent) ?? null : null);
    }
    return { from: fromLayer, fromId: fromLayer?.id ?? fromRef, to: toLayer };
  }

  private diffOpts(l: Layer) {
    return { uidMap: l.uidMap, gidMap: l.gidMap, mountLabel: l.mountLabel };
  }

  /**
   * The tar between `from` and `to`: the original tar replayed from the tar-split file
   * when diffing against the parent, else generated by the driver; compressed as asked
   * (default: as the layer's diff was given).
   */
  async diff(
    from: string | null,
    to: string,
    compression?: Compression,
  ): Promise<ReadableStream<Uint8Array>> {
    const { fromId, to: t } = this.parentAndLayer(from, to);
    const want = compression ?? t.compression;
    const { compress } = await import("../archive/compression.ts");
    // Fail on an unproducible compression before doing any work.
    if (want === Compression.Bzip2 || want === Compression.Xz) compress(new ReadableStream(), want);
    let raw: ReadableStream<Uint8Array>;
    let haveTarSplit = false;
    if (fromId === t.parent) {
      try {
        Deno.statSync(this.tarSplitPath(t.id));
        haveTarSplit = true;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    if (haveTarSplit) {
      const getter = await this.driver.diffGetter(t.id);
      const { replayTarSplit } = await import("../archive/tarsplit.ts");
      raw = replayTarSplit(this.tarSplitPath(t.id), getter);
    } else {
      raw = await this.driver.diff(t.id, fromId || null, this.diffOpts(t));
    }
    return compress(raw, want);
  }

  /** Changes between `from` and `to` (driver). */
  changes(from: string | null, to: string): Promise<Change[]> {
    const { fromId, to: t } = this.parentAndLayer(from, to);
    return this.driver.changes(t.id, fromId || null, this.diffOpts(t));
  }

  /** Size of the changes between `from` and `to` (driver). */
  diffSize(from: string | null, to: string): Promise<number> {
    const { fromId, to: t } = this.parentAndLayer(from, to);
    return this.driver.diffSize(t.id, fromId || null, this.diffOpts(t));
  }

  // ------------------------------------------------------------ mounting

  /**
   * Mounts a layer, counting references across processes: a layer already mounted (and
   * still live) gets its count raised and the same path back.
   */
  async mount(ref: string, options: DriverMountOptions): Promise<string> {
    this.assertWritable();
    return await this.withMountsWrite(async () => {
      const l = this.get(ref);
      if (l.mountCount > 0 && l.mountPoint !== "" && await this.driver.isMounted(l.id, l.mountPoint)) {
        l.mountCount++;
        this.saveMounts();
        return l.mountPoint;
      }
      const opts: DriverMountOptions = { ...options };
      if (!opts.mountLabel) opts.mountLabel = l.mountLabel;
      if ((opts.uidMap?.length || opts.gidMap?.length) && !this.driver.supportsShifting()) {
        if (!mapsEqual(opts.uidMap, l.uidMap) || !mapsEqual(opts.gidMap, l.gidMap)) {
          throw new StorageError(`cannot mount layer ${l.id}: shifting not enabled`);
        }
        // The layer's files already carry these IDs: mount without shifting.
        delete opts.uidMap;
        delete opts.gidMap;
      }
      const path = await this.driver.get(l.id, opts);
      l.mountPoint = cleanPath(path);
      // A stale count (mount vanished, e.g. after a reboot) restarts at 1.
      l.mountCount = Math.max(l.mountCount, 0) + 1;
      this.saveMounts();
      return path;
    });
  }

  /**
   * Drops one mount reference (all of them with `force`); the driver unmounts when the
   * count reaches zero. Returns true while still mounted. With `conditional`, a layer
   * that is not mounted fails with LayerNotMountedError.
   */
  async unmount(ref: string, force: boolean, conditional = false): Promise<boolean> {
    this.assertWritable();
    return await this.withMountsWrite(async () => {
      let l = this.lookup(ref);
      if (!l) {
        const p = cleanPath(ref);
        l = this.index.list.find((x) => x.mountPoint !== "" && x.mountPoint === p);
        if (!l) throw new LayerUnknownError();
      }
      if (conditional && l.mountCount <= 0) throw new LayerNotMountedError();
      if (force) l.mountCount = 1;
      if (l.mountCount > 1) {
        l.mountCount--;
        this.saveMounts();
        return true;
      }
      try {
        await this.driver.put(l.id);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      l.mountCount = 0;
      l.mountPoint = "";
      this.saveMounts();
      return false;
    });
  }

  /** The mount count of a layer (reloading mountpoints.json if it changed). */
  async mounted(ref: string): Promise<number> {
    await this.refreshMounts();
    return Math.max(this.get(ref).mountCount, 0);
  }
}

/** Whether HEAD's deferred-deletion directory holds any `lock-*` entry. */
function hasStaleTempDirs(root: string): boolean {
  try {
    for (const e of Deno.readDirSync(root)) if (e.name.startsWith("lock-")) return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
  }
  return false;
}

/**
 * Removes every `temp-dir-X` / `lock-X` pair whose lock can be taken without waiting
 * (HEAD's RecoverStaleDirs): a held lock means its deleting process is still at work.
 */
async function recoverStaleTempDirs(root: string): Promise<void> {
  let names: string[];
  try {
    names = [...Deno.readDirSync(root)].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return;
    throw e;
  }
  for (const name of names) {
    if (!name.startsWith("lock-")) continue;
    const lock = LockFile.get(`${root}/${name}`);
    if (!lock.tryLock()) continue;
    try {
      await removeAll(`${root}/temp-dir-${name.slice("lock-".length)}`);
      await Deno.remove(`${root}/${name}`).catch(() => {});
    } finally {
      lock.unlock();
    }
  }
}

// Inputs (files of known size) from this size up have their tar hashed on the tar-split
// worker: a worker costs ~20 ms to start, hashing 64 MiB in-process ~50 ms.
const HASH_OFFLOAD_MIN = 64 << 20;
// Streams up to this size are hashed at their end by WebCrypto.
const KEEP_MAX = 16 << 20;

/**
 * Hashes and counts what flows through `stream`. Until `start()` or `stop()` it keeps
 * copies of the chunks (the one or two read while the compression is detected), so a
 * stream hashed elsewhere never loads node:crypto here. Once started, a stream of up to
 * KEEP_MAX bytes is kept and hashed at its end by WebCrypto (loading node:crypto costs a
 * command ~55 ms); a longer one goes to a node:crypto hash as it flows.
 */
class LazyCounter {
  private kept: Uint8Array[] | null = [];
  private keptLen = 0;
  private started = false;
  private counter: DigestCounter | null = null;
  readonly stream: TransformStream<Uint8Array, Uint8Array> = new TransformStream({
    transform: (chunk, controller) => {
      if (this.counter) this.counter.update(chunk);
      else if (this.kept) {
        this.kept.push(chunk.slice());
        this.keptLen += chunk.length;
        if (this.started && this.keptLen > KEEP_MAX) this.streaming();
      }
      controller.enqueue(chunk);
    },
  });

  /** Hashes what went through so far and all that follows. */
  start(): void {
    this.started = true;
    if (this.keptLen > KEEP_MAX) this.streaming();
  }

  /** Hashes nothing. */
  stop(): void {
    this.kept = null;
  }

  /** Digest and size (after `start()`, once the stream ended). */
  async result(): Promise<{ digest: string; size: number }> {
    if (this.counter) return { digest: this.counter.digest(), size: this.counter.size };
    const all = concatBytes(this.kept!);
    const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", all as Uint8Array<ArrayBuffer>));
    let hex = "";
    for (const b of sum) hex += b.toString(16).padStart(2, "0");
    return { digest: `sha256:${hex}`, size: all.length };
  }

  private streaming(): void {
    this.counter = new DigestCounter();
    for (const k of this.kept!) this.counter.update(k);
    this.kept = null;
  }
}

/** The stream, or null when it ends without a single byte (the first bytes are kept). */
async function nonEmpty(s: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array> | null> {
  const reader = s.getReader();
  let first: Uint8Array | null = null;
  while (first === null) {
    const r = await reader.read();
    if (r.done) {
      reader.releaseLock();
      return null;
    }
    if (r.value.length > 0) first = r.value;
  }
  let sentFirst = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!sentFirst) {
        sentFirst = true;
        c.enqueue(first!);
        return;
      }
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
