/**
 * The part every kind store shares: a JSON array file (plus HEAD's optional companions:
 * the volatile file and the split image store's file), the lock that guards them, the
 * last-writer token that tells when another process changed them, and loading/saving
 * with Go's conventions.
 *
 * Callers bracket every use with `startReading()`/`startWriting()` and `stop()`; both
 * reload the files when the token changed. Saving writes a new token first (a spurious
 * reload elsewhere is harmless, a missed one is not), then each file whose content
 * changed atomically (the volatile one without fsync, as HEAD).
 *
 * @module
 */
import { CorruptFileError, LockError, ReadOnlyError, StorageError } from "./errors.ts";
import { LockFile } from "./lockfile.ts";
import { writeFileAtomicSync } from "./atomic.ts";
import { encodeArray, type ExtraFields, JSONShapeError, parseArrayFile } from "./json.ts";
import { type Named, readFileOrNullSync, RecordIndex } from "./records.ts";

const UTF8 = new TextDecoder();

/**
 * Where a record was read from and goes back to: the main file, HEAD's volatile file
 * (records of volatile containers and their layers, written without fsync), or the
 * split image store's `layers.json` (read-only layers when `imagestore` is set).
 */
export type Location = "stable" | "volatile" | "imagestore";

/** Files of the locations besides the main one. */
export type LocationPaths = Partial<Record<Exclude<Location, "stable">, string>>;

/**
 * What RecordFile needs of its lock: a LockFile, or a MultiLock when one store spans
 * two roots (the split image store).
 */
export interface StoreLock {
  /** Path of the (first) lock file. */
  readonly path: string;
  /** Read locks only. */
  readonly readOnly: boolean;
  /** Takes the write lock. */
  lock(): Promise<void>;
  /** Takes a read lock. */
  rLock(): Promise<void>;
  /** Releases one hold. */
  unlock(): void;
  /** Throws unless held for writing. */
  assertLockedForWriting(): void;
  /** Writes a new token; returns the one to remember. */
  recordWrite(): Uint8Array;
  /** The current token. */
  getLastWrite(): Uint8Array;
  /** Whether the token differs from `previous`. */
  modifiedSince(previous: Uint8Array | null): boolean;
}

/**
 * Several lock files acting as one, as HEAD's multipleLockFile: locked in order,
 * released in reverse, every one gets a new token on a write, and only the first one's
 * token is compared.
 */
export class MultiLock implements StoreLock {
  readonly path: string;
  readonly readOnly: boolean;
  private readonly locks: StoreLock[];

  constructor(locks: StoreLock[]) {
    if (locks.length === 0) throw new LockError("no lock files");
    this.locks = locks;
    this.path = locks[0].path;
    this.readOnly = locks.some((l) => l.readOnly);
  }

  async lock(): Promise<void> {
    await this.each((l) => l.lock());
  }

  async rLock(): Promise<void> {
    await this.each((l) => l.rLock());
  }

  private async each(take: (l: StoreLock) => Promise<void>): Promise<void> {
    const held: StoreLock[] = [];
    try {
      for (const l of this.locks) {
        await take(l);
        held.push(l);
      }
    } catch (e) {
      for (const l of held.reverse()) l.unlock();
      throw e;
    }
  }

  unlock(): void {
    for (const l of [...this.locks].reverse()) l.unlock();
  }

  assertLockedForWriting(): void {
    for (const l of this.locks) l.assertLockedForWriting();
  }

  recordWrite(): Uint8Array {
    const tokens = this.locks.map((l) => l.recordWrite());
    return tokens[0];
  }

  getLastWrite(): Uint8Array {
    return this.locks[0].getLastWrite();
  }

  modifiedSince(previous: Uint8Array | null): boolean {
    return this.locks[0].modifiedSince(previous);
  }
}

/** What `load` found that only a writer may repair. */
export interface LoadOutcome {
  /** Duplicate names, incomplete layers or the like need a write-locked reload. */
  needsRepair: boolean;
}

/** Base of LayerStore, ImageStore and ContainerStore. */
export abstract class RecordFile<T extends Named> {
  /** Directory of the JSON file and of per-record data directories. */
  readonly dir: string;
  /** Path of the main JSON file. */
  readonly path: string;
  /** Path of the volatile JSON file (HEAD), read and written back when present. */
  readonly volatilePath: string | null;
  /** Every file, main one first. */
  readonly paths: ReadonlyArray<readonly [Location, string]>;
  /** The lock guarding the files. */
  readonly lock: StoreLock;
  /** A read-only (additional) store: read locks only, no changes. */
  readonly readOnly: boolean;
  /** The records. */
  readonly index: RecordIndex<T> = new RecordIndex<T>();
  /** Unknown JSON fields per record, written back as read. */
  protected readonly extras: WeakMap<T, ExtraFields> = new WeakMap();
  /** Records that live elsewhere than in the main file. */
  protected readonly where: WeakMap<T, Location> = new WeakMap();
  /** Each file's content as last read or written (null: missing), to skip unchanged files. */
  private readonly onDisk = new Map<Location, string | null>();
  private token: Uint8Array | null = null;
  private held: "r" | "w" | null = null;

  /**
   * `lock` is a lock file path (a LockFile of this process) or a ready lock; `more` are
   * the files of the other locations (a string: the volatile file).
   */
  constructor(
    dir: string,
    file: string,
    lock: string | StoreLock,
    readOnly: boolean,
    more: string | LocationPaths | null = null,
  ) {
    this.dir = dir;
    this.path = `${dir}/${file}`;
    const others: LocationPaths = typeof more === "string" ? { volatile: more } : (more ?? {});
    this.volatilePath = others.volatile ?? null;
    const paths: Array<[Location, string]> = [["stable", this.path]];
    if (others.volatile) paths.push(["volatile", others.volatile]);
    if (others.imagestore) paths.push(["imagestore", others.imagestore]);
    this.paths = paths;
    this.readOnly = readOnly;
    this.lock = typeof lock === "string" ? getLock(lock, readOnly) : lock;
  }

  /** Kind name for messages. */
  protected abstract readonly kind: string;
  /** Decodes one element of the JSON array. */
  protected abstract decode(v: unknown): { record: T; extra?: ExtraFields };
  /** Encodes one record. */
  protected abstract encode(r: T, extra?: ExtraFields): string;
  /**
   * Installs freshly decoded records (sets indexes, derived data). Returns whether the
   * data needs repair that only a writer may do (`lockedForWriting` tells if it may).
   */
  protected abstract install(records: T[], lockedForWriting: boolean): Promise<LoadOutcome>;

  /** Extra reload condition (layers compare file mtimes). */
  protected changedOnDisk(): boolean {
    return false;
  }
  /** Called after a load or save to remember file state (layers: mtimes). */
  protected noteFileState(): void {}

  /** True while this object holds its lock for writing. */
  get writing(): boolean {
    return this.held === "w";
  }

  /** Takes the read lock and reloads if another writer changed the file. */
  async startReading(): Promise<void> {
    await this.lock.rLock();
    this.held = "r";
    try {
      for (let attempt = 0;; attempt++) {
        if (!this.modified()) return;
        const outcome = await this.load(false);
        if (!outcome.needsRepair || this.readOnly) return;
        if (attempt >= 3) {
          throw new CorruptFileError(
            this.path,
            `${this.kind} store needs repair and a writer keeps changing it`,
          );
        }
        // Only a writer may repair (e.g. remove incomplete layers): switch locks, repair, switch back.
        this.held = null;
        this.lock.unlock();
        await this.lock.lock();
        this.held = "w";
        try {
          await this.load(true);
        } finally {
          this.held = null;
          this.lock.unlock();
        }
        await this.lock.rLock();
        this.held = "r";
      }
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** Takes the write lock and reloads if another writer changed the file. */
  async startWriting(): Promise<void> {
    if (this.readOnly) throw new ReadOnlyError(`${this.kind} store at ${this.dir}`);
    await this.lock.lock();
    this.held = "w";
    try {
      if (this.modified()) await this.load(true);
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** Releases the lock taken by startReading/startWriting. */
  stop(): void {
    if (this.held === null) return;
    this.held = null;
    this.lock.unlock();
  }

  /** Whether the on-disk state may differ from what is in memory. */
  protected modified(): boolean {
    return this.lock.modifiedSince(this.token) || this.changedOnDisk();
  }

  /** Forgets the token so that the next start reloads. */
  invalidate(): void {
    this.token = null;
  }

  /** Reads the file(s) and installs the records. */
  protected async load(lockedForWriting: boolean): Promise<LoadOutcome> {
    const token = this.lock.getLastWrite();
    const records: T[] = [];
    const extras: Array<[T, ExtraFields]> = [];
    const placed: Array<[T, Location]> = [];
    const ids = new Set<string>();
    const texts = new Map<Location, string | null>();
    for (const [location, path] of this.paths) {
      const data = readFileOrNullSync(path);
      // Decoded once, here (the text is kept to tell later whether a save changes the file).
      const text = data === null ? null : UTF8.decode(data);
      texts.set(location, text);
      let items: unknown[];
      try {
        items = parseArrayFile(text);
      } catch (e) {
        throw corrupt(path, e);
      }
      for (const item of items) {
        let decoded;
        try {
          decoded = this.decode(item);
        } catch (e) {
          throw corrupt(path, e);
        }
        // Like HEAD: an ID already read from an earlier file is skipped.
        if (ids.has(decoded.record.id)) continue;
        ids.add(decoded.record.id);
        records.push(decoded.record);
        if (decoded.extra) extras.push([decoded.record, decoded.extra]);
        if (location !== "stable") placed.push([decoded.record, location]);
      }
    }
    for (const [r, x] of extras) this.extras.set(r, x);
    for (const [r, l] of placed) this.where.set(r, l);
    this.onDisk.clear();
    for (const [l, t] of texts) this.onDisk.set(l, t);
    this.noteFileState();
    const outcome = await this.install(records, lockedForWriting);
    // Remember the token only once the data is in a usable state.
    if (!outcome.needsRepair || lockedForWriting) this.token = token;
    return outcome;
  }

  /** Writes the records (must hold the write lock). */
  save(): void {
    if (this.readOnly) throw new ReadOnlyError(`${this.kind} store at ${this.dir}`);
    this.lock.assertLockedForWriting();
    Deno.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.token = this.lock.recordWrite();
    const items = new Map<Location, string[]>(this.paths.map(([l]) => [l, []]));
    for (const r of this.index.list) {
      const list = items.get(this.locationOf(r)) ?? items.get("stable")!;
      list.push(this.encode(r, this.extras.get(r)));
    }
    for (const [location, path] of this.paths) {
      const list = items.get(location)!;
      const text = encodeArray(list);
      const known = this.onDisk.get(location);
      // Files whose content did not change are left alone (HEAD saves only the files of
      // the records it changed), and files are only created once they hold a record.
      if (known !== undefined && known === text && fileExists(path)) continue;
      if (list.length === 0 && !fileExists(path)) continue;
      if (location !== "stable") Deno.mkdirSync(dirOf(path), { recursive: true, mode: 0o700 });
      writeFileAtomicSync(path, text, { mode: 0o600, sync: location !== "volatile" });
      this.onDisk.set(location, text);
    }
    this.noteFileState();
  }

  /** Where a record is kept. */
  locationOf(r: T): Location {
    return this.where.get(r) ?? "stable";
  }

  /** Adds a new record, kept in the given location's file (default: the main one). */
  protected addRecord(r: T, location: Location = "stable"): void {
    if (location !== "stable" && !this.paths.some(([l]) => l === location)) {
      throw new StorageError(`${this.kind} store at ${this.dir} has no ${location} file`);
    }
    this.index.add(r);
    if (location !== "stable") this.where.set(r, location);
  }

  /** Removes a record. */
  protected removeRecord(r: T): void {
    this.index.remove(r);
  }

  /** Throws unless the store may be changed and the write lock is held. */
  protected assertWritable(): void {
    if (this.readOnly) throw new ReadOnlyError(`${this.kind} store at ${this.dir}`);
    this.lock.assertLockedForWriting();
  }
}

/**
 * The lock of a store. A read-only store whose lock this process already holds as a
 * read-write lock (the same root opened both ways) shares that instance: it only ever
 * takes read locks through it.
 */
function getLock(path: string, readOnly: boolean): LockFile {
  if (!readOnly) return LockFile.get(path);
  try {
    return LockFile.get(path, { readOnly: true });
  } catch (e) {
    if (e instanceof LockError) return LockFile.get(path);
    throw e;
  }
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

function fileExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function corrupt(path: string, e: unknown): CorruptFileError {
  let detail = e instanceof Error ? e.message : String(e);
  if (e instanceof SyntaxError) detail = `invalid JSON: ${detail}`;
  else if (!(e instanceof JSONShapeError)) detail = `unexpected content: ${detail}`;
  return new CorruptFileError(path, detail, { cause: e });
}
