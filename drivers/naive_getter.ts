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

const MAX_LINKS = 255;

/**
 * Resolves `path` inside `root` with chroot semantics (like Go's securejoin) and returns
 * the host path; the last component is resolved too when `followLast` is true. Missing
 * components are kept as they are (the result may not exist).
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
    try {
      if (Deno.lstatSync(candidate).isSymlink) target = Deno.readLinkSync(candidate);
    } catch {
      // Missing or unreadable: keep the name as it is.
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

/**
 * A getter that opens `path` from the first directory of `dirs` that has it (as a
 * regular file or anything else that opens), resolving it inside that directory.
 * `onClose` runs once on `close()` (e.g. to unmount).
 */
export function dirFileGetter(dirs: string[], onClose?: () => Promise<void>): FileGetter {
  let closed = false;
  return {
    open(path: string): Promise<Deno.FsFile | null> {
      for (const dir of dirs) {
        const host = resolveInRoot(dir, path);
        try {
          return Promise.resolve(Deno.openSync(host, { read: true }));
        } catch (err) {
          if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) continue;
          return Promise.reject(err);
        }
      }
      return Promise.resolve(null);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (onClose) await onClose();
    },
  };
}
