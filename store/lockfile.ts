/**
 * Lock files shared with the Go library: a whole-file fcntl lock (taken here as an OFD
 * lock, which conflicts with Go's POSIX locks both ways) plus the 64-byte "last writer"
 * token at offset 0 that tells other processes their cached state is stale.
 *
 * One `LockFile` per absolute path per process. Inside the process an async RW mutex
 * orders holders; only the first holder takes the fcntl lock (opening the file) and the
 * last one drops it (closing the file), as Go does. Waiting never blocks the event loop.
 *
 * @module
 */
import { resolvePath as resolve } from "./paths.ts";
import { LockError, SystemError } from "./errors.ts";
import { closeFd, O_CLOEXEC, O_CREAT, O_RDONLY, O_RDWR, openFd, pread, pwrite } from "../sys/fs.ts";
import { F_RDLCK, F_WRLCK, ofdLock, ofdTryLock } from "../sys/lock.ts";

/** Size of the last-writer token. */
export const TOKEN_SIZE = 64;

/** An async readers/writer mutex, FIFO-fair (a waiting writer holds back later readers). */
export class RWMutex {
  private readers = 0;
  private writer = false;
  private queue: Array<{ write: boolean; wake: () => void }> = [];

  /** Number of read holders. */
  get readCount(): number {
    return this.readers;
  }
  /** True while a writer holds it. */
  get writeLocked(): boolean {
    return this.writer;
  }

  /** Waits for exclusive ownership. */
  lock(): Promise<void> {
    if (!this.writer && this.readers === 0 && this.queue.length === 0) {
      this.writer = true;
      return Promise.resolve();
    }
    return new Promise((wake) => this.queue.push({ write: true, wake }));
  }
  /** Waits for shared ownership. */
  rLock(): Promise<void> {
    if (!this.writer && this.queue.length === 0) {
      this.readers++;
      return Promise.resolve();
    }
    return new Promise((wake) => this.queue.push({ write: false, wake }));
  }
  /** Exclusive ownership if free right now. */
  tryLock(): boolean {
    if (this.writer || this.readers > 0 || this.queue.length > 0) return false;
    this.writer = true;
    return true;
  }
  /** Shared ownership if no writer holds or waits. */
  tryRLock(): boolean {
    if (this.writer || this.queue.length > 0) return false;
    this.readers++;
    return true;
  }
  /** Releases exclusive ownership. */
  unlock(): void {
    if (!this.writer) throw new LockError("unlock of an unlocked mutex");
    this.writer = false;
    this.dispatch();
  }
  /** Releases one shared ownership. */
  rUnlock(): void {
    if (this.readers === 0) throw new LockError("runlock of an unlocked mutex");
    this.readers--;
    this.dispatch();
  }
  /** Wakes waiters in FIFO order: a run of readers, or one writer. */
  private dispatch(): void {
    while (this.queue.length > 0 && !this.writer) {
      const next = this.queue[0];
      if (next.write) {
        if (this.readers > 0) return;
        this.queue.shift();
        this.writer = true;
        next.wake();
        return;
      }
      this.queue.shift();
      this.readers++;
      next.wake();
    }
  }
}

let tokenCounter = 0n;

/** A fresh last-writer token: u64 LE wall-clock ns, u64 LE counter, u32 LE pid, 44 random bytes. */
export function newToken(): Uint8Array {
  const t = new Uint8Array(TOKEN_SIZE);
  const v = new DataView(t.buffer);
  // performance.timeOrigin + now() is wall-clock ms with microsecond resolution.
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  v.setBigUint64(0, ns, true);
  tokenCounter++;
  v.setBigUint64(8, tokenCounter, true);
  v.setUint32(16, Deno.pid, true);
  crypto.getRandomValues(t.subarray(20));
  return t;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const cache = new Map<string, LockFile>();

/** A lock file compatible with Go containers/storage (`pkg/lockfile`). */
export class LockFile {
  /** Absolute path of the lock file. */
  readonly path: string;
  /** Read-only lock files are opened O_RDONLY and only take read locks. */
  readonly readOnly: boolean;
  private readonly mutex = new RWMutex();
  private fd = -1;
  private holders = 0;
  private pending: Promise<void> | null = null;
  private writeHeld = false;

  private constructor(path: string, readOnly: boolean) {
    this.path = path;
    this.readOnly = readOnly;
  }

  /**
   * The process-wide instance for `path` (made absolute). Asking for a read-only and a
   * read-write lock of the same path is an error, as in Go.
   */
  static get(path: string, options: { readOnly?: boolean } = {}): LockFile {
    const abs = resolve(path);
    const ro = options.readOnly ?? false;
    const have = cache.get(abs);
    if (have) {
      if (have.readOnly !== ro) {
        throw new LockError(
          ro
            ? `lock ${JSON.stringify(abs)} is not a read-only lock`
            : `lock ${JSON.stringify(abs)} is a read-only lock`,
        );
      }
      return have;
    }
    const lf = new LockFile(abs, ro);
    cache.set(abs, lf);
    return lf;
  }

  /** Takes the write lock, waiting for in-process holders and other processes. */
  async lock(): Promise<void> {
    if (this.readOnly) throw new LockError(`can't take write lock on read-only lock file ${this.path}`);
    await this.mutex.lock();
    try {
      await this.acquireOs(F_WRLCK);
    } catch (e) {
      this.mutex.unlock();
      throw e;
    }
    this.writeHeld = true;
  }

  /** Takes a read lock (shared with other readers, in this and other processes). */
  async rLock(): Promise<void> {
    await this.mutex.rLock();
    try {
      await this.acquireOs(F_RDLCK);
    } catch (e) {
      this.mutex.rUnlock();
      throw e;
    }
  }

  /** Takes the write lock only if nobody (here or elsewhere) holds the file; never waits. */
  tryLock(): boolean {
    if (this.readOnly) throw new LockError(`can't take write lock on read-only lock file ${this.path}`);
    if (!this.mutex.tryLock()) return false;
    try {
      const fd = this.open();
      if (!ofdTryLock(fd, F_WRLCK)) {
        closeFd(fd);
        this.mutex.unlock();
        return false;
      }
      this.fd = fd;
      this.holders = 1;
      this.writeHeld = true;
      return true;
    } catch (e) {
      this.mutex.unlock();
      throw e;
    }
  }

  /** Takes a read lock only if possible without waiting. */
  tryRLock(): boolean {
    if (!this.mutex.tryRLock()) return false;
    if (this.holders > 0) {
      if (this.pending) {
        // Another reader is still waiting for the OS lock: we would have to wait too.
        this.mutex.rUnlock();
        return false;
      }
      this.holders++;
      return true;
    }
    try {
      const fd = this.open();
      if (!ofdTryLock(fd, F_RDLCK)) {
        closeFd(fd);
        this.mutex.rUnlock();
        return false;
      }
      this.fd = fd;
      this.holders = 1;
      return true;
    } catch (e) {
      this.mutex.rUnlock();
      throw e;
    }
  }

  /** Releases one hold (write or read). The last release closes the file, dropping the fcntl lock. */
  unlock(): void {
    if (this.holders === 0) throw new LockError(`unlock of unlocked lock file ${this.path}`);
    const wasWriter = this.writeHeld;
    this.releaseOs();
    if (wasWriter) {
      this.writeHeld = false;
      this.mutex.unlock();
    } else {
      this.mutex.rUnlock();
    }
  }

  /** True while this process holds the lock in any mode. */
  locked(): boolean {
    return this.holders > 0 && this.pending === null;
  }

  /** True while this process holds the write lock. */
  lockedForWriting(): boolean {
    return this.writeHeld;
  }

  /** Throws unless held for writing (guards code paths that save state). */
  assertLockedForWriting(): void {
    if (!this.writeHeld) throw new LockError(`lock file ${this.path} is not locked for writing`);
  }

  /**
   * Writes a fresh 64-byte token at offset 0 (the file is never truncated) and returns
   * it. Must hold the write lock.
   */
  recordWrite(): Uint8Array {
    this.assertLockedForWriting();
    const token = newToken();
    pwrite(this.fd, token, 0, this.path);
    return token;
  }

  /** The current token: up to 64 bytes at offset 0 (shorter, even empty, for a fresh file). */
  getLastWrite(): Uint8Array {
    if (this.locked()) return this.readToken(this.fd);
    // Not held: read through a short-lived descriptor (harmless for OFD locks).
    const fd = this.open();
    try {
      return this.readToken(fd);
    } finally {
      closeFd(fd);
    }
  }

  /** True when the current token differs from `previous` (`null` = never loaded: always true). */
  modifiedSince(previous: Uint8Array | null): boolean {
    if (previous === null) return true;
    return !bytesEqual(this.getLastWrite(), previous);
  }

  /** Up to 64 bytes at offset 0. */
  private readToken(fd: number): Uint8Array {
    const buf = new Uint8Array(TOKEN_SIZE);
    let got = 0;
    while (got < TOKEN_SIZE) {
      const n = pread(fd, buf.subarray(got), got, this.path);
      if (n === 0) break;
      got += n;
    }
    return got === TOKEN_SIZE ? buf : buf.slice(0, got);
  }

  /** Opens the file as Go does, creating missing parents (0700); LockError on failure. */
  private open(): number {
    const flags = (this.readOnly ? O_RDONLY : O_RDWR) | O_CREAT | O_CLOEXEC;
    try {
      return openFd(this.path, flags, 0o644);
    } catch (e) {
      if (e instanceof SystemError && e.code === "ENOENT") {
        const dir = this.path.slice(0, this.path.lastIndexOf("/")) || "/";
        try {
          Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
          return openFd(this.path, flags, 0o644);
        } catch (e2) {
          throw new LockError(e2 instanceof Error ? e2.message : String(e2), "opening lock file", {
            cause: e2,
          });
        }
      }
      throw new LockError(e instanceof Error ? e.message : String(e), "opening lock file", { cause: e });
    }
  }

  /** Counts a holder in; the first one opens the file and takes the fcntl lock. */
  private async acquireOs(type: typeof F_RDLCK | typeof F_WRLCK): Promise<void> {
    this.holders++;
    if (this.holders === 1) {
      this.pending = (async () => {
        const fd = this.open();
        try {
          await ofdLock(fd, type);
        } catch (e) {
          closeFd(fd);
          throw e;
        }
        this.fd = fd;
      })();
    }
    const p = this.pending!;
    try {
      await p;
    } catch (e) {
      this.holders--;
      if (this.holders === 0) this.pending = null;
      throw e;
    }
    if (this.pending === p) this.pending = null;
  }

  /** Counts a holder out; the last one closes the file, which drops the fcntl lock. */
  private releaseOs(): void {
    this.holders--;
    if (this.holders === 0) {
      const fd = this.fd;
      this.fd = -1;
      // Closing the only descriptor of this open file description drops the OFD lock.
      closeFd(fd, this.path);
    }
  }
}
