/**
 * What a command implementation receives: the opened store, its operands and
 * flags, and the output streams.
 *
 * @module
 */

import type { Store, StoreOptions } from "../mod.ts";
import type { FlagValue } from "./flags.ts";
import type { Printer } from "./output.ts";

/** Everything a command needs to run. */
export interface Context {
  /** The command word as typed (an alias stays an alias, as in Go's messages). */
  word: string;
  /** Operands after the flags. */
  args: string[];
  /** Flag values by key (defaults when not given). */
  flags: Record<string, FlagValue>;
  /** The opened store. */
  store: Store;
  /** The store options the store was opened with. */
  options: StoreOptions;
  /** Standard output. */
  out: Printer;
  /** Standard error. */
  err: Printer;
  /** Standard input. */
  stdin: ReadableStream<Uint8Array>;
  /** Current directory, for relative paths in operands. */
  cwd: string;
  /** Environment variables. */
  env: Record<string, string | undefined>;
}

/** A command implementation; resolves to the exit code. */
export type Action = (ctx: Context) => Promise<number>;

/** A boolean flag's value. */
export function flagBool(ctx: Context, key: string): boolean {
  return ctx.flags[key] === true;
}

/** A string flag's value (`""` when not given). */
export function flagString(ctx: Context, key: string): string {
  const v = ctx.flags[key];
  return typeof v === "string" ? v : "";
}

/** A list flag's values. */
export function flagList(ctx: Context, key: string): string[] {
  const v = ctx.flags[key];
  return Array.isArray(v) ? v : [];
}
