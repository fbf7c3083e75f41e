/**
 * Helpers of the `interop_*` tests (our CLI and the Go CLI on one store): a temp store
 * that both CLIs shut down before it is removed, checked runs of either CLI on it, and
 * the reading of mount counts and kernel mounts. Builds on `cli_helpers.ts`.
 *
 * @module
 */
import { ok, runGo, type RunOptions, runOurs, type TempStore, tempStore } from "./cli_helpers.ts";
import { mountAt } from "../sys/mount.ts";

/** Test options for tests that leave child processes' mounts and pipes behind on failure. */
export const T = { sanitizeResources: false, sanitizeOps: false };

/** A temp store plus the extra global flags (`--storage-opt`) every run on it gets. */
export interface Store extends TempStore {
  /** Global flags of every run: the store's flags and its storage options. */
  all: string[];
}

/**
 * Runs `fn` on a fresh store for `driver`; afterwards, also on failure, both CLIs run
 * `shutdown` (Go keeps a private bind mount of GRAPH/overlay) and the directory goes.
 */
export async function withStore(
  driver: string,
  fn: (s: Store) => Promise<void>,
  storageOpts: string[] = [],
): Promise<void> {
  const t = await tempStore(driver, `cs-interop-${driver}-`);
  const s: Store = { ...t, all: [...t.flags, ...storageOpts.flatMap((o) => ["--storage-opt", o])] };
  try {
    await fn(s);
  } finally {
    await runOurs([...s.all, "shutdown"]).catch(() => {});
    await runGo([...s.all, "shutdown"]).catch(() => {});
    await t.dispose();
  }
}

/** Runs our CLI on `s` and asserts success; resolves to stdout. */
export async function ours(s: Store, args: string[], opts?: RunOptions): Promise<string> {
  return ok(await runOurs([...s.all, ...args], opts), `ours ${args.join(" ")}`).stdout;
}

/** Runs the Go CLI on `s` and asserts success; resolves to stdout. */
export async function go(s: Store, args: string[], opts?: RunOptions): Promise<string> {
  return ok(await runGo([...s.all, ...args], opts), `go ${args.join(" ")}`).stdout;
}

/** Runs our CLI on `s` and asserts success; resolves to raw stdout bytes (for `diff`). */
export async function oursBytes(s: Store, args: string[], opts?: RunOptions): Promise<Uint8Array> {
  return ok(await runOurs([...s.all, ...args], opts), `ours ${args.join(" ")}`).stdoutBytes;
}

/** Runs the Go CLI on `s` and asserts success; resolves to raw stdout bytes (for `diff`). */
export async function goBytes(s: Store, args: string[], opts?: RunOptions): Promise<Uint8Array> {
  return ok(await runGo([...s.all, ...args], opts), `go ${args.join(" ")}`).stdoutBytes;
}

/** The first line of an output: the ID that create-layer and import-layer print before the names. */
export function firstLine(out: string): string {
  return out.trim().split("\n")[0].trim();
}

/** The layer records of the store's layers.json (parsed; fails if it does not parse). */
export function layersJSON(
  s: Store,
): Array<{ id: string; names?: string[]; parent?: string; flags?: object }> {
  return JSON.parse(Deno.readTextFileSync(`${s.graph}/${s.driver}-layers/layers.json`));
}

/** The mount count of `id` in the run root's mountpoints.json (0 when not listed). */
export function mountCount(s: Store, id: string): number {
  let list: Array<{ id: string; count: number }> = [];
  try {
    list = JSON.parse(Deno.readTextFileSync(`${s.run}/${s.driver}-layers/mountpoints.json`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return list.find((m) => m.id === id)?.count ?? 0;
}

/** The filesystem type mounted at `path` per /proc/self/mountinfo, or null. */
export function fstypeAt(path: string): string | null {
  return mountAt(path)?.fstype ?? null;
}
