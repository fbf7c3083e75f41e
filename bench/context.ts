/**
 * What every workload gets (tools, scratch area, data, repetitions) and what it returns
 * (rows of samples), plus the helpers that collect samples in a fair order.
 *
 * @module
 */
import type { DataSet } from "./data.ts";
import { BenchStore, type Timed, type Tool, type ToolName } from "./exec.ts";
import type { Scratch } from "./scratch.ts";
import { median } from "./stats.ts";

/** The measurements of one program on one workload. */
export interface Sample {
  /** Wall-clock milliseconds of each timed repetition. */
  runsMs: number[];
  /** Median of `runsMs` (set by {@link finish}). */
  medianMs?: number;
  /** Fastest run (set by {@link finish}): the least disturbed by other load. */
  minMs?: number;
  /** Largest peak RSS seen over the repetitions, KiB. */
  maxRssKiB?: number;
  /** Median CPU (user + system) milliseconds. */
  cpuMs?: number;
  /** Why the program could not be measured (its later repetitions were skipped). */
  error?: string;
  cpuRuns?: number[];
}

/** One line of the report. */
export interface Row {
  /** Selection key (`--only` matches it). */
  key: string;
  /** Display name. */
  workload: string;
  /** Storage driver of the stores. */
  driver?: string;
  /** Input size in bytes (for throughput). */
  bytes?: number;
  /** Entries in the input archive. */
  entries?: number;
  ours?: Sample;
  go?: Sample;
  /** GNU tar doing the same job on the same data. */
  tar?: Sample;
  /** Target for ours/Go (at most). */
  targetGo?: number;
  /** Target for ours/tar (at most). */
  targetTar?: number;
  /** Anything the reader must know (verification, fallbacks). */
  notes?: string[];
}

/** Everything a workload needs. */
export interface BenchContext {
  tools: Record<ToolName, Tool>;
  /** Environment of every store command (empty storage.conf, no STORAGE_* variables). */
  env: Record<string, string>;
  scratch: Scratch;
  data: DataSet;
  reps: number;
  quick: boolean;
  log(msg: string): void;
}

/** A named workload that can be selected with `--only`. */
export interface Workload {
  key: string;
  /** Groups the key belongs to besides itself (e.g. "content", "overlay"). */
  groups: string[];
  /** One line for `--list`. */
  describe: string;
  /** Why it cannot run with this data, or undefined when it can. */
  unavailable(ctx: BenchContext): string | undefined;
  run(ctx: BenchContext): Promise<Row[]>;
}

/** Adds one timing to a sample. */
export function record(s: Sample, t: Timed | number): void {
  if (typeof t === "number") {
    s.runsMs.push(t);
    return;
  }
  s.runsMs.push(t.ms);
  if (t.maxRssKiB !== undefined) s.maxRssKiB = Math.max(s.maxRssKiB ?? 0, t.maxRssKiB);
  if (t.cpuMs !== undefined) (s.cpuRuns ??= []).push(t.cpuMs);
}

/** Sets the medians of a sample once its repetitions are done. */
export function finish(s: Sample | undefined): Sample | undefined {
  if (!s) return s;
  if (s.runsMs.length) {
    s.medianMs = median(s.runsMs);
    s.minMs = Math.min(...s.runsMs);
  }
  if (s.cpuRuns?.length) s.cpuMs = median(s.cpuRuns);
  delete s.cpuRuns;
  return s;
}

/** An empty sample. */
export function sample(): Sample {
  return { runsMs: [] };
}

/**
 * The tools in the order to run them in repetition `rep`: alternating, so that drift in
 * machine load (other developers share the cores) does not favour one side.
 */
export function order<T>(items: T[], rep: number): T[] {
  return rep % 2 ? [...items].reverse() : items;
}

/** A new store of `tool` in a fresh directory below the scratch area. */
export async function newStore(ctx: BenchContext, tool: ToolName, name: string, driver: string) {
  const root = `${ctx.scratch.dir}/${name}-${tool}`;
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.mkdir(root, { recursive: true });
  const store = new BenchStore(ctx.tools[tool], root, driver, ctx.env);
  // The first command on a store creates it (and probes overlay support): not what we time.
  await store.cmd(["layers"]);
  return store;
}

/** Message of an error, one line. */
export function errText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 300);
}
