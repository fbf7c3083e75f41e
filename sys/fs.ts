/**
 * File-system system calls that Deno lacks or makes slow: stat with nanoseconds,
 * lchown/fchown, utimensat, raw fd I/O, mknod, `*at` helpers and umask.
 *
 * Synchronous on purpose: they are used per tar entry, where an `await` per call costs
 * more than the call itself. Errors are `SystemError`s worded like Go's `*os.PathError`.
 *
 * @module
 */
import { check, EINTR } from "./errno.ts";
import { cs0, cs1, errno, S } from "./libc.ts";

// ---- constants (x86_64 Linux) ----
/** open(2) flags. */
export const O_RDONLY = 0,
  O_WRONLY = 1,
  O_RDWR = 2,
  O_CREAT = 0o100,
  O_EXCL = 0o200,
  O_NOCTTY = 0o400,
  O_TRUNC = 0o1000,
  O_APPEND = 0o2000,
  O_NONBLOCK = 0o4000,
  O_DIRECTORY = 0o200000,
  O_NOFOLLOW = 0o400000,
  O_NOATIME = 0o1000000,
  O_CLOEXEC = 0o2000000,
  O_PATH = 0o10000000;
/** `*at` flags and the current-directory fd. */
export const AT_FDCWD: number = -100,
  AT_SYMLINK_NOFOLLOW = 0x100,
  AT_REMOVEDIR = 0x200,
  AT_EMPTY_PATH = 0x1000;
/** File type bits of `mode`. */
export const S_IFMT = 0o170000,
  S_IFSOCK = 0o140000,
  S_IFLNK = 0o120000,
  S_IFREG = 0o100000,
  S_IFBLK = 0o060000,
  S_IFDIR = 0o040000,
  S_IFCHR = 0o020000,
  S_IFIFO = 0o010000;
/** Permission-like bits. */
export const S_ISUID = 0o4000, S_ISGID = 0o2000, S_ISVTX = 0o1000;
/** utimensat special nanosecond values. */
export const UTIME_NOW = (1 << 30) - 1, UTIME_OMIT = (1 << 30) - 2;

/**
 * Result of lstat/fstat. `ino` is a bigint (overlay and btrfs use all 64 bits);
 * `dev` and `rdev` are numbers (glibc dev_t values seen in practice stay below 2^53);
 * times are bigint nanoseconds since the epoch.
 */
export interface StatNs {
  /** Device of the filesystem holding the file. */
  dev: number;
  /** Inode number. */
  ino: bigint;
  /** Hard link count. */
  nlink: number;
  /** Type and permission bits (`S_IFMT`, `S_ISUID`, ...). */
  mode: number;
  /** Owner UID. */
  uid: number;
  /** Owner GID. */
  gid: number;
  /** Device number for character/block devices (see `major`/`minor`). */
  rdev: number;
  /** Size in bytes (link target length for symlinks). */
  size: number;
  /** Preferred I/O block size. */
  blksize: number;
  /** Allocated 512-byte blocks. */
  blocks: number;
  /** Access time, ns since the epoch. */
  atimeNs: bigint;
  /** Modification time, ns since the epoch. */
  mtimeNs: bigint;
  /** Status change time, ns since the epoch. */
  ctimeNs: bigint;
}

// struct stat (x86_64, 144 bytes): dev@0 ino@8 nlink@16 mode@24 uid@28 gid@32 rdev@40 size@48
// blksize@56 blocks@64 atim@72 mtim@88 ctim@104.
const statBuf = new Uint8Array(144);
const statView = new DataView(statBuf.buffer);
const NS = 1_000_000_000n;

function decodeStat(): StatNs {
  const v = statView;
  return {
    dev: Number(v.getBigUint64(0, true)),
    ino: v.getBigUint64(8, true),
    nlink: Number(v.getBigUint64(16, true)),
    mode: v.getUint32(24, true),
    uid: v.getUint32(28, true),
    gid: v.getUint32(32, true),
    rdev: Number(v.getBigUint64(40, true)),
    size: Number(v.getBigInt64(48, true)),
    blksize: Number(v.getBigInt64(56, true)),
    blocks: Number(v.getBigInt64(64, true)),
    atimeNs: v.getBigInt64(72, true) * NS + v.getBigInt64(80, true),
    mtimeNs: v.getBigInt64(88, true) * NS + v.getBigInt64(96, true),
    ctimeNs: v.getBigInt64(104, true) * NS + v.getBigInt64(112, true),
  };
}

/** lstat(2) with nanosecond times (does not follow a final symlink). */
export function lstatNs(path: string): StatNs {
  check(S.lstat(cs0(path), statBuf), "lstat", path);
  return decodeStat();
}
/** stat(2) with nanosecond times (follows symlinks). */
export function statNs(path: string): StatNs {
  check(S.stat(cs0(path), statBuf), "stat", path);
  return decodeStat();
}
/** fstat(2) with nanosecond times; `name` only words the error. */
export function fstatNs(fd: number, name = `fd ${fd}`): StatNs {
  check(S.fstat(fd, statBuf), "fstat", name);
  return decodeStat();
}
/** fstatat(2): `flags` may hold AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH. */
export function fstatatNs(dirfd: number, name: string, flags = AT_SYMLINK_NOFOLLOW): StatNs {
  check(S.fstatat(dirfd, cs0(name), statBuf, flags), "fstatat", name);
  return decodeStat();
}

/** True when lstat finds something at `path` (no throw on ENOENT/ENOTDIR). */
export function lexists(path: string): boolean {
  if (S.lstat(cs0(path), statBuf) === 0) return true;
  const e = errno();
  if (e === 2 || e === 20) return false;
  return check(-1, "lstat", path) === 0;
}

// ---- ownership and mode ----
/** lchown(2): changes the owner of a symlink itself. */
export function lchown(path: string, uid: number, gid: number): void {
  check(S.lchown(cs0(path), uid, gid), "lchown", path);
}
/** fchown(2). */
export function fchown(fd: number, uid: number, gid: number, name = `fd ${fd}`): void {
  check(S.fchown(fd, uid, gid), "fchown", name);
}
/** fchownat(2); default flags do not follow a final symlink. */
export function fchownat(
  dirfd: number,
  name: string,
  uid: number,
  gid: number,
  flags = AT_SYMLINK_NOFOLLOW,
): void {
  check(S.fchownat(dirfd, cs0(name), uid, gid, flags), "fchownat", name);
}
/** chmod(2) (follows symlinks; the full 12 permission bits are applied, umask is not). */
export function chmod(path: string, mode: number): void {
  check(S.chmod(cs0(path), mode), "chmod", path);
}
/** fchmod(2). */
export function fchmod(fd: number, mode: number, name = `fd ${fd}`): void {
  check(S.fchmod(fd, mode), "fchmod", name);
}
/** fchmodat(2) without flags (Linux cannot chmod a symlink). */
export function fchmodat(dirfd: number, name: string, mode: number): void {
  check(S.fchmodat(dirfd, cs0(name), mode, 0), "fchmodat", name);
}

// ---- times ----
const tsBuf = new BigInt64Array(4);
const tsBytes = new Uint8Array(tsBuf.buffer);
/**
 * Fills the timespec at `i` of `buf` (a utimensat times array: atime at 0, mtime at 2):
 * UTIME_OMIT for null, else seconds and nanoseconds since the epoch.
 */
export function putTimespec(buf: BigInt64Array, i: number, ns: bigint | null): void {
  if (ns === null) {
    buf[i] = 0n;
    buf[i + 1] = BigInt(UTIME_OMIT);
    return;
  }
  // Floor division so pre-1970 times keep 0 <= nsec < 1e9.
  let s = ns / NS, n = ns % NS;
  if (n < 0n) (s -= 1n, n += NS);
  buf[i] = s;
  buf[i + 1] = n;
}
function setTimes(atimeNs: bigint | null, mtimeNs: bigint | null): void {
  putTimespec(tsBuf, 0, atimeNs);
  putTimespec(tsBuf, 2, mtimeNs);
}

/**
 * utimensat(2) with exact nanoseconds since the epoch; `null` leaves that time unchanged.
 * With `noFollow` (the default) a symlink's own times are set.
 */
export function utimesNs(
  path: string,
  atimeNs: bigint | null,
  mtimeNs: bigint | null,
  opts: { noFollow?: boolean } = {},
): void {
  setTimes(atimeNs, mtimeNs);
  const flags = opts.noFollow === false ? 0 : AT_SYMLINK_NOFOLLOW;
  check(S.utimensat(AT_FDCWD, cs0(path), tsBytes, flags), "utimensat", path);
}
/** utimensat relative to a directory fd (default: the symlink itself). */
export function utimesNsAt(
  dirfd: number,
  name: string,
  atimeNs: bigint | null,
  mtimeNs: bigint | null,
  flags = AT_SYMLINK_NOFOLLOW,
): void {
  setTimes(atimeNs, mtimeNs);
  check(S.utimensat(dirfd, cs0(name), tsBytes, flags), "utimensat", name);
}
/** futimens(2) with exact nanoseconds. */
export function futimesNs(
  fd: number,
  atimeNs: bigint | null,
  mtimeNs: bigint | null,
  name = `fd ${fd}`,
): void {
  setTimes(atimeNs, mtimeNs);
  check(S.futimens(fd, tsBytes), "futimens", name);
}

// ---- raw fd I/O ----
/** Opens `path` with open(2) flags (add O_CLOEXEC yourself); returns the fd. */
export function openFd(path: string, flags: number, mode = 0o644): number {
  for (;;) {
    const fd = S.open(cs0(path), flags, mode);
    if (fd >= 0) return fd;
    if (errno() !== EINTR) return check(-1, "open", path);
  }
}
/** openat(2) relative to a directory fd. */
export function openAt(dirfd: number, name: string, flags: number, mode = 0o644): number {
  for (;;) {
    const fd = S.openat(dirfd, cs0(name), flags, mode);
    if (fd >= 0) return fd;
    if (errno() !== EINTR) return check(-1, "open", name);
  }
}
/** close(2). EINTR is not retried (Linux has closed the fd anyway). */
export function closeFd(fd: number, name = `fd ${fd}`): void {
  if (S.close(fd) === -1) {
    const e = errno();
    if (e !== EINTR) check(-1, "close", name);
  }
}

// Kernel caps a single read/write at ~2 GiB; stay well inside i32 results.
const MAX_IO = 1 << 30;

/** Writes all of `bytes` at the current offset (retrying short writes and EINTR). */
export function writeAll(fd: number, bytes: Uint8Array, name = `fd ${fd}`): void {
  let off = 0;
  const len = bytes.length;
  while (off < len) {
    const part = off === 0 && len <= MAX_IO ? bytes : bytes.subarray(off, off + Math.min(len - off, MAX_IO));
    const n = S.write(fd, part as Uint8Array<ArrayBuffer>, BigInt(part.length));
    if (n === -1) {
      if (errno() === EINTR) continue;
      check(-1, "write", name);
    }
    off += n;
  }
}
/** One read(2) into `buf`; returns the byte count, 0 at end of file. */
export function readInto(fd: number, buf: Uint8Array, name = `fd ${fd}`): number {
  const len = BigInt(Math.min(buf.length, MAX_IO));
  for (;;) {
    const n = S.read(fd, buf as Uint8Array<ArrayBuffer>, len);
    if (n >= 0) return n;
    if (errno() !== EINTR) return check(-1, "read", name);
  }
}
/** One pread(2) at `offset`; returns the byte count, 0 at end of file. */
export function pread(fd: number, buf: Uint8Array, offset: number | bigint, name = `fd ${fd}`): number {
  const len = BigInt(Math.min(buf.length, MAX_IO));
  const off = BigInt(offset);
  for (;;) {
    const n = S.pread(fd, buf as Uint8Array<ArrayBuffer>, len, off);
    if (n >= 0) return n;
    if (errno() !== EINTR) return check(-1, "pread", name);
  }
}
/** pwrite(2) of all of `buf` at `offset` (loops over short writes); returns `buf.length`. */
export function pwrite(fd: number, buf: Uint8Array, offset: number | bigint, name = `fd ${fd}`): number {
  let done = 0;
  let off = BigInt(offset);
  while (done < buf.length) {
    const part = buf.subarray(done, done + Math.min(buf.length - done, MAX_IO));
    const n = S.pwrite(fd, part as Uint8Array<ArrayBuffer>, BigInt(part.length), off);
    if (n === -1) {
      if (errno() === EINTR) continue;
      check(-1, "pwrite", name);
    }
    done += n;
    off += BigInt(n);
  }
  return done;
}
/** fdatasync(2). */
export function fdatasync(fd: number, name = `fd ${fd}`): void {
  check(S.fdatasync(fd), "fdatasync", name);
}
/** fsync(2). */
export function fsync(fd: number, name = `fd ${fd}`): void {
  check(S.fsync(fd), "fsync", name);
}
/** ftruncate(2). */
export function ftruncate(fd: number, length: number | bigint, name = `fd ${fd}`): void {
  check(S.ftruncate(fd, BigInt(length)), "truncate", name);
}
/** lseek(2); `whence` 0 SET, 1 CUR, 2 END. Returns the new offset. */
export function lseek(fd: number, offset: number | bigint, whence = 0, name = `fd ${fd}`): number {
  const r = Number(S.lseek(fd, BigInt(offset), whence));
  return check(r, "seek", name);
}

// ---- directory entries relative to a directory fd ----
/** mkdirat(2) (mode is subject to umask). */
export function mkdirAt(dirfd: number, name: string, mode = 0o755): void {
  check(S.mkdirat(dirfd, cs0(name), mode), "mkdir", name);
}
/** symlinkat(2): creates `name` (relative to `dirfd`) pointing at `target`. */
export function symlinkAt(target: string, dirfd: number, name: string): void {
  check(S.symlinkat(cs0(target), dirfd, cs1(name)), "symlink", `${target} ${name}`);
}
/** linkat(2) without following symlinks. */
export function linkAt(
  oldDirfd: number,
  oldName: string,
  newDirfd: number,
  newName: string,
  flags = 0,
): void {
  check(S.linkat(oldDirfd, cs0(oldName), newDirfd, cs1(newName), flags), "link", `${oldName} ${newName}`);
}
/** unlinkat(2); pass AT_REMOVEDIR to remove an empty directory. */
export function unlinkAt(dirfd: number, name: string, flags = 0): void {
  check(S.unlinkat(dirfd, cs0(name), flags), flags & AT_REMOVEDIR ? "rmdir" : "unlink", name);
}
/** renameat(2). */
export function renameAt(oldDirfd: number, oldName: string, newDirfd: number, newName: string): void {
  check(S.renameat(oldDirfd, cs0(oldName), newDirfd, cs1(newName)), "rename", `${oldName} ${newName}`);
}

// ---- device numbers and nodes ----
/** glibc makedev(): the dev_t for a major/minor pair. */
export function makedev(major: number, minor: number): number {
  const ma = BigInt(major >>> 0), mi = BigInt(minor >>> 0);
  return Number(
    ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn),
  );
}
/** glibc major(). */
export function major(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n));
}
/** glibc minor(). */
export function minor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
}
/** mknod(2); `mode` carries the type (S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG) and permissions. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  check(S.mknod(cs0(path), mode, BigInt(makedev(major, minor))), "mknod", path);
}
/** mknodat(2). */
export function mknodAt(dirfd: number, name: string, mode: number, major: number, minor: number): void {
  check(S.mknodat(dirfd, cs0(name), mode, BigInt(makedev(major, minor))), "mknod", name);
}

// ---- process credentials ----
/** Effective user ID. */
export function geteuid(): number {
  return S.geteuid();
}
/** Effective group ID. */
export function getegid(): number {
  return S.getegid();
}
/** Sets the umask when `mask` is given and returns the previous one; reads it otherwise. */
export function umask(mask?: number): number {
  if (mask !== undefined) return S.umask(mask);
  const old = S.umask(0o022);
  S.umask(old);
  return old;
}
