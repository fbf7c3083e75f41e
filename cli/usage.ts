/**
 * Usage texts exactly as the Go CLI prints them (cli.md 1.7): a header on
 * stdout and the flag table (mflag's PrintDefaults through a Go tabwriter)
 * usually on stderr.
 *
 * @module
 */

import type { FlagSet } from "./flags.ts";

/** What a usage text needs to know about a command. */
export interface UsageInfo {
  /** Names; the first is shown. */
  names: readonly string[];
  /** Text after the command name in the `Usage:` line. */
  optionsHelp: string;
  /** One-line description. */
  usage: string;
}

/** Number of runes, which is how Go's tabwriter measures a cell. */
function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Go's text/tabwriter with mflag's settings (minwidth 20, padding 3, spaces)
 * for lines made of one tab-terminated cell plus trailing text.
 */
export function tabwrite(rows: Array<[cell: string, rest: string]>, minwidth = 20, padding = 3): string {
  let width = minwidth;
  for (const [cell] of rows) width = Math.max(width, runeLength(cell) + padding);
  return rows.map(([cell, rest]) => cell + " ".repeat(width - runeLength(cell)) + rest + "\n").join("");
}

/** mflag's zero values print without `=DEFAULT`. */
function isZeroValue(v: string): boolean {
  return v === "false" || v === "" || v === "0";
}

/**
 * mflag's PrintDefaults: a blank line, then one row per flag sorted by name,
 * `  --long, -x=DEFAULT<pad> description`, defaults under `home` shown as `~`.
 */
export function printDefaults(fs: FlagSet, home: string | undefined = Deno.env.get("HOME")): string {
  const rows: Array<[string, string]> = [];
  for (const flag of fs.sorted()) {
    const names = flag.spec.names.filter((n) => n[0] !== "#");
    if (names.length === 0 || flag.spec.usage.length === 0) continue;
    let val = flag.defValue;
    if (home && val.startsWith(home)) val = "~" + val.slice(home.length);
    const head = "  -" + names.join(", -") + (isZeroValue(val) ? "" : "=" + val);
    flag.spec.usage.split("\n").forEach((line, i) => {
      rows.push([i === 0 ? head : "", " " + (i === 0 ? line : "  " + line)]);
    });
  }
  return "\n" + tabwrite(rows);
}

/** The stdout part of the global usage: synopsis, command list, `Options:` header. */
export function globalUsageHeader(commands: readonly UsageInfo[]): string {
  let s = "Usage: containers-storage command [options [...]]\n\nCommands:\n\n";
  for (const c of commands) s += "  " + c.names[0].padEnd(30) + c.usage + "\n";
  return s + "\nOptions:\n";
}

/** The stdout part of a command's usage. */
export function commandUsageHeader(word: string, cmd: UsageInfo): string {
  return `Usage: containers-storage ${word} ${cmd.optionsHelp}\n\n${cmd.usage}\n\nOptions:\n`;
}
