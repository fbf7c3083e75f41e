/**
 * Naive change detection between two trees (on-disk.md 5.8, Go `ChangesDirs`), export
 * of a change list as a tar (5.7, Go `ExportChanges`) and its size (5.9, Go
 * `ChangesSize`). Used by vfs, btrfs and overlay with a mount program.
 *
 * @module
 */
import type { StatNs } from "../sys/fs.ts";
import { getXattr, listXattrs, readDirNames, readLinkName } from "./rawpath.ts";
import { type Change, ChangeKind, type IDMap } from "../store/types.ts";
import { tryToContainer } from "../store/idmap.ts";
import { addPath, type HardLinkMap, lstatLite } from "./tar_dir.ts";
import { TarWriter } from "./tar_writer.ts";
import { TypeFlag } from "./types.ts";

/** ID maps of each tree, used to compare owners as container IDs. */
export interface ChangesOptions {
  /** UID map of the new tree (host → container before comparing). */
  uidMap?: IDMap[];
  /** GID map of the new tree. */
  gidMap?: IDMap[];
  /** UID map of the old tree (defaults to `uidMap`). */
  oldUidMap?: IDMap[];
  /** GID map of the old tree (defaults to `gidMap`). */
  oldGidMap?: IDMap[];
}

/** Options of exportChanges. */
export interface ExportOptions {
  /** Host → container UID map for owners. */
  uidMap?: IDMap[];
  /** Host → container GID map. */
  gidMap?: IDMap[];
}

interface Node {
  st: StatNs;
  capability: Uint8Array | null;
  userXattrs: Map<string, string> | null;
  target: string;
}

const latin1 = new TextDecoder("latin1");

function describe(abs: string): Node {
  const st = lstatLite(abs);
  let capability: Uint8Array | null = null;
  let userXattrs: Map<string, string> | null = null;
  for (const n of listXattrs(abs)) {
    if (n === "security.capability") capability = getXattr(abs, n);
    else if (n.startsWith("user.")) {
      const v = getXattr(abs, n);
      if (v) (userXattrs ??= new Map()).set(n, latin1.decode(v));
    }
  }
  const target = (st.mode & 0o170000) === 0o120000 ? readLinkName(abs) : "";
  return { st, capability, userXattrs, target };
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return (a === null || a.length === 0) && (b === null || b.length === 0);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mapsEqual(a: Map<string, string> | null, b: Map<string, string> | null): boolean {
  const x = a?.size ?? 0, y = b?.size ?? 0;
  if (x !== y) return false;
  if (x === 0) return true;
  for (const [k, v] of a!) if (b!.get(k) !== v) return false;
  return true;
}

function sameTime(a: bigint, b: bigint): boolean {
  const NS = 1_000_000_000n;
  const as = a / NS, bs = b / NS, an = a % NS, bn = b % NS;
  return as === bs && (an === bn || an === 0n || bn === 0n);
}

function differs(o: Node, n: Node, opts: ChangesOptions): boolean {
  const os = o.st, ns = n.st;
  // Go keeps the raw ID when it cannot be mapped.
  const ouid = tryToContainer(opts.oldUidMap ?? opts.uidMap, os.uid, os.uid);
  const ogid = tryToContainer(opts.oldGidMap ?? opts.gidMap, os.gid, os.gid);
  const nuid = tryToContainer(opts.uidMap, ns.uid, ns.uid);
  const ngid = tryToContainer(opts.gidMap, ns.gid, ns.gid);
  if (os.mode !== ns.mode || ouid !== nuid || ogid !== ngid || os.rdev !== ns.rdev) return true;
  if ((os.mode & 0o170000) !== 0o040000 && (!sameTime(os.mtimeNs, ns.mtimeNs) || os.size !== ns.size)) {
    return true;
  }
  return !bytesEqual(o.capability, n.capability) || o.target !== n.target ||
    !mapsEqual(o.userXattrs, n.userXattrs);
}

function isDir(st: StatNs): boolean {
  return (st.mode & 0o170000) === 0o040000;
}

function listNames(abs: string): string[] {
  return readDirNames(abs).map((e) => e.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The changes that turn `oldRoot` into `newRoot` (all of `newRoot` as additions when
 * `oldRoot` is null). Paths are absolute inside the layer (`/etc/hostname`). Entries
 * are in depth-first lexical order, each directory before its contents.
 */
export function changes(
  newRoot: string,
  oldRoot: string | null,
  options: ChangesOptions = {},
): Promise<Change[]> {
  const out: Change[] = [];
  // walk(rel, newIsDirWithOld): compares the children of new dir `rel` with old dir `rel` (or none).
  const walk = (rel: string, hasOld: boolean, selfReported: boolean): void => {
    const start = out.length;
    const newAbs = newRoot + rel;
    const newNames = listNames(newAbs);
    const oldNames = hasOld ? new Set(listNames(oldRoot! + rel)) : new Set<string>();
    for (const name of newNames) {
      const childRel = `${rel}/${name}`;
      const n = describe(newRoot + childRel);
      let reported = false;
      let childHasOld = false;
      if (oldNames.has(name)) {
        oldNames.delete(name);
        const o = describe(oldRoot! + childRel);
        if (differs(o, n, options)) {
          out.push({ path: childRel, kind: ChangeKind.Modify });
          reported = true;
        }
        childHasOld = isDir(o.st);
      } else {
        out.push({ path: childRel, kind: ChangeKind.Add });
        reported = true;
      }
      if (isDir(n.st)) walk(childRel, childHasOld, reported);
    }
    for (const name of [...oldNames].sort()) out.push({ path: `${rel}/${name}`, kind: ChangeKind.Delete });
    // A directory whose contents changed is reported too (before them), except the root.
    if (out.length > start && !selfReported && rel !== "") {
      out.splice(start, 0, { path: rel, kind: ChangeKind.Modify });
    }
  };
  walk("", oldRoot !== null, true);
  return Promise.resolve(out);
}

/**
 * A tar of `changes` taken from `newRoot`, sorted by path: deletions become empty
 * `.wh.NAME` entries (mode 0, mtime now), other paths are archived from disk with
 * owners mapped host → container.
 */
export function exportChanges(
  newRoot: string,
  changeList: Change[],
  options: ExportOptions = {},
): ReadableStream<Uint8Array> {
  const w = new TarWriter();
  const sorted = [...changeList].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const links: HardLinkMap = new Map();
  (async () => {
    try {
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      for (const c of sorted) {
        const rel = c.path.replace(/^\/+/, "");
        if (c.kind === ChangeKind.Delete) {
          const i = rel.lastIndexOf("/");
          const name = i < 0 ? `.wh.${rel}` : `${rel.slice(0, i)}/.wh.${rel.slice(i + 1)}`;
          await w.add({ name, type: TypeFlag.Reg, mode: 0, rawMode: true, size: 0, mtimeNs: nowNs });
        } else {
          await addPath(w, `${newRoot}/${rel}`, rel, links, options);
        }
      }
      await w.close();
    } catch (e) {
      w.abort(e);
    }
  })();
  return w.readable;
}

/** Size of the changed content: lstat sizes of added/modified non-directories, each inode once. */
export function changesSize(newRoot: string, changeList: Change[]): Promise<number> {
  let size = 0;
  const seen = new Set<string>();
  for (const c of changeList) {
    if (c.kind !== ChangeKind.Modify && c.kind !== ChangeKind.Add) continue;
    let st: StatNs;
    try {
      st = lstatLite(newRoot + c.path);
    } catch {
      continue;
    }
    if (isDir(st)) continue;
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    size += st.size;
  }
  return Promise.resolve(size);
}
