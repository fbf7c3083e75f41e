/**
 * What the drivers that keep every layer as a plain directory tree (vfs, btrfs) share:
 * Go's reading of layer IDs as path elements, its `stat` error texts, directories
 * created with an owner, the mount options such a layer accepts, and extraction with
 * whiteouts that delete.
 *
 * @module
 */
import { extractTar } from "../archive/extract.ts";
import { DriverOptionError } from "../store/errors.ts";
import { errnoOf, sysError } from "../sys/errno.ts";
import { geteuid, lchown, lstatNs } from "../sys/fs.ts";
import type { DriverApplyOptions, DriverMountOptions } from "./driver.ts";

/** Go's filepath.Base of a layer ID (no path component may escape the layers' directory). */
export function idBase(id: string): string {
  if (id === "") return ".";
  const trimmed = id.replace(/\/+$/, "");
  if (trimmed === "") return "/";
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** stat with Go's PathError wording on failure (`stat PATH: no such file or directory`). */
export function statGo(path: string): Deno.FileInfo {
  try {
    return Deno.statSync(path);
  } catch (err) {
    const e = errnoOf(err);
    if (e !== null) throw sysError("stat", path, e);
    throw err;
  }
}

/** lchown unless the owner is already right (a non-root process cannot give files away). */
export function chownIfNeeded(path: string, uid: number, gid: number): void {
  const st = lstatNs(path);
  if (st.uid !== uid || st.gid !== gid) lchown(path, uid, gid);
}

/** stat, or null when it fails (missing, dangling symlink, no access). */
export function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** Creates `path` and missing parents with `mode`, owning the ones it created by uid:gid (Go's MkdirAllAs). */
export function mkdirAllAs(path: string, mode: number, uid: number, gid: number): void {
  const missing: string[] = [];
  let p = path;
  while (p !== "/" && p !== "" && statOrNull(p) === null) {
    missing.unshift(p);
    p = p.slice(0, p.lastIndexOf("/")) || "/";
  }
  for (const dir of missing) {
    try {
      Deno.mkdirSync(dir, { mode });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    chownIfNeeded(dir, uid, gid);
  }
}

/** Refuses mount options other than a lone `ro` (which changes nothing), in Go's words. */
export function checkMountOptions(driver: string, options: DriverMountOptions): void {
  const opts = options.options ?? [];
  if (opts.length > 1 || (opts.length === 1 && opts[0] !== "ro")) {
    throw new DriverOptionError(`${driver} driver does not support mount options`);
  }
}

/**
 * Extracts a layer tar on top of the layer's directory, whiteouts deleting what they
 * name; `ignoreChownErrors` is the driver's own option, joining the caller's.
 */
export async function extractDeleting(
  dir: string,
  tar: ReadableStream<Uint8Array>,
  options: DriverApplyOptions,
  ignoreChownErrors = false,
): Promise<void> {
  await extractTar(tar, dir, {
    whiteoutFormat: "delete",
    uidMap: options.uidMap,
    gidMap: options.gidMap,
    ignoreChownErrors: options.ignoreChownErrors || ignoreChownErrors,
    rootless: geteuid() !== 0,
    observers: options.observers,
  });
}
