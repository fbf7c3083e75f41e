/**
 * Kernel feature probes of the overlay driver, cached in the run root as Go does: a
 * marker file `RUNHOME/<feature>-true` or `-false` (the latter may hold an explanation).
 * A process that finds a marker trusts it instead of probing again, so Go and Deno
 * processes share each other's results.
 *
 * @module
 */
import { lgetxattr, lsetxattr } from "../../sys/xattr.ts";
import { lchown } from "../../sys/fs.ts";
import { MNT_DETACH, mount, umount2 } from "../../sys/mount.ts";
import { DT_UNKNOWN, readDirFd } from "../../sys/dirent_vfs.ts";
import { closeFd, O_CLOEXEC, O_DIRECTORY, O_RDONLY, openFd } from "../../sys/fs.ts";
import { isErrno } from "../../sys/errno.ts";
import { parseMountOptions } from "./mountopts.ts";
import { createIDMappedMount, createUsernsProcess } from "./idmapped.ts";

/** A cached probe result, or null when no marker exists. */
export function cachedFeature(runhome: string, feature: string): { value: boolean; text: string } | null {
  for (const value of [true, false]) {
    try {
      const text = Deno.readTextFileSync(`${runhome}/${feature}-${value}`);
      return { value, text };
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return null;
}

/** Records a probe result as Go does (`os.WriteFile(name, text, 0600)` under the usual umask). */
export function setCachedFeature(runhome: string, feature: string, value: boolean, text = ""): void {
  Deno.writeTextFileSync(`${runhome}/${feature}-${value}`, text, { mode: 0o644 });
}

/** Runs `probe` unless a marker exists; a probe that throws records `-false` with its message. */
export function cachedProbe(
  runhome: string,
  feature: string,
  probe: () => void,
): { value: boolean; text: string } {
  const cached = cachedFeature(runhome, feature);
  if (cached) return cached;
  let value = true, text = "";
  try {
    probe();
  } catch (err) {
    value = false;
    text = err instanceof Error ? err.message : String(err);
  }
  setCachedFeature(runhome, feature, value, text);
  return { value, text };
}

/** A scratch directory in `home` named like Go's MkdirTemp (`<prefix><digits>`), removed after `fn`. */
function withScratch<T>(home: string, prefix: string, fn: (dir: string) => T): T {
  let dir = "";
  for (;;) {
    dir = `${home}/${prefix}${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    try {
      Deno.mkdirSync(dir, { mode: 0o700 });
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
  try {
    return fn(dir);
  } finally {
    try {
      umount2(`${dir}/merged`, MNT_DETACH);
    } catch { /* not mounted: the normal case */ }
    Deno.removeSync(dir, { recursive: true });
  }
}

function mkdirs(base: string, names: string[], mode = 0o755): void {
  for (const n of names) Deno.mkdirSync(`${base}/${n}`, { mode, recursive: true });
}

/** Whether directory entries in `home` carry a file type (overlay needs d_type). */
export function supportsDType(home: string): boolean {
  return withScratch(home, "dtype-check", (dir) => {
    Deno.writeFileSync(`${dir}/f`, new Uint8Array(0));
    const fd = openFd(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      return readDirFd(fd, dir).every((e) => e.type !== DT_UNKNOWN);
    } finally {
      closeFd(fd);
    }
  });
}

/** Throws unless a two-lower overlay mounts in `home` (Go's supportsOverlay). */
export function probeOverlay(home: string, extraOpts: string[]): void {
  withScratch(home, "compat", (dir) => {
    mkdirs(dir, ["merged", "lower1", "lower2", "upper", "work"], 0o700);
    const data = [
      `lowerdir=${dir}/lower1:${dir}/lower2`,
      `upperdir=${dir}/upper`,
      `workdir=${dir}/work`,
      ...extraOpts,
    ]
      .join(",");
    mount("overlay", `${dir}/merged`, "overlay", 0, data);
    umount2(`${dir}/merged`, MNT_DETACH);
  });
}

/** Whether overlay with `mountOpts` copies up metadata only (Go's doesMetacopy). */
export function probeMetacopy(home: string, mountOpts: string, opaqueXattr: string): boolean {
  return withScratch(home, "metacopy-check", (dir) => {
    mkdirs(dir, ["l1", "l2", "work", "merged"]);
    Deno.writeFileSync(`${dir}/l1/f`, new Uint8Array(0), { mode: 0o700 });
    const data = [`lowerdir=${dir}/l1`, `upperdir=${dir}/l2`, `workdir=${dir}/work`];
    const { flags, data: extra } = parseMountOptions(mountOpts);
    try {
      mount("overlay", `${dir}/merged`, "overlay", flags, [...data, ...extra].join(","));
    } catch (err) {
      if (isErrno(err, "EINVAL")) return false;
      throw err;
    }
    try {
      lchown(`${dir}/merged/f`, 1, 2);
      const name = opaqueXattr.replace(/opaque$/, "metacopy");
      return lgetxattr(`${dir}/l2/f`, name) !== null;
    } finally {
      umount2(`${dir}/merged`, 0);
    }
  });
}

/**
 * Throws when overlay's own diff cannot be trusted (Go's doesSupportNativeDiff): the
 * opaque flag must not be copied up, and directory renames must not be redirects.
 */
export function probeNativeDiff(home: string, mountOpts: string, opaqueXattr: string): void {
  withScratch(home, "opaque-bug-check", (dir) => {
    mkdirs(dir, ["l1/d", "l1/d1", "l2/d", "l3", "work", "merged"]);
    lsetxattr(`${dir}/l2/d`, opaqueXattr, new TextEncoder().encode("y"));
    const data = [`lowerdir=${dir}/l2:${dir}/l1`, `upperdir=${dir}/l3`, `workdir=${dir}/work`];
    const { flags, data: extra } = parseMountOptions(mountOpts);
    mount("overlay", `${dir}/merged`, "overlay", flags, [...data, ...extra].join(","));
    try {
      Deno.writeFileSync(`${dir}/merged/d/f`, new Uint8Array(0));
      const opaque = lgetxattr(`${dir}/l3/d`, opaqueXattr);
      if (opaque !== null && new TextDecoder().decode(opaque) === "y") {
        throw new Error("opaque flag erroneously copied up, consider update to kernel 4.8 or later to fix");
      }
      try {
        Deno.renameSync(`${dir}/merged/d1`, `${dir}/merged/d2`);
      } catch (err) {
        // EXDEV: no CONFIG_OVERLAY_FS_REDIRECT_DIR, renames copy up: native diff works.
        if ((err as { code?: string }).code === "EXDEV") return;
        throw new Error(`failed to rename dir in merged directory: ${(err as Error).message}`);
      }
      const redirect = lgetxattr(`${dir}/l3/d2`, opaqueXattr.replace(/opaque$/, "redirect"));
      if (redirect !== null && new TextDecoder().decode(redirect) === "d1") {
        throw new Error("kernel has CONFIG_OVERLAY_FS_REDIRECT_DIR enabled");
      }
    } finally {
      umount2(`${dir}/merged`, 0);
    }
  });
}

/** Throws unless overlay accepts the `volatile` option (HEAD's checkSupportVolatile). */
export function probeVolatile(home: string, mountOpts: string): void {
  withScratch(home, "volatile-check", (dir) => {
    mkdirs(dir, ["lower", "upper", "work", "merged"], 0o700);
    const data = [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`, "volatile"];
    const { flags, data: extra } = parseMountOptions(mountOpts);
    mount("overlay", `${dir}/merged`, "overlay", flags, [...data, ...extra].join(","));
    umount2(`${dir}/merged`, MNT_DETACH);
  });
}

/** Runs the async `probe` unless a marker exists (see cachedProbe). */
export async function cachedProbeAsync(
  runhome: string,
  feature: string,
  probe: () => Promise<void>,
): Promise<{ value: boolean; text: string }> {
  const cached = cachedFeature(runhome, feature);
  if (cached) return cached;
  let value = true, text = "";
  try {
    await probe();
  } catch (err) {
    value = false;
    text = err instanceof Error ? err.message : String(err);
  }
  setCachedFeature(runhome, feature, value, text);
  return { value, text };
}

/** Throws unless an idmapped mount can serve as an overlay lower (Go's supportsIdmappedLowerLayers). */
export async function probeIdmappedLowerDir(home: string): Promise<void> {
  const dir = `${home}/compat${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  Deno.mkdirSync(dir, { mode: 0o700 });
  try {
    mkdirs(dir, ["merged", "lower", "lower-mapped", "upper", "work"], 0o700);
    const ns = await createUsernsProcess(
      [{ containerId: 0, hostId: 0, size: 1 }],
      [{ containerId: 0, hostId: 0, size: 1 }],
    );
    try {
      createIDMappedMount(`${dir}/lower`, `${dir}/lower-mapped`, ns.pid);
      try {
        mount(
          "overlay",
          `${dir}/merged`,
          "overlay",
          0,
          `lowerdir=${dir}/lower-mapped,upperdir=${dir}/upper,workdir=${dir}/work`,
        );
        umount2(`${dir}/merged`, MNT_DETACH);
      } finally {
        umount2(`${dir}/lower-mapped`, MNT_DETACH);
      }
    } finally {
      await ns.close();
    }
  } finally {
    for (const m of ["merged", "lower-mapped"]) {
      try {
        umount2(`${dir}/${m}`, MNT_DETACH);
      } catch { /* not mounted */ }
    }
    Deno.removeSync(dir, { recursive: true });
  }
}
