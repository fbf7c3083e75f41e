/**
 * Progress bars on standard error for long imports and exports, drawn with `cli-progress`
 * only when standard error is a terminal (otherwise nothing is printed).
 *
 * @module
 */
import type { LayerProgress } from "./import.ts";

/** A progress sink: `update` per report, `stop` at the end. */
export interface ProgressDisplay {
  /** Reports progress of one layer. */
  update(p: LayerProgress): void;
  /** Ends the display. */
  stop(): void;
}

const NONE: ProgressDisplay = { update() {}, stop() {} };

/** Bars for layer copies when stderr is a terminal; a no-op display otherwise. */
export async function terminalProgress(verb: string): Promise<ProgressDisplay> {
  if (!Deno.stderr.isTerminal()) return NONE;
  const { default: cliProgress } = await import("cli-progress");
  const multi = new cliProgress.MultiBar({
    format: `${verb} {name} [{bar}] {percentage}% | {value}/{total} bytes`,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<number, ReturnType<typeof multi.create>>();
  return {
    update(p) {
      let bar = bars.get(p.index);
      const total = p.total > 0 ? p.total : Math.max(p.bytes, 1);
      const name = `${p.digest.slice(7, 19)} (${p.index + 1}/${p.count})`;
      if (!bar) {
        bar = multi.create(total, 0, { name });
        bars.set(p.index, bar);
      }
      if (p.total <= 0) bar.setTotal(total);
      bar.update(p.state === "copying" ? p.bytes : total, {
        name: p.state === "reused" ? `${name} reused` : name,
      });
    },
    stop() {
      multi.stop();
    },
  };
}
