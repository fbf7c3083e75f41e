/**
 * The content comparison of a full `check` (Go's checkDirectory): the tree a layer should
 * show when mounted is rebuilt from the tar headers of its diff and those of its
 * ancestors (whiteouts and opaque directories applied), then compared with the tree
 * actually seen under the mount point. Every departure is one line: `-/path` (missing),
 * `+/path` (unexpected), `/path(uid:0→5,mode:0644→0600)` (changed attributes); a
 * trailing `/` marks directories.
 *
 * @module
 */
import type { TarHeader } from "../archive/types.ts";
import { TypeFlag } from "../archive/types.ts";
import type { IDMap } from "./types.ts";
import { tryToContainer } from "./idmap.ts";

/** The kinds of entries compared. */
type Kind = "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";

/** What is compared of one entry; `implicit` directories were never described by a header. */
export interface EntryInfo {
  kind: Kind;
  uid: number;
  gid: number;
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  size: number;
  implicit?: boolean;
}

/** The slice of a tar header the comparison needs (kept per layer between passes). */
export interface HeaderInfo {
  name: string;
  type: number;
  uid: number;
  gid: number;
  mode: number;
  size: number;
  linkname: string;
}

/** Keeps only what the comparison needs from a header. */
export function headerInfo(h: TarHeader): HeaderInfo {
  return {
    name: h.name,
    type: h.type,
    uid: h.uid,
    gid: h.gid,
    mode: h.mode,
    size: h.size,
    linkname: h.linkname,
  };
}

/** `a/./b/`, `./a`, `/a` → `a/b`, `a`; null for the root itself. */
export function cleanEntryPath(p: string): string | null {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.length === 0 ? null : out.join("/");
}

function kindOf(type: number): Kind | null {
  switch (type) {
    case TypeFlag.Reg:
    case 0:
    case TypeFlag.Cont:
      return "file";
    case TypeFlag.Dir:
      return "dir";
    case TypeFlag.Symlink:
      return "symlink";
    case TypeFlag.Char:
      return "char";
    case TypeFlag.Block:
      return "block";
    case TypeFlag.Fifo:
      return "fifo";
    default:
      return null;
  }
}

function removeSubtree(tree: Map<string, EntryInfo>, path: string, keep: Set<string>): void {
  if (!keep.has(path)) tree.delete(path);
  const prefix = path + "/";
  for (const k of [...tree.keys()]) if (k.startsWith(prefix) && !keep.has(k)) tree.delete(k);
}

/**
 * The expected tree from the headers of each layer, base layer first. Whiteouts remove
 * what lower layers put there; what the same layer adds stays.
 */
export function expectedTree(layers: HeaderInfo[][]): Map<string, EntryInfo> {
  const tree = new Map<string, EntryInfo>();
  const ensureParents = (path: string) => {
    for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
      const dir = path.slice(0, i);
      const cur = tree.get(dir);
      if (!cur || cur.kind !== "dir") {
        tree.set(dir, { kind: "dir", uid: 0, gid: 0, mode: 0o755, size: 0, implicit: true });
      }
    }
  };
  for (const headers of layers) {
    const added = new Set<string>();
    for (const h of headers) {
      const path = cleanEntryPath(h.name);
      if (path === null) continue;
      const slash = path.lastIndexOf("/");
      const dir = slash < 0 ? "" : path.slice(0, slash);
      const base = path.slice(slash + 1);
      if (base.startsWith(".wh.")) {
        if (base === ".wh..wh..opq") {
          if (dir === "") {
            for (const k of [...tree.keys()]) if (!added.has(k)) tree.delete(k);
          } else {
            const prefix = dir + "/";
            for (const k of [...tree.keys()]) if (k.startsWith(prefix) && !added.has(k)) tree.delete(k);
          }
        } else if (!base.startsWith(".wh..wh.")) {
          removeSubtree(tree, (dir ? dir + "/" : "") + base.slice(4), added);
        }
        continue;
      }
      let info: EntryInfo;
      if (h.type === TypeFlag.Link) {
        const target = cleanEntryPath(h.linkname);
        const t = target === null ? undefined : tree.get(target);
        info = t ? { ...t } : { kind: "file", uid: h.uid, gid: h.gid, mode: h.mode & 0o7777, size: 0 };
      } else {
        const kind = kindOf(h.type);
        if (kind === null) continue;
        info = { kind, uid: h.uid, gid: h.gid, mode: h.mode & 0o7777, size: kind === "file" ? h.size : 0 };
      }
      const old = tree.get(path);
      if (old && old.kind === "dir" && info.kind !== "dir") removeSubtree(tree, path, added);
      ensureParents(path);
      tree.set(path, info);
      added.add(path);
    }
  }
  return tree;
}

function kindOfStat(st: Deno.FileInfo): Kind {
  if (st.isFile) return "file";
  if (st.isDirectory) return "dir";
  if (st.isSymlink) return "symlink";
  if (st.isCharDevice) return "char";
  if (st.isBlockDevice) return "block";
  if (st.isFifo) return "fifo";
  return "socket";
}

/** The tree under `root` (not the root itself), entries keyed by their relative path. */
export async function actualTree(root: string): Promise<Map<string, EntryInfo>> {
  const tree = new Map<string, EntryInfo>();
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel === "" ? root : `${root}/${rel}`)) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      const st = await Deno.lstat(`${root}/${path}`);
      const kind = kindOfStat(st);
      tree.set(path, {
        kind,
        uid: st.uid ?? 0,
        gid: st.gid ?? 0,
        mode: (st.mode ?? 0) & 0o7777,
        size: kind === "file" ? st.size : 0,
      });
      if (kind === "dir") await walk(path);
    }
  };
  await walk("");
  return tree;
}

/** What may legitimately differ (Go's checkIgnore). */
export interface CompareIgnore {
  /** `ignore_chown_errors`: owners may differ. */
  ownership?: boolean;
  /** `force_mask`: permissions are forced. */
  permissions?: boolean;
}

const oct = (n: number) => n.toString(8).padStart(4, "0");

/**
 * Differences between the expected and the actual tree. Owners found on disk are taken
 * back through the layer's maps first (files of a mapped layer carry host IDs).
 */
export function compareTrees(
  expected: Map<string, EntryInfo>,
  actual: Map<string, EntryInfo>,
  maps: { uidMap: IDMap[]; gidMap: IDMap[] },
  ignore: CompareIgnore = {},
): string[] {
  const out: string[] = [];
  const show = (p: string, e: EntryInfo) => "/" + p + (e.kind === "dir" ? "/" : "");
  for (const p of [...new Set([...expected.keys(), ...actual.keys()])].sort()) {
    const a = expected.get(p), b = actual.get(p);
    if (!b) {
      out.push("-" + show(p, a!));
      continue;
    }
    if (!a) {
      out.push("+" + show(p, b));
      continue;
    }
    const diffs: string[] = [];
    if (a.kind !== b.kind) diffs.push(`filetype:${a.kind}→${b.kind}`);
    else if (!a.implicit) {
      const uid = tryToContainer(maps.uidMap, b.uid), gid = tryToContainer(maps.gidMap, b.gid);
      if (!ignore.ownership && a.uid !== uid) diffs.push(`uid:${a.uid}→${uid < 0 ? `host ${b.uid}` : uid}`);
      if (!ignore.ownership && a.gid !== gid) diffs.push(`gid:${a.gid}→${gid < 0 ? `host ${b.gid}` : gid}`);
      if (a.size !== b.size) diffs.push(`size:${a.size}→${b.size}`);
      if (!ignore.permissions && a.kind !== "symlink" && a.mode !== b.mode) {
        diffs.push(`mode:${oct(a.mode)}→${oct(b.mode)}`);
      }
    }
    if (diffs.length) out.push(`${show(p, a)}(${diffs.join(",")})`);
  }
  return out;
}
