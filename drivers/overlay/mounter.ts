/**
 * Performing overlay mounts: mount(2) when the options fit in a page, else the new
 * mount API with one `lowerdir+` per layer, else (older kernels) Go's way of relative
 * paths from the driver home — done in a short-lived child process, because changing
 * the working directory of this process would affect every thread of it. Also the
 * mount-program (fuse-overlayfs) path and unmounting.
 *
 * @module
 */
import { MNT_DETACH, mount, umount2 } from "../../sys/mount.ts";
import { fsMount, type FsParam, pageSize } from "../../sys/newmount_overlay.ts";
import { isErrno } from "../../sys/errno.ts";
import { StorageError } from "../../store/errors.ts";
import { mountAttrs, parseMountOptions } from "./mountopts.ts";

/** What to mount: absolute paths plus their forms relative to the driver home. */
export interface OverlaySpec {
  /** Driver home (cwd for relative paths and mount programs). */
  home: string;
  /** Absolute mount point. */
  target: string;
  /** Mount point relative to home. */
  relTarget: string;
  /** Absolute lower directories, nearest first (for read-only mounts the layer's diff comes first). */
  lowers: string[];
  /** The same lowers relative to home. */
  relLowers: string[];
  /** Absolute upper and work dirs (absent for read-only mounts). */
  upper?: string;
  work?: string;
  /** Upper and work relative to home. */
  relUpper?: string;
  relWork?: string;
  /** Extra options (`ro`, `nodev`, `userxattr`, `volatile`, `key=value`...). */
  options: string[];
}

/** How a mount was made. */
export type MountMethod = "mount" | "fsmount" | "relative";

/** The option string Go would pass (absolute or relative form). */
export function overlayData(spec: OverlaySpec, relative: boolean): string {
  const lowers = (relative ? spec.relLowers : spec.lowers).join(":");
  let s = `lowerdir=${lowers}`;
  if (spec.upper !== undefined) {
    s += `,upperdir=${relative ? spec.relUpper : spec.upper},workdir=${relative ? spec.relWork : spec.work}`;
  }
  if (spec.options.length > 0) s += "," + spec.options.join(",");
  return s;
}

/**
 * Mounts an overlay for `spec`. `force` picks a method (tests); otherwise the first that
 * applies: mount(2) with absolute paths when they fit in a page, the new mount API, then
 * relative paths in a child process.
 */
export async function mountOverlay(spec: OverlaySpec, force?: MountMethod): Promise<MountMethod> {
  const abs = overlayData(spec, false);
  const { flags, data } = parseMountOptions(abs);
  const page = pageSize();
  const dataStr = data.join(",");
  if (force === "mount" || (force === undefined && dataStr.length < page)) {
    try {
      mount("overlay", spec.target, "overlay", flags, dataStr);
    } catch (err) {
      throw mountError(spec.target, abs, err);
    }
    return "mount";
  }
  if (force === "fsmount" || force === undefined) {
    try {
      fsMount("overlay", fsParams(spec), mountAttrs(flags), spec.target);
      return "fsmount";
    } catch (err) {
      // ENOSYS: no new mount API; EINVAL: no `lowerdir+` (kernel < 6.8). Anything else is real.
      if (force === "fsmount" || !isErrno(err, "ENOSYS", "EINVAL")) throw mountError(spec.target, abs, err);
    }
  }
  const rel = overlayData(spec, true);
  const relParsed = parseMountOptions(rel);
  const relData = relParsed.data.join(",");
  if (relData.length >= page) {
    throw new StorageError(`cannot mount layer, mount data too large ${relData.length} >= page size ${page}`);
  }
  await mountFromChild(spec.home, spec.relTarget, relParsed.flags, relData);
  return "relative";
}

function fsParams(spec: OverlaySpec): FsParam[] {
  const params: FsParam[] = [{ key: "source", value: "overlay" }];
  for (const l of spec.lowers) params.push({ key: "lowerdir+", value: l });
  if (spec.upper !== undefined) {
    params.push({ key: "upperdir", value: spec.upper }, { key: "workdir", value: spec.work! });
  }
  for (const o of parseMountOptions(spec.options.join(",")).data) {
    const eq = o.indexOf("=");
    params.push(eq < 0 ? { key: o, value: null } : { key: o.slice(0, eq), value: o.slice(eq + 1) });
  }
  return params;
}

function mountError(target: string, data: string, err: unknown): StorageError {
  const msg = err instanceof Error ? err.message : String(err);
  return new StorageError(msg, `creating overlay mount to ${target}, mount_data=${JSON.stringify(data)}`, {
    cause: err,
  });
}

/** Runs mount(2) in a child process whose working directory is `home` (Go's mountFrom). */
async function mountFromChild(home: string, target: string, flags: number, data: string): Promise<void> {
  const helper = new URL("./mount_helper.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", helper, target, String(flags), data],
    cwd: home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim() || `exit status ${out.code}`;
    throw new StorageError(text, `mountfrom ${home}: creating overlay mount to ${target}`);
  }
}

/**
 * Mounts with a mount program such as fuse-overlayfs: `PROGRAM -o DATA TARGET`, run in
 * the driver home, as Go does. Failure → error carrying the program's stderr.
 */
export async function mountWithProgram(
  program: string,
  home: string,
  target: string,
  data: string,
): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(program, {
      args: ["-o", data, target],
      cwd: home,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new StorageError(`${(err as Error).message}`, `using mount program ${program}`, { cause: err });
  }
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim() || "<stderr empty>";
    throw new StorageError(text, `using mount program ${program}`);
  }
}

/** Runs `fusermount3 -u` or `fusermount -u`; true when one of them unmounted `target`. */
export async function fuseUnmount(target: string): Promise<boolean> {
  for (const prog of ["fusermount3", "fusermount"]) {
    try {
      const out = await new Deno.Command(prog, { args: ["-u", target], stdout: "null", stderr: "null" })
        .output();
      if (out.success) return true;
    } catch {
      // Not installed: try the next one.
    }
  }
  return false;
}

/** umount2(MNT_DETACH); a path that is not (or no longer) a mount point is fine. */
export function detach(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch (err) {
    if (isErrno(err, "EINVAL", "ENOENT")) return;
    throw new StorageError((err as Error).message, `unmounting ${JSON.stringify(target)}`, { cause: err });
  }
}
