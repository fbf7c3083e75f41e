/**
 * Tar writer following Go `archive/tar` conventions for layer diffs (on-disk.md 5.7):
 * USTAR headers, PAX records only when needed (long names, non-ASCII, xattrs, IDs or
 * sizes out of octal range, sub-second or out-of-range times when asked for), mode
 * field with the file-type bits, mtime in whole seconds by default, two zero blocks at
 * the end and no record padding.
 *
 * `encodeHeader` is a pure function; `TarWriter` streams entries (payloads from bytes,
 * streams or files) into a ReadableStream with backpressure.
 *
 * @module
 */
import { ArchiveError } from "../store/errors.ts";
import { closeFd, O_CLOEXEC, O_NOFOLLOW, O_RDONLY, readInto } from "../sys/fs.ts";
import { errno, S } from "../sys/libc.ts";
import { sysError } from "../sys/errno.ts";
import { encodeName, p0 } from "./rawpath.ts";
import { BLOCK } from "./tar_reader.ts";
import { TypeFlag } from "./types.ts";

/** Header fields for writing; omitted fields default to zero/empty. */
export interface TarWriteHeader {
  /** Entry name (relative; directories should end in `/`). */
  name: string;
  /** TypeFlag value (default regular file). */
  type?: number;
  /** Permission bits incl. setuid/setgid/sticky (file-type bits are added from `type`). */
  mode?: number;
  /** Write `mode` without file-type bits, as Go's hand-made whiteout headers have it. */
  rawMode?: boolean;
  /** Owner UID. */
  uid?: number;
  /** Owner GID. */
  gid?: number;
  /** User name. */
  uname?: string;
  /** Group name. */
  gname?: string;
  /** Payload size (regular files only). */
  size?: number;
  /** Modification time in ns since the epoch. */
  mtimeNs?: bigint;
  /** Access time in ns; written as a PAX record only when given. */
  atimeNs?: bigint;
  /** Keep sub-second mtime (as a PAX record) instead of truncating to seconds. */
  preciseTimes?: boolean;
  /** Hard/symbolic link target. */
  linkname?: string;
  /** Device major number. */
  devmajor?: number;
  /** Device minor number. */
  devminor?: number;
  /** Extended attributes (written as `SCHILY.xattr.NAME` PAX records). */
  xattrs?: Map<string, Uint8Array> | Record<string, Uint8Array>;
}

const enc = new TextEncoder();
const NS = 1_000_000_000n;

/** File-type bits Go puts into the mode field for each type. */
function typeBits(type: number): number {
  switch (type) {
    case TypeFlag.Dir:
      return 0o40000;
    case TypeFlag.Symlink:
      return 0o120000;
    case TypeFlag.Char:
      return 0o20000;
    case TypeFlag.Block:
      return 0o60000;
    case TypeFlag.Fifo:
      return 0o10000;
    case TypeFlag.Reg:
    case TypeFlag.Link:
      return 0o100000;
    default:
      return 0;
  }
}

/** Writes `v` as zero-padded octal with a trailing NUL into `len` bytes; false if it does not fit. */
function putOctal(b: Uint8Array, off: number, len: number, v: number): boolean {
  if (v < 0 || !Number.isSafeInteger(v)) return false;
  const s = v.toString(8);
  if (s.length > len - 1) return false;
  const pad = len - 1 - s.length;
  for (let i = 0; i < pad; i++) b[off + i] = 0x30;
  for (let i = 0; i < s.length; i++) b[off + pad + i] = s.charCodeAt(i);
  b[off + len - 1] = 0;
  return true;
}

/** Writes a string field; false if it does not fit or is not ASCII. */
function putString(b: Uint8Array, off: number, len: number, s: string): boolean {
  if (s.length > len) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || c === 0) return false;
    b[off + i] = c;
  }
  return true;
}

/** Splits a long ASCII name into USTAR prefix/name, or null. */
function splitUstar(name: string): [string, string] | null {
  if (name.length <= 100) return ["", name];
  if (name.length > 256) return null;
  for (let i = Math.min(name.length - 1, 155); i > 0; i--) {
    if (name.charCodeAt(i) === 0x2f) {
      const pre = name.slice(0, i), rest = name.slice(i + 1);
      if (rest.length > 0 && rest.length <= 100) return [pre, rest];
      if (rest.length > 100) return null;
    }
  }
  return null;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const kb = enc.encode(key);
  // "LEN KEY=VALUE\n" where LEN counts its own digits.
  const base = 1 + kb.length + 1 + value.length + 1;
  let len = base + String(base).length;
  if (String(len).length !== String(base).length) len = base + String(len).length;
  const lb = enc.encode(String(len));
  const out = new Uint8Array(len);
  let o = 0;
  out.set(lb, o);
  o += lb.length;
  out[o++] = 0x20;
  out.set(kb, o);
  o += kb.length;
  out[o++] = 0x3d;
  out.set(value, o);
  o += value.length;
  out[o] = 0x0a;
  return out;
}

function formatPaxTime(ns: bigint): string {
  let s = ns / NS, f = ns % NS;
  if (f < 0n) (s -= 1n, f += NS);
  if (f === 0n) return s.toString();
  return `${s}.${f.toString().padStart(9, "0").replace(/0+$/, "")}`;
}

function checksum(b: Uint8Array, o: number): void {
  for (let i = 148; i < 156; i++) b[o + i] = 0x20;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[o + i];
  // Go writes 6 octal digits, NUL, space.
  const s = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) b[o + 148 + i] = s.charCodeAt(i);
  b[o + 154] = 0;
  b[o + 155] = 0x20;
}

/** Fills one USTAR header block at `o` (PAX overrides are written separately). */
function ustarBlock(
  b: Uint8Array,
  o: number,
  f: {
    name: string;
    prefix: string;
    mode: number;
    uid: number;
    gid: number;
    size: number;
    mtime: number;
    type: number;
    linkname: string;
    uname: string;
    gname: string;
    devmajor: number;
    devminor: number;
    /** Leave the device fields empty (Go's PAX `x` header blocks). */
    noDevices?: boolean;
  },
): void {
  putString(b, o, 100, f.name);
  putOctal(b, o + 100, 8, f.mode);
  putOctal(b, o + 108, 8, f.uid);
  putOctal(b, o + 116, 8, f.gid);
  putOctal(b, o + 124, 12, f.size);
  putOctal(b, o + 136, 12, f.mtime);
  b[o + 156] = f.type;
  putString(b, o + 157, 100, f.linkname);
  b.set([0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30], o + 257); // "ustar\0" "00"
  putString(b, o + 265, 32, f.uname);
  putString(b, o + 297, 32, f.gname);
  if (!f.noDevices) {
    putOctal(b, o + 329, 8, f.devmajor);
    putOctal(b, o + 337, 8, f.devminor);
  }
  putString(b, o + 345, 155, f.prefix);
  checksum(b, o);
}

/**
 * Encodes the header blocks of one entry: an optional PAX `x` header with its records,
 * then the USTAR header. The payload (and its padding, see `padding`) follows.
 */
export function encodeHeader(h: TarWriteHeader): Uint8Array {
  const type = h.type ?? TypeFlag.Reg;
  const perm = (h.mode ?? 0) & 0o7777;
  const mode = h.rawMode ? perm : perm | typeBits(type);
  const uid = h.uid ?? 0, gid = h.gid ?? 0;
  const size = type === TypeFlag.Reg ? (h.size ?? 0) : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveError(`invalid tar entry size ${size}`);
  const mtimeNs = h.mtimeNs ?? 0n;
  let mtimeSec = mtimeNs / NS;
  if (mtimeNs < 0n && mtimeNs % NS !== 0n) mtimeSec -= 1n;
  const linkname = h.linkname ?? "";
  const uname = h.uname ?? "", gname = h.gname ?? "";
  const devmajor = h.devmajor ?? 0, devminor = h.devminor ?? 0;

  // PAX records by key; Go writes them sorted by key.
  const records = new Map<string, Uint8Array>();
  const rec = (key: string, value: Uint8Array) => records.set(key, paxRecord(key, value));
  let linkField = linkname;
  if (linkname.length > 100 || !isAscii(linkname)) {
    rec("linkpath", encodeName(linkname));
    linkField = v7String(linkname, 100);
  }
  const fits = (v: number, len: number) => v >= 0 && v < 8 ** (len - 1);
  let sizeField = size, uidField = uid, gidField = gid;
  if (!fits(size, 12)) (rec("size", enc.encode(String(size))), sizeField = 0);
  if (!fits(uid, 8)) (rec("uid", enc.encode(String(uid))), uidField = 0);
  if (!fits(gid, 8)) (rec("gid", enc.encode(String(gid))), gidField = 0);
  let unameField = uname, gnameField = gname;
  if (uname.length > 32 || !isAscii(uname)) {
    (rec("uname", enc.encode(uname)), unameField = v7String(uname, 32));
  }
  if (gname.length > 32 || !isAscii(gname)) {
    (rec("gname", enc.encode(gname)), gnameField = v7String(gname, 32));
  }
  let mtimeField = Number(mtimeSec);
  if ((h.preciseTimes && mtimeNs % NS !== 0n) || !fits(mtimeField, 12)) {
    rec("mtime", enc.encode(formatPaxTime(h.preciseTimes ? mtimeNs : mtimeSec * NS)));
    if (!fits(mtimeField, 12)) mtimeField = 0;
  }
  if (h.atimeNs !== undefined) {
    rec("atime", enc.encode(formatPaxTime(h.preciseTimes ? h.atimeNs : (h.atimeNs / NS) * NS)));
  }
  if (h.xattrs) {
    const entries = h.xattrs instanceof Map ? [...h.xattrs] : Object.entries(h.xattrs);
    for (const [k, v] of entries) rec("SCHILY.xattr." + k, v);
  }
  // A long ASCII name fits USTAR's prefix and name fields unless the entry needs PAX
  // records anyway: then Go records the path too and leaves the prefix empty.
  let name = h.name, prefix = "";
  const split = isAscii(h.name) ? splitUstar(h.name) : null;
  if (split && records.size === 0) [prefix, name] = split;
  else {
    if (!isAscii(h.name) || h.name.length > 100) rec("path", encodeName(h.name));
    name = v7String(h.name, 100);
  }
  const pax = [...records.keys()].sort().map((k) => records.get(k)!);
  let devmaj = devmajor, devmin = devminor;
  if (!fits(devmajor, 8) || !fits(devminor, 8)) {
    throw new ArchiveError(`device number ${devmajor}:${devminor} does not fit in a tar header`);
  }
  if (type !== TypeFlag.Char && type !== TypeFlag.Block) (devmaj = 0, devmin = 0);

  let paxLen = 0;
  for (const r of pax) paxLen += r.length;
  const paxBlocks = pax.length ? BLOCK + Math.ceil(paxLen / BLOCK) * BLOCK : 0;
  const out = new Uint8Array(paxBlocks + BLOCK);
  if (pax.length) {
    ustarBlock(out, 0, {
      name: paxHeaderName(h.name),
      prefix: "",
      mode: 0,
      uid: 0,
      gid: 0,
      size: paxLen,
      mtime: 0,
      type: TypeFlag.PaxHeader,
      linkname: "",
      uname: "",
      gname: "",
      devmajor: 0,
      devminor: 0,
      noDevices: true,
    });
    let o = BLOCK;
    for (const r of pax) (out.set(r, o), o += r.length);
  }
  ustarBlock(out, paxBlocks, {
    name,
    prefix,
    mode,
    uid: uidField,
    gid: gidField,
    size: sizeField,
    mtime: mtimeField,
    type,
    linkname: linkField,
    uname: unameField,
    gname: gnameField,
    devmajor: devmaj,
    devminor: devmin,
  });
  return out;
}

/** Go's toASCII: characters outside ASCII (and NULs) are dropped. */
function toAscii(s: string): string {
  if (isAscii(s) && !s.includes("\0")) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80 && c !== 0) out += ch;
  }
  return out;
}

/**
 * A string field of a PAX entry's USTAR block as Go fills it: ASCII only, cut to `n`
 * bytes, and a cut that ends in a slash is ended before the slashes.
 */
function v7String(s: string, n: number): string {
  const a = toAscii(s);
  if (a.length <= n) return a;
  const cut = a.slice(0, n);
  return cut.endsWith("/") ? cut.slice(0, n - 1).replace(/\/+$/, "") : cut;
}

/** Go's name for the `x` header of `name`: path.Join(dir, "PaxHeaders.0", file), ASCII, 100 bytes. */
function paxHeaderName(name: string): string {
  const i = name.lastIndexOf("/");
  const parts: string[] = [];
  for (const p of `${name.slice(0, i + 1)}/PaxHeaders.0/${name.slice(i + 1)}`.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else parts.push(p);
  }
  return toAscii(parts.join("/")).slice(0, 100).replace(/\/+$/, "");
}

const ZEROS = new Uint8Array(1024);
// Largest piece read from a file at once when archiving it.
const FILE_CHUNK = 1 << 20;

/** Zero padding after a payload of `size` bytes (a view of a shared zero buffer). */
export function padding(size: number): Uint8Array {
  return ZEROS.subarray(0, (BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export function trailer(): Uint8Array {
  return new Uint8Array(2 * BLOCK);
}

/** Payload sources accepted by TarWriter.add. */
export type TarPayload = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Streams tar entries into `readable`. `add` resolves once the entry was queued within
 * the stream's buffer budget (backpressure); `close` writes the trailer. A payload that
 * does not match its declared size fails with ArchiveError.
 */
export class TarWriter {
  /** The tar byte stream. */
  readonly readable: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(highWaterMark = 1 << 20) {
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.controller = c;
      },
      pull: () => {
        const w = this.wake;
        this.wake = null;
        w?.();
      },
      cancel: () => {
        this.closed = true;
        const w = this.wake;
        this.wake = null;
        w?.();
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark }));
  }

  private async put(b: Uint8Array): Promise<void> {
    if (this.closed) throw new ArchiveError("tar stream was cancelled");
    if (b.length === 0) return;
    this.controller.enqueue(b);
    while ((this.controller.desiredSize ?? 1) <= 0 && !this.closed) {
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Adds one entry; `data` must provide exactly `header.size` bytes for regular files. */
  async add(header: TarWriteHeader, data?: TarPayload): Promise<void> {
    await this.put(encodeHeader(header));
    const size = (header.type ?? TypeFlag.Reg) === TypeFlag.Reg ? (header.size ?? 0) : 0;
    let written = 0;
    if (data instanceof Uint8Array) {
      if (data.length !== size) {
        throw new ArchiveError(`archive/tar: write too long or short for ${header.name}`);
      }
      written = size;
      await this.put(data);
    } else if (data) {
      for await (const chunk of data as AsyncIterable<Uint8Array>) {
        if (written + chunk.length > size) {
          throw new ArchiveError(`archive/tar: write too long for ${JSON.stringify(header.name)}`);
        }
        written += chunk.length;
        await this.put(chunk);
      }
    }
    if (written !== size) throw new ArchiveError(`archive/tar: missed writing ${size - written} bytes`);
    await this.put(padding(size));
  }

  /** Adds a regular file whose payload is read from `path` (its size must match `header.size`). */
  async addFile(header: TarWriteHeader, path: string): Promise<void> {
    // Synchronous reads: a page-cache read is far cheaper than a thread-pool round trip
    // per file, and many layers are mostly small files.
    const size = header.size ?? 0;
    const fd = S.open(p0(path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0) throw sysError("open", path, errno());
    try {
      this.putSync(encodeHeader(header));
      let left = size;
      while (left > 0) {
        const buf = new Uint8Array(Math.min(left, FILE_CHUNK));
        let got = 0;
        while (got < buf.length) {
          const n = readInto(fd, got ? buf.subarray(got) : buf, path);
          if (n === 0) {
            throw new ArchiveError(
              `file changed size while being archived: ${path} (${left - got} bytes missing)`,
            );
          }
          got += n;
        }
        left -= got;
        this.putSync(buf);
        if (left > 0) await this.drained();
      }
      this.putSync(padding(size));
    } finally {
      closeFd(fd);
    }
    await this.drained();
  }

  /** Enqueues without waiting (the caller waits with `drained`). */
  private putSync(b: Uint8Array): void {
    if (this.closed) throw new ArchiveError("tar stream was cancelled");
    if (b.length) this.controller.enqueue(b);
  }

  /** Resolves once the consumer wants more data. */
  private drained(): Promise<void> | void {
    if ((this.controller.desiredSize ?? 1) > 0 || this.closed) return;
    return (async () => {
      while ((this.controller.desiredSize ?? 1) <= 0 && !this.closed) {
        await new Promise<void>((r) => (this.wake = r));
      }
    })();
  }

  /** Writes the trailer and ends the stream. */
  async close(): Promise<void> {
    await this.put(trailer());
    this.closed = true;
    this.controller.close();
  }

  /** Ends the stream with an error. */
  abort(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.controller.error(err);
    } catch { /* already errored */ }
  }
}

/** Reads exactly `size` bytes from an open file in large chunks; a size change is an error. */
export async function* readFileChunks(f: Deno.FsFile, size: number): AsyncGenerator<Uint8Array> {
  let left = size;
  while (left > 0) {
    const buf = new Uint8Array(Math.min(left, 1 << 20));
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) {
        throw new ArchiveError(`file changed size while being archived (${left - got} bytes missing)`);
      }
      got += n;
    }
    left -= got;
    yield buf;
  }
}
