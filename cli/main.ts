/**
 * The CLI's control flow, as the Go `containers-storage` main does it
 * (cli.md 1): global flags, config loading, command lookup, command flags,
 * argument counts, store opening, then the command.
 *
 * @module
 */

import type { LoadedConfig, Store, StoreOptions } from "../mod.ts";
import { COMMANDS, findCommand } from "./commands.ts";
import type { Command } from "./commands.ts";
import type { Context } from "./context.ts";
import { errorText, EXIT_FAILURE, EXIT_USAGE } from "./errors.ts";
import { FlagError, FlagSet, HelpRequested } from "./flags.ts";
import type { FlagSpec, FlagValue } from "./flags.ts";
import { Logger } from "./log.ts";
import { Printer } from "./output.ts";
import type { Sink } from "./output.ts";
import { goList } from "./quote.ts";
import { commandUsageHeader, globalUsageHeader, printDefaults } from "./usage.ts";

/** The process environment the CLI runs in (injectable for tests). */
export interface CliIO {
  /** Standard output. */
  stdout: Sink;
  /** Standard error. */
  stderr: Sink;
  /** Standard input. */
  stdin: ReadableStream<Uint8Array>;
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Current directory. */
  cwd: string;
}

/** The library entry points the CLI needs, loaded lazily to keep usage and errors fast. */
interface Library {
  openStore(options: StoreOptions): Promise<Store>;
  loadStoreOptions(opts?: { env?: Record<string, string | undefined> }): Promise<LoadedConfig>;
}

async function loadLibrary(): Promise<Library> {
  return await import("../mod.ts") as unknown as Library;
}

/** The global flags (every command accepts them too). */
const GLOBAL_FLAGS: FlagSpec[] = [
  { key: "run", names: ["-run", "R"], kind: "string", usage: "Root of the runtime state tree" },
  { key: "graph", names: ["-graph", "g"], kind: "string", usage: "Root of the storage tree" },
  { key: "imageStore", names: ["-image-store"], kind: "string", usage: "Root of the separate image store" },
  {
    key: "transientStore",
    names: ["-transient-store"],
    kind: "bool",
    usage: "Keep container and volatile layer records in the run root",
  },
  {
    key: "driver",
    names: ["-storage-driver", "s"],
    kind: "string",
    usage: "Storage driver to use ($STORAGE_DRIVER)",
  },
  { key: "opts", names: ["-storage-opt"], kind: "list", usage: "Set storage driver options ($STORAGE_OPTS)" },
  { key: "debug", names: ["-debug", "D"], kind: "bool", usage: "Print debugging information" },
];

const HELP_FLAG: FlagSpec = { key: "help", names: ["-help"], kind: "bool", usage: "Print usage" };

/** Mutable state shared by the two parses, as Go binds flags to variables. */
interface State {
  options: StoreOptions;
  debug: boolean;
}

/** Defines the global flags on `fs`, bound to `state`, with the values in effect as defaults. */
function defineGlobals(fs: FlagSet, state: State): void {
  const o = state.options;
  const initial: Record<string, FlagValue> = {
    run: o.runRoot ?? "",
    graph: o.graphRoot ?? "",
    imageStore: o.imageStore ?? "",
    transientStore: o.transientStore ?? false,
    driver: o.driverName ?? "",
    opts: [...(o.driverOptions ?? [])],
    debug: state.debug,
  };
  const setters: Record<string, (v: FlagValue) => void> = {
    run: (v) => (state.options.runRoot = v as string),
    graph: (v) => (state.options.graphRoot = v as string),
    imageStore: (v) => (state.options.imageStore = v as string),
    transientStore: (v) => (state.options.transientStore = v as boolean),
    driver: (v) => (state.options.driverName = v as string),
    opts: (v) => (state.options.driverOptions = [...(state.options.driverOptions ?? []), ...(v as string[])]),
    debug: (v) => (state.debug = v as boolean),
  };
  for (const spec of GLOBAL_FLAGS) fs.define(spec, initial[spec.key], setters[spec.key]);
}

/** Runs the CLI with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const out = new Printer(io.stdout);
  const err = new Printer(io.stderr);
  const log = new Logger((t) => err.print(t));
  const home = io.env.HOME;
  const state: State = { options: {}, debug: false };

  let report = "";
  // mflag prints its errors as it goes; collect them so they reach stderr in order.
  const globals = new FlagSet("containers-storage", (t) => (report += t));
  defineGlobals(globals, state);

  if (argv.length < 1) {
    await out.print(globalUsageHeader(COMMANDS));
    await err.print(printDefaults(globals, home));
    return EXIT_FAILURE;
  }
  globals.define(HELP_FLAG, false);
  let usageRequested = 0;
  globals.usage = () => usageRequested++;
  const globalUsage = async () => {
    await out.print(globalUsageHeader(COMMANDS));
    await err.print(printDefaults(globals, home));
  };
  try {
    globals.parse(argv);
  } catch (e) {
    if (!(e instanceof FlagError || e instanceof HelpRequested)) throw e;
    for (; usageRequested > 0; usageRequested--) await globalUsage();
    await err.print(report);
    await out.print(`${e.message} while parsing arguments (1)\n`);
    await globalUsage();
    return EXIT_FAILURE;
  }
  if (globals.values.help === true) {
    await out.print(globalUsageHeader(COMMANDS) + printDefaults(globals, home));
    return 0;
  }

  // Store flags before the command suppress the configuration file (cli.md 1.3).
  const o = state.options;
  let config: LoadedConfig | null = null;
  let configError: unknown = null;
  let lib: Library | null = null;
  const loadConfig = async () => {
    lib ??= await loadLibrary();
    try {
      config = await lib.loadStoreOptions({ env: io.env });
      for (const entry of config.log) await log.log(entry.level, entry.msg);
    } catch (e) {
      configError = e;
      // Go prints "Failed to read FILE ERR" on stdout when a config file cannot be parsed.
      const preface = (e as { preface?: string }).preface;
      if (preface) await out.print(preface + "\n");
    }
  };
  if (!o.graphRoot && !o.runRoot && !o.driverName && !(o.driverOptions?.length)) {
    const keep = { imageStore: o.imageStore, transientStore: o.transientStore };
    await loadConfig();
    if (config) {
      state.options = { ...(config as LoadedConfig).options };
      if (keep.imageStore) state.options.imageStore = keep.imageStore;
      if (keep.transientStore) state.options.transientStore = true;
    }
  }

  const args = globals.args;
  if (args.length < 1) {
    await globalUsage();
    return EXIT_FAILURE;
  }
  const word = args[0];
  const cmd = findCommand(word);
  if (!cmd) {
    await out.print(`${word}: unrecognized command.\n`);
    return EXIT_FAILURE;
  }

  let cmdReport = "";
  const fs = new FlagSet(word, (t) => (cmdReport += t));
  defineGlobals(fs, state);
  for (const spec of cmd.flags) fs.define(spec);
  const cmdUsage = async () => {
    await out.print(commandUsageHeader(word, cmd));
    await err.print(printDefaults(fs, home));
  };
  let helpPrinted = false;
  fs.usage = () => (helpPrinted = true);
  try {
    fs.parse(args.slice(1));
  } catch (e) {
    if (!(e instanceof FlagError || e instanceof HelpRequested)) throw e;
    if (helpPrinted) await cmdUsage();
    await err.print(cmdReport);
    return EXIT_USAGE;
  }
  const operands = fs.args;
  if (operands.length < cmd.minArgs) {
    await out.print(`${word}: more arguments required.\n`);
    await cmdUsage();
    return EXIT_FAILURE;
  }
  if (cmd.maxArgs >= 0 && operands.length > cmd.maxArgs) {
    await out.print(`${word}: too many arguments (${goList(operands)}).\n`);
    await cmdUsage();
    return EXIT_FAILURE;
  }

  if (state.debug) {
    log.level = "debug";
    const so = state.options;
    await log.debug(`Root: ${so.graphRoot ?? ""}`);
    await log.debug(`Run Root: ${so.runRoot ?? ""}`);
    await log.debug(`Driver Name: ${so.driverName ?? ""}`);
    await log.debug(`Driver Options: ${goList(so.driverOptions ?? [])}`);
  } else {
    log.level = "error";
  }

  // Like Go's GetStore, opening always consults the configuration for defaults.
  if (!config && !configError) await loadConfig();
  const store = await openStore(state.options, configError, io.cwd, out, log);
  if (!store) return EXIT_FAILURE;
  try {
    return await runCommand(cmd, {
      word,
      args: operands,
      flags: fs.values,
      store,
      options: state.options,
      out,
      err,
      get stdin() {
        return io.stdin; // only commands reading input pay for the stream
      },
      cwd: io.cwd,
      env: io.env,
    });
  } finally {
    await store.close().catch(() => {});
  }
}

function absolute(path: string, cwd: string): string {
  if (path === "" || path.startsWith("/")) return path;
  return `${cwd.replace(/\/+$/, "")}/${path}`;
}

/** Opens the store or prints Go's `error initializing: ...` and resolves to null. */
async function openStore(
  options: StoreOptions,
  configError: unknown,
  cwd: string,
  out: Printer,
  log: Logger,
): Promise<Store | null> {
  const { DriverNotSupportedError } = await import("../store/errors.ts");
  const fail = async (e: unknown) => {
    if (e instanceof DriverNotSupportedError) {
      await log.error(`Failed to GetDriver graph ${options.driverName ?? ""} ${options.graphRoot ?? ""}`);
    }
    await out.print(`error initializing: ${errorText(e)}\n`);
    return null;
  };
  if (configError) return await fail(configError);
  const opts: StoreOptions = { ...options };
  // Missing roots are filled (or refused) by openStore as Go's GetStore does.
  if (opts.graphRoot) opts.graphRoot = absolute(opts.graphRoot, cwd);
  if (opts.runRoot) opts.runRoot = absolute(opts.runRoot, cwd);
  if (opts.imageStore) opts.imageStore = absolute(opts.imageStore, cwd);
  // Go's graphdriver.New logs this before loading a named driver.
  if (opts.driverName) {
    await log.debug(`[graphdriver] trying provided driver ${JSON.stringify(opts.driverName)}`);
  }
  try {
    const lib = await loadLibrary();
    return await lib.openStore(opts);
  } catch (e) {
    return await fail(e);
  }
}

async function runCommand(cmd: Command, ctx: Context): Promise<number> {
  const mod = await cmd.load();
  const action = mod.actions[cmd.names[0]];
  if (!action) {
    await ctx.err.print(`${ctx.word}: not implemented\n`);
    return EXIT_FAILURE;
  }
  try {
    return await action(ctx);
  } catch (e) {
    await ctx.err.print(errorText(e) + "\n");
    return EXIT_FAILURE;
  }
}
