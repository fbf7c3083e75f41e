/**
 * Byte-exact file names in JS strings. Tar names are bytes; most are UTF-8, but some
 * layers carry Latin-1 or otherwise invalid names, which Go keeps as they are. We decode
 * with Python's "surrogateescape" convention: every byte that is not part of a valid
 * UTF-8 sequence becomes the lone surrogate U+DC80+byte, and `encodePath` turns such
 * strings back into the original bytes. Valid UTF-8 names are ordinary strings.
 *
 * @module
 */
import { cs0, cs1, errno, S } from "../sys/libc.ts";
import { readDirFd, readlinkAtRaw } from "../sys/dirent_vfs.ts";
import { sysError } from "../sys/errno.ts";

const strict = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

/** True when `s` holds an escaped (raw) byte. */
export function hasRawBytes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return true; // lone high surrogate: not produced by decodeName, encoded as raw below
    }
    if (c >= 0xdc80 && c <= 0xdcff) return true;
  }
  return false;
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0. */
function seqLen(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k] & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1];
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1];
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/** Decodes name bytes: UTF-8, with invalid bytes escaped as U+DC80+byte. */
export function decodeName(b: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return String.fromCharCode.apply(null, b as unknown as number[]);
  try {
    return strict.decode(b);
  } catch { /* invalid: escape byte by byte below */ }
  let out = "";
  let i = 0;
  while (i < b.length) {
    const n = seqLen(b, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]);
      i++;
    } else {
      out += strict.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** The bytes of a (possibly escaped) name, without a NUL. */
export function encodeName(s: string): Uint8Array {
  if (!hasRawBytes(s)) return utf8.encode(s);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        for (const x of utf8.encode(s.slice(i, i + 2))) out.push(x);
        i++;
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) out.push(c - 0xdc00);
    else for (const x of utf8.encode(s[i])) out.push(x);
  }
  return new Uint8Array(out);
}

/** A NUL-terminated path for a synchronous FFI call (first argument; reused buffer for plain strings). */
export function p0(s: string): Uint8Array<ArrayBuffer> {
  return hasRawBytes(s) ? withNul(s) : cs0(s);
}

/** Like p0, for the second path argument of a call. */
export function p1(s: string): Uint8Array<ArrayBuffer> {
  return hasRawBytes(s) ? withNul(s) : cs1(s);
}

function withNul(s: string): Uint8Array<ArrayBuffer> {
  const b = encodeName(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

const AT_FDCWD = -100;
const O_RDONLY_DIR = 0o200000 /* O_DIRECTORY */ | 0o400000 /* O_NOFOLLOW */ | 0o2000000 /* O_CLOEXEC */;
const statBuf = new Uint8Array(144);
const statView = new DataView(statBuf.buffer);

/** st_mode of `abs` (not following a final symlink), or -errno. */
export function lstatMode(abs: string): number {
  if (S.lstat(p0(abs), statBuf) === 0) return statView.getUint32(24, true);
  return -errno();
}

/** Entries of a directory with byte-exact names, and whether each is a directory (unsorted). */
export function readDirNames(abs: string): Array<{ name: string; dir: boolean }> {
  const fd = S.open(p0(abs), O_RDONLY_DIR, 0);
  if (fd < 0) throw sysError("open", abs, errno());
  try {
    return readDirFd(fd, abs).map((e) => {
      const name = decodeName(e.name.subarray(0, e.name.length - 1));
      const dir = e.type === 4 /* DT_DIR */ ||
        (e.type === 0 && (lstatMode(`${abs}/${name}`) & 0o170000) === 0o040000);
      return { name, dir };
    });
  } finally {
    S.close(fd);
  }
}

/** Target of a symlink, byte-exact. */
export function readLinkName(abs: string): string {
  const raw = readlinkAtRaw(AT_FDCWD, withNul(abs), abs);
  return decodeName(raw.subarray(0, raw.length - 1));
}

/** Removes a path recursively without following symlinks (byte-exact names). */
export function rmTree(abs: string): void {
  const m = lstatMode(abs);
  if (m === -2) return;
  if (m < 0) throw sysError("lstat", abs, -m);
  if ((m & 0o170000) === 0o040000) {
    for (const e of readDirNames(abs)) rmTree(`${abs}/${e.name}`);
    if (S.unlinkat(AT_FDCWD, p0(abs), 0x200 /* AT_REMOVEDIR */) !== 0) throw sysError("rmdir", abs, errno());
  } else if (S.unlinkat(AT_FDCWD, p0(abs), 0) !== 0) {
    const e = errno();
    if (e !== 2) throw sysError("unlink", abs, e);
  }
}

let xbuf = new Uint8Array(1024);
const latin1 = new TextDecoder("latin1");

/** Extended attribute names of a path (not following symlinks); [] when unsupported. */
export function listXattrs(abs: string): string[] {
  for (;;) {
    const r = S.llistxattr(p0(abs), xbuf, BigInt(xbuf.length));
    if (r >= 0) {
      if (r === 0) return [];
      return latin1.decode(xbuf.subarray(0, r - 1)).split("\0");
    }
    const e = errno();
    if (e === 34 /* ERANGE */) {
      xbuf = new Uint8Array(xbuf.length * 4);
      continue;
    }
    if (e === 95 /* ENOTSUP */ || e === 61 /* ENODATA */) return [];
    throw sysError("llistxattr", abs, e);
  }
}

/** Value of an extended attribute (not following symlinks), or null when absent. */
export function getXattr(abs: string, name: string): Uint8Array | null {
  for (;;) {
    const r = S.lgetxattr(p0(abs), cs1(name), xbuf, BigInt(xbuf.length));
    if (r >= 0) return xbuf.slice(0, r);
    const e = errno();
    if (e === 34 /* ERANGE */) {
      xbuf = new Uint8Array(xbuf.length * 4);
      continue;
    }
    if (e === 61 /* ENODATA */ || e === 95 /* ENOTSUP */) return null;
    throw sysError("lgetxattr", `${abs} ${name}`, e);
  }
}
