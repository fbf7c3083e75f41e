/**
 * tar-split: records enough of a tar stream to rebuild it byte for byte from the
 * extracted files (on-disk.md 5.3), and replays it.
 *
 * The recorder is a `TarObserver`: it sees the stream in the same pass as the
 * extraction, writes JSON lines (`{"type":1,"name":..,"size":..,"payload":<crc64>,
 * "position":N}` for files, `{"type":2,"payload":<base64>,"position":N}` for raw
 * segments) and gzips them in bounded blocks (each block a gzip member; Go's reader
 * accepts multi-member files) into a temp file that is committed atomically.
 *
 * @module
 */
import { nodeCrypto, nodeZlib } from "../store/node_lazy.ts";
import type { Hash } from "node:crypto";
import { ArchiveError, IntegrityError } from "../store/errors.ts";
import { AtomicFileWriter } from "../store/atomic.ts";
import type { FileGetter } from "../drivers/driver.ts";
import { Crc64 } from "./crc64.ts";
import { CrcOffload } from "./crc_offload.ts";
import { fileLine, goJsonString, type TarSplitCore, tarSplitCore } from "./tarsplit_core.ts";
import { RemoteTarSplit } from "./tarsplit_remote.ts";
import { decompress } from "./compression.ts";
import { fileSource } from "./source.ts";
import { readInto } from "../sys/fs.ts";
import { errno, S } from "../sys/libc.ts";
import { decodeName, hasRawBytes, p0 } from "./rawpath.ts";
import { sysError } from "../sys/errno.ts";
import { cleanPath as goClean } from "../store/paths.ts";
import type { TarHeader, TarObserver } from "./types.ts";

/** tar-split entry types. */
export const EntryType = { File: 1, Segment: 2 } as const;

/** Go's tar-split error for a name seen twice (after path cleaning). */
export class DuplicatePathError extends ArchiveError {
  constructor(options?: ErrorOptions) {
    super("duplicates of file paths not supported", undefined, options);
  }
}

// A stream goes to the recording worker at its first file this large, or once this much
// of it or this many entries were recorded in-process (a worker costs ~35 ms to start).
const REMOTE_FILE = 32 << 20;
const REMOTE_BYTES = 16 << 20;
const REMOTE_ENTRIES = 2000;
// In-process text compressed as a member of its own once this large (only reached
// when no worker can start: the move to one comes first).
const LOCAL_TEXT = 32 << 20;
// In-process text up to this size is compressed by CompressionStream (which is slower
// than node:zlib but needs nothing loaded).
const WEB_GZIP_MAX = 512 << 10;
// The replay's checksum worker takes files from OFFLOAD_MIN up; it is started once
// such files add up to OFFLOAD_START (creating one costs the main thread ~20 ms and
// the worker's CPU competes with the reads and writes: it pays off for layers well
// beyond a root filesystem's ~200 MB). Until it runs, checksums are computed
// in-process; a file under way then goes on there.
const OFFLOAD_MIN = 256 << 10;
const OFFLOAD_START = 160 << 20;

/** base64 of bytes (standard alphabet with padding, as Go's encoding/json uses for []byte). */
export function base64(b: Uint8Array): string {
  // deno-lint-ignore no-explicit-any
  return (b as any).toBase64();
}
/** Decodes standard base64. */
export function unbase64(s: string): Uint8Array {
  // deno-lint-ignore no-explicit-any
  return (Uint8Array as any).fromBase64(s);
}

export { fileLine, goJsonString };

const SLOW_CLEAN = /\/\/|(^|\/)\.\.?(\/|$)/;

/** Cleans a name as Go's filepath.Clean (for the duplicate check). */
export function cleanPath(p: string): string {
  // Fast path (8x faster on usual names, run per entry): no empty, "." or ".." components;
  // at most trailing slashes to drop.
  if (p !== "" && !SLOW_CLEAN.test(p)) {
    let e = p.length;
    while (e > 1 && p.charCodeAt(e - 1) === 0x2f) e--;
    return e === p.length ? p : p.slice(0, e);
  }
  return goClean(p);
}

/** Options of TarSplitRecorder. */
export interface RecorderOptions {
  /**
   * Where the JSON lines are made: "auto" (default) moves a large stream to a worker
   * thread, "local" never does, "remote" does from the first entry.
   */
  mode?: "auto" | "local" | "remote";
  /**
   * Also compute the sha256 of the whole stream (every segment and payload byte: the
   * uncompressed tar as read), on the worker from the first byte when one can start:
   * `digest` and `size` after `settle()`. Meant for large inputs.
   */
  digest?: boolean;
}

/**
 * A TarObserver that records tar-split data. Output goes to `sink` as gzip data once
 * the stream ended and `settle()` (or `commit()`) was called; use
 * `TarSplitRecorder.create(path)` to write a file atomically (`settle()`, then
 * `commit()` / `abort()`).
 *
 * The file is one gzip member, as Go writes it (so readers can use the web
 * DecompressionStream, which stops at the first member): recording starts in-process
 * (archive/tarsplit_core.ts) with the text kept in memory; a large stream moves to a
 * worker (archive/tarsplit_remote.ts) at an entry boundary, handing it the text so far,
 * and the worker compresses everything as one stream. A stream that stays in-process
 * is compressed at its end (its text is bounded by the move's thresholds; without a
 * worker, every LOCAL_TEXT of text becomes a member of its own). Duplicate names are
 * checked here, in stream order (DuplicatePathError from the entry's end). `ready()` is
 * the extraction's back-pressure; `settle()` waits for the worker's last output.
 */
export class TarSplitRecorder implements TarObserver {
  private readonly core: TarSplitCore;
  private remote: RemoteTarSplit | null = null;
  private mode: "auto" | "local" | "remote";
  private readonly seen = new Set<string>();
  private cur: TarHeader | null = null;
  private bytes = 0;
  private entries = 0;
  private writer: AtomicFileWriter | null = null;
  private ended = false;
  private settled = false;
  /** In-process sha256 of the stream when `digest` was asked and no worker started. */
  private hash: Hash | null = null;
  private sha = "";
  /** Text recorded in-process and not compressed yet. */
  private text: string[] = [];
  private textLen = 0;

  /** `sink` receives gzip data (one or more complete gzip members). */
  constructor(private readonly sink: (gz: Uint8Array) => void, options: RecorderOptions = {}) {
    this.mode = options.mode ?? "auto";
    this.core = tarSplitCore({
      text: (t) => {
        this.text.push(t);
        this.textLen += t.length;
        if (this.textLen >= LOCAL_TEXT) this.compress();
      },
      crc: new Crc64(),
      pos: 0,
    });
    if (options.digest) {
      if (this.mode !== "local") this.remote = RemoteTarSplit.start(0, sink, true);
      if (!this.remote) this.hash = nodeCrypto().createHash("sha256");
    }
  }

  /** `sha256:<hex>` of the whole stream (with `digest`, after `settle()`). */
  get digest(): string {
    return this.sha;
  }

  /** Bytes of the stream seen. */
  get size(): number {
    return this.bytes;
  }

  /** A recorder writing to a temp file beside `path` (e.g. `<layers>/<id>.tar-split.gz`), mode 0600. */
  static create(path: string, options: RecorderOptions = {}): TarSplitRecorder {
    const w = AtomicFileWriter.create(path, { mode: 0o600 });
    const r = new TarSplitRecorder((gz) => w.writeSync(gz), options);
    r.writer = w;
    return r;
  }

  /** Compresses the text recorded in-process into a gzip member for the sink. */
  private compress(): void {
    if (this.textLen === 0) return;
    const body = this.text.join("");
    this.text = [];
    this.textLen = 0;
    const gz = nodeZlib().gzipSync(body, { level: 1 });
    this.sink(new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength));
  }

  /** Hands the rest of the stream, and the text so far, to a worker. */
  private goRemote(): void {
    this.core.flushSegment();
    this.core.flush();
    this.remote = RemoteTarSplit.start(this.core.position(), this.sink, false, this.text.join(""));
    if (this.remote) {
      this.text = [];
      this.textLen = 0;
    }
  }

  segment(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    this.hash?.update(bytes);
    if (this.remote) this.remote.segment(bytes);
    else this.core.segment(bytes);
  }

  entry(h: TarHeader): void {
    this.cur = h;
    if (
      !this.remote && this.mode !== "local" &&
      (this.mode === "remote" || h.size >= REMOTE_FILE || this.bytes >= REMOTE_BYTES ||
        ++this.entries >= REMOTE_ENTRIES)
    ) {
      this.goRemote();
      if (!this.remote) this.mode = "local";
    }
    if (this.remote) this.remote.fileStart();
    else {
      this.core.flushSegment();
      this.core.fileStart();
    }
  }

  payload(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    this.hash?.update(bytes);
    if (this.remote) this.remote.payload(bytes);
    else this.core.payload(bytes);
  }

  entryEnd(): void {
    const h = this.cur!;
    this.cur = null;
    const clean = cleanPath(h.name);
    if (this.seen.has(clean)) throw new DuplicatePathError();
    this.seen.add(clean);
    if (this.remote) this.remote.fileEnd(h.name, h.nameRaw, h.size);
    else this.core.fileEnd(h.name, h.nameRaw, h.size);
  }

  end(): void {
    this.ended = true;
    if (this.remote) this.remote.end();
    else {
      this.core.flushSegment();
      this.core.flush();
    }
  }

  /** While the recording worker lags far behind: a promise to wait for before feeding more. */
  ready(): Promise<void> | undefined {
    return this.remote?.ready();
  }

  /**
   * Writes the rest of the output: waits for the worker's, or compresses the text kept
   * in-process (call after the stream ended, before `commit()`).
   */
  async settle(): Promise<void> {
    if (!this.ended) throw new ArchiveError("tar-split recorder settled before the end of the stream");
    if (this.remote) await this.remote.settle();
    else if (this.textLen > 0 && this.textLen <= WEB_GZIP_MAX) {
      // Little text: the web CompressionStream (nothing to load; node:zlib costs ~45 ms).
      const body = this.text.join("");
      this.text = [];
      this.textLen = 0;
      const gzip = new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
      const gz = await new Response(new Blob([body]).stream().pipeThrough(gzip)).arrayBuffer();
      this.sink(new Uint8Array(gz));
    } else this.compress();
    this.settled = true;
    if (this.hash) this.sha = `sha256:${this.hash.digest("hex")}`;
    else if (this.remote?.sha) this.sha = `sha256:${this.remote.sha}`;
  }

  /**
   * Makes the file visible at its final path (fdatasync + rename), settling first if that
   * was not done. Requires the stream to have ended.
   */
  async commit(): Promise<void> {
    if (!this.ended) throw new ArchiveError("tar-split recorder committed before the end of the stream");
    if (!this.settled) await this.settle();
    this.compress();
    if (!this.writer) return;
    this.writer.commit();
    this.writer = null;
  }

  /** Drops the temp file. */
  abort(): void {
    this.remote?.close();
    this.writer?.abort();
    this.writer = null;
  }
}

/** One parsed tar-split line. */
export interface TarSplitEntry {
  /** 1 = file, 2 = segment. */
  type: number;
  /** The entry name (from `name`, or `name_raw` decoded byte-exactly, see rawpath.ts). */
  name: string;
  /** Declared payload size. */
  size: number;
  /** Segment bytes, or the file's CRC-64 (8 bytes), or null. */
  payload: Uint8Array | null;
}

/** Reads the JSON lines of a (gzip'd or plain) tar-split file one at a time. */
export async function* readTarSplit(file: string): AsyncGenerator<TarSplitEntry> {
  const src = await LineSource.open(file);
  try {
    for (;;) {
      const line = src.line();
      if (line !== null) {
        if (line.trim() !== "") yield parseLine(line, file);
        continue;
      }
      if (src.done) return;
      await src.refill();
    }
  } finally {
    await src.close().catch(() => {});
  }
}

// Compressed tar-split files up to this size are inflated by DecompressionStream.
const WEB_GUNZIP_MAX = 1 << 20;

/** Bytes per chunk of replay output (one write of the consumer each). */
const OUT_CHUNK = 1 << 20;
// A segment line as Go and we write it; other shapes go through JSON.parse.
const SEG_PREFIX = '{"type":2,"payload":"';
const ONE = new Uint8Array(1);

/**
 * Lines of a (gzip'd or plain) tar-split file: complete lines are taken synchronously
 * from the decoded text, which is refilled (one await) a decompressed chunk at a time.
 */
/**
 * The decompressed bytes of a tar-split file. A small gzip file goes through the web
 * DecompressionStream (nothing to load, where node:zlib costs a command ~45 ms; but it
 * inflates at a third of node:zlib's speed, so larger files go to node:zlib). It reads
 * one gzip member, as Go and we write them; a file of several members (written by
 * earlier versions) or a damaged one makes it fail, and node:zlib then goes on from
 * the bytes already given (or reports the damage in its words).
 */
async function* tarSplitBytes(file: string): AsyncGenerator<Uint8Array> {
  const head = new Uint8Array(2);
  const f = await Deno.open(file, { read: true });
  let size = 0;
  try {
    size = (await f.stat()).size;
    await f.read(head);
  } finally {
    f.close();
  }
  let given = 0;
  if (head[0] === 0x1f && head[1] === 0x8b && size <= WEB_GUNZIP_MAX) {
    try {
      const gunzip = new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
      for await (const c of (await fileSource(file)).pipeThrough(gunzip)) {
        given += c.length;
        yield c;
      }
      return;
    } catch { /* several members, or damaged: node:zlib below */ }
  }
  const { stream } = await decompress(await fileSource(file));
  let skip = given;
  for await (const c of stream) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    yield skip ? c.subarray(skip) : c;
    skip = 0;
  }
}

class LineSource {
  private text = "";
  private pos = 0;
  private eof = false;
  private readonly dec = new TextDecoder();
  private constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  static open(file: string): Promise<LineSource> {
    return Promise.resolve(new LineSource(tarSplitBytes(file)));
  }

  /** The next line, or null when more text must be read first (or at the end, see `done`). */
  line(): string | null {
    const nl = this.text.indexOf("\n", this.pos);
    if (nl >= 0) {
      const l = this.text.slice(this.pos, nl);
      this.pos = nl + 1;
      return l;
    }
    if (!this.eof || this.pos >= this.text.length) return null;
    const l = this.text.slice(this.pos);
    this.pos = this.text.length;
    return l;
  }

  /** True once every line was taken. */
  get done(): boolean {
    return this.eof && this.pos >= this.text.length;
  }

  /** Reads the next decompressed chunk. */
  async refill(): Promise<void> {
    const r = await this.it.next();
    const rest = this.text.slice(this.pos);
    this.text = r.done ? rest + this.dec.decode() : rest + this.dec.decode(r.value, { stream: true });
    this.pos = 0;
    if (r.done) this.eof = true;
  }

  async close(): Promise<void> {
    await this.it.return?.(undefined);
  }
}

/** Decoded length of standard (padded) base64 text of length `n` ending as `s` does. */
function b64Len(s: string, start: number, end: number): number {
  const n = end - start;
  if (n % 4 !== 0) return -1;
  let pad = 0;
  if (n > 0 && s.charCodeAt(end - 1) === 0x3d) pad = s.charCodeAt(end - 2) === 0x3d ? 2 : 1;
  return (n / 4) * 3 - pad;
}

/** Options of replayTarSplit. */
export interface ReplayOptions {
  /**
   * The checksum worker starts once files of 256 KiB and more add up to this many
   * bytes (default 160 MiB; the file reaching it included).
   */
  offloadStart?: number;
}

/** A file being copied into the output: raw fd (getter.openFd) or FsFile. */
interface OpenFile {
  fd: number;
  f: Deno.FsFile | null;
  name: string;
  left: number;
  want: Uint8Array | null;
  /** May go to the checksum worker (`offload`) once it runs. */
  big: boolean;
  /** Checksummed by the worker (from the point it took over). */
  remote: boolean;
}

/**
 * Rebuilds the original uncompressed tar from a tar-split file and the layer's files
 * (opened through `getter`, by raw descriptor when it has `openFd`), verifying each
 * file's CRC-64 (mismatch, or a file shorter or longer than recorded → IntegrityError).
 * The getter is closed when the stream ends or is cancelled. Headers and file contents
 * are gathered synchronously into 1 MiB chunks (file data is read straight into them),
 * so the consumer sees few large writes; only refilling the tar-split text awaits.
 */
export function replayTarSplit(
  file: string,
  getter: FileGetter,
  options: ReplayOptions = {},
): ReadableStream<Uint8Array> {
  const offloadStart = options.offloadStart ?? OFFLOAD_START;
  let bigBytes = 0;
  let src: LineSource | null = null;
  let closed = false;
  let cur: OpenFile | null = null;
  let out = new Uint8Array(OUT_CHUNK);
  let pos = 0;
  const crc = new Crc64();
  // Large files are checksummed on a worker while the replay goes on; a mismatch found
  // there fails the stream at its next pull, and the stream ends only once all agreed.
  let offload: CrcOffload | null | undefined;
  const checks = new Set<Promise<void>>();
  let failure: unknown = null;
  const closeFile = () => {
    const c = cur;
    cur = null;
    if (!c) return;
    if (c.f) {
      try {
        c.f.close();
      } catch { /* closed */ }
    } else S.close(c.fd);
  };
  const close = async () => {
    closeFile();
    if (closed) return;
    closed = true;
    offload?.close();
    await src?.close().catch(() => {});
    await getter.close();
  };
  const fail = (name: string) =>
    new IntegrityError(`file integrity checksum failed for ${JSON.stringify(name)}`);
  const read = (c: OpenFile, buf: Uint8Array): number =>
    c.f ? (c.f.readSync(buf) ?? 0) : readInto(c.fd, buf, c.name);
  /** Copies the current file into `out` until it ends or `out` is full. */
  const copy = () => {
    const c = cur!;
    // The file must not be longer than recorded either: ask for one byte more than
    // expected when there is room; a short read of a regular file is its end.
    let atEnd = false;
    while (c.left > 0 && pos < out.length) {
      const ask = Math.min(c.left + 1, out.length - pos);
      const n = read(c, out.subarray(pos, pos + ask));
      if (n === 0 || n > c.left) throw fail(c.name);
      if (c.big && !c.remote && offload!.started) {
        // The worker is up: it goes on from the CRC so far.
        offload!.seed(crc.value());
        c.remote = true;
      }
      if (c.remote) offload!.update(out.subarray(pos, pos + n));
      else crc.update(out.subarray(pos, pos + n));
      pos += n;
      c.left -= n;
      atEnd = n < ask;
    }
    if (c.left > 0) return;
    const whole = atEnd || read(c, ONE) === 0;
    closeFile();
    if (!whole || c.want === null) throw fail(c.name);
    if (!c.remote) {
      if (!equal(crc.digest(), c.want)) throw fail(c.name);
      return;
    }
    const want = c.want;
    const check: Promise<void> = offload!.end().then(
      (d) => void (equal(d, want) || (failure ??= fail(c.name))),
      (e) => void (failure ??= e),
    ).finally(() => checks.delete(check));
    checks.add(check);
  };
  /** Hands out the filled part of `out` and starts a new chunk of at least `min` bytes. */
  const emit = (ctl: ReadableStreamDefaultController<Uint8Array>, min = 0) => {
    if (pos > 0) ctl.enqueue(pos === out.length ? out : out.subarray(0, pos));
    out = new Uint8Array(Math.max(OUT_CHUNK, min));
    pos = 0;
  };
  /** Appends one segment line's payload; returns true when a chunk was emitted. */
  const segment = (ctl: ReadableStreamDefaultController<Uint8Array>, line: string, end: number): boolean => {
    const start = SEG_PREFIX.length;
    const n = b64Len(line, start, end);
    if (n < 0) throw new ArchiveError("invalid tar-split line: bad base64 payload", file);
    if (n === 0) return false;
    let emitted = false;
    if (n > out.length - pos) {
      emit(ctl, n);
      emitted = true;
    }
    try {
      // deno-lint-ignore no-explicit-any
      (out.subarray(pos, pos + n) as any).setFromBase64(line.slice(start, end));
    } catch (e) {
      throw new ArchiveError(`invalid tar-split line: ${(e as Error).message}`, file, { cause: e });
    }
    pos += n;
    return emitted;
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        src ??= await LineSource.open(file);
        for (;;) {
          if (failure) throw failure;
          if (cur) {
            copy();
            if (pos === out.length) return emit(ctl);
            continue;
          }
          const line = src.line();
          if (line === null) {
            if (!src.done) {
              await src.refill();
              continue;
            }
            while (checks.size) await Promise.all(checks);
            if (failure) throw failure;
            emit(ctl);
            await close();
            ctl.close();
            return;
          }
          if (line.startsWith(SEG_PREFIX)) {
            const q = line.indexOf('"', SEG_PREFIX.length);
            if (q > 0 && line.startsWith('","position":', q)) {
              if (segment(ctl, line, q)) return;
              continue;
            }
          }
          if (line.charCodeAt(0) !== 0x7b && line.trim() === "") continue;
          const e = parseLine(line, file);
          if (e.type === EntryType.Segment) {
            const p = e.payload;
            if (!p || p.length === 0) continue;
            let emitted = false;
            if (p.length > out.length - pos) {
              emit(ctl, p.length);
              emitted = true;
            }
            out.set(p, pos);
            pos += p.length;
            if (emitted) return;
            continue;
          }
          if (e.type !== EntryType.File) throw new ArchiveError(`unknown tar-split entry type ${e.type}`);
          if (e.size <= 0) continue;
          let fd = -1;
          let f: Deno.FsFile | null = null;
          if (getter.openFd) fd = getter.openFd(e.name);
          else f = await getter.open(e.name);
          if (fd < 0 && !f) {
            throw new IntegrityError(`file integrity checksum failed for ${JSON.stringify(e.name)}: missing`);
          }
          if (e.size >= OFFLOAD_MIN) bigBytes += e.size;
          if (offload === undefined && bigBytes >= offloadStart) offload = CrcOffload.create();
          crc.reset();
          cur = {
            fd,
            f,
            name: e.name,
            left: e.size,
            want: e.payload,
            big: !!offload && e.size >= OFFLOAD_MIN,
            remote: false,
          };
        }
      } catch (err) {
        await close();
        throw err;
      }
    },
    async cancel() {
      await close();
    },
  }, { highWaterMark: 0 });
}

/** Parses one tar-split JSON line. */
function parseLine(line: string, file: string): TarSplitEntry {
  let j: { type?: number; name?: string; name_raw?: string; size?: number; payload?: string | null };
  try {
    j = JSON.parse(line);
  } catch (e) {
    throw new ArchiveError(`invalid tar-split line: ${(e as Error).message}`, file, { cause: e });
  }
  const name = j.name ?? (j.name_raw ? decodeName(unbase64(j.name_raw)) : "");
  return {
    type: j.type ?? 0,
    name,
    size: j.size ?? 0,
    payload: j.payload == null ? null : unbase64(j.payload),
  };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A FileGetter over a list of directories searched in order (overlay: diff, then the
 * lowers). Only regular files reached without passing through a symlink are opened, so
 * a layer cannot make the replay read files outside it. Verified directories are
 * remembered, so each file costs one lstat and one open.
 */
export function dirFileGetter(dirs: string[]): FileGetter {
  const realDirs = dirs.map(() => new Set<string>([""]));
  const kind = (abs: string): number => {
    if (S.lstat(p0(abs), statBuf) !== 0) {
      const e = errno();
      if (e === 2 || e === 20) return -1; // ENOENT, ENOTDIR
      throw sysError("lstat", abs, e);
    }
    return statView.getUint32(24, true) & 0o170000;
  };
  /** Host path of the regular file `path` in the first directory that has it, or null. */
  const locate = (path: string): string | null => {
    const rel = cleanPath("/" + path).slice(1);
    if (rel === "") return null;
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    search: for (let k = 0; k < dirs.length; k++) {
      const known = realDirs[k];
      if (!known.has(parent)) {
        let prefix = "";
        for (const c of parent.split("/")) {
          prefix = prefix ? `${prefix}/${c}` : c;
          if (known.has(prefix)) continue;
          if (kind(`${dirs[k]}/${prefix}`) !== 0o040000) continue search;
          known.add(prefix);
        }
      }
      const abs = `${dirs[k]}/${rel}`;
      if (kind(abs) === 0o100000) return abs;
    }
    return null;
  };
  return {
    open(path: string): Promise<Deno.FsFile | null> {
      try {
        const abs = locate(path);
        return Promise.resolve(abs === null ? null : openRaw(abs));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    openFd(path: string): number {
      const abs = locate(path);
      if (abs === null) return -1;
      const fd = S.open(p0(abs), O_CLOEXEC | O_NOFOLLOW, 0);
      if (fd < 0) throw sysError("open", abs, errno());
      return fd;
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}

const O_CLOEXEC = 0o2000000, O_NOFOLLOW = 0o400000;
const statBuf = new Uint8Array(144);
const statView = new DataView(statBuf.buffer);

/** Opens a file for reading; names with raw bytes go through an fd and /proc/self/fd. */
function openRaw(abs: string): Deno.FsFile {
  if (!hasRawBytes(abs)) return Deno.openSync(abs, { read: true });
  const fd = S.open(p0(abs), O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0) throw sysError("open", abs, errno());
  try {
    return Deno.openSync(`/proc/self/fd/${fd}`, { read: true });
  } finally {
    S.close(fd);
  }
}
