/**
 * Native diff support of the overlay driver: a layer's changes are read from its own
 * `diff/` directory, looked up against the merged view of its lower layers
 * (on-disk.md 5.7–5.9). Also the walk shared with the native diff tar.
 *
 * @module
 */
import { lstatNs, major, minor, S_IFCHR, S_IFDIR, S_IFMT, type StatNs } from "../../sys/fs.ts";
import { isErrno } from "../../sys/errno.ts";
import { lgetxattr } from "../../sys/xattr.ts";
import { type Change, ChangeKind } from "../../store/types.ts";
import { StorageError } from "../../store/errors.ts";

/** True for an overlay whiteout: a character device 0/0. */
export function isWhiteout(st: StatNs): boolean {
  return (st.mode & S_IFMT) === S_IFCHR && major(st.rdev) === 0 && minor(st.rdev) === 0;
}

/** True when `path` (a directory) carries the opaque marker `xattr` = `y`. */
export function isOpaque(path: string, xattr: string): boolean {
  const v = lgetxattr(path, xattr);
  return v !== null && v.length === 1 && v[0] === 0x79;
}

function lstatOrNull(path: string): StatNs | null {
  try {
    return lstatNs(path);
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return null;
    throw err;
  }
}

/** Byte-wise comparison of two strings as UTF-8 (Go's string order). */
export function compareBytes(a: string, b: string): number {
  // UTF-16 order equals UTF-8 byte order except around surrogates; fall back only then.
  if (/[\ud800-\udfff]/.test(a) || /[\ud800-\udfff]/.test(b)) {
    const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Lookups of paths in a layer's lower `diff` directories (nearest first), with Go's
 * semantics: the nearest lower that has the path decides (a whiteout there means "not
 * there"); opaque directories of the lowers and of the upper do not hide anything.
 * Per directory, the lowers that have it as a real directory are memoised, so a lookup
 * costs one lstat per lower that actually has the parent directory, and symlinks met on
 * the way are never followed (no lookup can leave the layers).
 */
export class LowerView {
  private readonly stacks = new Map<string, number[]>();

  constructor(readonly lowers: string[]) {
    this.stacks.set("", lowers.map((_, i) => i));
  }

  /** Indices of the lowers in which `dir` is a real directory. */
  private stack(dir: string): number[] {
    const cached = this.stacks.get(dir);
    if (cached) return cached;
    const slash = dir.lastIndexOf("/");
    const parent = slash < 0 ? "" : dir.slice(0, slash);
    const out: number[] = [];
    for (const i of this.stack(parent)) {
      const st = lstatOrNull(`${this.lowers[i]}/${dir}`);
      if (st !== null && (st.mode & S_IFMT) === S_IFDIR) out.push(i);
    }
    this.stacks.set(dir, out);
    return out;
  }

  /** The nearest lower entry at `rel` (relative path), or null when absent or whited out. */
  lookup(rel: string): StatNs | null {
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    for (const i of this.stack(parent)) {
      const st = lstatOrNull(`${this.lowers[i]}/${rel}`);
      if (st === null) continue;
      return isWhiteout(st) ? null : st;
    }
    return null;
  }
}

/** One entry met while walking a `diff` directory in Go's lexical order. */
export interface WalkEntry {
  /** Path relative to the root, without leading slash. */
  rel: string;
  /** Host path. */
  path: string;
  /** lstat of the entry. */
  st: StatNs;
}

/** Walks `root` depth-first in lexical (byte) order, parents before children, root excluded. */
export function* walkSorted(root: string, rel = ""): Generator<WalkEntry> {
  const dir = rel ? `${root}/${rel}` : root;
  const names: string[] = [];
  for (const e of Deno.readDirSync(dir)) names.push(e.name);
  names.sort(compareBytes);
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    const path = `${root}/${r}`;
    const st = lstatOrNull(path);
    if (st === null) {
      // Deno decodes names lossily: a name that is not UTF-8 cannot be found again.
      if (name.includes("\ufffd")) {
        throw new StorageError(
          `${dir}: file name ${JSON.stringify(name)} is not valid UTF-8 (not supported)`,
        );
      }
      continue; // vanished meanwhile
    }
    yield { rel: r, path, st };
    if ((st.mode & S_IFMT) === S_IFDIR) yield* walkSorted(root, r);
  }
}

function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const NS = 1_000_000_000n;
  const floor = (x: bigint) => (x >= 0n || x % NS === 0n ? x / NS : x / NS - 1n);
  return floor(a) === floor(b) && (a % NS === 0n || b % NS === 0n);
}

/**
 * The changes of the layer whose upper directory is `diff`, relative to `lowers` (their
 * diff directories, nearest first), in Go's order (on-disk.md 5.8): a lexical walk of
 * `diff`; whiteouts are deletions, an opaque directory that replaces a lower one is a
 * deletion, a path found in the lowers is a modification (directories whose size, mode
 * and mtime are unchanged are left out), anything else an addition; ancestors of
 * additions and deletions not listed yet are inserted before them as modified. (Go does
 * not sort: an unchanged directory can appear after a modified child.)
 */
export function overlayChanges(diff: string, lowers: string[], opaqueXattr: string): Change[] {
  const view = new LowerView(lowers);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  for (const { rel, path, st } of walkSorted(diff)) {
    const p = "/" + rel;
    const isDir = (st.mode & S_IFMT) === S_IFDIR;
    let kind: ChangeKind;
    if (isWhiteout(st)) {
      kind = ChangeKind.Delete;
    } else if (isDir && isOpaque(path, opaqueXattr)) {
      kind = view.lookup(rel) !== null ? ChangeKind.Delete : ChangeKind.Add;
    } else {
      const below = view.lookup(rel);
      if (below === null) kind = ChangeKind.Add;
      else {
        if (
          isDir && (below.mode & S_IFMT) === S_IFDIR && below.size === st.size && below.mode === st.mode &&
          sameFsTime(below.mtimeNs, st.mtimeNs)
        ) {
          continue; // an unchanged directory (listed later if something under it changes)
        }
        kind = ChangeKind.Modify;
      }
    }
    if (isDir) changedDirs.add(p);
    if (kind === ChangeKind.Add || kind === ChangeKind.Delete) {
      const tail: Change[] = [];
      for (let parent = dirname(p); parent !== "/"; parent = dirname(parent)) {
        if (changedDirs.has(parent)) continue;
        tail.unshift({ path: parent, kind: ChangeKind.Modify });
        changedDirs.add(parent);
      }
      changes.push(...tail);
    }
    changes.push({ path: p, kind });
  }
  return changes;
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** Sum of lstat sizes of the non-directories under `dir`, each inode once (Go's directory.Size). */
export function directorySize(dir: string): number {
  const seen = new Set<bigint>();
  let size = 0;
  for (const { st } of walkSorted(dir)) {
    if ((st.mode & S_IFMT) === S_IFDIR) continue;
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    size += st.size;
  }
  return size;
}
