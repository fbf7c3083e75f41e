/**
 * Re-owning a layer tree from one ID mapping to another (Go's `ChownPathByMaps`,
 * on-disk.md 6.5), used for ID-mapped copies of layers by drivers that cannot shift IDs
 * at mount time. `ownerMapper` gives the per-entry translation; `copyTree` can apply it
 * while copying, `chownTreeByMaps` applies it in place.
 *
 * @module
 */
import { readDirFd } from "../sys/dirent_vfs.ts";
import { EINTR, ENODATA, EOPNOTSUPP, sysError } from "../sys/errno.ts";
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
} from "../sys/fs.ts";
import { errno, S } from "../sys/libc.ts";
import { OVERFLOW_ID, tryToContainer, tryToHost } from "../store/idmap.ts";
import { StorageError } from "../store/errors.ts";
import type { IDMap } from "../store/types.ts";

/** A pair of UID and GID maps. */
export interface IDMappings {
  /** UID ranges. */
  uidMap: IDMap[];
  /** GID ranges. */
  gidMap: IDMap[];
}

/** Translates an on-disk owner pair; throws to refuse it. */
export type OwnerMapper = (uid: number, gid: number) => [number, number];

/**
 * The translation of Go's chown-by-maps: host IDs go back to container IDs through
 * `toContainer` (an untranslatable pair fails unless it is 0:0, which stays, covering
 * parents that should have been mapped but were not), then out to the host through
 * `toHost`, where untranslatable IDs become the overflow ID 65534.
 */
export function ownerMapper(toContainer: IDMappings | null, toHost: IDMappings | null): OwnerMapper {
  return (uid, gid) => {
    let u = uid, g = gid;
    if (toContainer) {
      const cu = tryToContainer(toContainer.uidMap, u), cg = tryToContainer(toContainer.gidMap, g);
      if (cu < 0 || cg < 0) {
        if (u !== 0 || g !== 0) {
          throw new StorageError(
            `mapping host ID pair {UID:${u} GID:${g}} to container: host ID ${
              cu < 0 ? u : g
            } cannot be mapped to a container ID`,
          );
        }
      } else {
        u = cu;
        g = cg;
      }
    }
    if (toHost) {
      u = tryToHost(toHost.uidMap, u, OVERFLOW_ID);
      g = tryToHost(toHost.gidMap, g, OVERFLOW_ID);
    }
    return [u, g];
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CAP = enc.encode("security.capability\0");

/**
 * Re-owns every entry below `root` (not `root` itself) in place through `map`. For each
 * changed entry the `security.capability` xattr (which lchown drops) and the setuid/setgid
 * bits (which lchown clears) are restored. Each inode is handled once. Returns the number
 * of entries changed.
 */
export function chownTreeByMaps(root: string, map: OwnerMapper): number {
  const stat = new Uint8Array(144);
  const view = new DataView(stat.buffer);
  const seen = new Set<string>();
  const capBuf = new Uint8Array(1024);
  let changed = 0;

  const walk = (dirfd: number, dirPath: Uint8Array): void => {
    for (const ent of readDirFd(dirfd, dec.decode(dirPath))) {
      const name = ent.name;
      const full = new Uint8Array(dirPath.length + name.length + 1);
      full.set(dirPath);
      full[dirPath.length] = 0x2f;
      full.set(name, dirPath.length + 1);
      const label = () => dec.decode(full.subarray(0, full.length - 1));
      if (S.fstatat(dirfd, name, stat, AT_SYMLINK_NOFOLLOW) === -1) throw sysError("lstat", label(), errno());
      const mode = view.getUint32(24, true);
      const type = mode & S_IFMT;
      const key = `${view.getBigUint64(0, true)}:${view.getBigUint64(8, true)}`;
      if (!seen.has(key)) {
        seen.add(key);
        const uid = view.getUint32(28, true), gid = view.getUint32(32, true);
        const [nu, ng] = map(uid, gid);
        if (nu !== uid || ng !== gid) {
          let cap: Uint8Array<ArrayBuffer> | null = null;
          // Past PATH_MAX the path-only xattr calls go through the directory's fd.
          const xpath = full.length < 4000 ? full : procPath(dirfd, name);
          const r = S.lgetxattr(xpath, CAP, capBuf, BigInt(capBuf.length));
          if (r >= 0) cap = capBuf.slice(0, r);
          else if (errno() !== ENODATA && errno() !== EOPNOTSUPP) {
            throw sysError("lgetxattr", `${label()} security.capability`, errno());
          }
          if (S.fchownat(dirfd, name, nu, ng, AT_SYMLINK_NOFOLLOW) === -1) {
            throw sysError("lchown", label(), errno());
          }
          if (type !== S_IFLNK && (mode & 0o6000) !== 0) {
            if (S.fchmodat(dirfd, name, mode & 0o7777, 0) === -1) throw sysError("chmod", label(), errno());
          }
          if (cap !== null && S.lsetxattr(xpath, CAP, cap, BigInt(cap.length), 0) === -1) {
            throw sysError("lsetxattr", `${label()} security.capability`, errno());
          }
          changed++;
        }
      }
      if (type === S_IFDIR) {
        const fd = openDir(dirfd, name, label());
        try {
          walk(fd, full.subarray(0, full.length - 1));
        } finally {
          S.close(fd);
        }
      }
    }
  };

  const rootBytes = enc.encode(root.length > 1 ? root.replace(/\/+$/, "") : root);
  const rootNul = new Uint8Array(rootBytes.length + 1);
  rootNul.set(rootBytes);
  const fd = openDir(AT_FDCWD, rootNul, root);
  try {
    walk(fd, rootBytes);
  } finally {
    S.close(fd);
  }
  return changed;
}

function procPath(dirfd: number, name: Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = enc.encode(`/proc/self/fd/${dirfd}/`);
  const out = new Uint8Array(prefix.length + name.length);
  out.set(prefix);
  out.set(name, prefix.length);
  return out;
}

function openDir(dirfd: number, name: Uint8Array<ArrayBuffer>, label: string): number {
  for (;;) {
    const fd = S.openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== EINTR) throw sysError("open", label, e);
  }
}
