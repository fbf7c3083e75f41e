/**
 * Native overlay diff: a tar of a layer's own `diff/` directory in which overlay
 * whiteouts become AUFS-style `.wh.` entries (on-disk.md 5.7). Streamed: files are read
 * while the consumer pulls, memory stays flat.
 *
 * @module
 */
import { major, minor, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from "../../sys/fs.ts";
import { lgetxattr, llistxattr } from "../../sys/xattr.ts";
import { isErrno } from "../../sys/errno.ts";
import { type TarWriteHeader, TarWriter } from "../../archive/tar_writer.ts";
import { TypeFlag } from "../../archive/types.ts";
import { ArchiveError } from "../../store/errors.ts";
import { toContainer } from "../../store/idmap.ts";
import type { IDMap } from "../../store/types.ts";
import { isOpaque, isWhiteout, LowerView, walkSorted } from "./changes.ts";

/** Options of overlayDiff. */
export interface OverlayDiffOptions {
  /** Layer UID map: host IDs on disk are mapped back to container IDs. */
  uidMap?: IDMap[];
  /** Layer GID map. */
  gidMap?: IDMap[];
  /** Opaque xattr name (`trusted.overlay.opaque`, or `user.overlay.opaque` rootless). */
  opaqueXattr: string;
}

/** Files up to this size are read in one call. */
const SMALL_FILE = 1 << 20;

let names: { users: Map<number, string>; groups: Map<number, string> } | null = null;

/** Host user and group names by ID (from /etc/passwd and /etc/group), as Go's tar headers carry them. */
function hostNames(): { users: Map<number, string>; groups: Map<number, string> } {
  if (names) return names;
  const read = (file: string) => {
    const m = new Map<number, string>();
    try {
      for (const line of Deno.readTextFileSync(file).split("\n")) {
        const f = line.split(":");
        if (f.length >= 3 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch { /* no such file: names stay empty */ }
    return m;
  };
  names = { users: read("/etc/passwd"), groups: read("/etc/group") };
  return names;
}

/** xattrs Go exports into layer tars: `security.capability`, `security.ima`, `user.*` but not `user.overlay.*`. */
function exportedXattrs(path: string): Map<string, Uint8Array> | undefined {
  let list: string[];
  try {
    list = llistxattr(path);
  } catch (err) {
    if (isErrno(err, "ENOTSUP", "EOPNOTSUPP")) return undefined;
    throw err;
  }
  let out: Map<string, Uint8Array> | undefined;
  for (const name of list) {
    const wanted = name === "security.capability" || name === "security.ima" ||
      (name.startsWith("user.") && !name.startsWith("user.overlay."));
    if (!wanted) continue;
    const v = lgetxattr(path, name);
    if (v === null) continue;
    (out ??= new Map()).set(name, v);
  }
  return out;
}

/**
 * Streams the tar of `diff` (the layer's upper directory) against `lowers` (the diff
 * directories below it, nearest first): char devices 0/0 become `.wh.NAME`, an opaque
 * directory that hides a lower one is followed by `DIR/.wh..wh..opq`.
 */
export function overlayDiff(
  diff: string,
  lowers: string[],
  opts: OverlayDiffOptions,
): ReadableStream<Uint8Array> {
  const w = new TarWriter();
  const produce = async () => {
    const view = new LowerView(lowers);
    const { users, groups } = hostNames();
    const inodes = new Map<bigint, string>();
    for (const { rel, path, st } of walkSorted(diff)) {
      const fmt = st.mode & S_IFMT;
      const uid = toContainer(opts.uidMap, st.uid), gid = toContainer(opts.gidMap, st.gid);
      const base: TarWriteHeader = {
        name: rel,
        mode: st.mode & 0o7777,
        uid,
        gid,
        uname: users.get(st.uid) ?? "",
        gname: groups.get(st.gid) ?? "",
        mtimeNs: st.mtimeNs,
      };
      if (isWhiteout(st)) {
        const slash = rel.lastIndexOf("/");
        const name = slash < 0 ? `.wh.${rel}` : `${rel.slice(0, slash)}/.wh.${rel.slice(slash + 1)}`;
        // Go's archiver takes whiteouts sharing one inode (the kernel links them) for hard
        // links: the first one's name stays in the link field of the others.
        let linkname: string | undefined;
        if (st.nlink > 1) {
          linkname = inodes.get(st.ino);
          if (linkname === undefined) inodes.set(st.ino, rel);
        }
        await w.add({ ...base, name, type: TypeFlag.Reg, size: 0, rawMode: true, linkname });
        continue;
      }
      const xattrs = exportedXattrs(path);
      switch (fmt) {
        case S_IFDIR: {
          await w.add({ ...base, name: rel + "/", type: TypeFlag.Dir, xattrs });
          if (isOpaque(path, opts.opaqueXattr)) {
            if (view.lookup(rel) !== null) {
              // Go keeps only the directory's permission bits (no setuid/setgid/sticky).
              await w.add({
                ...base,
                name: `${rel}/.wh..wh..opq`,
                mode: st.mode & 0o777,
                rawMode: true,
                type: TypeFlag.Reg,
                size: 0,
                mtimeNs: 0n,
              });
            }
          }
          break;
        }
        case S_IFREG: {
          const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
          if (first !== undefined) {
            await w.add({ ...base, type: TypeFlag.Link, linkname: first, xattrs });
            break;
          }
          if (st.nlink > 1) inodes.set(st.ino, rel);
          const header = { ...base, type: TypeFlag.Reg, size: st.size, xattrs };
          if (st.size <= SMALL_FILE) {
            // Most layer files are small: one synchronous read beats a streamed open/read/close.
            const data = Deno.readFileSync(path);
            if (data.length !== st.size) throw new ArchiveError(`${path} changed size while being archived`);
            await w.add(header, data);
          } else {
            await w.addFile(header, path);
          }
          break;
        }
        case S_IFLNK:
          await w.add({ ...base, type: TypeFlag.Symlink, linkname: Deno.readLinkSync(path), xattrs });
          break;
        case S_IFCHR:
        case S_IFBLK:
          await w.add({
            ...base,
            type: fmt === S_IFCHR ? TypeFlag.Char : TypeFlag.Block,
            devmajor: major(st.rdev),
            devminor: minor(st.rdev),
            xattrs,
          });
          break;
        case S_IFIFO:
          await w.add({ ...base, type: TypeFlag.Fifo, xattrs });
          break;
        default:
          // Sockets are not archived, as by Go.
          break;
      }
    }
    await w.close();
  };
  produce().catch((err) => w.abort(err));
  return w.readable;
}
