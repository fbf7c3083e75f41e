/**
 * Test harness: throwaway directories and stores (mounts below them detached when they
 * go), and the Go reference CLI (`containers-storage`) run on a store.
 *
 * @module
 */
import { detachAll } from "../../sys/testutil.ts";

/** Output of a Go CLI run. */
export interface GoRun {
  /** Exit code. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/** The roots of the store a run works on. */
export interface GoStore {
  /** Graph root. */
  graph: string;
  /** Run root. */
  run: string;
}

/** Runs `fn` on a fresh temp directory (name starting with `prefix`), removed afterwards even when `fn` fails. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A throwaway store: a temp directory with the graph root `g` and the run root `r` in it. */
export interface TempStore extends GoStore {
  /** The temp directory. */
  root: string;
}

/**
 * Runs `fn` on a fresh temp store (directory name starting with `prefix`). Afterwards,
 * also when `fn` failed, the Go CLI's `shutdown` runs when `goShutdown` names a driver
 * (Go keeps a private bind mount of the driver's home), every mount below the store is
 * detached and the directory removed.
 */
export async function withTempStore(
  prefix: string,
  fn: (t: TempStore) => Promise<void>,
  opts: { goShutdown?: string } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix });
  const t = { root, graph: `${root}/g`, run: `${root}/r` };
  try {
    await fn(t);
  } finally {
    if (opts.goShutdown) await runGoCli(t, opts.goShutdown, ["shutdown"]).catch(() => {});
    detachAll(root);
    await Deno.remove(root, { recursive: true });
  }
}

/** Runs the Go CLI on `store` with `driver`, feeding `stdin` when given. */
export async function runGoCli(
  store: GoStore,
  driver: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<GoRun> {
  const child = new Deno.Command("containers-storage", {
    args: ["--graph", store.graph, "--run", store.run, "--storage-driver", driver, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the Go CLI and resolves to its stdout; throws with its exit code and output unless it exits 0. */
export async function goCliOk(
  store: GoStore,
  driver: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<string> {
  const r = await runGoCli(store, driver, args, stdin);
  if (r.code !== 0) {
    throw new Error(`containers-storage ${args.join(" ")}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}
