/**
 * Helpers of the store integration tests: temp stores, the Go reference CLI, child
 * Deno processes.
 *
 * @module
 */

/** A temp directory with `g` (graph root) and `r` (run root) below it. */
export interface TempStore {
  /** Parent directory. */
  root: string;
  /** Graph root. */
  graph: string;
  /** Run root. */
  run: string;
}

/** Runs `fn` with a fresh temp store directory, removed afterwards even on failure. */
export async function withTempStore(prefix: string, fn: (t: TempStore) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: `cs-${prefix}-` });
  try {
    await fn({ root, graph: `${root}/g`, run: `${root}/r` });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Result of a command. */
export interface Ran {
  /** Exit code. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/** Runs the Go `containers-storage` CLI (vfs) on a temp store. */
export async function goCli(t: TempStore, args: string[], stdin?: Uint8Array): Promise<Ran> {
  const cmd = new Deno.Command("containers-storage", {
    args: ["--graph", t.graph, "--run", t.run, "--storage-driver", "vfs", ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the Go CLI and parses its JSON output; throws with its stderr on failure. */
export async function goJSON(t: TempStore, args: string[]): Promise<unknown> {
  const r = await goCli(t, [...args]);
  if (r.code !== 0) throw new Error(`containers-storage ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** Runs the Go CLI, expecting success. */
export async function goOk(t: TempStore, args: string[], stdin?: Uint8Array): Promise<string> {
  const r = await goCli(t, args, stdin);
  if (r.code !== 0) throw new Error(`containers-storage ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Path of the repository root (for child scripts importing the library). */
export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
