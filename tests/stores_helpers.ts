/**
 * Helpers of the `stores_*` tests (additional, split and transient stores through the
 * CLI): checked CLI runs (ours and Go's), a tar fixture, read-only bind mounts, and
 * snapshots that prove a directory tree was not written.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ok, runGo, type RunOptions, runOurs, runText, testDrivers } from "./cli_helpers.ts";

/** Drivers the stores tests run on (`STORES_TEST_DRIVERS`, default `vfs,overlay`). */
export const DRIVERS = testDrivers("STORES_TEST_DRIVERS");

/** Runs our CLI and asserts success; resolves to stdout. */
export async function ours(args: string[], opts?: RunOptions): Promise<string> {
  return ok(await runOurs(args, opts), `ours ${args.join(" ")}`).stdout;
}

/** Runs our CLI and asserts failure; resolves to stdout + stderr (where the message is). */
export async function oursFails(args: string[], opts?: RunOptions): Promise<string> {
  const r = await runOurs(args, opts);
  assert.notEqual(r.code, 0, runText(`ours ${args.join(" ")}`, r));
  return r.stdout + r.stderr;
}

/** Runs the Go CLI and asserts success; resolves to stdout. */
export async function goOk(args: string[], opts?: RunOptions): Promise<string> {
  return ok(await runGo(args, opts), `go ${args.join(" ")}`).stdout;
}

/** A tar (GNU tar) holding `files` (path → content), directories implied. */
export async function makeTar(dir: string, files: Record<string, string>): Promise<Uint8Array> {
  const src = await Deno.makeTempDir({ dir, prefix: "tar-src-" });
  try {
    for (const [p, content] of Object.entries(files)) {
      const full = `${src}/${p}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(full, content);
    }
    const out = await new Deno.Command("tar", {
      args: ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", src, "-cf", "-", "."],
      stdout: "piped",
    }).output();
    assert.ok(out.success, "tar failed");
    return out.stdout;
  } finally {
    await Deno.remove(src, { recursive: true });
  }
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Bind-mounts `src` read-only at `dst` (created); the caller unmounts with `unmount`. */
export async function bindReadOnly(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  await sh("mount", ["--bind", "-o", "ro", src, dst]);
}

/** Unmounts `path` (lazily, so that a failed test cannot keep it busy); missing mounts are fine. */
export async function unmount(path: string): Promise<void> {
  await new Deno.Command("umount", { args: ["-l", path], stderr: "null" }).output().catch(() => {});
}

/**
 * Every entry below `root` with its type, mode, size, mtime and, for files, content: two
 * equal snapshots mean nothing was created, removed or written (lock tokens included).
 */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = `${dir}/${e.name}`;
      const st = Deno.lstatSync(p);
      let desc = `${st.mode?.toString(8)} ${st.size} ${st.mtime?.getTime()}`;
      if (st.isFile) desc += " " + new TextDecoder().decode(Deno.readFileSync(p)).slice(0, 4096);
      if (st.isSymlink) desc += " -> " + Deno.readLinkSync(p);
      out.set(p.slice(root.length), desc);
      if (st.isDirectory) walk(p);
    }
  };
  walk(root);
  return out;
}

/** The records of a JSON array file ([] when missing). */
export async function records(path: string): Promise<Array<Record<string, unknown>>> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Parses a JSON list output and returns one field of each element. */
export function field<T = string>(json: string, key: string): T[] {
  return (JSON.parse(json) ?? []).map((x: Record<string, unknown>) => x[key] as T);
}
