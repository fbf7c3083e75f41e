/**
 * A flag parser with the syntax of Docker's old "mflag" package, which the Go
 * `containers-storage` CLI uses (cli.md 1.1). It differs from getopt:
 *
 * - long names take two dashes (`--json`), one-letter names one dash (`-j`);
 * - a one-dash word that is not a known flag is split into letters, each tried
 *   as a flag (`-jt` = `-j -t`, and `-json` = `-j -s -o -n`);
 * - values: `--name x`, `--name=x`, `-n x`, `-n=x`; booleans take no value but
 *   accept `--json=false`; list flags repeat;
 * - parsing stops at the first non-flag word or after `--`.
 *
 * Flag names are written as mflag writes them: `"-json"` is the long form
 * `--json`, `"j"` the short form `-j`. The first name sorts the usage table.
 *
 * @module
 */

import { goParseBool } from "../drivers/options.ts";
import { goList, goQuote } from "./quote.ts";

/** What a flag holds. */
export type FlagKind = "bool" | "string" | "list";

/** A flag definition, as a command table declares it. */
export interface FlagSpec {
  /** Key under which the parsed value is stored. */
  key: string;
  /** mflag names: `"-long"` for `--long`, `"x"` for `-x`. */
  names: string[];
  /** Value type. */
  kind: FlagKind;
  /** One-line description for the usage table. */
  usage: string;
}

/** A parsed flag value. */
export type FlagValue = boolean | string | string[];

/** A defined flag with its current value. */
export interface Flag {
  /** The definition. */
  spec: FlagSpec;
  /** Default value rendered as Go prints it in usage (`false`, `""`, `[]`, `[a b]`). */
  defValue: string;
}

/** Raised when the user asked for help (`-h`, `--help` where not defined). */
export class HelpRequested extends Error {
  constructor() {
    super("flag: help requested");
  }
}

/** A malformed command line; the message is what mflag prints. */
export class FlagError extends Error {}

/** mflag strips one pair of surrounding quotes from `--x="v"` values. */
function trimQuotes(s: string): string {
  if (s.length >= 2) {
    const a = s[0], b = s[s.length - 1];
    if ((a === '"' && b === '"') || (a === "'" && b === "'")) return s.slice(1, -1);
  }
  return s;
}

/** Outcome of parsing one word. */
type StepResult = { seen: true } | { seen: false; retry?: string; error?: Error };

/**
 * A set of flags for one parse (the global flags, or one command's flags plus
 * the global ones). Values live in `values`; `onSet` hooks let the caller bind
 * global flags to the store options as Go binds them to variables.
 */
export class FlagSet {
  /** The set's name: `containers-storage` or the command word (used in "See '...'"). */
  readonly name: string;
  /** Parsed values by key; preset with the defaults. */
  readonly values: Record<string, FlagValue> = {};
  /** Keys set on the command line during the last parse. */
  readonly actual = new Set<string>();
  /** Arguments left after the flags. */
  args: string[] = [];
  /** Called before the help error is raised, as mflag calls the usage function. */
  usage: () => void = () => {};
  private readonly formal = new Map<string, Flag>();
  private readonly flags: Flag[] = [];
  private readonly hooks = new Map<string, (v: FlagValue) => void>();
  private readonly report: (text: string) => void;

  /** `report` receives the error lines mflag prints (to stderr). */
  constructor(name: string, report: (text: string) => void) {
    this.name = name;
    this.report = report;
  }

  /** Defines a flag with an initial value; `onSet` runs on every assignment from the command line. */
  define(spec: FlagSpec, initial?: FlagValue, onSet?: (v: FlagValue) => void): void {
    let value: FlagValue;
    let defValue: string;
    switch (spec.kind) {
      case "bool":
        value = (initial as boolean | undefined) ?? false;
        defValue = String(value);
        break;
      case "string":
        value = (initial as string | undefined) ?? "";
        defValue = value;
        break;
      case "list":
        value = [...((initial as string[] | undefined) ?? [])];
        defValue = goList(value);
        break;
    }
    const flag: Flag = { spec, defValue };
    this.values[spec.key] = value;
    if (onSet) this.hooks.set(spec.key, onSet);
    for (const n of spec.names) this.formal.set(n.replace(/^#/, ""), flag);
    this.flags.push(flag);
  }

  /** Flags sorted by their first name, as mflag's VisitAll sorts them. */
  sorted(): Flag[] {
    const key = (f: Flag) => f.spec.names[0].replace(/^#/, "");
    return [...this.flags].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  /** The error mflag's failf produces: it prints the text and a "See ..." hint. */
  private fail(text: string): FlagError {
    const hint = this.name === "containers-storage"
      ? `See 'containers-storage --help'.`
      : `See 'containers-storage ${this.name} --help'.`;
    this.report(`${text}\n${hint}\n`);
    return new FlagError(text);
  }

  private assign(flag: Flag, raw: string): void {
    const { key, kind } = flag.spec;
    let v: FlagValue;
    if (kind === "list") {
      v = [...(this.values[key] as string[]), raw];
    } else if (kind === "bool") {
      v = raw === "true";
    } else {
      v = raw;
    }
    this.values[key] = v;
    this.actual.add(key);
    // Lists report only the added element; Go's ListOpts.Set appends too.
    this.hooks.get(key)?.(kind === "list" ? [raw] : v);
  }

  private parseOne(): StepResult | null {
    if (this.args.length === 0) return null;
    const s = this.args[0];
    if (s.length === 0 || s[0] !== "-" || s.length === 1) return null;
    if (s === "--") {
      this.args = this.args.slice(1);
      return null;
    }
    let name = s.slice(1);
    if (name.length === 0 || name[0] === "=") {
      return { seen: false, error: this.fail(`bad flag syntax: ${s}`) };
    }
    this.args = this.args.slice(1);
    let hasValue = false;
    let value = "";
    const eq = name.indexOf("=");
    if (eq !== -1) {
      value = trimQuotes(name.slice(eq + 1));
      hasValue = true;
      name = name.slice(0, eq);
    }
    const flag = this.formal.get(name);
    if (!flag) {
      if (name === "-help" || name === "help" || name === "h" || name === "-h") {
        this.usage();
        return { seen: false, error: new HelpRequested() };
      }
      if (name.length > 0 && name[0] === "-") {
        return { seen: false, error: this.fail(`flag provided but not defined: -${name}`) };
      }
      return { seen: false, retry: name };
    }
    if (flag.spec.kind === "bool") {
      if (hasValue) {
        const b = goParseBool(value);
        if (b === null) {
          return {
            seen: false,
            error: this.fail(
              `invalid boolean value ${goQuote(value)} for  -${name}: strconv.ParseBool: parsing ${
                goQuote(value)
              }: invalid syntax`,
            ),
          };
        }
        this.assign(flag, String(b));
      } else {
        this.assign(flag, "true");
      }
    } else {
      if (!hasValue && this.args.length > 0) {
        hasValue = true;
        value = this.args[0];
        this.args = this.args.slice(1);
      }
      if (!hasValue) return { seen: false, error: this.fail(`flag needs an argument: -${name}`) };
      this.assign(flag, value);
    }
    return { seen: true };
  }

  /**
   * Parses `args`; the words after the flags are left in `this.args`.
   * Throws FlagError (message already reported) or HelpRequested.
   */
  parse(args: string[]): void {
    this.args = [...args];
    for (;;) {
      const r = this.parseOne();
      if (r === null) return;
      if (r.seen) continue;
      let err = r.error;
      if (r.retry !== undefined) {
        const name = r.retry;
        if (name.length > 1) {
          err = undefined;
          for (const letter of name) {
            this.args = [`-${letter}`, ...this.args];
            const r2 = this.parseOne();
            if (r2 === null || r2.seen) continue;
            // Any failure of a letter (already reported, or unknown letter) fails the whole word.
            err = this.fail(`flag provided but not defined: -${name}`);
            break;
          }
          if (!err) continue;
        } else {
          err = this.fail(`flag provided but not defined: -${name}`);
        }
      }
      if (err) throw err;
      return;
    }
  }
}
