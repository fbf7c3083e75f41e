/**
 * Where our CLI's time goes: runs one CLI command under V8's sampling profiler and prints
 * the functions and files with the most self time and total time.
 *
 *   deno run -A bench/profile.ts [--top N] [--interval US] [--keep DIR] -- CLI-ARGS...
 *   deno run -A bench/profile.ts [--top N] FILE.cpuprofile     (summarise an existing profile)
 *
 * e.g. `deno run -A bench/profile.ts -- --graph /tmp/g --run /tmp/r -s vfs import-layer -f small.tar`.
 * "(idle)" is the main thread waiting (for async file operations on Deno's thread pool, for
 * child processes); "(program)" is V8/Deno native work not attributed to a JS function
 * (module loading, FFI calls, op dispatch); "(garbage collector)" is GC.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A node of a `.cpuprofile` (Chrome DevTools format, written by `--cpu-prof`). */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

/** The parts of a `.cpuprofile` used here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self and total milliseconds of one function or file. */
export interface Cost {
  name: string;
  selfMs: number;
  totalMs: number;
}

/** Summary of a profile: wall time covered and the costs by function and by file. */
export interface ProfileSummary {
  totalMs: number;
  byFunction: Cost[];
  byFile: Cost[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return "";
  let u = url.replace(/^file:\/\//, "");
  if (root && u.startsWith(root)) u = u.slice(root.length);
  const npm = u.indexOf("/npm/registry.npmjs.org/");
  if (npm >= 0) u = `npm:${u.slice(npm + 24)}`;
  return u.replace(/^ext:/, "ext:");
}

/**
 * Self time per function and file, and total time (time with the function anywhere on the
 * stack, counted once per sample even when recursive). Sample i costs timeDeltas[i + 1]
 * (the time until the next sample), the last one costs the mean delta.
 */
export function summarize(p: CpuProfile, root = ""): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const fnKey = (n: ProfileNode) => {
    const f = n.callFrame;
    const url = shortUrl(f.url, root);
    const name = f.functionName || (url ? "(anonymous)" : "");
    return url ? `${name} ${url}:${f.lineNumber + 1}` : name || "(root)";
  };
  const fileKey = (n: ProfileNode) => shortUrl(n.callFrame.url, root) || n.callFrame.functionName || "(root)";
  const fnSelf = new Map<string, number>(), fnTotal = new Map<string, number>();
  const fileSelf = new Map<string, number>(), fileTotal = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const deltas = p.timeDeltas;
  const meanDelta = deltas.length ? deltas.reduce((a, b) => a + b, 0) / deltas.length : 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const us = i + 1 < deltas.length ? Math.max(0, deltas[i + 1]) : meanDelta;
    const ms = us / 1000;
    total += ms;
    const leaf = byId.get(p.samples[i]);
    if (!leaf) continue;
    add(fnSelf, fnKey(leaf), ms);
    add(fileSelf, fileKey(leaf), ms);
    const seenFn = new Set<string>(), seenFile = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
      if (n.callFrame.functionName === "(root)") break;
      const fk = fnKey(n), ik = fileKey(n);
      if (!seenFn.has(fk)) {
        seenFn.add(fk);
        add(fnTotal, fk, ms);
      }
      if (!seenFile.has(ik)) {
        seenFile.add(ik);
        add(fileTotal, ik, ms);
      }
    }
  }
  const costs = (self: Map<string, number>, tot: Map<string, number>) =>
    [...new Set([...self.keys(), ...tot.keys()])]
      .map((name) => ({ name, selfMs: self.get(name) ?? 0, totalMs: tot.get(name) ?? 0 }))
      .sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs);
  return { totalMs: total, byFunction: costs(fnSelf, fnTotal), byFile: costs(fileSelf, fileTotal) };
}

/** Renders the top entries of a summary. */
export function formatSummary(s: ProfileSummary, top: number): string {
  const pct = (ms: number) => `${((100 * ms) / (s.totalMs || 1)).toFixed(1).padStart(5)}%`;
  const rows = (title: string, costs: Cost[], sortTotal = false) => {
    const list = sortTotal ? [...costs].sort((a, b) => b.totalMs - a.totalMs) : costs;
    return [
      `${title}`,
      `    self ms   self     total ms  total   name`,
      ...list.slice(0, top).map((c) =>
        `  ${c.selfMs.toFixed(1).padStart(9)}  ${pct(c.selfMs)}  ${c.totalMs.toFixed(1).padStart(9)}  ${
          pct(c.totalMs)
        }  ${c.name}`
      ),
    ].join("\n");
  };
  return [
    `profiled ${s.totalMs.toFixed(0)} ms of the main thread`,
    rows("by function, self time:", s.byFunction),
    rows("by function, total time:", s.byFunction, true),
    rows("by file, self time:", s.byFile),
  ].join("\n\n");
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      top: { type: "string", default: "25" },
      interval: { type: "string", default: "200" },
      keep: { type: "string" },
    },
  });
  const top = Number(values.top);
  const repo = new URL("..", import.meta.url).pathname;
  let file: string;
  let dir: string | undefined;
  if (positionals.length === 1 && positionals[0].endsWith(".cpuprofile")) {
    file = positionals[0];
  } else {
    if (!positionals.length) {
      console.error("usage: bench/profile.ts [--top N] [--interval US] [--keep DIR] -- CLI-ARGS...");
      return 2;
    }
    dir = values.keep ?? await Deno.makeTempDir({ prefix: "cs-prof-" });
    await Deno.mkdir(dir, { recursive: true });
    const args = [
      "run",
      "-A",
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-interval=${values.interval}`,
      `${repo}cli.ts`,
      ...positionals,
    ];
    const t0 = performance.now();
    const st = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "inherit" }).output();
    console.log(
      `command: ${positionals.join(" ")}\nexit ${st.code}, ${(performance.now() - t0).toFixed(0)} ms wall`,
    );
    const found = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
    if (!found.length) {
      console.error(`no .cpuprofile written in ${dir}`);
      return 1;
    }
    file = `${dir}/${found[0].name}`;
  }
  const prof = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  console.log(formatSummary(summarize(prof, repo), top));
  if (dir && !values.keep) await Deno.remove(dir, { recursive: true });
  else console.log(`\nprofile: ${file} (open in Chrome DevTools > Performance)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
