/**
 * `deno task bench`: our CLI against the Go `containers-storage` CLI and GNU tar, on the
 * same machine and the same data, printed as a table of medians and ratios.
 *
 *   deno task bench [-- OPTIONS]
 *     --quick           small synthetic inputs, no root filesystem (a quick check)
 *     --only NAME       run only workloads whose key contains NAME or that are in group NAME
 *                       (repeatable or comma-separated; see --list)
 *     --data DIR        data directory (default ${TMPDIR:-/tmp}/containers-storage-bench-data),
 *                       built by bench/make-data.sh when files are missing
 *     --json FILE       also write the results as JSON
 *     --reps N          timed repetitions per figure (default 3; cheap commands get more)
 *     --disk            keep the stores on disk under --tmp instead of a private tmpfs
 *     --tmp DIR         where the scratch area is made (default ${TMPDIR:-/tmp})
 *     --ours "CMD"      command running our CLI (default: deno run -A cli.ts)
 *     --rev REV         run our CLI from a snapshot of commit REV (`git archive`), so that
 *                       uncommitted edits in the shared checkout do not change the figures
 *     --bundle          run our CLI from a single file made by `deno bundle` (startup cost)
 *     --go "CMD"        command running the Go CLI (default: containers-storage)
 *     --no-build        do not run make-data.sh; skip workloads without data
 *     --list            list the workloads and exit
 *
 * @module
 */
import { parseArgs } from "node:util";
import { btrfsWorkload } from "./btrfs.ts";
import { contentWorkloads } from "./content.ts";
import { type BenchContext, errText, newStore, type Row, type Workload } from "./context.ts";
import { defaultDataDir, ensureData } from "./data.ts";
import type { Tool, ToolName } from "./exec.ts";
import { containerWorkloads, overlayMountWorkload, startupWorkload } from "./layers.ts";
import { derive, formatInfo, formatTable, type RunInfo, toJson } from "./report.ts";
import { openScratch, type Scratch } from "./scratch.ts";

/** Every workload in report order. */
export const WORKLOADS: Workload[] = [
  startupWorkload,
  ...contentWorkloads,
  overlayMountWorkload,
  ...containerWorkloads,
  btrfsWorkload,
];

/** Whether a workload is picked by the `--only` names (all when there are none). */
export function selected(w: Workload, only: string[]): boolean {
  if (only.length === 0) return true;
  return only.some((n) => w.key === n || w.groups.includes(n) || w.key.includes(n));
}

function usage(): string {
  const doc = Deno.readTextFileSync(new URL(import.meta.url).pathname);
  return doc.slice(doc.indexOf("  deno task bench"), doc.indexOf(" *\n * @module")).replace(/^ \* ?/gm, "");
}

async function output(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "";
  }
}

/** Exercises every command once per tool and driver, so code and page caches are warm for both. */
async function warmUp(ctx: BenchContext, drivers: string[]): Promise<void> {
  if (!ctx.data.tiny) return;
  for (const driver of drivers) {
    for (const tool of ["ours", "go"] as ToolName[]) {
      ctx.log(`warm-up: ${tool} on ${driver}`);
      let store;
      try {
        store = await newStore(ctx, tool, `warm-${driver}`, driver);
        const layer = (await store.id(["import-layer", "-f", ctx.data.tiny])).id;
        await store.cmd(["diff", "-f", `${store.root}/d.tar`, layer]);
        const image = (await store.id(["create-image", layer])).id;
        const ctr = (await store.id(["create-container", image])).id;
        await store.cmd(["mount", ctr]);
        await store.cmd(["unmount", ctr]);
      } catch (e) {
        ctx.log(`warm-up: ${tool} on ${driver} failed: ${errText(e)}`);
      } finally {
        await store?.destroy();
      }
    }
  }
}

async function main(): Promise<number> {
  // `deno task bench -- --quick` passes the "--" on.
  const args = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string", multiple: true, default: [] },
      data: { type: "string" },
      json: { type: "string" },
      reps: { type: "string" },
      disk: { type: "boolean", default: false },
      tmp: { type: "string" },
      ours: { type: "string" },
      bundle: { type: "boolean", default: false },
      rev: { type: "string" },
      go: { type: "string" },
      "no-build": { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage());
    return 0;
  }
  if (values.list) {
    for (const w of WORKLOADS) console.log(`${w.key.padEnd(16)} ${w.describe}`);
    return 0;
  }
  const only = values.only.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  const reps = values.reps ? Number(values.reps) : 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: not a positive integer: ${values.reps}`);
  const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const tools: Record<ToolName, Tool> = {
    ours: {
      name: "ours",
      argv: values.ours?.split(/\s+/) ?? [Deno.execPath(), "run", "-A", `${repo}/cli.ts`],
    },
    go: { name: "go", argv: values.go?.split(/\s+/) ?? ["containers-storage"] },
  };
  const t0 = performance.now();
  const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  const loadStart = loadavg();
  const log = (msg: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

  const data = await ensureData(values.data ?? defaultDataDir(), values.quick, !values["no-build"]);
  const tmp = values.tmp ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const scratch: Scratch = await openScratch(tmp, values.disk, 16);
  let revLabel = "";
  const onSignal = () => {
    console.error("bench: interrupted, cleaning up");
    scratch.close().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const conf = `${scratch.dir}/storage.conf`;
    // Defaults for both tools; every store command overrides the roots and the driver, so
    // these only serve `version` (which opens the default store, as Go's does).
    const defaults = `${scratch.dir}/default`;
    await Deno.writeTextFile(
      conf,
      `[storage]\ndriver = "vfs"\ngraphroot = "${defaults}/graph"\nrunroot = "${defaults}/run"\n`,
    );
    const env = Deno.env.toObject();
    for (const k of ["STORAGE_DRIVER", "STORAGE_OPTS"]) delete env[k];
    Object.assign(env, { CONTAINERS_STORAGE_CONF: conf, DENO_NO_UPDATE_CHECK: "1" });
    let src = repo;
    if (values.rev) {
      src = `${scratch.dir}/src`;
      await Deno.mkdir(src);
      const sh = `git -C '${repo}' archive '${values.rev}' | tar -x -C '${src}'`;
      const st = await new Deno.Command("bash", { args: ["-o", "pipefail", "-c", sh] }).output();
      if (!st.success) throw new Error(`git archive ${values.rev}: ${new TextDecoder().decode(st.stderr)}`);
      const rev = await output("git", ["-C", repo, "rev-parse", "--short", values.rev]);
      tools.ours.argv = [Deno.execPath(), "run", "-A", `--config=${src}/deno.json`, `${src}/cli.ts`];
      revLabel = ` (commit ${rev})`;
    }
    if (values.bundle) {
      const out = `${scratch.dir}/cli.bundle.js`;
      const st = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "-q", `--config=${src}/deno.json`, "-o", out, `${src}/cli.ts`],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (!st.success) throw new Error("deno bundle cli.ts failed");
      tools.ours.argv = [Deno.execPath(), "run", "-A", out];
    }
    const ctx: BenchContext = { tools, env, scratch, data, reps, quick: values.quick, log };

    const picked = WORKLOADS.filter((w) => w.key === "startup" || selected(w, only));
    const runnable: Workload[] = [];
    const rows: Row[] = [];
    for (const w of picked) {
      const why = w.unavailable(ctx);
      if (why) {
        log(`skip ${w.key}: ${why}`);
        rows.push({ key: w.key, workload: w.key, notes: [`skipped: ${why}`] });
      } else runnable.push(w);
    }
    const drivers = ["vfs"];
    if (runnable.some((w) => w.groups.includes("overlay"))) drivers.push("overlay");
    await warmUp(ctx, drivers);

    for (const w of runnable) {
      try {
        rows.push(...await w.run(ctx));
      } catch (e) {
        log(`${w.key} failed: ${errText(e)}`);
        rows.push({ key: w.key, workload: w.key, notes: [`failed: ${errText(e)}`] });
      }
    }

    const mem = Deno.systemMemoryInfo();
    const info: RunInfo = {
      date: new Date().toISOString(),
      host: Deno.hostname(),
      kernel: Deno.osRelease(),
      cpus: navigator.hardwareConcurrency,
      memGiB: Math.round(mem.total / 2 ** 30),
      load: `${loadStart} at the start, ${loadavg()} at the end`,
      deno: `deno ${Deno.version.deno}`,
      goCli: `containers-storage ${await output("dpkg-query", [
        "-W",
        "-f",
        "${Version}",
        "containers-storage",
      ])}`,
      tar: (await output("tar", ["--version"])).split("\n")[0],
      ours: tools.ours.argv.join(" ").replace(`${repo}/`, "").replaceAll(scratch.dir, "SCRATCH") + revLabel,
      go: tools.go.argv.join(" "),
      stores: scratch.fs === "tmpfs" ? "a private tmpfs" : `disk (${scratch.fs})`,
      reps,
      quick: values.quick,
      data: data.dir,
    };
    const derived = derive(rows);
    console.log(formatInfo(info));
    console.log();
    console.log(formatTable(derived));
    if (values.json) {
      await Deno.writeTextFile(values.json, toJson(info, derived));
      log(`wrote ${values.json}`);
    }
    log("done");
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await scratch.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : e}\n\n${usage()}`);
    Deno.exit(2);
  }
}
