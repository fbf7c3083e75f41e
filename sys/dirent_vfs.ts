/**
 * Directory listing and symlink reading with raw byte names (getdents64, readlinkat).
 *
 * Deno's `readDirSync` decodes names lossily (a `0xff` byte becomes U+FFFD), so a tree
 * walked with it cannot be copied faithfully. These helpers keep names as the kernel's
 * bytes and hand them back NUL-terminated, ready for `*at` calls.
 *
 * @module
 */
import { check, EINTR, ENAMETOOLONG, sysError } from "./errno.ts";
import { errno, lazySymbols } from "./libc.ts";

const S = lazySymbols({
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "i64" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "i64" },
});

/** `d_type` values of getdents64 (DT_UNKNOWN when the filesystem does not say). */
export const DT_UNKNOWN = 0,
  DT_FIFO = 1,
  DT_CHR = 2,
  DT_DIR = 4,
  DT_BLK = 6,
  DT_REG = 8,
  DT_LNK = 10,
  DT_SOCK = 12;

/** One directory entry: its name as bytes followed by a NUL, and its `d_type`. */
export interface RawDirent {
  /** Name bytes plus a terminating NUL (pass directly to `*at` calls). */
  name: Uint8Array<ArrayBuffer>;
  /** `DT_*` type hint. */
  type: number;
}

const DENTS_SIZE = 64 * 1024;
let dentsBuf = new Uint8Array(DENTS_SIZE);
const DENTS_LEN = BigInt(DENTS_SIZE);

/**
 * Lists the entries of the directory open as `fd` (not `.` and `..`), in kernel order.
 * `label` only words errors. The fd's offset ends at the end of the directory.
 */
export function readDirFd(fd: number, label: string): RawDirent[] {
  const out: RawDirent[] = [];
  if (dentsBuf.length !== DENTS_SIZE) dentsBuf = new Uint8Array(DENTS_SIZE);
  const buf = dentsBuf;
  const view = new DataView(buf.buffer);
  for (;;) {
    const n = Number(S.getdents64(fd, buf, DENTS_LEN));
    if (n === 0) return out;
    if (n < 0) {
      if (errno() === EINTR) continue;
      check(-1, "readdirent", label);
    }
    // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[]
    let off = 0;
    while (off < n) {
      const reclen = view.getUint16(off + 16, true);
      const type = buf[off + 18];
      const start = off + 19;
      let end = start;
      while (buf[end] !== 0) end++;
      const len = end - start;
      const dot = len <= 2 && buf[start] === 0x2e && (len === 1 || buf[start + 1] === 0x2e);
      if (!dot) out.push({ name: buf.slice(start, end + 1), type });
      off += reclen;
    }
  }
}

let linkBuf = new Uint8Array(4096);

/**
 * readlinkat(2): the target of symlink `name` (NUL-terminated bytes) relative to `dirfd`,
 * returned as bytes followed by a NUL. `label` only words errors.
 */
export function readlinkAtRaw(
  dirfd: number,
  name: Uint8Array<ArrayBuffer>,
  label: string,
): Uint8Array<ArrayBuffer> {
  for (;;) {
    const n = Number(S.readlinkat(dirfd, name, linkBuf, BigInt(linkBuf.length)));
    if (n < 0) {
      if (errno() === EINTR) continue;
      check(-1, "readlink", label);
    }
    if (n < linkBuf.length) {
      const out = new Uint8Array(n + 1);
      out.set(linkBuf.subarray(0, n));
      return out;
    }
    // Possibly truncated: grow and read again.
    if (linkBuf.length >= 1 << 20) throw sysError("readlink", label, ENAMETOOLONG);
    linkBuf = new Uint8Array(linkBuf.length * 4);
  }
}
