/**
 * Test fixture: a btrfs filesystem in a sparse file, attached to a loop device and
 * mounted in a temp directory. Whatever happens in the test, every mount under it is
 * unmounted, the loop device detached and the temp directory removed.
 *
 * @module
 */
import { MNT_DETACH, mountsUnder, umount2 } from "../../sys/mount.ts";

/** A mounted scratch btrfs. */
export interface ScratchBtrfs {
  /** Mount point of the filesystem. */
  mnt: string;
  /** The loop device (`/dev/loopN`). */
  device: string;
  /** The temp directory holding the image and the mount point (also a place for non-btrfs dirs). */
  dir: string;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

/** Unmounts everything at or below `path`, deepest first. */
export function unmountAllUnder(path: string): void {
  const mounts = mountsUnder(path).map((m) => m.mountPoint).sort((a, b) => b.length - a.length);
  for (const mp of mounts) {
    try {
      umount2(mp, 0);
    } catch {
      umount2(mp, MNT_DETACH);
    }
  }
}

/**
 * Runs `fn` with a fresh btrfs of `sizeMiB` (sparse; 256 MiB by default) and tears it
 * down afterwards, even when `fn` throws.
 */
export async function withScratchBtrfs<T>(
  fn: (fs: ScratchBtrfs) => Promise<T>,
  sizeMiB = 256,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "cs-btrfs-" });
  const img = `${dir}/fs.img`;
  const mnt = `${dir}/mnt`;
  let device = "";
  try {
    const f = await Deno.open(img, { create: true, write: true });
    await f.truncate(sizeMiB * 1024 * 1024);
    f.close();
    await run("mkfs.btrfs", ["-q", "-f", img]);
    device = (await run("losetup", ["--find", "--show", img])).trim();
    await Deno.mkdir(mnt);
    await run("mount", ["-t", "btrfs", device, mnt]);
    return await fn({ mnt, device, dir });
  } finally {
    try {
      unmountAllUnder(mnt);
    } finally {
      if (device) await run("losetup", ["-d", device]).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}
