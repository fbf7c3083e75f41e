/**
 * A `FileGetter` over plain directories, for tar-split replay of directory-based layers
 * (vfs: the layer directory; overlay: the diff directory, then further candidates).
 *
 * Names are resolved inside each directory the way a chrooted process would see them:
 * `..` cannot climb out, and symlinks met on the way (absolute ones included) are
 * followed relative to the directory, never to the host.
 *
 * @module
 */
import type { FileGetter } from "./driver.ts";
import { lstatMode, p0, readLinkName } from "../archive/rawpath.ts";
import { errno, S } from "../sys/libc.ts";
import { EINTR, ELOOP, ENOENT, ENOTDIR, sysError } from "../sys/errno.ts";

const MAX_LINKS = 255;
const S_IFMT = 0o170000, S_IFLNK = 0o120000;
const O_RDONLY_CLOEXEC = 0o2000000;
const O_NOFOLLOW = 0o400000, O_PATH = 0o10000000, O_DIRECTORY = 0o200000;

/**
 * Resolves `path` inside `root` with chroot semantics (like Go's securejoin) and returns
 * the host path; the last component is resolved too when `followLast` is true. Missing
 * components are kept as they are (the result may not exist). Names are byte-exact
 * (see archive/rawpath.ts).
 */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  const base = root.length > 1 ? root.replace(/\/+$/, "") : root;
  let pending = path.split("/");
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = base + "/" + [...done, part].join("/");
    if (pending.length === 0 && !followLast) {
      done.push(part);
      break;
    }
    let target: string | null = null;
    // Missing or unreadable: keep the name as it is.
    if ((lstatMode(candidate) & S_IFMT) === S_IFLNK) {
      try {
        target = readLinkName(candidate);
      } catch { /* vanished */ }
    }
    if (target === null) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      done.push(part);
      break;
    }
    if (target.startsWith("/")) done.length = 0;
    pending = [...target.split("/"), ...pending];
  }
  return done.length === 0 ? base : base + "/" + done.join("/");
}

// A name with an empty, "." or ".." component (after leading "./" and "/") takes the slow path.
const LEADING = /^(?:\.?\/)+/;
const IRREGULAR = /\/\/|(^|\/)\.\.?(\/|$)|\/$/;

/** `[parent, base]` of a plain relative name, or null when it needs full resolution. */
function splitPlain(path: string): [string, string] | null {
  const rel = path.charCodeAt(0) === 0x2e || path.charCodeAt(0) === 0x2f ? path.replace(LEADING, "") : path;
  if (rel === "" || IRREGULAR.test(rel)) return null;
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? ["", rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
}

/** open(2) read-only, retrying EINTR; returns the fd or -errno. */
function openRead(host: string, flags: number): number {
  for (;;) {
    const fd = S.open(p0(host), O_RDONLY_CLOEXEC | flags, 0);
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/**
 * A getter that opens `path` from the first directory of `dirs` that has it (as a
 * regular file or anything else that opens), resolving it inside that directory.
 * Resolved parent directories are remembered (the layer does not change while it is
 * replayed), so a file costs one open(2) when its last component is not a symlink.
 * `onClose` runs once on `close()` (e.g. to unmount).
 */
export function dirFileGetter(dirs: string[], onClose?: () => Promise<void>): FileGetter {
  let closed = false;
  const parents = dirs.map(() => new Map<string, string>());
  // O_PATH descriptor of the last parent directory per directory of `dirs`: entries come
  // grouped by directory, so most opens walk one component (openat) instead of the path.
  const lastRel: Array<string | null> = dirs.map(() => null);
  const lastFd: number[] = dirs.map(() => -1);
  const dropParent = (k: number) => {
    if (lastFd[k] >= 0) S.close(lastFd[k]);
    lastFd[k] = -1;
    lastRel[k] = null;
  };
  /** The O_PATH fd of the resolved parent `rel` in dirs[k], or -errno. */
  const parentFd = (k: number, rel: string): number => {
    if (lastRel[k] === rel) return lastFd[k];
    dropParent(k);
    let host = parents[k].get(rel);
    if (host === undefined) {
      host = resolveInRoot(dirs[k], rel);
      parents[k].set(rel, host);
    }
    const fd = openRead(host, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    lastRel[k] = rel;
    lastFd[k] = fd;
    return fd;
  };
  const openFd = (path: string): number => {
    const plain = splitPlain(path);
    for (let k = 0; k < dirs.length; k++) {
      if (plain) {
        const [parentRel, base] = plain;
        const dfd = parentFd(k, parentRel);
        let fd = dfd;
        if (dfd >= 0) {
          for (;;) {
            fd = S.openat(dfd, p0(base), O_RDONLY_CLOEXEC | O_NOFOLLOW, 0);
            if (fd >= 0) return fd;
            fd = -errno();
            if (fd !== -EINTR) break;
          }
        }
        if (fd === -ENOENT || fd === -ENOTDIR) continue;
        if (fd !== -ELOOP) throw sysError("open", `${parents[k].get(parentRel)}/${base}`, -fd);
        // A symlink (the last component, or a parent past MAX_LINKS): resolve it below.
      }
      const host = resolveInRoot(dirs[k], path);
      const fd = openRead(host, 0);
      if (fd >= 0) return fd;
      if (fd === -ENOENT || fd === -ENOTDIR) continue;
      throw sysError("open", host, -fd);
    }
    return -1;
  };
  return {
    open(path: string): Promise<Deno.FsFile | null> {
      let fd: number;
      try {
        fd = openFd(path);
      } catch (err) {
        return Promise.reject(err);
      }
      if (fd < 0) return Promise.resolve(null);
      try {
        return Promise.resolve(Deno.openSync(`/proc/self/fd/${fd}`, { read: true }));
      } catch (err) {
        return Promise.reject(err);
      } finally {
        S.close(fd);
      }
    },
    openFd,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (let k = 0; k < dirs.length; k++) dropParent(k);
      if (onClose) await onClose();
    },
  };
}
