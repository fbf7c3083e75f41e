/**
 * Safe, fast extraction of a tar stream into a directory (on-disk.md 5.4–5.6).
 *
 * Safety: every entry name is cleaned into the root; parent paths are resolved
 * component by component and symlinks met on the way are followed *within* the root
 * (securejoin semantics, like Go's chrooted extraction); final components are never
 * followed (O_EXCL|O_NOFOLLOW creation, lchown, utimensat NOFOLLOW); hard-link targets
 * that climb out of the root are refused.
 *
 * Speed: the tar parser is a synchronous push parser and every file-system call in the
 * per-entry path is a synchronous FFI call; regular files get their owner, mode, xattrs
 * and times through their open fd; directories known to be real are cached so parents
 * are not looked up again.
 *
 * @module
 */
import { ArchiveError, SystemError, UnsafeArchiveError } from "../store/errors.ts";
import type { IDMap } from "../store/types.ts";
import { tryToHost } from "../store/idmap.ts";
import { check, sysError } from "../sys/errno.ts";
import { cs1, errno, S } from "../sys/libc.ts";
import { p0, p1, readDirNames, readLinkName, rmTree } from "./rawpath.ts";
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  getegid,
  geteuid,
  lstatNs,
  makedev,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_WRONLY,
  putTimespec,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_ISGID,
  umask,
  UTIME_NOW,
  UTIME_OMIT,
} from "../sys/fs.ts";
import { TarParser } from "./tar_reader.ts";
import { type TarHeader, type TarObserver, TypeFlag, type WhiteoutFormat } from "./types.ts";
import { baseOf, cleanRel, cleanRelStrict, dirOf, joinRel } from "./paths.ts";

/** Options of extractTar. */
export interface ExtractOptions {
  /** How whiteouts are applied: "delete" (vfs, default), "overlay", or "aufs" (kept as files). */
  whiteoutFormat?: WhiteoutFormat;
  /** Ignore an entry naming the root itself (`./`), as overlay does. */
  skipRootEntry?: boolean;
  /** Container → host UID map for header owners (unmappable IDs fail the extraction). */
  uidMap?: IDMap[];
  /** Container → host GID map. */
  gidMap?: IDMap[];
  /** Force this owner on every entry instead of the header's (copy --chown). */
  chownTo?: { uid: number; gid: number };
  /** Do not change owners at all. */
  noChown?: boolean;
  /** Carry on when lchown fails. */
  ignoreChownErrors?: boolean;
  /** Running without privileges (or in a user namespace): skip device nodes, tolerate EPERM on xattrs, use `user.overlay.opaque`. */
  rootless?: boolean;
  /** Refuse to replace a directory by a non-directory and vice versa (`copy`). */
  noOverwriteDirNonDir?: boolean;
  /** Observers that see the stream in the same pass (tar-split recorder, ID collector...). */
  observers?: TarObserver[];
  /**
   * Mount-program stores' `force_mask` (Go 1.43): every entry gets this mode, owners are
   * not changed, and regular files and directories (and the root) record their real
   * `uid:gid:0mode` in the `user.containers.override_stat` xattr.
   */
  forceMask?: number;
}

/** What extractTar reports. */
export interface ExtractResult {
  /** Number of tar members (meta records excluded). */
  entries: number;
  /** Bytes of tar stream consumed (the whole stream, trailer and padding included). */
  bytes: number;
}

const WH_PREFIX = ".wh.";
const WH_META_PREFIX = ".wh..wh.";
const WH_OPAQUE = ".wh..wh..opq";
const ENOENT = 2, EEXIST = 17, ENOTSUP = 95, EPERM = 1, EINVAL = 22;
const MAX_SYMLINKS = 255;

const statBuf = new Uint8Array(144);
const statView = new DataView(statBuf.buffer);
/** lstat into the shared buffer; returns the st_mode, or -errno. */
function lstatMode(abs: string): number {
  if (S.lstat(p0(abs), statBuf) === 0) return statView.getUint32(24, true);
  return -errno();
}

const tsBuf = new BigInt64Array(4);
const tsBytes = new Uint8Array(tsBuf.buffer);
// Most entries of a layer share their times: skip the bigint arithmetic when unchanged.
let lastA = -1n, lastM = -1n;
function setTs(atime: bigint, mtime: bigint): void {
  if (atime === lastA && mtime === lastM) return;
  lastA = atime;
  lastM = mtime;
  putTimespec(tsBuf, 0, atime);
  putTimespec(tsBuf, 2, mtime);
}

/** Host ID for a container ID through `maps` (identity when empty); ArchiveError when unmappable. */
function mapId(maps: IDMap[] | undefined, id: number, kind: string): number {
  const h = tryToHost(maps, id);
  if (h < 0) throw new ArchiveError(`container ID ${id} cannot be mapped to a host ID`, kind);
  return h;
}

/**
 * Extracts an uncompressed tar stream into `root` (an existing directory) and reads the
 * stream to its end. Observers in `options.observers` see every byte in order.
 */
export async function extractTar(
  tar: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  root: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const x = new Extractor(root, options);
  const parser = new TarParser([...(options.observers ?? []), x]);
  const reader = tar instanceof ReadableStream ? tar.getReader() : null;
  const it = reader ? null : (tar as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  try {
    // Ask for the next chunk before parsing the current one, so that the producer (a
    // file read on Deno's thread pool, a decompressor) works while we write files.
    // Stream chunks are never reused by their producer; iterables may reuse theirs, so
    // they are not read ahead.
    const waits = (options.observers ?? []).filter((o) => o.ready);
    if (reader) {
      let next = reader.read();
      try {
        for (;;) {
          const r = await next;
          if (r.done) break;
          next = reader.read();
          parser.push(r.value);
          for (const o of waits) {
            const p = o.ready!();
            if (p) await p;
          }
        }
      } catch (e) {
        next.catch(() => {});
        throw e;
      }
    } else {
      for (;;) {
        const r = await it!.next();
        if (r.done) break;
        parser.push(r.value);
        for (const o of waits) {
          const p = o.ready!();
          if (p) await p;
        }
      }
    }
    parser.finish();
    x.finish();
  } catch (e) {
    x.abort();
    if (reader) await reader.cancel(e).catch(() => {});
    else await it!.return?.().catch(() => {});
    throw e;
  } finally {
    reader?.releaseLock();
  }
  return { entries: parser.entries, bytes: parser.bytes };
}

interface DirTime {
  abs: string;
  atime: bigint;
  mtime: bigint;
}

const O_DIR_FLAGS = 0o10000000 /* O_PATH */ | 0o200000 /* O_DIRECTORY */ | O_NOFOLLOW | O_CLOEXEC;
const EMPTY = new Uint8Array(0);
const Y = new Uint8Array([0x79]);
const OVERRIDE_XATTR = "user.containers.override_stat";
const enc = new TextEncoder();

/**
 * The extraction state machine; a TarObserver driven by TarParser. Entries are created
 * relative to an O_PATH descriptor of their (resolved) parent directory, so the kernel
 * walks only the last component and nothing above it can be swapped under us.
 */
class Extractor implements TarObserver {
  private readonly root: string;
  private readonly fmt: WhiteoutFormat;
  private readonly o: ExtractOptions;
  private readonly umask: number;
  private readonly parentMode: number;
  private readonly parentOwner: { uid: number; gid: number } | null;
  private readonly opaqueXattr: string;
  private readonly noChown: boolean;
  private readonly forceMask: number | undefined;
  /** Unresolved parent path → resolved path of a real directory. */
  private resolved = new Map<string, string>();
  /** Resolved paths known to be real directories. */
  private realDirs = new Set<string>();
  /**
   * Resolved directories known not to be set-group-ID: a file created there is owned by
   * this process's euid:egid, so fchown to those IDs can be skipped (~10% of a small
   * file's extraction). Unknown directories are left out (their files are chowned).
   */
  private plainDirs = new Set<string>();
  private readonly euid: number;
  private readonly egid: number;
  /** Resolved paths extracted from this archive (for opaque whiteouts in "delete" mode). */
  private readonly unpacked: Set<string> | null;
  private readonly dirTimes: DirTime[] = [];
  /** O_PATH fd of the current parent directory, and its resolved path. */
  private dirFd = -1;
  private dirRel: string | null = null;
  // current regular file
  private fd = -1;
  private fileBase = "";
  private cur: TarHeader | null = null;
  private uid = 0;
  private gid = 0;

  constructor(root: string, o: ExtractOptions) {
    this.root = root.length > 1 && root.endsWith("/") ? root.slice(0, -1) : root;
    this.o = o;
    this.fmt = o.whiteoutFormat ?? "delete";
    this.umask = umask();
    this.unpacked = this.fmt === "delete" ? new Set() : null;
    this.opaqueXattr = o.rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";
    // Go: overlay (archive.Unpack) makes parents 0777-umask owned by the mapped root;
    // vfs (UnpackLayer) makes them 0755 owned by the extracting process.
    if (this.fmt === "delete") {
      this.parentMode = 0o755;
      this.parentOwner = null;
    } else {
      this.parentMode = 0o777;
      const uid = mapRoot(o.uidMap), gid = mapRoot(o.gidMap);
      this.parentOwner = uid === geteuid() && gid === getegid() ? null : { uid, gid };
    }
    const m = lstatMode(this.root);
    if (m < 0) throw sysError("lstat", this.root, -m);
    if ((m & S_IFMT) !== S_IFDIR) throw sysError("open", this.root, 20 /* ENOTDIR */);
    this.realDirs.add("");
    this.resolved.set("", "");
    this.euid = geteuid();
    this.egid = getegid();
    if ((m & S_ISGID) === 0) this.plainDirs.add("");
    this.forceMask = o.forceMask;
    this.noChown = !!o.noChown || o.forceMask !== undefined;
    if (o.forceMask !== undefined) {
      const st = lstatNs(this.root);
      this.override(this.root, -1, st.uid, st.gid, st.mode & 0o7777);
    }
  }

  /** Sets the force_mask override xattr (by fd when `fd` >= 0). */
  private override(abs: string, fd: number, uid: number, gid: number, mode: number): void {
    const v = enc.encode(`${uid}:${gid}:0${mode.toString(8)}`) as Uint8Array<ArrayBuffer>;
    const r = fd >= 0
      ? S.fsetxattr(fd, cs1(OVERRIDE_XATTR), v, BigInt(v.length), 0)
      : S.lsetxattr(p0(abs), cs1(OVERRIDE_XATTR), v, BigInt(v.length), 0);
    if (r !== 0) throw sysError("lsetxattr", `${abs} ${OVERRIDE_XATTR}`, errno());
  }

  /** The permission bits to apply for a header mode. */
  private perm(mode: number): number {
    return this.forceMask ?? (mode & 0o7777);
  }

  private abs(rel: string): string {
    return rel === "" ? this.root : this.root + "/" + rel;
  }

  /** Path of `base` in the current parent, for messages and path-only calls. */
  private here(base: string): string {
    return this.abs(joinRel(this.dirRel!, base));
  }

  /** Makes `rel` (a resolved real directory) the current parent. */
  private enter(rel: string): void {
    if (this.dirRel === rel) return;
    if (this.dirFd >= 0) S.close(this.dirFd);
    this.dirFd = -1;
    this.dirRel = null;
    const abs = this.abs(rel);
    const fd = S.open(p0(abs), O_DIR_FLAGS, 0);
    if (fd < 0) throw sysError("open", abs, errno());
    this.dirFd = fd;
    this.dirRel = rel;
  }

  /** Forgets cached resolutions after something that may have been a directory or symlink was removed. */
  private invalidate(): void {
    this.resolved.clear();
    this.resolved.set("", "");
    this.realDirs.clear();
    this.realDirs.add("");
    this.plainDirs.clear();
    if (this.dirFd >= 0) S.close(this.dirFd);
    this.dirFd = -1;
    this.dirRel = null;
  }

  /**
   * Resolves a cleaned relative directory path inside the root, following symlinks
   * within the root and creating missing directories. Returns the resolved path.
   */
  private resolveDir(rel: string, create: boolean): string {
    const hit = this.resolved.get(rel);
    if (hit !== undefined) return hit;
    let comps = rel.split("/");
    let i = 0;
    let cur = "";
    let links = 0;
    while (i < comps.length) {
      const c = comps[i++];
      if (c === "" || c === ".") continue;
      if (c === "..") {
        cur = dirOf(cur);
        continue;
      }
      const next = joinRel(cur, c);
      if (this.realDirs.has(next)) {
        cur = next;
        continue;
      }
      const abs = this.abs(next);
      const m = lstatMode(abs);
      if (m === -ENOENT) {
        if (!create) throw sysError("lstat", abs, ENOENT);
        this.mkdirParent(abs);
        this.realDirs.add(next);
        // A new directory inherits its parent's set-group-ID bit.
        if (this.plainDirs.has(cur)) this.plainDirs.add(next);
        cur = next;
        continue;
      }
      if (m < 0) throw sysError("lstat", abs, -m);
      const t = m & S_IFMT;
      if (t === S_IFDIR) {
        this.realDirs.add(next);
        if ((m & S_ISGID) === 0) this.plainDirs.add(next);
        cur = next;
        continue;
      }
      if (t === S_IFLNK) {
        if (++links > MAX_SYMLINKS) throw sysError("open", abs, 40 /* ELOOP */);
        const target = readLinkName(abs);
        const rest = comps.slice(i);
        if (target.startsWith("/")) cur = "";
        comps = [...target.split("/"), ...rest];
        i = 0;
        continue;
      }
      throw sysError("mkdir", abs, 20 /* ENOTDIR */);
    }
    this.resolved.set(rel, cur);
    return cur;
  }

  private mkdirParent(abs: string): void {
    if (S.mkdirat(AT_FDCWD, p0(abs), this.parentMode) !== 0) throw sysError("mkdir", abs, errno());
    const po = this.parentOwner;
    if (po) check(S.lchown(p0(abs), po.uid, po.gid), "lchown", abs);
  }

  /** lstat of `base` in the current parent: st_mode or -errno. */
  private lstatHere(base: string): number {
    if (S.fstatat(this.dirFd, p0(base), statBuf, AT_SYMLINK_NOFOLLOW) === 0) {
      return statView.getUint32(24, true);
    }
    return -errno();
  }

  /** Removes `base` in the current parent (recursively, never following a symlink). */
  private removeHere(base: string, mode?: number): void {
    const m = mode ?? this.lstatHere(base);
    if (m === -ENOENT) return;
    if (m < 0) throw sysError("lstat", this.here(base), -m);
    const t = m & S_IFMT;
    if (t === S_IFDIR) {
      const abs = this.here(base);
      this.invalidate(); // also drops dirFd; re-enter below
      const parent = dirOf(abs.slice(this.root.length + 1));
      rmTree(abs);
      this.enter(parent);
    } else {
      if (S.unlinkat(this.dirFd, p0(base), 0) !== 0) {
        const e = errno();
        if (e !== ENOENT) throw sysError("unlink", this.here(base), e);
      }
      if (t === S_IFLNK) {
        const keep = this.dirRel!;
        this.invalidate();
        this.enter(keep);
      }
    }
  }

  // ---- TarObserver ----

  entry(h: TarHeader): void {
    if (h.type === TypeFlag.PaxGlobal) return; // ignored, as Go does
    const rel = cleanRel(h.name);
    if (rel === "") return this.rootEntry(h);
    const slash = rel.lastIndexOf("/");
    const parentRel = slash < 0 ? "" : rel.slice(0, slash);
    const base = slash < 0 ? rel : rel.slice(slash + 1);
    // Parents are created even for whiteouts (Go does).
    const parent = this.resolveDir(parentRel, true);
    if (this.fmt === "delete" && rel.startsWith(WH_META_PREFIX) && rel !== WH_OPAQUE) {
      return; // AUFS metadata (.wh..wh.plnk and friends) is not extracted
    }
    const o = this.o;
    const uid = o.chownTo ? o.chownTo.uid : mapId(o.uidMap, h.uid, "uid");
    const gid = o.chownTo ? o.chownTo.gid : mapId(o.gidMap, h.gid, "gid");
    this.enter(parent);
    if (this.fmt !== "aufs" && base.charCodeAt(0) === 0x2e && base.startsWith(WH_PREFIX)) {
      return this.whiteout(parent, base, uid, gid);
    }
    this.uid = uid;
    this.gid = gid;
    switch (h.type) {
      case TypeFlag.Reg:
        this.openFile(base, h);
        break;
      case TypeFlag.Dir:
        this.makeDir(base, h);
        break;
      case TypeFlag.Symlink: {
        const dfd = this.dirFd;
        this.create(base, h, () => S.symlinkat(p1(h.linkname), dfd, p0(base)), "symlink");
        this.meta(base, h, S_IFLNK);
        break;
      }
      case TypeFlag.Link:
        this.hardLink(base, h);
        break;
      case TypeFlag.Char:
      case TypeFlag.Block:
      case TypeFlag.Fifo: {
        if (h.type !== TypeFlag.Fifo && o.rootless) return;
        const t = h.type === TypeFlag.Char ? S_IFCHR : h.type === TypeFlag.Block ? S_IFBLK : S_IFIFO;
        const dev = BigInt(makedev(h.devmajor, h.devminor));
        const dfd = this.dirFd;
        this.create(base, h, () => S.mknodat(dfd, p0(base), t | this.perm(h.mode), dev), "mknod");
        this.meta(base, h, t);
        break;
      }
      default:
        throw new ArchiveError(`unhandled tar header type ${h.type}`);
    }
    this.unpacked?.add(joinRel(parent, base));
  }

  payload(bytes: Uint8Array): void {
    const fd = this.fd;
    if (fd < 0) return; // payload of a skipped entry
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      const part = off === 0 ? bytes : bytes.subarray(off);
      const n = S.write(fd, part as Uint8Array<ArrayBuffer>, BigInt(part.length));
      if (n < 0) {
        const e = errno();
        if (e === 4) continue;
        throw sysError("write", this.here(this.fileBase), e);
      }
      off += n;
    }
  }

  entryEnd(): void {
    const fd = this.fd;
    if (fd < 0) return;
    const h = this.cur!;
    this.fd = -1;
    this.cur = null;
    try {
      const owned = this.uid === this.euid && this.gid === this.egid && this.plainDirs.has(this.dirRel!);
      if (!this.noChown && !owned) this.chownResult(S.fchown(fd, this.uid, this.gid), this.fileBase);
      if (this.forceMask !== undefined) {
        this.override(this.here(this.fileBase), fd, this.uid, this.gid, h.mode & 0o777);
      }
      if (h.xattrs.size) this.xattrs(this.fileBase, h, fd);
      const perm = this.perm(h.mode);
      if ((perm & 0o7000) !== 0 || (perm & this.umask) !== 0) {
        if (S.fchmod(fd, perm) !== 0) throw sysError("chmod", this.here(this.fileBase), errno());
      }
      this.times(h);
      if (S.futimens(fd, tsBytes) !== 0) throw sysError("utimensat", this.here(this.fileBase), errno());
    } finally {
      S.close(fd);
    }
  }

  /** Called after the stream ended: directory times are set last. */
  finish(): void {
    this.release();
    for (const d of this.dirTimes) {
      setTs(d.atime, d.mtime);
      check(S.utimensat(AT_FDCWD, p0(d.abs), tsBytes, AT_SYMLINK_NOFOLLOW), "utimensat", d.abs);
    }
    if (this.fmt === "delete") {
      // Go's vfs applies layers in a chrooted child that makes and removes a temp dir in
      // the root around the extraction, so the root's mtime ends up "now": do the same.
      const now = new BigInt64Array([0n, BigInt(UTIME_OMIT), 0n, BigInt(UTIME_NOW)]);
      const b = new Uint8Array(now.buffer);
      check(S.utimensat(AT_FDCWD, p0(this.root), b, AT_SYMLINK_NOFOLLOW), "utimensat", this.root);
    }
  }

  /** Releases descriptors after a failure. */
  abort(): void {
    if (this.fd >= 0) S.close(this.fd);
    this.fd = -1;
    this.release();
  }

  private release(): void {
    if (this.dirFd >= 0) S.close(this.dirFd);
    this.dirFd = -1;
    this.dirRel = null;
  }

  // ---- entry kinds ----

  private rootEntry(h: TarHeader): void {
    if (this.o.skipRootEntry) return;
    if (h.type !== TypeFlag.Dir) {
      throw new UnsafeArchiveError(`cannot replace the extraction root with ${JSON.stringify(h.name)}`);
    }
    this.uid = this.o.chownTo ? this.o.chownTo.uid : mapId(this.o.uidMap, h.uid, "uid");
    this.gid = this.o.chownTo ? this.o.chownTo.gid : mapId(this.o.gidMap, h.gid, "gid");
    this.enter("");
    if ((this.perm(h.mode) & S_ISGID) === 0) this.plainDirs.add("");
    else this.plainDirs.delete("");
    this.meta(".", h, S_IFDIR, true);
    this.dirTimes.push({ abs: this.root, atime: clampEpoch(h.atimeNs ?? 0n), mtime: clampEpoch(h.mtimeNs) });
  }

  /** Runs `make` (a creating syscall); on EEXIST removes what is there and retries once. */
  private create(base: string, h: TarHeader, make: () => number, op: string): void {
    if (make() === 0) return;
    let e = errno();
    if (e === EEXIST) {
      this.replaceExisting(base, h);
      if (make() === 0) return;
      e = errno();
    }
    throw sysError(op, this.here(base), e);
  }

  /** Removes what is at `base` before a non-directory is created there. */
  private replaceExisting(base: string, h: TarHeader): void {
    const m = this.lstatHere(base);
    if (this.o.noOverwriteDirNonDir && m >= 0 && (m & S_IFMT) === S_IFDIR) {
      throw new ArchiveError(
        `cannot overwrite directory ${JSON.stringify(this.here(base))} with non-directory ${
          JSON.stringify(h.name)
        }`,
      );
    }
    this.removeHere(base, m);
  }

  private openFile(base: string, h: TarHeader): void {
    const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    const perm = this.perm(h.mode) & 0o777;
    let fd = S.openat(this.dirFd, p0(base), flags, perm);
    if (fd < 0) {
      const e = errno();
      if (e !== EEXIST) throw sysError("open", this.here(base), e);
      this.replaceExisting(base, h);
      fd = S.openat(this.dirFd, p0(base), flags, perm);
      if (fd < 0) throw sysError("open", this.here(base), errno());
    }
    this.fd = fd;
    this.fileBase = base;
    this.cur = h;
  }

  private makeDir(base: string, h: TarHeader): void {
    let merged = false;
    if (S.mkdirat(this.dirFd, p0(base), this.perm(h.mode) & 0o777) !== 0) {
      const e = errno();
      if (e !== EEXIST) throw sysError("mkdir", this.here(base), e);
      const m = this.lstatHere(base);
      if (m >= 0 && (m & S_IFMT) === S_IFDIR) merged = true;
      else {
        if (this.o.noOverwriteDirNonDir) {
          throw new ArchiveError(
            `cannot overwrite non-directory ${JSON.stringify(this.here(base))} with directory ${
              JSON.stringify(h.name)
            }`,
          );
        }
        this.removeHere(base, m);
        if (S.mkdirat(this.dirFd, p0(base), this.perm(h.mode) & 0o777) !== 0) {
          throw sysError("mkdir", this.here(base), errno());
        }
      }
    }
    const rel = joinRel(this.dirRel!, base);
    this.realDirs.add(rel);
    // Its set-group-ID bit: the header's when meta() chmods it, else inherited.
    const perm = this.perm(h.mode);
    const chmodded = merged || (perm & 0o7000) !== 0 || (perm & this.umask) !== 0;
    if ((perm & S_ISGID) === 0 && (chmodded || this.plainDirs.has(this.dirRel!))) this.plainDirs.add(rel);
    else this.plainDirs.delete(rel);
    this.meta(base, h, S_IFDIR, merged);
    this.dirTimes.push({
      abs: this.abs(rel),
      atime: clampEpoch(h.atimeNs ?? 0n),
      mtime: clampEpoch(h.mtimeNs),
    });
  }

  private hardLink(base: string, h: TarHeader): void {
    const t = cleanRelStrict(h.linkname);
    if (t === null || t === "") {
      throw new UnsafeArchiveError(
        `invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`,
      );
    }
    const here = this.dirRel!;
    const tparent = this.resolveDir(dirOf(t), false);
    this.enter(here);
    const tabs = this.abs(joinRel(tparent, baseOf(t)));
    const dfd = this.dirFd;
    this.create(base, h, () => S.linkat(AT_FDCWD, p1(tabs), dfd, p0(base), 0), "link");
    const m = this.lstatHere(base);
    this.meta(base, h, m < 0 ? 0 : m & S_IFMT);
  }

  /** Owner, xattrs, mode and times of a non-regular entry in the current parent, not following it. */
  private meta(base: string, h: TarHeader, type: number, merged = false): void {
    const dfd = this.dirFd;
    // "." (the root entry) cannot take AT_SYMLINK_NOFOLLOW-less semantics issues: it is a real directory.
    if (!this.noChown) {
      this.chownResult(S.fchownat(dfd, p0(base), this.uid, this.gid, AT_SYMLINK_NOFOLLOW), base);
    }
    if (this.forceMask !== undefined && type === S_IFDIR) {
      this.override(this.here(base), -1, this.uid, this.gid, h.mode & 0o777);
    }
    if (h.xattrs.size) this.xattrs(base, h, -1);
    if (type === S_IFLNK) {
      this.times(h, true);
      if (S.utimensat(dfd, p0(base), tsBytes, AT_SYMLINK_NOFOLLOW) !== 0) {
        throw sysError("lutimes", this.here(base), errno());
      }
      return;
    }
    const perm = this.perm(h.mode);
    if (merged || type !== S_IFDIR || (perm & 0o7000) !== 0 || (perm & this.umask) !== 0) {
      if (S.fchmodat(dfd, p0(base), perm, 0) !== 0) throw sysError("chmod", this.here(base), errno());
    }
    this.times(h);
    if (S.utimensat(dfd, p0(base), tsBytes, AT_SYMLINK_NOFOLLOW) !== 0) {
      throw sysError("utimensat", this.here(base), errno());
    }
  }

  private chownResult(r: number, base: string): void {
    if (r === 0) return;
    const e = errno();
    if (this.o.ignoreChownErrors && (e === EPERM || e === EINVAL)) return;
    const err = sysError("lchown", this.here(base), e);
    throw new SystemError(
      `potentially insufficient UIDs or GIDs available in user namespace (requested ${this.uid}:${this.gid} for ${
        this.here(base)
      }): ${err.message}`,
      e,
      err.code,
    );
  }

  private xattrs(base: string, h: TarHeader, fd: number): void {
    const abs = fd >= 0 ? "" : this.here(base);
    for (const [k, v] of h.xattrs) {
      if (k === "security.selinux") continue;
      const val = (v.length ? v : EMPTY) as Uint8Array<ArrayBuffer>;
      const r = fd >= 0
        ? S.fsetxattr(fd, cs1(k), val, BigInt(v.length), 0)
        : S.lsetxattr(p0(abs), cs1(k), val, BigInt(v.length), 0);
      if (r === 0) continue;
      const e = errno();
      if (e === ENOTSUP || (this.o.rootless && e === EPERM)) continue;
      throw sysError("lsetxattr", `${fd >= 0 ? this.here(base) : abs} ${k}`, e);
    }
  }

  /** Loads tsBuf with Go's times: atime = max(atime, mtime); non-symlinks clamp pre-epoch times to 0. */
  private times(h: TarHeader, symlink = false): void {
    let m = h.mtimeNs;
    let a = h.atimeNs !== undefined && h.atimeNs > m ? h.atimeNs : m;
    if (!symlink) (m = clampEpoch(m), a = clampEpoch(a));
    setTs(a, m);
  }

  private whiteout(parent: string, base: string, uid: number, gid: number): void {
    if (base === WH_OPAQUE) {
      if (this.fmt === "overlay") {
        const dirAbs = this.abs(parent);
        check(
          S.lsetxattr(p0(dirAbs), cs1(this.opaqueXattr), Y, 1n, 0),
          "setxattr",
          `${dirAbs} ${this.opaqueXattr}`,
        );
      } else this.opaque(parent);
      return;
    }
    const orig = base.slice(WH_PREFIX.length);
    if (orig === "" || orig === "." || orig === "..") return;
    this.removeHere(orig);
    if (this.fmt === "overlay") {
      if (S.mknodat(this.dirFd, p0(orig), S_IFCHR, 0n) !== 0) {
        throw sysError("mknod", this.here(orig), errno());
      }
      if (!this.noChown) {
        this.uid = uid;
        this.gid = gid;
        this.chownResult(S.fchownat(this.dirFd, p0(orig), uid, gid, AT_SYMLINK_NOFOLLOW), orig);
      }
    }
  }

  /** "delete" opaque whiteout: removes everything under `dir` not extracted from this archive. */
  private opaque(dir: string): void {
    let removed = false;
    const walk = (rel: string) => {
      for (const e of readDirNames(this.abs(rel))) {
        const child = joinRel(rel, e.name);
        if (!this.unpacked!.has(child)) {
          rmTree(this.abs(child));
          removed = true;
        } else if (e.dir) walk(child);
      }
    };
    walk(dir);
    if (removed) this.invalidate();
  }
}

function clampEpoch(t: bigint): bigint {
  return t < 0n ? 0n : t;
}

function mapRoot(maps: IDMap[] | undefined): number {
  if (!maps || maps.length === 0) return 0;
  if (maps.length === 1 && maps[0].size === 1) return maps[0].hostId;
  return mapId(maps, 0, "root");
}
