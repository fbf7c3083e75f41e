/**
 * Adapter for `bench/btrfs_bench.ts` (owned by the btrfs developer): loads it when present
 * and calls its exported function with the benchmark's options. Rows it returns join the
 * table; anything else it prints itself.
 *
 * Contract offered to btrfs_bench.ts: export `btrfsBench(opts: BtrfsBenchOptions)` (also
 * accepted: `runBtrfsBench`, `bench`, `run`, default export) returning `Row[]` (see
 * `context.ts`; plain numbers of milliseconds are accepted for `ours`/`go`) or nothing.
 *
 * @module
 */
import { type BenchContext, finish, type Row, type Sample, type Workload } from "./context.ts";

/** What btrfs_bench.ts is given. */
export interface BtrfsBenchOptions {
  /** argv prefix running our CLI. */
  ours: string[];
  /** argv prefix running the Go CLI. */
  go: string[];
  /** Environment for store commands. */
  env: Record<string, string>;
  reps: number;
  quick: boolean;
  /** A directory it may use (and must clean up): on the benchmark's scratch area. */
  scratch: string;
  rootfsTar?: string;
  tinyTar?: string;
  smallTar?: string;
  log(msg: string): void;
}

const FILE = new URL("./btrfs_bench.ts", import.meta.url);

function toSample(v: unknown): Sample | undefined {
  if (typeof v === "number") return finish({ runsMs: [v] });
  if (v && typeof v === "object" && Array.isArray((v as Sample).runsMs)) return finish(v as Sample);
  if (v && typeof v === "object" && typeof (v as Sample).medianMs === "number") {
    return { ...(v as Sample), runsMs: [(v as Sample).medianMs!] };
  }
  return undefined;
}

/** The btrfs workload: runs btrfs_bench.ts when the file exists. */
export const btrfsWorkload: Workload = {
  key: "btrfs",
  groups: [],
  describe: "btrfs: bench/btrfs_bench.ts (50-layer chain, container from an image), ours vs Go",
  unavailable() {
    try {
      Deno.statSync(FILE);
      return undefined;
    } catch {
      return "bench/btrfs_bench.ts is not there yet";
    }
  },
  async run(ctx: BenchContext): Promise<Row[]> {
    const mod = await import(FILE.href);
    const fn = [mod.btrfsBench, mod.runBtrfsBench, mod.bench, mod.run, mod.default].find((f) =>
      typeof f === "function"
    );
    if (!fn) {
      return [{ key: "btrfs", workload: "btrfs", notes: ["btrfs_bench.ts exports no function to call"] }];
    }
    const scratch = `${ctx.scratch.dir}/btrfs`;
    await Deno.mkdir(scratch, { recursive: true });
    const opts: BtrfsBenchOptions = {
      ours: ctx.tools.ours.argv,
      go: ctx.tools.go.argv,
      env: ctx.env,
      reps: ctx.reps,
      quick: ctx.quick,
      scratch,
      rootfsTar: ctx.data.rootfs,
      tinyTar: ctx.data.tiny,
      smallTar: ctx.data.small,
      log: ctx.log,
    };
    const got = await fn(opts);
    if (!Array.isArray(got)) return [];
    return got.filter((r) => r && typeof r === "object").map((r: Record<string, unknown>) => ({
      ...(r as unknown as Row),
      key: "btrfs",
      workload: String(r.workload ?? r.name ?? "btrfs"),
      driver: String(r.driver ?? "btrfs"),
      ours: toSample(r.ours),
      go: toSample(r.go),
    }));
  },
};
