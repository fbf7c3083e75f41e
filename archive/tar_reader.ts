/**
 * Streaming tar parser: ustar, PAX (`x` records; a `g` global header is reported as an
 * entry of type `TypeFlag.PaxGlobal` with no payload, as Go's reader does, and its
 * records are not applied), GNU long names/links (`L`/`K`), GNU base-256 numbers,
 * old-style NUL typeflag. GNU sparse files are not expanded.
 *
 * The core is `TarParser`, a synchronous push parser: feed it chunks and it calls its
 * observers in stream order. Every input byte goes to exactly one of `segment`
 * (headers, meta records, padding, trailer and anything after it) or `payload`, so
 * observers can rebuild the stream (tar-split) or hash it. Extraction drives the push
 * parser directly (no await per entry); `TarReader` wraps it as a pull API.
 *
 * Memory is bounded: payloads are passed on as views of the input chunks, only meta
 * records (capped at 1 MiB, as Go) are buffered.
 *
 * @module
 */
import { ArchiveError } from "../store/errors.ts";
import { type TarHeader, type TarObserver, TypeFlag } from "./types.ts";
import { decodeName } from "./rawpath.ts";

/** Size of a tar block. */
export const BLOCK = 512;
/** Largest PAX/GNU meta record accepted (Go's `maxSpecialFileSize`). */
export const MAX_META_SIZE = 1 << 20;
/** Largest payload accepted (beyond it sizes lose precision as numbers). */
export const MAX_ENTRY_SIZE = Number.MAX_SAFE_INTEGER;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Lenient = new TextDecoder("utf-8");
const EMPTY_XATTRS: Map<string, Uint8Array> = new Map();

/** Raised for malformed tar data (Go: `archive/tar: invalid tar header`). */
function invalidHeader(detail?: string): ArchiveError {
  return new ArchiveError("archive/tar: invalid tar header", detail);
}

/** Types that never carry payload, whatever their size field says (Go's isHeaderOnlyType). */
export function isHeaderOnlyType(t: number): boolean {
  return t === TypeFlag.Link || t === TypeFlag.Symlink || t === TypeFlag.Char || t === TypeFlag.Block ||
    t === TypeFlag.Dir || t === TypeFlag.Fifo;
}

/** Decodes a NUL-terminated field; latin-1 fast path for ASCII. */
function cString(b: Uint8Array, start: number, len: number): string {
  let end = start;
  const lim = start + len;
  let ascii = true;
  while (end < lim && b[end] !== 0) {
    if (b[end] >= 0x80) ascii = false;
    end++;
  }
  if (end === start) return "";
  if (ascii) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  return utf8Lenient.decode(b.subarray(start, end));
}

/** A NUL-terminated name field, byte-exact (see rawpath.ts). */
function cName(b: Uint8Array, start: number, len: number): string {
  const e = fieldEnd(b, start, len);
  if (e === start) return "";
  if (e > 0) return String.fromCharCode.apply(null, b.subarray(start, e) as unknown as number[]);
  return decodeName(b.subarray(start, -e));
}

/** Raw bytes of a NUL-terminated field. */
function cBytes(b: Uint8Array, start: number, len: number): Uint8Array {
  let end = start;
  const lim = start + len;
  while (end < lim && b[end] !== 0) end++;
  return b.slice(start, end);
}

/** End index of a NUL-terminated field, and whether it is plain ASCII (bit 31 clear). */
function fieldEnd(b: Uint8Array, start: number, len: number): number {
  let end = start;
  const lim = start + len;
  let hi = 0;
  while (end < lim) {
    const c = b[end];
    if (c === 0) break;
    hi |= c;
    end++;
  }
  return (hi & 0x80) !== 0 ? -end : end;
}

function isValidUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      try {
        utf8.decode(b);
        return true;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/**
 * Parses a numeric field: octal ASCII (spaces/NULs allowed around it) or GNU base-256
 * (high bit of the first byte set; two's complement). Returns a number, or throws.
 */
export function parseNumeric(b: Uint8Array, start: number, len: number): number {
  if (len > 0 && (b[start] & 0x80) !== 0) {
    // base-256: first byte 0x80 (positive) or 0xff (negative)
    const neg = (b[start] & 0x40) !== 0;
    let v = 0;
    for (let i = 0; i < len; i++) {
      let x = b[start + i];
      if (i === 0) x &= 0x7f;
      if (neg) x ^= 0xff;
      if (i === 0 && neg) x &= 0x7f;
      v = v * 256 + x;
      if (v > Number.MAX_SAFE_INTEGER) throw invalidHeader("numeric field out of range");
    }
    return neg ? -v - 1 : v;
  }
  let i = start;
  const end = start + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  while (i < end) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x37) {
      v = v * 8 + (c - 0x30);
      digits++;
      i++;
    } else break;
  }
  while (i < end) {
    const c = b[i];
    if (c !== 0x20 && c !== 0) throw invalidHeader("invalid octal number");
    i++;
  }
  if (v > Number.MAX_SAFE_INTEGER) throw invalidHeader("numeric field out of range");
  return digits === 0 ? 0 : v;
}

/** Verifies a header block checksum (unsigned or signed sum, as Go accepts both). */
function checksumOk(b: Uint8Array, o: number): boolean {
  // Unsigned sum four bytes at a time in two 16-bit lanes (128 words × 255 fits), the
  // checksum field itself (words 37 and 38) counting as eight spaces.
  const dv = new DataView(b.buffer, b.byteOffset + o, BLOCK);
  let even = 0, odd = 0;
  for (let w = 0; w < 128; w++) {
    if (w === 37 || w === 38) continue;
    const x = dv.getUint32(w * 4, true);
    even += x & 0x00ff00ff;
    odd += (x >>> 8) & 0x00ff00ff;
  }
  const unsigned = 8 * 0x20 + (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16);
  let stored: number;
  try {
    stored = parseNumeric(b, o + 148, 8);
  } catch {
    return false;
  }
  if (stored === unsigned) return true;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const c = b[o + i];
    signed += c >= 0x80 ? c - 256 : c;
  }
  return stored === signed;
}

function isZeroBlock(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < BLOCK; i += 8) {
    if (
      (b[o + i] | b[o + i + 1] | b[o + i + 2] | b[o + i + 3] | b[o + i + 4] | b[o + i + 5] | b[o + i + 6] |
        b[o + i + 7]) !== 0
    ) {
      return false;
    }
  }
  return true;
}

/** Parses a PAX time value (`1700000000.123456789`, possibly negative) to ns. */
export function parsePaxTime(s: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(s);
  if (!m) throw invalidHeader(`invalid PAX time ${JSON.stringify(s)}`);
  const frac = (m[3] ?? "").slice(0, 9).padEnd(9, "0");
  const v = BigInt(m[2]) * 1_000_000_000n + BigInt(frac);
  return m[1] ? -v : v;
}

/** Overrides gathered from meta records for the next real header. */
interface Pending {
  path?: string;
  pathRaw?: Uint8Array;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtimeNs?: bigint;
  atimeNs?: bigint;
  xattrs?: Map<string, Uint8Array>;
}

const enum St {
  Header,
  Meta,
  Data,
  Pad,
  Zero2,
  Trailer,
}

const ASCII_EQ = 0x3d;
const ASCII_SP = 0x20;

/**
 * Synchronous push parser. Call `push(chunk)` for each chunk in order and `finish()` at
 * the end of the stream; observers are called synchronously. Byte views handed to
 * observers are only valid during the call (copy what you keep). Errors are thrown from
 * `push`/`finish` as `ArchiveError`.
 */
export class TarParser {
  private readonly obs: TarObserver[];
  private st = St.Header;
  private readonly blk = new Uint8Array(BLOCK);
  private blkLen = 0;
  private remain = 0; // bytes left in Data, Pad or Meta (incl. its padding)
  private metaType = 0;
  private metaName = "";
  private metaBuf: Uint8Array | null = null;
  private metaSize = 0;
  private metaLen = 0;
  private pending: Pending | null = null;
  private entryOpen = false;
  /** Number of entries (members other than meta records) seen so far. */
  entries = 0;
  /** Bytes consumed so far. */
  bytes = 0;

  constructor(observers: TarObserver[]) {
    this.obs = observers;
  }

  private seg(b: Uint8Array): void {
    if (b.length === 0) return;
    const o = this.obs;
    for (let i = 0; i < o.length; i++) o[i].segment?.(b);
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    this.bytes += n;
    let off = 0;
    const obs = this.obs;
    while (off < n) {
      switch (this.st) {
        case St.Header: {
          let hb: Uint8Array, ho: number;
          if (this.blkLen === 0 && n - off >= BLOCK) {
            hb = chunk;
            ho = off;
            off += BLOCK;
            this.seg(chunk.subarray(ho, off));
          } else {
            const take = Math.min(BLOCK - this.blkLen, n - off);
            this.blk.set(chunk.subarray(off, off + take), this.blkLen);
            this.seg(chunk.subarray(off, off + take));
            this.blkLen += take;
            off += take;
            if (this.blkLen < BLOCK) return;
            this.blkLen = 0;
            hb = this.blk;
            ho = 0;
          }
          this.header(hb, ho);
          break;
        }
        case St.Data: {
          const take = Math.min(this.remain, n - off);
          const part = chunk.subarray(off, off + take);
          for (let i = 0; i < obs.length; i++) obs[i].payload?.(part);
          off += take;
          this.remain -= take;
          if (this.remain === 0) this.endData();
          break;
        }
        case St.Pad: {
          const take = Math.min(this.remain, n - off);
          this.seg(chunk.subarray(off, off + take));
          off += take;
          this.remain -= take;
          if (this.remain === 0) this.st = St.Header;
          break;
        }
        case St.Meta: {
          const take = Math.min(this.remain, n - off);
          const part = chunk.subarray(off, off + take);
          this.seg(part);
          if (this.metaLen < this.metaSize) {
            const k = Math.min(this.metaSize - this.metaLen, take);
            this.metaBuf!.set(part.subarray(0, k), this.metaLen);
            this.metaLen += k;
          }
          off += take;
          this.remain -= take;
          if (this.remain === 0) this.endMeta();
          break;
        }
        case St.Zero2: {
          const take = Math.min(BLOCK - this.blkLen, n - off);
          this.blk.set(chunk.subarray(off, off + take), this.blkLen);
          this.seg(chunk.subarray(off, off + take));
          this.blkLen += take;
          off += take;
          if (this.blkLen < BLOCK) return;
          this.blkLen = 0;
          if (!isZeroBlock(this.blk, 0)) throw invalidHeader();
          this.st = St.Trailer;
          break;
        }
        case St.Trailer:
          this.seg(off === 0 ? chunk : chunk.subarray(off));
          off = n;
          break;
      }
    }
  }

  /** Signals the end of the stream; throws `unexpected EOF` if it ended mid-archive. */
  finish(): void {
    const cleanEnd = (this.st === St.Header && this.blkLen === 0 && this.pending === null) ||
      (this.st === St.Zero2 && this.blkLen === 0) || this.st === St.Trailer;
    if (!cleanEnd) throw new ArchiveError("unexpected EOF");
    for (const o of this.obs) o.end?.();
  }

  private endData(): void {
    this.entryOpen = false;
    const o = this.obs;
    for (let i = 0; i < o.length; i++) o[i].entryEnd?.();
    this.st = this.remainPad > 0 ? St.Pad : St.Header;
    this.remain = this.remainPad;
  }
  private remainPad = 0;

  private header(b: Uint8Array, o: number): void {
    if (isZeroBlock(b, o)) {
      if (this.pending !== null) throw invalidHeader();
      this.st = St.Zero2;
      return;
    }
    if (!checksumOk(b, o)) throw invalidHeader("checksum mismatch");
    let type = b[o + 156];
    const size = parseNumeric(b, o + 124, 12);
    if (size < 0 || size > MAX_ENTRY_SIZE) throw invalidHeader(`invalid size ${size}`);
    if (
      type === TypeFlag.PaxHeader || type === TypeFlag.PaxGlobal || type === TypeFlag.GnuLongName ||
      type === TypeFlag.GnuLongLink
    ) {
      if (size > MAX_META_SIZE) throw new ArchiveError("archive/tar: header field too long");
      this.metaType = type;
      if (type === TypeFlag.PaxGlobal) this.metaName = cString(b, o, 100);
      this.metaSize = size;
      this.metaLen = 0;
      this.metaBuf = new Uint8Array(size);
      this.remain = size + ((BLOCK - (size % BLOCK)) % BLOCK);
      if (this.remain === 0) this.endMeta();
      else this.st = St.Meta;
      return;
    }
    // Magic decides the layout of the second half of the header.
    const magic5 = b[o + 257] === 0x75 && b[o + 258] === 0x73 && b[o + 259] === 0x74 && b[o + 260] === 0x61 &&
      b[o + 261] === 0x72; // "ustar"
    const gnu = magic5 && b[o + 262] === 0x20 && b[o + 263] === 0x20; // "ustar  \0"
    const ustar = magic5 && b[o + 262] === 0;
    const p = this.pending;
    this.pending = null;

    let name: string;
    let nameRaw: Uint8Array | undefined;
    if (p?.path !== undefined) {
      name = p.path;
      nameRaw = p.pathRaw;
    } else if (!(ustar && b[o + 345] !== 0) && fieldEnd(b, o, 100) >= 0) {
      // Common case: a plain ASCII name without prefix.
      name = String.fromCharCode.apply(null, b.subarray(o, fieldEnd(b, o, 100)) as unknown as number[]);
    } else {
      const nb = cBytes(b, o, 100);
      let full = nb;
      if (ustar && b[o + 345] !== 0) {
        const pre = cBytes(b, o + 345, 155);
        full = new Uint8Array(pre.length + 1 + nb.length);
        full.set(pre, 0);
        full[pre.length] = 0x2f;
        full.set(nb, pre.length + 1);
      }
      if (isValidUtf8(full)) name = utf8Lenient.decode(full);
      else {
        nameRaw = full;
        name = decodeName(full);
      }
    }
    if (type === 0) type = name.endsWith("/") ? TypeFlag.Dir : TypeFlag.Reg;
    const mode = parseNumeric(b, o + 100, 8) & 0o7777;
    const uid = p?.uid ?? parseNumeric(b, o + 108, 8);
    const gid = p?.gid ?? parseNumeric(b, o + 116, 8);
    const realSize = p?.size ?? size;
    if (realSize < 0 || realSize > MAX_ENTRY_SIZE) throw invalidHeader(`invalid size ${realSize}`);
    const mtimeNs = p?.mtimeNs ?? BigInt(parseNumeric(b, o + 136, 12)) * 1_000_000_000n;
    let atimeNs = p?.atimeNs;
    if (atimeNs === undefined && gnu && b[o + 345] !== 0) {
      atimeNs = BigInt(parseNumeric(b, o + 345, 12)) * 1_000_000_000n;
    }
    const linkname = p?.linkpath ?? cName(b, o + 157, 100);
    const uname = p?.uname ?? ((ustar || gnu) ? cString(b, o + 265, 32) : "");
    const gname = p?.gname ?? ((ustar || gnu) ? cString(b, o + 297, 32) : "");
    const dev = (ustar || gnu) && (type === TypeFlag.Char || type === TypeFlag.Block);
    const devmajor = dev ? parseNumeric(b, o + 329, 8) : 0;
    const devminor = dev ? parseNumeric(b, o + 337, 8) : 0;
    const payload = isHeaderOnlyType(type) ? 0 : realSize;
    const h: TarHeader = {
      name,
      nameRaw,
      type,
      mode,
      uid,
      gid,
      uname,
      gname,
      size: payload,
      mtimeNs,
      atimeNs,
      linkname,
      devmajor,
      devminor,
      xattrs: p?.xattrs ?? EMPTY_XATTRS,
    };
    this.entries++;
    this.entryOpen = true;
    const obs = this.obs;
    for (let i = 0; i < obs.length; i++) obs[i].entry?.(h);
    this.remain = payload;
    this.remainPad = (BLOCK - (payload % BLOCK)) % BLOCK;
    if (payload === 0) this.endData();
    else this.st = St.Data;
  }

  private endMeta(): void {
    const data = this.metaBuf!;
    this.metaBuf = null;
    this.st = St.Header;
    const p = this.pending ?? (this.pending = {});
    switch (this.metaType) {
      case TypeFlag.GnuLongName: {
        const raw = cBytes(data, 0, data.length);
        p.path = decodeName(raw);
        p.pathRaw = isValidUtf8(raw) ? undefined : raw;
        break;
      }
      case TypeFlag.GnuLongLink:
        p.linkpath = decodeName(cBytes(data, 0, data.length));
        break;
      case TypeFlag.PaxHeader:
        parsePax(data, p);
        break;
      case TypeFlag.PaxGlobal: {
        // Go's reader returns a global header as an entry of its own (name only, IDs 0,
        // no payload): tar-split records it as a file entry and the ID sets count it.
        // Its records are not applied to later entries; extraction ignores it.
        parsePax(data, {});
        if (Object.keys(p).length === 0) this.pending = null;
        const h: TarHeader = {
          name: this.metaName,
          type: TypeFlag.PaxGlobal,
          mode: 0,
          uid: 0,
          gid: 0,
          uname: "",
          gname: "",
          size: 0,
          mtimeNs: 0n,
          linkname: "",
          devmajor: 0,
          devminor: 0,
          xattrs: EMPTY_XATTRS,
        };
        this.entries++;
        const obs = this.obs;
        for (let i = 0; i < obs.length; i++) obs[i].entry?.(h);
        for (let i = 0; i < obs.length; i++) obs[i].entryEnd?.();
        break;
      }
    }
  }
}

/** Parses PAX records (`LEN KEY=VALUE\n`) into overrides. */
function parsePax(data: Uint8Array, p: Pending): void {
  let i = 0;
  while (i < data.length) {
    // A NUL-padded tail is tolerated (some writers pad the record block).
    if (data[i] === 0) break;
    let len = 0;
    let j = i;
    while (j < data.length && data[j] >= 0x30 && data[j] <= 0x39) {
      len = len * 10 + (data[j] - 0x30);
      j++;
    }
    if (j === i || j >= data.length || data[j] !== ASCII_SP || len <= j - i + 1 || i + len > data.length) {
      throw invalidHeader("invalid PAX record");
    }
    const recEnd = i + len;
    if (data[recEnd - 1] !== 0x0a) throw invalidHeader("invalid PAX record");
    let k = j + 1;
    while (k < recEnd && data[k] !== ASCII_EQ) k++;
    if (k >= recEnd) throw invalidHeader("invalid PAX record");
    const key = utf8Lenient.decode(data.subarray(j + 1, k));
    const val = data.subarray(k + 1, recEnd - 1);
    applyPax(p, key, val);
    i = recEnd;
  }
}

function paxInt(key: string, v: string): number {
  if (!/^-?\d+$/.test(v)) throw invalidHeader(`invalid PAX ${key} ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw invalidHeader(`invalid PAX ${key} ${JSON.stringify(v)}`);
  return n;
}

function applyPax(p: Pending, key: string, val: Uint8Array): void {
  if (key.startsWith("SCHILY.xattr.")) {
    (p.xattrs ??= new Map()).set(key.slice(13), val.slice());
    return;
  }
  const s = utf8Lenient.decode(val);
  switch (key) {
    case "path":
      p.path = decodeName(val);
      p.pathRaw = isValidUtf8(val) ? undefined : val.slice();
      break;
    case "linkpath":
      p.linkpath = decodeName(val);
      break;
    case "size":
      p.size = paxInt(key, s);
      break;
    case "uid":
      p.uid = paxInt(key, s);
      break;
    case "gid":
      p.gid = paxInt(key, s);
      break;
    case "uname":
      p.uname = s;
      break;
    case "gname":
      p.gname = s;
      break;
    case "mtime":
      p.mtimeNs = parsePaxTime(s);
      break;
    case "atime":
      p.atimeNs = parsePaxTime(s);
      break;
    default:
      // ctime, charset, comment, GNU.sparse.* and vendor records are not needed.
      break;
  }
}

/** Something a TarReader can read from. */
export type TarSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

type Ev = { h: TarHeader } | { d: Uint8Array } | { e: true };

/**
 * Pull-style reader: `next()` returns each entry's header (skipping whatever payload of
 * the previous entry was not read) and `read()` returns the current entry's payload
 * chunk by chunk. Observers see every byte in stream order, as with TarParser. The
 * stream is read to its end (trailer included) before `next()` returns null.
 */
export class TarReader implements AsyncIterable<TarHeader> {
  private readonly parser: TarParser;
  private readonly it: AsyncIterator<Uint8Array>;
  private readonly q: Ev[] = [];
  private qi = 0;
  private eof = false;
  private inEntry = false;

  constructor(source: TarSource, observers: TarObserver[] = []) {
    const q = this.q;
    const sink: TarObserver = {
      entry: (h) => q.push({ h }),
      payload: (d) => q.push({ d }),
      entryEnd: () => q.push({ e: true }),
    };
    this.parser = new TarParser([...observers, sink]);
    this.it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.qi >= this.q.length) {
      this.q.length = 0;
      this.qi = 0;
      if (this.eof) return false;
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        this.parser.finish();
        return this.q.length > 0;
      }
      this.parser.push(r.value);
    }
    return true;
  }

  /** The next entry, or null at the end of the archive. */
  async next(): Promise<TarHeader | null> {
    while (this.inEntry) {
      if (!(await this.fill())) throw new ArchiveError("unexpected EOF");
      if ("e" in this.q[this.qi++]) this.inEntry = false;
    }
    if (!(await this.fill())) return null;
    const ev = this.q[this.qi++];
    if (!("h" in ev)) throw new ArchiveError("tar reader out of sync");
    this.inEntry = true;
    return ev.h;
  }

  /** The next payload chunk of the current entry (a view valid until the next call), or null at its end. */
  async read(): Promise<Uint8Array | null> {
    if (!this.inEntry) return null;
    if (!(await this.fill())) throw new ArchiveError("unexpected EOF");
    const ev = this.q[this.qi++];
    if ("d" in ev) return ev.d;
    this.inEntry = false;
    return null;
  }

  /** The whole payload of the current entry (for small entries only). */
  async readAll(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let c = await this.read(); c !== null; c = await this.read()) {
      parts.push(c.slice());
      total += c.length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) (out.set(p, o), o += p.length);
    return out;
  }

  /** Stops reading and releases the source. */
  async cancel(): Promise<void> {
    this.eof = true;
    await this.it.return?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TarHeader> {
    for (let h = await this.next(); h !== null; h = await this.next()) yield h;
  }
}

/** Reads a whole stream through the parser with the given observers (for observers-only passes). */
export async function scanTar(source: TarSource, observers: TarObserver[]): Promise<number> {
  const p = new TarParser(observers);
  for await (const chunk of source as AsyncIterable<Uint8Array>) p.push(chunk);
  p.finish();
  return p.entries;
}
