/**
 * Tars files and directory trees from disk: headers from lstat (nanosecond times,
 * owners mapped host → container, devices, symlinks, hard links within the archive,
 * `security.capability`/`security.ima`/`user.*` xattrs), sockets skipped. Used by
 * `copy`, by drivers, and by `exportChanges`.
 *
 * @module
 */
import { major, minor, type StatNs } from "../sys/fs.ts";
import { errno, S } from "../sys/libc.ts";
import { getXattr, listXattrs, p0, readDirNames, readLinkName } from "./rawpath.ts";
import { sysError } from "../sys/errno.ts";
import { ArchiveError } from "../store/errors.ts";
import type { IDMap } from "../store/types.ts";
import { tryToContainer } from "../store/idmap.ts";
import { type TarWriteHeader, TarWriter } from "./tar_writer.ts";
import { TypeFlag } from "./types.ts";

/** How headers are made from files. */
export interface TarFileOptions {
  /** Host → container UID map for owners (unmappable → error). */
  uidMap?: IDMap[];
  /** Host → container GID map. */
  gidMap?: IDMap[];
  /** Force this owner into every header. */
  chownTo?: { uid: number; gid: number };
  /** Fill uname/gname from the host's /etc/passwd and /etc/group (default true). */
  names?: boolean;
}

/** Options of tarDirectory. */
export interface TarDirOptions extends TarFileOptions {
  /** Paths relative to the root to include (default: the whole tree). */
  include?: string[];
  /** Paths relative to the root to leave out (with everything below them). */
  exclude?: string[];
  /** Name the root entry (and prefix everything) with this instead of `./`-less names. */
  rename?: string;
  /**
   * Go's RebaseNames: an entry named `old` or `old/...` is renamed to `new` or `new/...`
   * (applied after `rename`), e.g. to archive a single file under another name.
   */
  rebase?: Record<string, string>;
  /** Emit an entry for the root directory itself (default true, as `./`). */
  includeRoot?: boolean;
}

/** Container ID for a host ID (identity without maps); ArchiveError when unmappable. */
function toContainer(maps: IDMap[] | undefined, id: number, kind: string): number {
  const c = tryToContainer(maps, id);
  if (c < 0) throw new ArchiveError(`host ID ${id} cannot be mapped to a container ID`, kind);
  return c;
}

let passwd: Map<number, string> | null = null;
let group: Map<number, string> | null = null;
function loadNames(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of Deno.readTextFileSync(file).split("\n")) {
      const f = line.split(":");
      if (f.length >= 3 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
    }
  } catch { /* no names */ }
  return m;
}
function userName(uid: number): string {
  return (passwd ??= loadNames("/etc/passwd")).get(uid) ?? "";
}
function groupName(gid: number): string {
  return (group ??= loadNames("/etc/group")).get(gid) ?? "";
}

const EXPORTED_XATTRS = ["security.capability", "security.ima"];

/** The xattrs Go exports for a path: security.capability, security.ima and user.*. */
export function exportedXattrs(abs: string): Map<string, Uint8Array> | undefined {
  let out: Map<string, Uint8Array> | undefined;
  for (const n of listXattrs(abs)) {
    if (!EXPORTED_XATTRS.includes(n) && !n.startsWith("user.")) continue;
    const v = getXattr(abs, n);
    if (v !== null) (out ??= new Map()).set(n, v);
  }
  return out;
}

const statBuf = new Uint8Array(144);
const statView = new DataView(statBuf.buffer);
const NS = 1_000_000_000n;

/**
 * lstat for archiving: like sys lstatNs but cheaper (numbers where they are exact, bigint
 * only for the inode and mtime; no atime/ctime). Only what headers and change lists need.
 */
export function lstatLite(path: string): StatNs {
  if (S.lstat(p0(path), statBuf) !== 0) throw sysError("lstat", path, errno());
  const v = statView;
  const u64 = (o: number) => v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x100000000;
  const mtimeSec = Number(v.getBigInt64(88, true));
  const mtimeNsec = v.getUint32(96, true);
  const mtimeNs = BigInt(mtimeSec) * NS + BigInt(mtimeNsec);
  return {
    dev: u64(0),
    ino: v.getBigUint64(8, true), // overlay (xino) uses all 64 bits
    nlink: u64(16),
    mode: v.getUint32(24, true),
    uid: v.getUint32(28, true),
    gid: v.getUint32(32, true),
    rdev: u64(40),
    size: u64(48),
    blksize: 0,
    blocks: 0,
    atimeNs: 0n,
    mtimeNs,
    ctimeNs: 0n,
  };
}

/** Tracks inodes already archived so later names become hard links. */
export type HardLinkMap = Map<string, string>;

/**
 * The tar header for a file on disk, or null for sockets (skipped). `name` is the entry
 * name (a `/` is appended for directories). Regular files already seen under another
 * name (same dev/inode, nlink > 1) become hard links to that name.
 */
export function headerFromStat(
  abs: string,
  name: string,
  st: StatNs,
  links: HardLinkMap,
  o: TarFileOptions,
): TarWriteHeader | null {
  const fmt = st.mode & 0o170000;
  const h: TarWriteHeader = {
    name,
    mode: st.mode & 0o7777,
    mtimeNs: st.mtimeNs,
    uid: o.chownTo ? o.chownTo.uid : toContainer(o.uidMap, st.uid, "uid"),
    gid: o.chownTo ? o.chownTo.gid : toContainer(o.gidMap, st.gid, "gid"),
  };
  if (o.names !== false) {
    h.uname = userName(st.uid);
    h.gname = groupName(st.gid);
  }
  switch (fmt) {
    case 0o100000: {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          h.type = TypeFlag.Link;
          h.linkname = first;
          break;
        }
        links.set(key, name);
      }
      h.type = TypeFlag.Reg;
      h.size = st.size;
      break;
    }
    case 0o040000:
      h.type = TypeFlag.Dir;
      if (!h.name.endsWith("/")) h.name += "/";
      break;
    case 0o120000:
      h.type = TypeFlag.Symlink;
      h.linkname = readLinkName(abs);
      break;
    case 0o020000:
    case 0o060000:
      h.type = fmt === 0o020000 ? TypeFlag.Char : TypeFlag.Block;
      h.devmajor = major(st.rdev);
      h.devminor = minor(st.rdev);
      break;
    case 0o010000:
      h.type = TypeFlag.Fifo;
      break;
    default:
      return null; // sockets cannot be archived
  }
  const x = exportedXattrs(abs);
  if (x) h.xattrs = x;
  return h;
}

/** Adds one path to a writer (content read from disk for regular files). */
export async function addPath(
  w: TarWriter,
  abs: string,
  name: string,
  links: HardLinkMap,
  o: TarFileOptions,
): Promise<void> {
  const st = lstatLite(abs);
  const h = headerFromStat(abs, name, st, links, o);
  if (!h) return;
  if (h.type === TypeFlag.Reg && (h.size ?? 0) > 0) await w.addFile(h, abs);
  else await w.add(h);
}

function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Tars the tree under `root` (lexical order, parents before children). Entry names are
 * relative (`etc/`, `etc/hostname`); with `rename`, the root's own entry is named
 * `rename` and everything else is prefixed with it.
 */
export function tarDirectory(root: string, options: TarDirOptions = {}): ReadableStream<Uint8Array> {
  const w = new TarWriter();
  const links: HardLinkMap = new Map();
  const exclude = new Set((options.exclude ?? []).map((p) => p.replace(/^\.?\/+|\/+$/g, "")));
  const prefix = options.rename ? options.rename.replace(/\/+$/, "") : "";
  const rebase = Object.entries(options.rebase ?? {}).map((
    [a, b],
  ) => [a.replace(/\/+$/, ""), b.replace(/\/+$/, "")]);
  const entryName = (rel: string) => {
    let n = prefix ? (rel ? `${prefix}/${rel}` : prefix) : rel;
    for (const [from, to] of rebase) {
      if (n === from) n = to;
      else if (n.startsWith(from + "/")) n = to + n.slice(from.length);
      else continue;
      break;
    }
    return n;
  };
  const walk = async (rel: string): Promise<void> => {
    if (rel && exclude.has(rel)) return;
    const abs = rel ? `${root}/${rel}` : root;
    const st = lstatLite(abs);
    const name = entryName(rel);
    if (rel || (options.includeRoot ?? true)) {
      const h = headerFromStat(abs, name || "./", st, links, options);
      if (h) {
        if (h.type === TypeFlag.Reg && (h.size ?? 0) > 0) await w.addFile(h, abs);
        else await w.add(h);
      }
    }
    if ((st.mode & 0o170000) !== 0o040000) return;
    const names = readDirNames(abs).map((e) => e.name).sort(byteCompare);
    for (const n of names) await walk(rel ? `${rel}/${n}` : n);
  };
  (async () => {
    try {
      const inc = options.include?.length ? options.include : [""];
      for (const p of inc) await walk(p.replace(/^\.?\/+|\/+$/g, "").replace(/^\.$/, ""));
      await w.close();
    } catch (e) {
      w.abort(e);
    }
  })();
  return w.readable;
}
