/**
 * Atomic file replacement as Go's `ioutils.AtomicFileWriter` does it: write a temp file
 * `.tmp-<basename><digits>` in the target's directory (O_EXCL, 0600), fdatasync, chmod
 * to the final mode, rename over the target. Readers that opened the old file keep its
 * content; on any error the temp file is removed and the target is untouched.
 *
 * @module
 */
import { baseName as basename, dirName as dirname } from "./paths.ts";
import { SystemError } from "./errors.ts";
import {
  AT_FDCWD,
  closeFd,
  fchmod,
  fdatasync,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDWR,
  openFd,
  renameAt,
  unlinkAt,
  writeAll,
} from "../sys/fs.ts";

/** Options of atomic writes. */
export interface AtomicOptions {
  /** Final permission bits (default 0o600, as every containers/storage metadata file). */
  mode?: number;
  /** fdatasync before the rename (default true; false for volatile files). */
  sync?: boolean;
}

/** Data accepted by `writeFileAtomic`. */
export type AtomicData = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

const enc = new TextEncoder();

function randomDigits(): string {
  // Go's os.CreateTemp uses a random uint32 rendered in decimal.
  return String(crypto.getRandomValues(new Uint32Array(1))[0]);
}

function openTemp(dir: string, base: string): { fd: number; path: string } {
  for (let i = 0;; i++) {
    const path = `${dir}/.tmp-${base}${randomDigits()}`;
    try {
      return { fd: openFd(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600), path };
    } catch (e) {
      if (i < 10000 && e instanceof SystemError && e.code === "EEXIST") continue;
      throw e;
    }
  }
}

/**
 * A file being written through a temp file. Write chunks, then `commit()` (sync, chmod,
 * rename) or `abort()` (close and remove the temp file). Used for the tar-split file
 * that grows during extraction. Errors are `SystemError`s worded like Go's.
 */
export class AtomicFileWriter {
  /** The final path. */
  readonly path: string;
  /** The temp file path while open. */
  readonly tempPath: string;
  private readonly fd: number;
  private readonly mode: number;
  private readonly sync: boolean;
  private done = false;
  /** Bytes written so far. */
  size = 0;

  private constructor(path: string, temp: { fd: number; path: string }, opts: AtomicOptions) {
    this.path = path;
    this.tempPath = temp.path;
    this.fd = temp.fd;
    this.mode = opts.mode ?? 0o600;
    this.sync = opts.sync ?? true;
  }

  /** Creates the temp file beside `path` (the directory must exist). */
  static create(path: string, opts: AtomicOptions = {}): AtomicFileWriter {
    return new AtomicFileWriter(path, openTemp(dirname(path), basename(path)), opts);
  }

  /** Appends a chunk. */
  writeSync(chunk: Uint8Array): void {
    if (this.done) throw new Deno.errors.BadResource(`atomic writer for ${this.path} is closed`);
    writeAll(this.fd, chunk, this.tempPath);
    this.size += chunk.length;
  }

  /** Appends a chunk (same as writeSync; async for stream sinks). */
  write(chunk: Uint8Array): Promise<void> {
    try {
      this.writeSync(chunk);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A WritableStream that appends to this file; closing it does not commit. */
  get writable(): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({ write: (chunk) => this.writeSync(chunk) });
  }

  /** Syncs, sets the mode, renames over the target. On failure the temp file is removed. */
  commit(): void {
    if (this.done) throw new Deno.errors.BadResource(`atomic writer for ${this.path} is closed`);
    this.done = true;
    let open = true;
    try {
      if (this.sync) fdatasync(this.fd, this.tempPath);
      fchmod(this.fd, this.mode, this.tempPath);
      open = false;
      closeFd(this.fd, this.tempPath);
      renameAt(AT_FDCWD, this.tempPath, AT_FDCWD, this.path);
    } catch (e) {
      if (open) closeQuietly(this.fd);
      removeQuietly(this.tempPath);
      throw e;
    }
  }

  /** Discards the temp file; the target stays as it was. A no-op after commit. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    closeQuietly(this.fd);
    removeQuietly(this.tempPath);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch { /* already closed */ }
}
function removeQuietly(path: string): void {
  try {
    unlinkAt(AT_FDCWD, path);
  } catch { /* gone */ }
}

/**
 * Replaces `path` atomically with `data`. Streams are written chunk by chunk, never
 * buffered whole. On error nothing but the original file remains.
 */
export async function writeFileAtomic(
  path: string,
  data: AtomicData,
  opts: AtomicOptions = {},
): Promise<void> {
  const w = AtomicFileWriter.create(path, opts);
  try {
    if (typeof data === "string") w.writeSync(enc.encode(data));
    else if (data instanceof Uint8Array) w.writeSync(data);
    else {
      for await (const chunk of data as AsyncIterable<Uint8Array>) w.writeSync(chunk);
    }
    w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** Synchronous `writeFileAtomic` for in-memory data (JSON state files). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, opts: AtomicOptions = {}): void {
  const w = AtomicFileWriter.create(path, opts);
  try {
    w.writeSync(typeof data === "string" ? enc.encode(data) : data);
    w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}
