/**
 * Test helper: runs the Go reference CLI (`containers-storage`) on a store.
 *
 * @module
 */

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
