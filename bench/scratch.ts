/**
 * The scratch area holding the benchmark's stores: a private tmpfs mounted for the run (so
 * that disk speed and page-cache write-back do not decide the ratios), or a plain directory
 * on disk with `--disk`. Closing it unmounts everything left below it and removes it.
 *
 * @module
 */
import { unmountBelow } from "./exec.ts";

/** The directory the stores live in and how it is backed. */
export interface Scratch {
  dir: string;
  /** "tmpfs" (mounted by the benchmark) or the backing filesystem type of the disk dir. */
  fs: string;
  /** Unmounts whatever is below `dir` (stray overlay mounts), then removes it. Idempotent. */
  close(): Promise<void>;
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

async function fsType(dir: string): Promise<string> {
  const out = await new Deno.Command("stat", { args: ["-f", "-c", "%T", dir], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim() || "unknown";
}

/**
 * Makes the scratch area under `parent`. With `disk` false a tmpfs of `sizeGiB` is mounted
 * on it (needs root); if that fails the directory is used as it is and `fs` says so.
 */
export async function openScratch(parent: string, disk: boolean, sizeGiB: number): Promise<Scratch> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "cs-bench-" });
  let fs = "";
  if (!disk) {
    try {
      await sh("mount", ["-t", "tmpfs", "-o", `size=${sizeGiB}g,mode=0755`, "cs-bench", dir]);
      fs = "tmpfs";
    } catch (e) {
      console.error(`bench: could not mount a tmpfs (${(e as Error).message}); stores go on disk`);
    }
  }
  if (!fs) fs = await fsType(dir);
  let closed = false;
  return {
    dir,
    fs,
    async close() {
      if (closed) return;
      closed = true;
      await unmountBelow(dir, true);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
