/**
 * The part every kind store shares: a JSON array file (plus an optional volatile
 * companion), the lock that guards it, the last-writer token that tells when another
 * process changed it, and loading/saving with Go's conventions.
 *
 * Callers bracket every use with `startReading()`/`startWriting()` and `stop()`; both
 * reload the file when its token changed. Saving writes a new token first (a spurious
 * reload elsewhere is harmless, a missed one is not), then the file atomically.
 *
 * @module
 */
import { CorruptFileError, LockError, ReadOnlyError } from "./errors.ts";
import { LockFile } from "./lockfile.ts";
import { writeFileAtomicSync } from "./atomic.ts";
import { encodeArray, type ExtraFields, JSONShapeError, parseArrayFile } from "./json.ts";
import { type Named, readFileOrNull, RecordIndex } from "./records.ts";

/** Where a record was read from and goes back to. */
export type Location = "stable" | "volatile";

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
  /** The lock guarding the files. */
  readonly lock: LockFile;
  /** A read-only (additional) store: read locks only, no changes. */
  readonly readOnly: boolean;
  /** The records. */
  readonly index: RecordIndex<T> = new RecordIndex<T>();
  /** Unknown JSON fields per record, written back as read. */
  protected readonly extras: WeakMap<T, ExtraFields> = new WeakMap();
  /** Records that live in the volatile file. */
  protected readonly volatile: WeakSet<T> = new WeakSet();
  private token: Uint8Array | null = null;
  private held: "r" | "w" | null = null;

  constructor(
    dir: string,
    file: string,
    lockPath: string,
    readOnly: boolean,
    volatilePath: string | null = null,
  ) {
    this.dir = dir;
    this.path = `${dir}/${file}`;
    this.volatilePath = volatilePath;
    this.readOnly = readOnly;
    this.lock = getLock(lockPath, readOnly);
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
    const volatile: T[] = [];
    const sources: Array<[string, boolean]> = [[this.path, false]];
    if (this.volatilePath) sources.push([this.volatilePath, true]);
    for (const [path, isVolatile] of sources) {
      const data = await readFileOrNull(path);
      let items: unknown[];
      try {
        items = parseArrayFile(data);
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
        records.push(decoded.record);
        if (decoded.extra) extras.push([decoded.record, decoded.extra]);
        if (isVolatile) volatile.push(decoded.record);
      }
    }
    for (const [r, x] of extras) this.extras.set(r, x);
    for (const r of volatile) this.volatile.add(r);
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
    const stable: string[] = [];
    const vol: string[] = [];
    for (const r of this.index.list) {
      (this.volatile.has(r) ? vol : stable).push(this.encode(r, this.extras.get(r)));
    }
    writeFileAtomicSync(this.path, encodeArray(stable), { mode: 0o600 });
    if (this.volatilePath && (vol.length > 0 || fileExists(this.volatilePath))) {
      writeFileAtomicSync(this.volatilePath, encodeArray(vol), { mode: 0o600, sync: false });
    }
    this.noteFileState();
  }

  /** Adds a new record (kept in the stable file). */
  protected addRecord(r: T): void {
    this.index.add(r);
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
