/**
 * Running and timing the programs compared: our CLI, the Go CLI and GNU tar.
 *
 * Every timed command is a separate process, measured from spawn to exit on the wall clock,
 * so process startup is part of every figure for every tool alike. When GNU time is
 * installed it wraps each command to record peak memory and CPU time as well.
 *
 * @module
 */

/** Outcome of one timed process. */
export interface Timed {
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
  /** Exit code. */
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size in KiB (GNU time), when known. */
  maxRssKiB?: number;
  /** User plus system CPU milliseconds (GNU time), when known. */
  cpuMs?: number;
}

/** A command exited non-zero where the benchmark needed it to work. */
export class BenchCommandError extends Error {
  constructor(readonly argv: string[], readonly result: Timed) {
    // The first line naming an error says most (a stack trace follows an uncaught one);
    // colour escapes go first.
    // deno-lint-ignore no-control-regex
    const lines = result.stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter(
      Boolean,
    );
    const err = lines.find((l) => /error/i.test(l)) ?? lines[0] ?? "";
    super(`${argv.join(" ")} exited ${result.code}: ${err}`);
    this.name = "BenchCommandError";
  }
}

const GNU_TIME = "/usr/bin/time";
let gnuTime: boolean | undefined;

function haveGnuTime(): boolean {
  if (gnuTime === undefined) {
    try {
      gnuTime = Deno.statSync(GNU_TIME).isFile;
    } catch {
      gnuTime = false;
    }
  }
  return gnuTime;
}

/** Options of {@link runTimed}. */
export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Throw {@link BenchCommandError} on a non-zero exit (default true). */
  check?: boolean;
  /** Kill the process after this many milliseconds (default 10 minutes: a hang must not stall the run). */
  timeoutMs?: number;
}

/** Runs `argv` once, waits for it, and returns its timing and output. */
export async function runTimed(argv: string[], opts: RunOptions = {}): Promise<Timed> {
  let rusageFile: string | undefined;
  let full = argv;
  if (haveGnuTime()) {
    rusageFile = await Deno.makeTempFile({ prefix: "cs-bench-rusage-" });
    full = [GNU_TIME, "-f", "%M %U %S", "-o", rusageFile, ...argv];
  }
  const cmd = new Deno.Command(full[0], {
    args: full.slice(1),
    env: opts.env,
    clearEnv: opts.env !== undefined,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 600_000),
  });
  const t0 = performance.now();
  const out = await cmd.output();
  const ms = performance.now() - t0;
  const dec = new TextDecoder();
  const result: Timed = {
    ms,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  if (rusageFile) {
    try {
      // GNU time prints "Command exited with non-zero status N" first on failure.
      const line = (await Deno.readTextFile(rusageFile)).trim().split("\n").pop() ?? "";
      const [rss, user, sys] = line.split(" ").map(Number);
      if (Number.isFinite(rss)) result.maxRssKiB = rss;
      if (Number.isFinite(user) && Number.isFinite(sys)) result.cpuMs = (user + sys) * 1000;
    } finally {
      await Deno.remove(rusageFile).catch(() => {});
    }
  }
  if ((opts.check ?? true) && out.code !== 0) throw new BenchCommandError(argv, result);
  return result;
}

/** Which implementation a command runs. */
export type ToolName = "ours" | "go";

/** One containers-storage implementation: its name and the argv prefix that runs it. */
export interface Tool {
  name: ToolName;
  argv: string[];
}

/** A store of one tool in a directory of its own (`ROOT/graph`, `ROOT/run`). */
export class BenchStore {
  readonly graph: string;
  readonly run: string;
  constructor(
    readonly tool: Tool,
    readonly root: string,
    readonly driver: string,
    readonly env: Record<string, string>,
  ) {
    this.graph = `${root}/graph`;
    this.run = `${root}/run`;
  }

  /** Runs a CLI command on this store (global options first) and times it. */
  cmd(args: string[], check = true, timeoutMs?: number): Promise<Timed> {
    const argv = [
      ...this.tool.argv,
      "--graph",
      this.graph,
      "--run",
      this.run,
      "--storage-driver",
      this.driver,
      ...args,
    ];
    return runTimed(argv, { env: this.env, check, timeoutMs });
  }

  /** Runs a command that prints an ID on its first line and returns that ID. */
  async id(args: string[]): Promise<{ id: string; t: Timed }> {
    const t = await this.cmd(args);
    const id = t.stdout.split(/[\n\t]/)[0].trim();
    if (!/^[0-9a-f]{64}$/.test(id)) {
      throw new BenchCommandError([...this.tool.argv, ...args], {
        ...t,
        stderr: `no ID in output: ${t.stdout}`,
      });
    }
    return { id, t };
  }

  /**
   * Removes the store: `shutdown` first (the overlay driver keeps a private bind mount of its
   * home after every command), then whatever is still mounted below the root, then the files.
   */
  async destroy(): Promise<void> {
    // Not `shutdown -f`: Go 1.43 loops forever with it when a layer is mounted.
    await this.cmd(["shutdown"], false, 60_000).catch(() => {});
    await unmountBelow(this.root);
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const text = Deno.readTextFileSync("/proc/self/mountinfo");
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const found = text.split("\n").filter(Boolean).map((l) => unescape(l.split(" ")[4]))
    .filter((mp) => mp === dir || mp.startsWith(prefix));
  return [...new Set(found)].sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything mounted at or below `dir`, deepest first. */
export async function unmountBelow(dir: string, includeSelf = false): Promise<void> {
  for (let pass = 0; pass < 5; pass++) {
    const mps = mountsBelow(dir).filter((mp) => includeSelf || mp !== dir);
    if (mps.length === 0) return;
    for (const mp of mps) {
      await new Deno.Command("umount", { args: ["-l", mp], stdout: "null", stderr: "null" }).output();
    }
  }
}
