/**
 * Test and benchmark fixture: a btrfs filesystem in a sparse file, attached to a loop
 * device and mounted in a temp directory. Closing it unmounts every mount under it (a
 * driver's private home mount included), detaches the loop device and removes the temp
 * directory — whatever the test did. Also: running a command, listing subvolumes.
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
  /** Unmounts, detaches and removes everything. Idempotent. */
  close(): Promise<void>;
  /** The same, synchronously (for `unload` handlers). */
  closeSync(): void;
}

function runSync(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Unmounts everything at or below `path`, deepest first. */
export function unmountAllUnder(path: string): void {
  for (const m of mountsUnder(path)) {
    try {
      umount2(m.mountPoint, 0);
    } catch {
      try {
        umount2(m.mountPoint, MNT_DETACH);
      } catch {
        // Already gone (a parent's lazy unmount took it).
      }
    }
  }
}

/**
 * Makes a fresh btrfs of `sizeMiB` (sparse; 256 MiB by default) in a temp directory under
 * `parent` (the system temp dir by default) and mounts it.
 */
export function openScratchBtrfs(sizeMiB = 256, parent?: string): ScratchBtrfs {
  const dir = Deno.makeTempDirSync({ prefix: "cs-btrfs-", dir: parent });
  const img = `${dir}/fs.img`;
  const mnt = `${dir}/mnt`;
  let device = "";
  let closed = false;
  const closeSync = () => {
    if (closed) return;
    closed = true;
    try {
      unmountAllUnder(mnt);
    } finally {
      if (device) {
        try {
          runSync("losetup", ["-d", device]);
        } catch {
          // Detached already.
        }
      }
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Keep going: nothing else to free.
      }
    }
  };
  try {
    const f = Deno.openSync(img, { create: true, write: true });
    f.truncateSync(sizeMiB * 1024 * 1024);
    f.close();
    runSync("mkfs.btrfs", ["-q", "-f", img]);
    // Another process may grab the free device between losetup's lookup and its attach.
    for (let attempt = 1; device === ""; attempt++) {
      try {
        device = runSync("losetup", ["--find", "--show", img]).trim();
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
    Deno.mkdirSync(mnt);
    runSync("mount", ["-t", "btrfs", device, mnt]);
  } catch (err) {
    closeSync();
    throw err;
  }
  return { mnt, device, dir, closeSync, close: () => Promise.resolve().then(closeSync) };
}

/** Runs `fn` with a fresh scratch btrfs and closes it afterwards, even when `fn` throws. */
export async function withScratchBtrfs<T>(
  fn: (fs: ScratchBtrfs) => Promise<T>,
  sizeMiB = 256,
): Promise<T> {
  const fs = openScratchBtrfs(sizeMiB);
  try {
    return await fn(fs);
  } finally {
    fs.closeSync();
  }
}

/** Runs a command to its end; resolves to its stdout, throws with its stderr when it fails. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Subvolume paths (relative to the mount) as `btrfs subvolume list` shows them, with parent UUIDs. */
export async function subvolumes(
  mnt: string,
): Promise<Array<{ path: string; parentUuid: string; uuid: string }>> {
  const out = await sh("btrfs", "subvolume", "list", "-uq", mnt);
  return out.trim().split("\n").filter(Boolean).map((line) => {
    const m = /parent_uuid\s+(\S+)\s+uuid\s+(\S+)\s+path\s+(.*)$/.exec(line)!;
    return { parentUuid: m[1], uuid: m[2], path: m[3] };
  });
}
