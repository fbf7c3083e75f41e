/**
 * btrfs benchmark, ours against the Go CLI, on a btrfs made for the run (a sparse image
 * on a loop device, in the benchmark's scratch area): `create-layer` x50 on a chain, and
 * `create-container` from an image of rootfs.tar (a snapshot of the image's layer). Each
 * command is a separate process for both tools, alternating which goes first.
 *
 * Called by bench/btrfs.ts (`deno task bench -- --only btrfs`), or alone:
 *   deno run -A bench/btrfs_bench.ts [ROOTFS.tar] [--reps N] [--quick]
 *
 * @module
 */
import { openScratchBtrfs } from "../drivers/btrfs/testutil.ts";
import { openStore } from "../mod.ts";
import type { BtrfsBenchOptions } from "./btrfs.ts";
import { errText, finish, order, record, type Row, type Sample, sample } from "./context.ts";
import { BenchStore, type ToolName } from "./exec.ts";

const TOOLS: ToolName[] = ["ours", "go"];
const DEPTH = 50;

function pair(): Record<ToolName, Sample> {
  return { ours: sample(), go: sample() };
}

/** Makes one store per tool on the btrfs, each created by a first untimed command. */
async function stores(
  opts: BtrfsBenchOptions,
  mnt: string,
  name: string,
): Promise<Record<ToolName, BenchStore>> {
  const out = {} as Record<ToolName, BenchStore>;
  for (const tool of TOOLS) {
    const argv = tool === "ours" ? opts.ours : opts.go;
    out[tool] = new BenchStore({ name: tool, argv }, `${mnt}/${name}-${tool}`, "btrfs", opts.env);
    await Deno.mkdir(out[tool].root, { recursive: true });
    await out[tool].cmd(["layers"]);
  }
  return out;
}

/** create-layer x50 on a chain: one sample per command, plus the whole chain's time per tool. */
async function chainBench(opts: BtrfsBenchOptions, mnt: string): Promise<Row[]> {
  const per = pair(), total = pair();
  const reps = opts.quick ? 1 : Math.max(1, Math.min(opts.reps, 3));
  for (let rep = 0; rep < reps; rep++) {
    const st = await stores(opts, mnt, `chain${rep}`);
    const sum: Record<ToolName, number> = { ours: 0, go: 0 };
    const top: Record<ToolName, string[]> = { ours: [], go: [] };
    try {
      for (let i = 0; i < DEPTH; i++) {
        for (const tool of order(TOOLS, i + rep)) {
          if (per[tool].error) continue;
          try {
            const r = await st[tool].id(["create-layer", ...top[tool]]);
            record(per[tool], r.t);
            sum[tool] += r.t.ms;
            top[tool] = [r.id];
          } catch (e) {
            per[tool].error = total[tool].error = errText(e);
          }
        }
      }
      for (const tool of TOOLS) if (!total[tool].error) record(total[tool], sum[tool]);
    } finally {
      for (const tool of TOOLS) await st[tool].destroy();
    }
  }
  return [
    row(`create-layer on a chain (median of ${DEPTH * reps})`, per),
    row(`${DEPTH}-layer chain, total`, total, 1.0),
  ];
}

/** create-container from an image whose layer is rootfs.tar (tiny.tar without it). */
async function containerBench(opts: BtrfsBenchOptions, mnt: string): Promise<Row[]> {
  const file = opts.rootfsTar ?? opts.smallTar ?? opts.tinyTar;
  if (!file) {
    return [{ key: "btrfs", workload: "create-container", notes: ["no rootfs.tar, small.tar nor tiny.tar"] }];
  }
  const name = file.slice(file.lastIndexOf("/") + 1);
  const s = pair(), imp = pair();
  const st = await stores(opts, mnt, "ctr");
  const image: Record<ToolName, string> = { ours: "", go: "" };
  try {
    for (const tool of order(TOOLS, 0)) {
      opts.log(`btrfs: ${tool} imports ${name} and makes an image`);
      try {
        const layer = await st[tool].id(["import-layer", "-f", file]);
        record(imp[tool], layer.t);
        image[tool] = (await st[tool].id(["create-image", layer.id])).id;
        await st[tool].cmd(["create-container", image[tool]]); // warm-up
      } catch (e) {
        s[tool].error = imp[tool].error = errText(e);
      }
    }
    const n = Math.max(opts.reps, opts.quick ? 5 : 10);
    for (let rep = 0; rep < n; rep++) {
      for (const tool of order(TOOLS, rep)) {
        if (s[tool].error) continue;
        try {
          record(s[tool], (await st[tool].id(["create-container", image[tool]])).t);
        } catch (e) {
          s[tool].error = errText(e);
        }
      }
    }
  } finally {
    for (const tool of TOOLS) await st[tool].destroy();
  }
  return [
    row(`import-layer ${name} (once, untargeted)`, imp),
    row(`create-container (image of ${name})`, s, 1.0),
  ];
}

/**
 * The same work through the library in one process (ours only): what the driver and store
 * cost per layer and per container once process startup is out of the picture.
 */
async function inProcessBench(opts: BtrfsBenchOptions, mnt: string): Promise<Row[]> {
  const layer = pair(), ctr = pair();
  const root = `${mnt}/inproc`;
  const store = await openStore({ graphRoot: `${root}/graph`, runRoot: `${root}/run`, driverName: "btrfs" });
  try {
    let parent: string | undefined;
    for (let i = 0; i < DEPTH; i++) {
      const t0 = performance.now();
      parent = (await store.createLayer({ parent })).id;
      record(layer.ours, performance.now() - t0);
    }
    const file = opts.rootfsTar ?? opts.tinyTar;
    if (file) {
      const f = await Deno.open(file);
      const base = await store.createLayer({ diff: f.readable });
      const image = await store.createImage({ layer: base.id });
      const n = Math.max(opts.reps, opts.quick ? 5 : 10);
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await store.createContainer({ image: image.id });
        record(ctr.ours, performance.now() - t0);
      }
    }
  } finally {
    await store.shutdown(true).catch(() => {});
    await store.close();
  }
  const note = ["ours only: library calls in one process, no process startup; Go has no such mode"];
  return [
    { ...row(`in-process createLayer on a chain (median of ${DEPTH})`, layer), notes: note },
    ...(ctr.ours.runsMs.length ? [{ ...row("in-process createContainer (median)", ctr), notes: note }] : []),
  ];
}

function row(workload: string, s: Record<ToolName, Sample>, targetGo?: number): Row {
  return { key: "btrfs", workload, driver: "btrfs", ours: finish(s.ours), go: finish(s.go), targetGo };
}

/**
 * Runs the btrfs workloads and returns their rows (the harness prints them with ratios).
 * The btrfs filesystem lives in `opts.scratch` and is removed before returning.
 */
export async function btrfsBench(opts: BtrfsBenchOptions): Promise<Row[]> {
  // Sparse: only what the stores write takes space (tmpfs-backed under the harness).
  const fs = openScratchBtrfs(opts.rootfsTar ? 4096 : 1024, opts.scratch);
  try {
    opts.log(`btrfs: scratch filesystem on ${fs.device} at ${fs.mnt}`);
    return [
      ...await chainBench(opts, fs.mnt),
      ...await containerBench(opts, fs.mnt),
      ...await inProcessBench(opts, fs.mnt),
    ];
  } finally {
    await fs.close();
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = (n: string) => {
    const i = args.indexOf(n);
    return i < 0 ? undefined : args.splice(i, n === "--quick" ? 1 : 2)[n === "--quick" ? 0 : 1];
  };
  const quick = flag("--quick") !== undefined;
  const reps = Number(flag("--reps") ?? 3);
  const data = `${Deno.env.get("TMPDIR") ?? "/tmp"}/containers-storage-bench-data`;
  const exists = (p: string) => {
    try {
      return Deno.statSync(p).isFile ? p : undefined;
    } catch {
      return undefined;
    }
  };
  const scratch = await Deno.makeTempDir({ prefix: "cs-btrfs-bench-" });
  const conf = `${scratch}/storage.conf`;
  await Deno.writeTextFile(conf, "");
  const env = Deno.env.toObject();
  for (const k of ["STORAGE_DRIVER", "STORAGE_OPTS"]) delete env[k];
  Object.assign(env, { CONTAINERS_STORAGE_CONF: conf, DENO_NO_UPDATE_CHECK: "1" });
  try {
    const rows = await btrfsBench({
      ours: [Deno.execPath(), "run", "-A", new URL("../cli.ts", import.meta.url).pathname],
      go: ["containers-storage"],
      env,
      reps,
      quick,
      scratch,
      rootfsTar: args[0] ?? exists(`${data}/rootfs.tar`),
      tinyTar: exists(`${data}/tiny.tar`),
      log: (m) => console.error(m),
    });
    for (const r of rows) {
      const o = r.ours?.medianMs, g = r.go?.medianMs;
      const ratio = o !== undefined && g !== undefined ? (o / g).toFixed(2) : "-";
      const fmt = (x?: number) => (x === undefined ? "-" : `${x.toFixed(1)} ms`);
      const err = [r.ours?.error, r.go?.error].filter(Boolean).join("; ");
      console.log(
        `${r.workload.padEnd(48)} ours ${fmt(o).padStart(10)}  go ${fmt(g).padStart(10)}  ratio ${ratio}` +
          (r.targetGo ? ` (target <= ${r.targetGo})` : "") + (err ? `  ERROR ${err}` : ""),
      );
    }
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}
