/**
 * Faithful directory-tree copy for full-copy drivers (vfs child layers, mapped copies).
 *
 * Everything a layer can hold is preserved: owners, the 12 permission bits, extended
 * attributes, symlinks, hard links within the tree, device nodes and FIFOs, and
 * nanosecond times (directories get theirs after their contents). Names travel as raw
 * bytes and every operation is relative to an open directory fd, so odd names survive and
 * nothing is resolved through a symlink. The loop is synchronous and spends about eight
 * system calls on a plain file; data moves by reflink or copy_file_range when possible.
 *
 * @module
 */
import { copyFileRange, ioctlFiclone } from "../sys/copy.ts";
import { type RawDirent, readDirFd, readlinkAtRaw } from "../sys/dirent_vfs.ts";
import {
  EACCES,
  EEXIST,
  EINTR,
  EINVAL,
  EISDIR,
  ELOOP,
  ENODATA,
  ENOTDIR,
  EOPNOTSUPP,
  EPERM,
  ERANGE,
  sysError,
} from "../sys/errno.ts";
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOATIME,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  umask,
} from "../sys/fs.ts";
import { errno, S } from "../sys/libc.ts";
import { splitXattrNames } from "../sys/xattr.ts";

/** Options of `copyTree`. */
export interface CopyTreeOptions {
  /**
   * Translates the owner of every copied entry except the root (ID-mapped copies,
   * on-disk.md 6.5). May throw to refuse an unmappable ID. Hard links are mapped once.
   */
  mapOwner?: (uid: number, gid: number) => [number, number];
  /** Also map the root's owner (default false: Go leaves the root as copied). */
  mapRoot?: boolean;
  /** Ignore failures to change owners (EPERM, EINVAL), as `ignore_chown_errors`. */
  ignoreChownErrors?: boolean;
  /** Copy the root directory's own owner, mode, xattrs and times (default true). */
  copyRoot?: boolean;
  /** Try reflinks (FICLONE) before copy_file_range (default true). */
  reflink?: boolean;
  /** Decides which xattrs are copied (default: all but `security.selinux`). */
  xattrFilter?: (name: string) => boolean;
}

/** What `copyTree` did. */
export interface CopyTreeStats {
  /** Regular files written (not counting hard links). */
  files: number;
  /** Directories created or merged (the root included). */
  dirs: number;
  /** Symbolic links. */
  symlinks: number;
  /** Hard links made to an entry copied earlier. */
  hardlinks: number;
  /** Character and block devices. */
  devices: number;
  /** FIFOs. */
  fifos: number;
  /** Sockets met and skipped. */
  sockets: number;
  /** Bytes of regular-file data copied. */
  bytes: number;
  /** Files whose data was reflinked. */
  reflinked: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const SLASH = 0x2f;
const FILE_MODE_MASK = 0o7777;
const SPECIAL_BITS = 0o7000;
const CFR_CHUNK = 1 << 30;
const RW_CHUNK = 1 << 20;
const NAME_SELINUX = "security.selinux";
/** Paths at least this long go through fds instead (PATH_MAX is 4096 with the NUL). */
const SHORT_PATH = 4000;
const DOT = new Uint8Array([0x2e, 0]);
const HAVE_PROC_FD = (() => {
  try {
    return Deno.statSync("/proc/self/fd").isDirectory;
  } catch {
    return false;
  }
})();

/** xattrs whose failure to copy is an error; others are best effort. */
function essentialXattr(name: string): boolean {
  return name === "security.capability" || name.startsWith("user.") || name === "trusted.overlay.opaque";
}
function tolerableXattrErrno(name: string, e: number): boolean {
  if (e === EOPNOTSUPP) return true; // target filesystem lacks xattr support
  return (e === EPERM || e === EACCES || e === EINVAL) && !essentialXattr(name);
}
function defaultXattrFilter(name: string): boolean {
  return name !== NAME_SELINUX;
}

/** Joins directory bytes and a NUL-terminated name into NUL-terminated path bytes. */
function joinNul(dir: Uint8Array, name: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(dir.length + name.length + 1);
  out.set(dir);
  out[dir.length] = SLASH;
  out.set(name, dir.length + 1);
  return out;
}
/** The path without its trailing NUL, for descending one level. */
function stripNul(p: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return p.subarray(0, p.length - 1);
}
function labelOf(dir: Uint8Array, name?: Uint8Array): string {
  if (!name) return dec.decode(dir);
  return dec.decode(dir) + "/" + dec.decode(name.subarray(0, name.length - 1));
}

/**
 * Copies the tree at `src` into `dst` (created 0700 when missing; an existing directory
 * is merged into) and returns statistics. Synchronous: the per-file work is a handful of
 * system calls and an `await` per file would cost more than the calls.
 */
export function copyTree(src: string, dst: string, options: CopyTreeOptions = {}): CopyTreeStats {
  return new TreeCopier(options).run(src, dst);
}

class TreeCopier {
  readonly stats: CopyTreeStats = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    devices: 0,
    fifos: 0,
    sockets: 0,
    bytes: 0,
    reflinked: 0,
  };
  private readonly stat = new Uint8Array(144);
  private readonly view = new DataView(this.stat.buffer);
  /** atime and mtime timespecs, adjacent in struct stat: usable as utimensat's times[2]. */
  private readonly times = this.stat.subarray(72, 104);
  private readonly euid = S.geteuid();
  private readonly egid = S.getegid();
  private readonly umask = umask();
  private readonly isRoot = this.euid === 0;
  private forceChown = false;
  /** O_NOATIME while the kernel allows it: copying a parent layer should not touch it. */
  private noatime = this.isRoot ? O_NOATIME : 0;
  private reflink: boolean;
  private cfr = true;
  private rwBuf: Uint8Array<ArrayBuffer> | null = null;
  private readonly links = new Map<string, Uint8Array<ArrayBuffer>>();
  private dstRootFd = -1;
  private dstRoot: Uint8Array = new Uint8Array(0);
  private dstRootLen = 0;
  private readonly mapOwner?: (uid: number, gid: number) => [number, number];
  private readonly ignoreChown: boolean;
  private readonly filter: (name: string) => boolean;

  constructor(private readonly options: CopyTreeOptions) {
    this.reflink = options.reflink ?? true;
    this.mapOwner = options.mapOwner;
    this.ignoreChown = options.ignoreChownErrors ?? false;
    this.filter = options.xattrFilter ?? defaultXattrFilter;
  }

  run(src: string, dst: string): CopyTreeStats {
    const srcPath = enc.encode(src.length > 1 ? src.replace(/\/+$/, "") : src);
    const dstPath = enc.encode(dst.length > 1 ? dst.replace(/\/+$/, "") : dst);
    const srcNul = nul(srcPath);
    const dstNul = nul(dstPath);
    const sfd = this.openDir(AT_FDCWD, srcNul, src, false);
    let dfd = -1;
    try {
      if (S.mkdirat(AT_FDCWD, dstNul, 0o700) === -1) {
        const e = errno();
        if (e !== EEXIST) throw sysError("mkdir", dst, e);
      }
      dfd = this.openDir(AT_FDCWD, dstNul, dst, false);
      this.dstRootFd = dfd;
      this.dstRoot = dstPath;
      this.dstRootLen = dstPath.length;
      if (S.fstat(sfd, this.stat) === -1) throw sysError("stat", src, errno());
      const mode = this.view.getUint32(24, true);
      const saved = this.times.slice();
      const copyRoot = this.options.copyRoot ?? true;
      if (S.fstat(dfd, this.stat) === -1) throw sysError("stat", dst, errno());
      // New entries inherit the group of a setgid directory: owners must then always be set.
      if (this.view.getUint32(24, true) & 0o2000) this.forceChown = true;
      if (copyRoot) {
        if (S.fstat(sfd, this.stat) === -1) throw sysError("stat", src, errno());
        let uid = this.view.getUint32(28, true), gid = this.view.getUint32(32, true);
        if (this.mapOwner && this.options.mapRoot) [uid, gid] = this.mapOwner(uid, gid);
        this.chownFd(dfd, uid, gid, true, dstPath);
        this.copyXattrsFd(sfd, dfd, srcPath, dstPath);
      }
      this.stats.dirs++;
      this.copyDir(sfd, dfd, srcPath, dstPath);
      if (copyRoot) {
        if (S.fchmod(dfd, mode & FILE_MODE_MASK) === -1) throw sysError("chmod", dst, errno());
        if (S.futimens(dfd, saved) === -1) throw sysError("utimensat", dst, errno());
      }
    } finally {
      S.close(sfd);
      if (dfd >= 0) S.close(dfd);
    }
    return this.stats;
  }

  private openDir(dirfd: number, name: Uint8Array<ArrayBuffer>, label: string, noFollow = true): number {
    const flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0);
    return this.openRead(dirfd, name, flags, label);
  }

  private labelFor(where: string | Uint8Array, name?: Uint8Array): string {
    return typeof where === "string" ? where : labelOf(where, name);
  }

  /** Opens for reading without updating the source's atime when allowed (owner or root). */
  private openRead(
    dirfd: number,
    name: Uint8Array<ArrayBuffer>,
    flags: number,
    where: string | Uint8Array,
    whereName?: Uint8Array,
  ): number {
    for (;;) {
      const fd = S.openat(dirfd, name, flags | this.noatime, 0);
      if (fd >= 0) return fd;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EPERM && this.noatime !== 0) {
        const fd2 = S.openat(dirfd, name, flags, 0);
        if (fd2 >= 0) return fd2;
        throw sysError("open", this.labelFor(where, whereName), errno());
      }
      throw sysError("open", this.labelFor(where, whereName), e);
    }
  }

  private copyDir(sfd: number, dfd: number, srcDir: Uint8Array, dstDir: Uint8Array): void {
    const entries = readDirFd(sfd, dec.decode(srcDir));
    for (const ent of entries) this.copyEntry(sfd, dfd, srcDir, dstDir, ent);
  }

  private copyEntry(sfd: number, dfd: number, srcDir: Uint8Array, dstDir: Uint8Array, ent: RawDirent): void {
    const name = ent.name;
    const v = this.view;
    if (S.fstatat(sfd, name, this.stat, AT_SYMLINK_NOFOLLOW) === -1) {
      throw sysError("lstat", labelOf(srcDir, name), errno());
    }
    const mode = v.getUint32(24, true);
    const type = mode & S_IFMT;
    if (type === S_IFDIR) return this.copySubdir(sfd, dfd, srcDir, dstDir, name, mode);
    if (type === S_IFSOCK) {
      this.stats.sockets++;
      return;
    }
    let uid = v.getUint32(28, true), gid = v.getUint32(32, true);
    // Hard links: the second and later names of an inode link to the first copy.
    let linkKey: string | null = null;
    if (v.getUint32(16, true) > 1) {
      linkKey = `${v.getBigUint64(0, true)}:${v.getBigUint64(8, true)}`;
      const first = this.links.get(linkKey);
      if (first !== undefined) return this.hardlink(first, dfd, dstDir, name);
    }
    if (this.mapOwner) [uid, gid] = this.mapOwner(uid, gid);
    switch (type) {
      case S_IFREG:
        this.copyFile(sfd, dfd, srcDir, dstDir, name, mode, uid, gid);
        break;
      case S_IFLNK:
        this.copySymlink(sfd, dfd, srcDir, dstDir, name, uid, gid);
        break;
      case S_IFCHR:
      case S_IFBLK:
      case S_IFIFO:
        this.copyNode(sfd, dfd, srcDir, dstDir, name, mode, uid, gid);
        break;
      default:
        throw sysError("copy", labelOf(srcDir, name), EINVAL);
    }
    if (linkKey !== null) {
      // Remember the name relative to the destination root (no leading slash at the top level).
      const rel = dstDir.length > this.dstRootLen
        ? joinNul(dstDir.subarray(this.dstRootLen + 1), name)
        : name;
      this.links.set(linkKey, rel);
    }
  }

  /** Links `name` to `first` (a NUL-terminated path relative to the destination root). */
  private hardlink(
    first: Uint8Array<ArrayBuffer>,
    dfd: number,
    dstDir: Uint8Array,
    name: Uint8Array<ArrayBuffer>,
  ) {
    // linkat refuses paths beyond PATH_MAX: reach the first name's directory step by step then.
    let oldDir = this.dstRootFd, oldName = first;
    const deep = first.length >= SHORT_PATH;
    if (deep) [oldDir, oldName] = this.openParentRel(first);
    try {
      for (let attempt = 0;; attempt++) {
        if (S.linkat(oldDir, oldName, dfd, name, 0) === 0) break;
        const e = errno();
        if (e === EEXIST && attempt === 0) {
          this.unlinkExisting(dfd, dstDir, name);
          continue;
        }
        const firstLabel = labelOf(this.dstRoot, first);
        throw sysError("link", `${firstLabel} ${labelOf(dstDir, name)}`, e);
      }
    } finally {
      if (deep) S.close(oldDir);
    }
    this.stats.hardlinks++;
  }

  /** Opens the directory of a deep relative path (O_PATH, component by component) and returns it with the last name. */
  private openParentRel(rel: Uint8Array<ArrayBuffer>): [number, Uint8Array<ArrayBuffer>] {
    let fd = this.dstRootFd;
    let start = 0;
    try {
      for (let i = 0; i < rel.length - 1; i++) {
        if (rel[i] !== SLASH) continue;
        const part = nul(rel.subarray(start, i));
        const next = S.openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (next < 0) throw sysError("open", labelOf(this.dstRoot, rel), errno());
        if (fd !== this.dstRootFd) S.close(fd);
        fd = next;
        start = i + 1;
      }
    } catch (err) {
      if (fd !== this.dstRootFd) S.close(fd);
      throw err;
    }
    if (fd === this.dstRootFd) fd = S.openat(fd, DOT, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    return [fd, rel.slice(start)];
  }

  /** Removes a non-directory that is in the way (merging into an existing tree). */
  private unlinkExisting(dfd: number, dstDir: Uint8Array, name: Uint8Array<ArrayBuffer>): void {
    if (S.unlinkat(dfd, name, 0) === 0) return;
    const e = errno();
    if (e === EISDIR) {
      // A directory where a non-directory goes: only an empty one can be replaced.
      if (S.unlinkat(dfd, name, AT_REMOVEDIR) === 0) return;
      throw sysError("remove", labelOf(dstDir, name), errno());
    }
    throw sysError("remove", labelOf(dstDir, name), e);
  }

  private copySubdir(
    sfd: number,
    dfd: number,
    srcDir: Uint8Array,
    dstDir: Uint8Array,
    name: Uint8Array<ArrayBuffer>,
    mode: number,
  ): void {
    const v = this.view;
    let uid = v.getUint32(28, true), gid = v.getUint32(32, true);
    if (this.mapOwner) [uid, gid] = this.mapOwner(uid, gid);
    const saved = this.times.slice();
    const perm = mode & FILE_MODE_MASK;
    // Without root's DAC override the owner needs rwx while the contents are written.
    const createMode = (perm & 0o777) | (this.isRoot ? 0 : 0o700);
    const needChmod = (perm & SPECIAL_BITS) !== 0 || (perm & this.umask) !== 0 ||
      createMode !== (perm & 0o777);
    let merged = false;
    if (S.mkdirat(dfd, name, createMode) === -1) {
      const e = errno();
      if (e !== EEXIST) throw sysError("mkdir", labelOf(dstDir, name), e);
      merged = true;
    }
    const srcPath = stripNul(joinNul(srcDir, name));
    const dstPath = stripNul(joinNul(dstDir, name));
    const csfd = this.openDir(sfd, name, dec.decode(srcPath));
    let cdfd = -1;
    try {
      try {
        cdfd = this.openDir(dfd, name, dec.decode(dstPath));
      } catch (err) {
        // An existing non-directory (or symlink) is in the way: replace it.
        const e = (err as { errno?: number }).errno;
        if (!merged || (e !== ENOTDIR && e !== ELOOP)) throw err;
        this.unlinkExisting(dfd, dstDir, name);
        if (S.mkdirat(dfd, name, createMode) === -1) throw sysError("mkdir", dec.decode(dstPath), errno());
        merged = false;
        cdfd = this.openDir(dfd, name, dec.decode(dstPath));
      }
      this.chownFd(cdfd, uid, gid, merged, dstPath);
      this.copyXattrsFd(csfd, cdfd, srcPath, dstPath);
      this.stats.dirs++;
      this.copyDir(csfd, cdfd, srcPath, dstPath);
      if (needChmod || merged) {
        if (S.fchmod(cdfd, perm) === -1) throw sysError("chmod", dec.decode(dstPath), errno());
      }
      if (S.futimens(cdfd, saved) === -1) throw sysError("utimensat", dec.decode(dstPath), errno());
    } finally {
      S.close(csfd);
      if (cdfd >= 0) S.close(cdfd);
    }
  }

  private copyFile(
    sfd: number,
    dfd: number,
    srcDir: Uint8Array,
    dstDir: Uint8Array,
    name: Uint8Array<ArrayBuffer>,
    mode: number,
    uid: number,
    gid: number,
  ): void {
    const v = this.view;
    const size = v.getUint32(48, true) + v.getUint32(52, true) * 0x1_0000_0000;
    const perm = mode & FILE_MODE_MASK;
    const ifd = this.openRead(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, srcDir, name);
    let ofd = -1;
    try {
      const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
      ofd = S.openat(dfd, name, flags, perm & 0o777);
      if (ofd === -1) {
        const e = errno();
        if (e !== EEXIST) throw sysError("open", labelOf(dstDir, name), e);
        this.unlinkExisting(dfd, dstDir, name);
        ofd = S.openat(dfd, name, flags, perm & 0o777);
        if (ofd === -1) throw sysError("open", labelOf(dstDir, name), errno());
      }
      if (size > 0) this.copyData(ifd, ofd, srcDir, name);
      this.chownFd(ofd, uid, gid, false, dstDir, name);
      this.copyXattrsFd(ifd, ofd, srcDir, dstDir, name);
      // The create mode was cut by the umask; chown dropped any setuid/setgid bits.
      if ((perm & SPECIAL_BITS) !== 0 || (perm & this.umask) !== 0) {
        if (S.fchmod(ofd, perm) === -1) throw sysError("chmod", labelOf(dstDir, name), errno());
      }
      if (S.futimens(ofd, this.times) === -1) throw sysError("utimensat", labelOf(dstDir, name), errno());
    } finally {
      S.close(ifd);
      if (ofd >= 0) S.close(ofd);
    }
    this.stats.files++;
    this.stats.bytes += size;
  }

  private copyData(ifd: number, ofd: number, srcDir: Uint8Array, name: Uint8Array<ArrayBuffer>): void {
    if (this.reflink) {
      if (ioctlFiclone(ofd, ifd)) {
        this.stats.reflinked++;
        return;
      }
      // One refusal means this pair of filesystems cannot clone: stop asking.
      this.reflink = false;
    }
    let copied = 0;
    if (this.cfr) {
      for (;;) {
        const n = copyFileRange(ifd, ofd, CFR_CHUNK);
        if (n > 0) {
          copied += n;
          continue;
        }
        if (n === 0) return;
        if (copied === 0) this.cfr = false;
        break;
      }
    }
    // read/write from the current offsets (copy_file_range advanced both).
    const buf = this.rwBuf ??= new Uint8Array(RW_CHUNK);
    const len = BigInt(buf.length);
    for (;;) {
      const n = S.read(ifd, buf, len);
      if (n === 0) return;
      if (n < 0) {
        const e = errno();
        if (e === EINTR) continue;
        throw sysError("read", labelOf(srcDir, name), e);
      }
      let off = 0;
      while (off < n) {
        const w = S.write(ofd, buf.subarray(off, n), BigInt(n - off));
        if (w < 0) {
          const e = errno();
          if (e === EINTR) continue;
          throw sysError("write", labelOf(srcDir, name), e);
        }
        off += w;
      }
    }
  }

  private copySymlink(
    sfd: number,
    dfd: number,
    srcDir: Uint8Array,
    dstDir: Uint8Array,
    name: Uint8Array<ArrayBuffer>,
    uid: number,
    gid: number,
  ): void {
    const times = this.times.slice();
    const target = readlinkAtRaw(sfd, name, labelOf(srcDir, name));
    if (S.symlinkat(target, dfd, name) === -1) {
      const e = errno();
      if (e !== EEXIST) throw sysError("symlink", labelOf(dstDir, name), e);
      this.unlinkExisting(dfd, dstDir, name);
      if (S.symlinkat(target, dfd, name) === -1) throw sysError("symlink", labelOf(dstDir, name), errno());
    }
    this.chownAt(dfd, name, uid, gid, dstDir);
    this.copyXattrsPath(this.entryPath(sfd, srcDir, name), this.entryPath(dfd, dstDir, name));
    if (S.utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW) === -1) {
      throw sysError("utimensat", labelOf(dstDir, name), errno());
    }
    this.stats.symlinks++;
  }

  private copyNode(
    sfd: number,
    dfd: number,
    srcDir: Uint8Array,
    dstDir: Uint8Array,
    name: Uint8Array<ArrayBuffer>,
    mode: number,
    uid: number,
    gid: number,
  ): void {
    const v = this.view;
    const rdev = v.getBigUint64(40, true);
    const times = this.times.slice();
    const type = mode & S_IFMT;
    const perm = mode & FILE_MODE_MASK;
    if (S.mknodat(dfd, name, type | (perm & 0o777), rdev) === -1) {
      const e = errno();
      if (e !== EEXIST) throw sysError("mknod", labelOf(dstDir, name), e);
      this.unlinkExisting(dfd, dstDir, name);
      if (S.mknodat(dfd, name, type | (perm & 0o777), rdev) === -1) {
        throw sysError("mknod", labelOf(dstDir, name), errno());
      }
    }
    this.chownAt(dfd, name, uid, gid, dstDir);
    this.copyXattrsPath(this.entryPath(sfd, srcDir, name), this.entryPath(dfd, dstDir, name));
    if ((perm & SPECIAL_BITS) !== 0 || (perm & this.umask) !== 0) {
      if (S.fchmodat(dfd, name, perm, 0) === -1) throw sysError("chmod", labelOf(dstDir, name), errno());
    }
    if (S.utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW) === -1) {
      throw sysError("utimensat", labelOf(dstDir, name), errno());
    }
    if (type === S_IFIFO) this.stats.fifos++;
    else this.stats.devices++;
  }

  // ---- owners ----

  private chownFailed(e: number, label: string): void {
    if (this.ignoreChown && (e === EPERM || e === EINVAL)) return;
    throw sysError("lchown", label, e);
  }

  /** fchown unless the new entry already has these owners (created by us, no setgid parent). */
  private chownFd(
    fd: number,
    uid: number,
    gid: number,
    always: boolean,
    dir: Uint8Array,
    name?: Uint8Array,
  ): void {
    if (!always && !this.forceChown && uid === this.euid && gid === this.egid) return;
    if (S.fchown(fd, uid, gid) === 0) return;
    this.chownFailed(errno(), labelOf(dir, name));
  }

  private chownAt(
    dfd: number,
    name: Uint8Array<ArrayBuffer>,
    uid: number,
    gid: number,
    dstDir: Uint8Array,
  ): void {
    if (!this.forceChown && uid === this.euid && gid === this.egid) return;
    if (S.fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) === 0) return;
    this.chownFailed(errno(), labelOf(dstDir, name));
  }

  // ---- extended attributes ----

  private copyXattrsFd(
    ifd: number,
    ofd: number,
    srcDir: Uint8Array,
    dstDir: Uint8Array,
    name?: Uint8Array,
  ): void {
    const n = S.flistxattr(ifd, xbuf.names, XNAMES_LEN);
    if (n === 0) return;
    const lbl = (dir: Uint8Array) => labelOf(dir, name);
    const names = n > 0 ? splitXattrNames(xbuf.names, n) : listFdSlow(ifd, lbl(srcDir));
    for (const key of names) {
      if (!this.filter(key)) continue;
      const keyNul = nul(enc.encode(key));
      const value = getFd(ifd, keyNul, key, lbl(srcDir));
      if (value === null) continue;
      if (S.fsetxattr(ofd, keyNul, value, BigInt(value.length), 0) === -1) {
        const e = errno();
        if (!tolerableXattrErrno(key, e)) throw sysError("lsetxattr", `${lbl(dstDir)} ${key}`, e);
      }
    }
  }

  /**
   * A path naming `name` in the directory open as `dirfd`, for the path-only l*xattr calls:
   * the full path while it is short, else `/proc/self/fd/N/name`, which stays short at any
   * depth (the kernel resolves the fd's directory, and the last component is not followed).
   */
  private entryPath(dirfd: number, dir: Uint8Array, name: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
    if (dir.length + name.length < SHORT_PATH || !HAVE_PROC_FD) return joinNul(dir, name);
    return joinNul(enc.encode(`/proc/self/fd/${dirfd}`), name);
  }

  private copyXattrsPath(src: Uint8Array<ArrayBuffer>, dst: Uint8Array<ArrayBuffer>): void {
    const n = S.llistxattr(src, xbuf.names, XNAMES_LEN);
    if (n === 0) return;
    let names: string[];
    if (n > 0) names = splitXattrNames(xbuf.names, n);
    else {
      const e = errno();
      if (e === EOPNOTSUPP) return;
      const size = S.llistxattr(src, null, 0n);
      if (size < 0) throw sysError("llistxattr", dec.decode(stripNul(src)), errno());
      const big = new Uint8Array(size);
      const got = S.llistxattr(src, big, BigInt(size));
      if (got < 0) throw sysError("llistxattr", dec.decode(stripNul(src)), errno());
      names = splitXattrNames(big, got);
    }
    for (const key of names) {
      if (!this.filter(key)) continue;
      const keyNul = nul(enc.encode(key));
      const value = getPath(src, keyNul, key);
      if (value === null) continue;
      if (S.lsetxattr(dst, keyNul, value, BigInt(value.length), 0) === -1) {
        const e = errno();
        if (!tolerableXattrErrno(key, e)) {
          throw sysError("lsetxattr", `${dec.decode(stripNul(dst))} ${key}`, e);
        }
      }
    }
  }
}

// ---- raw xattr helpers (byte paths) ----

const XNAMES_LEN = 4096n;
const xbuf = { names: new Uint8Array(4096), value: new Uint8Array(4096) };

function nul(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

function listFdSlow(fd: number, label: string): string[] {
  const e = errno();
  if (e === EOPNOTSUPP) return [];
  if (e !== ERANGE) throw sysError("flistxattr", label, e);
  const size = S.flistxattr(fd, null, 0n);
  if (size < 0) throw sysError("flistxattr", label, errno());
  const big = new Uint8Array(size);
  const got = S.flistxattr(fd, big, BigInt(size));
  if (got < 0) throw sysError("flistxattr", label, errno());
  return splitXattrNames(big, got);
}

function getFd(
  fd: number,
  keyNul: Uint8Array<ArrayBuffer>,
  key: string,
  label: string,
): Uint8Array<ArrayBuffer> | null {
  for (;;) {
    const r = S.fgetxattr(fd, keyNul, xbuf.value, BigInt(xbuf.value.length));
    if (r >= 0) return xbuf.value.slice(0, r);
    const e = errno();
    if (e === ENODATA) return null;
    if (e !== ERANGE) throw sysError("fgetxattr", `${label} ${key}`, e);
    const size = S.fgetxattr(fd, keyNul, null, 0n);
    if (size < 0) throw sysError("fgetxattr", `${label} ${key}`, errno());
    xbuf.value = new Uint8Array(Math.max(size, xbuf.value.length * 2));
  }
}

function getPath(
  path: Uint8Array<ArrayBuffer>,
  keyNul: Uint8Array<ArrayBuffer>,
  key: string,
): Uint8Array<ArrayBuffer> | null {
  for (;;) {
    const r = S.lgetxattr(path, keyNul, xbuf.value, BigInt(xbuf.value.length));
    if (r >= 0) return xbuf.value.slice(0, r);
    const e = errno();
    if (e === ENODATA) return null;
    if (e !== ERANGE) throw sysError("lgetxattr", `${dec.decode(stripNul(path))} ${key}`, e);
    const size = S.lgetxattr(path, keyNul, null, 0n);
    if (size < 0) throw sysError("lgetxattr", `${dec.decode(stripNul(path))} ${key}`, errno());
    xbuf.value = new Uint8Array(Math.max(size, xbuf.value.length * 2));
  }
}
