/**
 * Helpers for the CLI tests: run our CLI (as a subprocess, or in-process for
 * paths that never open a store), run the Go reference CLI, make temp stores,
 * and normalise outputs for comparison.
 *
 * @module
 */

import assert from "node:assert/strict";
import { main } from "../cli/main.ts";
import { MemorySink } from "../cli/output.ts";
import { detachAll } from "../sys/testutil.ts";

/** What a CLI run produced. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Raw stdout bytes (for binary output such as `diff`). */
  stdoutBytes: Uint8Array;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/**
 * A storage.conf naming a driver, so that loading it prints nothing (Go logs an error for a
 * config without `driver`); tests always select their store with global flags.
 */
export const TEST_CONF = Deno.makeTempFileSync({ prefix: "cs-cli-", suffix: ".conf" });
Deno.writeTextFileSync(TEST_CONF, '[storage]\ndriver = "vfs"\n');
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(TEST_CONF);
  } catch { /* already gone */ }
});

/** Options of a run. */
export interface RunOptions {
  /** Bytes fed to stdin (default: empty). */
  stdin?: Uint8Array | string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
}

async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = { CONTAINERS_STORAGE_CONF: TEST_CONF, ...opts.env };
  const child = new Deno.Command(cmd, {
    args,
    env,
    cwd: opts.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const input = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
  // Ignore EPIPE when the command does not read its stdin.
  await (input ? writer.write(input) : Promise.resolve()).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    stdoutBytes: out.stdout,
  };
}

/** Runs our CLI as `deno run -A cli.ts ARGS`. */
export function runOurs(args: string[], opts?: RunOptions): Promise<RunResult> {
  return run(Deno.execPath(), ["run", "-A", "--no-lock", CLI, ...args], opts);
}

/** Runs the Go reference binary. */
export function runGo(args: string[], opts?: RunOptions): Promise<RunResult> {
  // Through the shell so that Go's os.Args[0] is the bare name, as when a user types it.
  return run("sh", ["-c", 'exec containers-storage "$@"', "sh", ...args], opts);
}

/** Runs our CLI's main() in this process (only for paths that fail or finish before opening a store). */
export async function runInProcess(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const stdout = new MemorySink();
  const stderr = new MemorySink();
  const code = await main(args, {
    stdout,
    stderr,
    stdin: new ReadableStream({ start: (c) => c.close() }),
    env: { CONTAINERS_STORAGE_CONF: TEST_CONF, HOME: Deno.env.get("HOME"), ...env },
    cwd: Deno.cwd(),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text(), stdoutBytes: stdout.bytes() };
}

/** A run's exit code and outputs under `label`, for assertion messages. */
export function runText(label: string, r: RunResult): string {
  return `${label}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** Asserts that a run exited 0 (the message shows its outputs); returns the run. */
export function ok(r: RunResult, label: string): RunResult {
  assert.equal(r.code, 0, runText(label, r));
  return r;
}

/** The drivers named in the environment variable `envVar` (comma-separated), `vfs,overlay` by default. */
export function testDrivers(envVar: string): string[] {
  return (Deno.env.get(envVar) ?? "vfs,overlay").split(",").filter(Boolean);
}

/** The driver of a rerun by `rerunOn`, and whether its per-driver tests are being defined. */
let rerun: string | null = null;
let definingDriverTests = false;

/**
 * Defines the per-driver tests of a CLI test module: `define(driver)` for each driver of
 * `CLI_TEST_DRIVERS` (default `vfs,overlay`), or only for the driver of a `rerunOn`.
 */
export function forEachCliDriver(define: (driver: string) => void): void {
  for (const driver of rerun ? [rerun] : testDrivers("CLI_TEST_DRIVERS")) {
    definingDriverTests = true;
    try {
      define(driver);
    } finally {
      definingDriverTests = false;
    }
  }
}

/**
 * Loads CLI test modules once more for `driver` alone (tests/btrfs_cli_test.ts): of what
 * they register, only their per-driver tests (those of `forEachCliDriver`) count; their
 * driver-independent tests run from their own files.
 */
export async function rerunOn(driver: string, load: () => Promise<unknown>): Promise<void> {
  const realTest = Deno.test;
  const onlyDriverTests = (...args: unknown[]) => {
    if (definingDriverTests) (realTest as (...a: unknown[]) => void)(...args);
  };
  rerun = driver;
  Object.defineProperty(Deno, "test", {
    value: Object.assign(onlyDriverTests, realTest),
    configurable: true,
  });
  try {
    await load();
  } finally {
    Object.defineProperty(Deno, "test", { value: realTest, configurable: true });
    rerun = null;
  }
}

/** Is the Go reference CLI installed? */
export const HAVE_GO = (() => {
  try {
    return new Deno.Command("containers-storage", { args: ["--help"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A throwaway store directory pair; `dispose()` shuts down overlay mounts and removes it. */
export interface TempStore {
  root: string;
  graph: string;
  run: string;
  driver: string;
  /** Global flags selecting this store. */
  flags: string[];
  dispose(): Promise<void>;
}

/** Makes a temp store for `driver` (vfs by default). */
export async function tempStore(driver = "vfs", prefix = "cs-cli-"): Promise<TempStore> {
  const root = await Deno.makeTempDir({ prefix });
  const graph = `${root}/graph`;
  const runDir = `${root}/run`;
  const flags = ["--graph", graph, "--run", runDir, "--storage-driver", driver];
  return {
    root,
    graph,
    run: runDir,
    driver,
    flags,
    async dispose() {
      // Whatever a test left mounted, ours or Go's.
      detachAll(root);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** Replaces every 64-hex ID with ID1, ID2, ... in order of first appearance (shared map across calls). */
export class IdNormalizer {
  private readonly map = new Map<string, string>();
  /** Normalises one text. */
  apply(text: string): string {
    return text.replace(/[0-9a-f]{64}/g, (id) => {
      let v = this.map.get(id);
      if (!v) {
        v = `ID${this.map.size + 1}`;
        this.map.set(id, v);
      }
      return v;
    });
  }
}

/** Replaces RFC 3339 timestamps with `TIME`. */
export function normalizeTimes(text: string): string {
  return text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, "TIME");
}
