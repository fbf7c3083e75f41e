/**
 * The report: a text table (workload, ours, Go, tar, ratios, target) and the same data as
 * JSON. Ratios are ours/other of the medians; "-startup" subtracts each program's median
 * `version` time from both sides, for reading the ratio without process startup; "CPU" is
 * the ratio of user + system time (GNU time), which other load on the machine skews less.
 *
 * @module
 */
import type { Row, Sample } from "./context.ts";
import { fmtBytes, fmtMs, fmtRatio, mibPerSec, ratio } from "./stats.ts";

/** Facts about the run printed above the table and stored in the JSON. */
export interface RunInfo {
  date: string;
  host: string;
  kernel: string;
  cpus: number;
  memGiB: number;
  /** /proc/loadavg at the start and the end: other work on the machine skews the figures. */
  load: string;
  deno: string;
  goCli: string;
  tar: string;
  ours: string;
  go: string;
  stores: string;
  reps: number;
  quick: boolean;
  data: string;
}

/** A row with its derived figures, as written to the JSON file. */
export interface ReportRow extends Row {
  ratioGo?: number;
  ratioTar?: number;
  ratioGoNoStartup?: number;
  /** ours/Go of the median CPU time (user + system): less skewed by other load than wall time. */
  ratioCpuGo?: number;
  oursMiBps?: number;
  goMiBps?: number;
  tarMiBps?: number;
  /** "ok", "over" (a ratio above its target), or undefined without a target. */
  verdict?: "ok" | "over";
}

const med = (s: Sample | undefined) => s?.error ? undefined : s?.medianMs;

/** Adds ratios, throughput and the verdict to the rows. */
export function derive(rows: Row[]): ReportRow[] {
  const startup = rows.find((r) => r.key === "startup");
  const su = { ours: med(startup?.ours), go: med(startup?.go) };
  return rows.map((r) => {
    const o = med(r.ours), g = med(r.go), t = med(r.tar);
    const out: ReportRow = { ...r, ratioGo: ratio(o, g), ratioTar: ratio(o, t) };
    if (
      r.key !== "startup" && o !== undefined && g !== undefined && su.ours !== undefined &&
      su.go !== undefined
    ) {
      // Below the startup median the difference is noise: no ratio rather than a silly one.
      if (o > su.ours && g > su.go) out.ratioGoNoStartup = ratio(o - su.ours, g - su.go);
    }
    if (!r.ours?.error && !r.go?.error) out.ratioCpuGo = ratio(r.ours?.cpuMs, r.go?.cpuMs);
    out.oursMiBps = mibPerSec(r.bytes, o);
    out.goMiBps = mibPerSec(r.bytes, g);
    out.tarMiBps = mibPerSec(r.bytes, t);
    const over = (r.targetGo !== undefined && out.ratioGo !== undefined && out.ratioGo > r.targetGo) ||
      (r.targetTar !== undefined && out.ratioTar !== undefined && out.ratioTar > r.targetTar);
    const any = (r.targetGo !== undefined && out.ratioGo !== undefined) ||
      (r.targetTar !== undefined && out.ratioTar !== undefined);
    if (any) out.verdict = over ? "over" : "ok";
    return out;
  });
}

function cell(s: Sample | undefined): string {
  if (!s) return "";
  if (s.error) return "ERR";
  return fmtMs(s.medianMs);
}

function rss(s: Sample | undefined): string {
  return s?.maxRssKiB ? `${Math.round(s.maxRssKiB / 1024)}` : "-";
}

function target(r: ReportRow): string {
  const parts: string[] = [];
  const verdict = (v: number | undefined, t: number) => v === undefined ? "" : v <= t ? " ok" : " OVER";
  if (r.targetGo !== undefined) parts.push(`Go<=${r.targetGo.toFixed(1)}${verdict(r.ratioGo, r.targetGo)}`);
  if (r.targetTar !== undefined) {
    parts.push(`tar<=${r.targetTar.toFixed(1)}${verdict(r.ratioTar, r.targetTar)}`);
  }
  return parts.join(", ");
}

/** Renders the rows as an aligned text table followed by errors and notes. */
export function formatTable(rows: ReportRow[]): string {
  const head = [
    "workload",
    "driver",
    "input",
    "ours",
    "Go",
    "tar",
    "ours/Go",
    "ours/tar",
    "ours/Go-startup",
    "CPU ours/Go",
    "RSS MiB ours/Go",
    "target",
  ];
  const body = rows.map((r) => [
    r.workload,
    r.driver ?? "",
    r.bytes !== undefined ? `${fmtBytes(r.bytes)}${r.entries ? ` ${r.entries} ent` : ""}` : "",
    cell(r.ours),
    cell(r.go),
    cell(r.tar),
    fmtRatio(r.ratioGo),
    r.tar ? fmtRatio(r.ratioTar) : "",
    r.key === "startup" ? "" : fmtRatio(r.ratioGoNoStartup),
    fmtRatio(r.ratioCpuGo),
    `${rss(r.ours)}/${rss(r.go)}`,
    target(r),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const numeric = new Set([3, 4, 5, 6, 7, 8, 9, 10]);
  const line = (cells: string[]) =>
    cells.map((c, i) => numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ").trimEnd();
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)];
  const extra: string[] = [];
  for (const r of rows) {
    for (const [who, s] of [["ours", r.ours], ["Go", r.go], ["tar", r.tar]] as const) {
      if (s?.error) extra.push(`${r.workload}: ${who} failed: ${s.error}`);
    }
    for (const n of new Set(r.notes ?? [])) extra.push(`${r.workload}: ${n}`);
  }
  if (extra.length) out.push("", ...extra.map((e) => `  ${e}`));
  return out.join("\n");
}

/** The header printed above the table. */
export function formatInfo(info: RunInfo): string {
  return [
    `containers-storage benchmark, ${info.date} on ${info.host} (${info.cpus} CPUs, ${info.memGiB} GiB, ${info.kernel})`,
    `ours: ${info.ours}   [${info.deno}]`,
    `Go:   ${info.go}   [${info.goCli}]`,
    `tar:  ${info.tar}`,
    `load average (1/5/15 min) ${info.load}`,
    `stores on ${info.stores}; data ${info.data}; inputs read warm from the page cache;`,
    `each figure: median wall clock of ${info.reps}+ runs (version, mount, create: more), process spawn included${
      info.quick ? "; QUICK mode: small inputs" : ""
    }`,
  ].join("\n");
}

/** The JSON document written by `--json FILE`. */
export function toJson(info: RunInfo, rows: ReportRow[]): string {
  return JSON.stringify({ info, rows }, null, 2) + "\n";
}
