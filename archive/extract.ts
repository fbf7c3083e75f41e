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
import { check, sysError } from "../sys/errno.ts";
import { cs0, cs1, errno, S } from "../sys/libc.ts";
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  getegid,
  geteuid,
  makedev,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  umask,
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
  if (S.lstat(cs0(abs), statBuf) === 0) return statView.getUint32(24, true);
  return -errno();
}

const tsBuf = new BigInt64Array(4);
const tsBytes = new Uint8Array(tsBuf.buffer);
const NS = 1_000_000_000n;
function setTs(atime: bigint, mtime: bigint): void {
  let s = atime / NS, n = atime % NS;
  if (n < 0n) (s -= 1n, n += NS);
  tsBuf[0] = s;
  tsBuf[1] = n;
  s = mtime / NS;
  n = mtime % NS;
  if (n < 0n) (s -= 1n, n += NS);
  tsBuf[2] = s;
  tsBuf[3] = n;
}

/** Host ID for a container ID through `maps` (identity when empty). */
function mapId(maps: IDMap[] | undefined, id: number, kind: string): number {
  if (!maps || maps.length === 0) return id;
  for (const m of maps) {
    const d = id - m.containerId;
    if (d >= 0 && d < m.size) return m.hostId + d;
  }
  throw new ArchiveError(`container ID ${id} cannot be mapped to a host ID`, kind);
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
    for (;;) {
      const r = reader ? await reader.read() : await it!.next();
      if (r.done) break;
      parser.push(r.value);
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

/** The extraction state machine; a TarObserver driven by TarParser. */
class Extractor implements TarObserver {
  private readonly root: string;
  private readonly fmt: WhiteoutFormat;
  private readonly o: ExtractOptions;
  private readonly umask: number;
  private readonly euid: number;
  private readonly egid: number;
  private readonly parentMode: number;
  private readonly parentOwner: { uid: number; gid: number } | null;
  private readonly opaqueXattr: string;
  /** Unresolved parent path → resolved path of a real directory. */
  private resolved = new Map<string, string>();
  /** Resolved paths known to be real directories. */
  private realDirs = new Set<string>();
  /** Resolved paths extracted from this archive (for opaque whiteouts in "delete" mode). */
  private readonly unpacked: Set<string> | null;
  private readonly dirTimes: DirTime[] = [];
  // current regular file
  private fd = -1;
  private fileAbs = "";
  private cur: TarHeader | null = null;
  private uid = 0;
  private gid = 0;

  constructor(root: string, o: ExtractOptions) {
    this.root = root.length > 1 && root.endsWith("/") ? root.slice(0, -1) : root;
    this.o = o;
    this.fmt = o.whiteoutFormat ?? "delete";
    this.umask = umask();
    this.euid = geteuid();
    this.egid = getegid();
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
      this.parentOwner = uid === this.euid && gid === this.egid ? null : { uid, gid };
    }
    this.realDirs.add("");
    this.resolved.set("", "");
  }

  private abs(rel: string): string {
    return rel === "" ? this.root : this.root + "/" + rel;
  }

  /** Forgets cached resolutions after something that may have been a directory or symlink was removed. */
  private invalidate(): void {
    this.resolved.clear();
    this.resolved.set("", "");
    this.realDirs.clear();
    this.realDirs.add("");
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
        cur = next;
        continue;
      }
      if (m < 0) throw sysError("lstat", abs, -m);
      const t = m & S_IFMT;
      if (t === S_IFDIR) {
        this.realDirs.add(next);
        cur = next;
        continue;
      }
      if (t === S_IFLNK) {
        if (++links > MAX_SYMLINKS) throw sysError("open", abs, 40 /* ELOOP */);
        const target = Deno.readLinkSync(abs);
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
    const r = S.mkdirat(AT_FDCWD, cs0(abs), this.parentMode);
    if (r !== 0) throw sysError("mkdir", abs, errno());
    const po = this.parentOwner;
    if (po) check(S.lchown(cs0(abs), po.uid, po.gid), "lchown", abs);
  }

  /** Removes whatever is at `abs` (recursively, never following a symlink). */
  private removeAll(abs: string, mode?: number): void {
    const m = mode ?? lstatMode(abs);
    if (m === -ENOENT) return;
    if (m < 0) throw sysError("lstat", abs, -m);
    const t = m & S_IFMT;
    if (t === S_IFDIR) {
      Deno.removeSync(abs, { recursive: true });
      this.invalidate();
    } else {
      if (S.unlinkat(AT_FDCWD, cs0(abs), 0) !== 0) {
        const e = errno();
        if (e !== ENOENT) throw sysError("unlink", abs, e);
      }
      if (t === S_IFLNK) this.invalidate();
    }
  }

  // ---- TarObserver ----

  entry(h: TarHeader): void {
    const rel = cleanRel(h.name);
    if (rel === "") return this.rootEntry(h);
    const parentRel = dirOf(rel);
    const base = parentRel === "" ? rel : rel.slice(parentRel.length + 1);
    // Parents are created even for whiteouts (Go does).
    const parent = this.resolveDir(parentRel, true);
    if (this.fmt === "delete" && rel.startsWith(WH_META_PREFIX) && rel !== WH_OPAQUE) {
      return; // AUFS metadata (.wh..wh.plnk and friends) is not extracted
    }
    const uid = this.o.chownTo ? this.o.chownTo.uid : mapId(this.o.uidMap, h.uid, "uid");
    const gid = this.o.chownTo ? this.o.chownTo.gid : mapId(this.o.gidMap, h.gid, "gid");
    if (this.fmt !== "aufs" && base.startsWith(WH_PREFIX)) return this.whiteout(parent, base, uid, gid);
    const target = joinRel(parent, base);
    const abs = this.abs(target);
    this.uid = uid;
    this.gid = gid;
    switch (h.type) {
      case TypeFlag.Reg:
        this.openFile(abs, h);
        break;
      case TypeFlag.Dir:
        this.makeDir(target, abs, h);
        break;
      case TypeFlag.Symlink:
        this.create(abs, h, () => S.symlinkat(cs0(h.linkname), AT_FDCWD, cs1(abs)), "symlink");
        this.meta(abs, h, S_IFLNK);
        break;
      case TypeFlag.Link:
        this.hardLink(abs, h);
        break;
      case TypeFlag.Char:
      case TypeFlag.Block:
      case TypeFlag.Fifo: {
        if (h.type !== TypeFlag.Fifo && this.o.rootless) return;
        const t = h.type === TypeFlag.Char ? S_IFCHR : h.type === TypeFlag.Block ? S_IFBLK : S_IFIFO;
        const dev = BigInt(makedev(h.devmajor, h.devminor));
        this.create(abs, h, () => S.mknodat(AT_FDCWD, cs0(abs), t | (h.mode & 0o7777), dev), "mknod");
        this.meta(abs, h, t);
        break;
      }
      default:
        throw new ArchiveError(`unhandled tar header type ${h.type}`);
    }
    this.unpacked?.add(target);
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
        throw sysError("write", this.fileAbs, e);
      }
      off += n;
    }
  }

  entryEnd(): void {
    const fd = this.fd;
    if (fd < 0) return;
    const h = this.cur!;
    const abs = this.fileAbs;
    this.fd = -1;
    this.cur = null;
    try {
      if (!this.o.noChown) this.chownResult(S.fchown(fd, this.uid, this.gid), abs);
      if (h.xattrs.size) this.xattrs(abs, h, fd);
      const perm = h.mode & 0o7777;
      if ((perm & 0o7000) !== 0 || (perm & this.umask) !== 0) check(S.fchmod(fd, perm), "chmod", abs);
      this.times(h);
      check(S.futimens(fd, tsBytes), "utimensat", abs);
    } finally {
      S.close(fd);
    }
  }

  /** Called after the stream ended: directory times are set last. */
  finish(): void {
    for (const d of this.dirTimes) {
      setTs(d.atime, d.mtime);
      check(S.utimensat(AT_FDCWD, cs0(d.abs), tsBytes, AT_SYMLINK_NOFOLLOW), "utimensat", d.abs);
    }
  }

  /** Releases an open file after a failure. */
  abort(): void {
    if (this.fd >= 0) S.close(this.fd);
    this.fd = -1;
  }

  // ---- entry kinds ----

  private rootEntry(h: TarHeader): void {
    if (this.o.skipRootEntry) return;
    if (h.type !== TypeFlag.Dir) {
      throw new UnsafeArchiveError(`cannot replace the extraction root with ${JSON.stringify(h.name)}`);
    }
    this.uid = this.o.chownTo ? this.o.chownTo.uid : mapId(this.o.uidMap, h.uid, "uid");
    this.gid = this.o.chownTo ? this.o.chownTo.gid : mapId(this.o.gidMap, h.gid, "gid");
    this.meta(this.root, h, S_IFDIR);
    this.dirTimes.push({ abs: this.root, atime: clampEpoch(h.atimeNs ?? 0n), mtime: clampEpoch(h.mtimeNs) });
  }

  /** Runs `make` (a creating syscall); on EEXIST removes what is there and retries once. */
  private create(abs: string, h: TarHeader, make: () => number, op: string): void {
    if (make() === 0) return;
    let e = errno();
    if (e === EEXIST) {
      const m = lstatMode(abs);
      if (this.o.noOverwriteDirNonDir && m >= 0 && (m & S_IFMT) === S_IFDIR) {
        throw new ArchiveError(
          `cannot overwrite directory ${JSON.stringify(abs)} with non-directory ${JSON.stringify(h.name)}`,
        );
      }
      this.removeAll(abs, m);
      if (make() === 0) return;
      e = errno();
    }
    throw sysError(op, abs, e);
  }

  private openFile(abs: string, h: TarHeader): void {
    const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    const perm = h.mode & 0o777;
    let fd = -1;
    this.create(abs, h, () => (fd = S.open(cs0(abs), flags, perm)) >= 0 ? 0 : -1, "open");
    this.fd = fd;
    this.fileAbs = abs;
    this.cur = h;
  }

  private makeDir(target: string, abs: string, h: TarHeader): void {
    let merged = false;
    if (S.mkdirat(AT_FDCWD, cs0(abs), h.mode & 0o777) !== 0) {
      const e = errno();
      if (e !== EEXIST) throw sysError("mkdir", abs, e);
      const m = lstatMode(abs);
      if ((m & S_IFMT) === S_IFDIR && m >= 0) merged = true;
      else {
        if (this.o.noOverwriteDirNonDir) {
          throw new ArchiveError(
            `cannot overwrite non-directory ${JSON.stringify(abs)} with directory ${JSON.stringify(h.name)}`,
          );
        }
        this.removeAll(abs, m);
        check(S.mkdirat(AT_FDCWD, cs0(abs), h.mode & 0o777), "mkdir", abs);
      }
    }
    this.realDirs.add(target);
    this.meta(abs, h, S_IFDIR, merged);
    this.dirTimes.push({ abs, atime: clampEpoch(h.atimeNs ?? 0n), mtime: clampEpoch(h.mtimeNs) });
  }

  private hardLink(abs: string, h: TarHeader): void {
    const t = cleanRelStrict(h.linkname);
    if (t === null || t === "") {
      throw new UnsafeArchiveError(
        `invalid hardlink ${JSON.stringify(abs)} -> ${JSON.stringify(h.linkname)}`,
      );
    }
    const tparent = this.resolveDir(dirOf(t), false);
    const tabs = this.abs(joinRel(tparent, baseOf(t)));
    this.create(abs, h, () => S.linkat(AT_FDCWD, cs0(tabs), AT_FDCWD, cs1(abs), 0), "link");
    const m = lstatMode(abs);
    this.meta(abs, h, m < 0 ? 0 : m & S_IFMT);
  }

  /** Owner, xattrs, mode and times of a non-regular entry, by path without following it. */
  private meta(abs: string, h: TarHeader, type: number, merged = false): void {
    if (!this.o.noChown) this.chownResult(S.lchown(cs0(abs), this.uid, this.gid), abs);
    if (h.xattrs.size) this.xattrs(abs, h, -1);
    if (type === S_IFLNK) {
      this.times(h, true);
      check(S.utimensat(AT_FDCWD, cs0(abs), tsBytes, AT_SYMLINK_NOFOLLOW), "lutimes", abs);
      return;
    }
    const perm = h.mode & 0o7777;
    if (merged || type !== S_IFDIR || (perm & 0o7000) !== 0 || (perm & this.umask) !== 0) {
      check(S.chmod(cs0(abs), perm), "chmod", abs);
    }
    this.times(h);
    check(S.utimensat(AT_FDCWD, cs0(abs), tsBytes, AT_SYMLINK_NOFOLLOW), "utimensat", abs);
  }

  private chownResult(r: number, abs: string): void {
    if (r === 0) return;
    const e = errno();
    if (this.o.ignoreChownErrors && (e === EPERM || e === EINVAL)) return;
    const err = sysError("lchown", abs, e);
    throw new SystemError(
      `potentially insufficient UIDs or GIDs available in user namespace (requested ${this.uid}:${this.gid} for ${abs}): ${err.message}`,
      e,
      err.code,
    );
  }

  private xattrs(abs: string, h: TarHeader, fd: number): void {
    for (const [k, v] of h.xattrs) {
      if (k === "security.selinux") continue;
      const val = (v.length ? v : new Uint8Array(1).subarray(0, 0)) as Uint8Array<ArrayBuffer>;
      const r = fd >= 0
        ? S.fsetxattr(fd, cs1(k), val, BigInt(v.length), 0)
        : S.lsetxattr(cs0(abs), cs1(k), val, BigInt(v.length), 0);
      if (r === 0) continue;
      const e = errno();
      if (e === ENOTSUP || (this.o.rootless && e === EPERM)) continue;
      throw sysError("lsetxattr", `${abs} ${k}`, e);
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
    const dirAbs = this.abs(parent);
    if (base === WH_OPAQUE) {
      if (this.fmt === "overlay") {
        const y = new Uint8Array([0x79]);
        check(
          S.lsetxattr(cs0(dirAbs), cs1(this.opaqueXattr), y, 1n, 0),
          "setxattr",
          `${dirAbs} ${this.opaqueXattr}`,
        );
      } else this.opaque(parent);
      return;
    }
    const orig = joinRel(parent, base.slice(WH_PREFIX.length));
    const abs = this.abs(orig);
    this.removeAll(abs);
    if (this.fmt === "overlay") {
      check(S.mknodat(AT_FDCWD, cs0(abs), S_IFCHR, 0n), "mknod", abs);
      if (!this.o.noChown) {
        this.uid = uid;
        this.gid = gid;
        this.chownResult(S.lchown(cs0(abs), uid, gid), abs);
      }
    }
  }

  /** "delete" opaque whiteout: removes everything under `dir` not extracted from this archive. */
  private opaque(dir: string): void {
    const walk = (rel: string) => {
      for (const e of Deno.readDirSync(this.abs(rel))) {
        const child = joinRel(rel, e.name);
        if (!this.unpacked!.has(child)) this.removeAll(this.abs(child));
        else if (e.isDirectory) walk(child);
      }
    };
    walk(dir);
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
