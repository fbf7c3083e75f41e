/**
 * Store options from storage.conf, defaults and environment, following Go
 * containers/storage 1.43 (`types/options.go`): file search order, rootless defaults,
 * driver-option synthesis, `STORAGE_DRIVER`/`STORAGE_OPTS`, `$UID`/env expansion, and
 * the warnings Go logs while reading the file.
 *
 * Nothing here touches the real environment unless no `env` is passed.
 *
 * @module
 */
import { parse, TomlDate, TomlError } from "smol-toml";
import { cleanPath, resolvePath as resolve } from "./paths.ts";
import { ConfigError, StoreOptionsMissingError } from "./errors.ts";
import { osErrorText } from "../sys/errno.ts";
import type { IDMap, StoreOptions } from "./types.ts";
import { parseIDMap, type SubIDFiles, subIDMappings } from "./idmap.ts";
import { goQuote, goQuoteList } from "./quote.ts";

/** Root's default graph root. */
export const DEFAULT_GRAPH_ROOT = "/var/lib/containers/storage";
/** Root's default run root. */
export const DEFAULT_RUN_ROOT = "/run/containers/storage";
/** The administrator's config file. */
export const OVERRIDE_CONFIG_FILE = "/etc/containers/storage.conf";
/** The distribution's config file. */
export const DEFAULT_CONFIG_FILE = "/usr/share/containers/storage.conf";

/** A message Go logs through logrus while loading the config (always shown, even without --debug). */
export interface ConfigLogEntry {
  /** logrus level Go uses for it. */
  level: "warning" | "error";
  /** The message text (without logrus quoting). */
  msg: string;
}

/** Result of loadStoreOptions. */
export interface LoadedConfig {
  /** The options; `graphRoot`/`runRoot` are `""` when neither file nor defaults gave one. */
  options: StoreOptions;
  /** Texts of the messages in `log` (warnings and errors alike). */
  warnings: string[];
  /** The same messages with their logrus level, in order. */
  log: ConfigLogEntry[];
  /** The config file that was read, or null when none exists. */
  file: string | null;
}

/** Inputs of loadStoreOptions; all optional, defaulting to the real process. */
export interface LoadOptions {
  /** Environment to consult (default: the process environment). */
  env?: Record<string, string | undefined>;
  /** Effective UID deciding root vs rootless (default: the process euid). */
  uid?: number;
  /** Override the system config paths (tests). */
  overrideConfigFile?: string;
  /** Override the distribution config path (tests). */
  defaultConfigFile?: string;
  /** Where /etc/subuid & co. are read from for `remap-user`/`remap-group` (tests). */
  subIDFiles?: SubIDFiles;
}

/** An environment: variable name → value. */
export type Env = Record<string, string | undefined>;

function processEnv(): Env {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}

function processUid(): number {
  return Deno.uid() ?? 0;
}

// ---- paths ----

/** Go's filepath.Clean. */
function clean(p: string): string {
  return cleanPath(p);
}

function evalSymlinks(p: string): string | null {
  try {
    return Deno.realPathSync(p);
  } catch {
    return null;
  }
}

/** Go's os.ExpandEnv: `$VAR` and `${VAR}`; unset variables expand to "". */
export function expandEnv(s: string, env: Env): string {
  return s.replace(/\$(\{([^}]*)\}|([A-Za-z0-9_]+|[*#$@!?\-0-9]))/g, (_m, _a, braced, bare) => {
    const name = braced ?? bare;
    return env[name] ?? "";
  });
}

/** `$UID` substitution, env expansion, then symlink resolution (clean path when it does not exist). */
export function expandEnvPath(path: string, uid: number, env: Env): string {
  const p = expandEnv(path.replaceAll("$UID", String(uid)), env);
  return evalSymlinks(p) ?? clean(p);
}

function homeDir(env: Env): string {
  return env.HOME ?? "";
}

/**
 * The rootless runtime directory, as Go 1.43's getRootlessRuntimeDir: `$XDG_RUNTIME_DIR`;
 * else, when PID 1 is systemd, `/run/user/UID` if we own it (mode rwx for us only); else
 * `$TMPDIR/containers-user-UID` (created 0700, or reused if we own it); else `$HOME/rundir`.
 */
export function rootlessRuntimeDir(uid: number, env: Env = processEnv()): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg) return xdg;
  const owned = (dir: string) => {
    try {
      const st = Deno.lstatSync(dir);
      const mode = st.mode ?? 0;
      return st.uid === uid && (mode & 0o700) === 0o700 && (mode & 0o066) === 0;
    } catch {
      return false;
    }
  };
  let init = "";
  try {
    init = Deno.readTextFileSync("/proc/1/comm").trim();
  } catch { /* no /proc: not systemd */ }
  if (init === "systemd" && owned(`/run/user/${uid}`)) return `/run/user/${uid}`;
  const tmp = `${env.TMPDIR || "/tmp"}/containers-user-${uid}`;
  let present = true;
  try {
    Deno.lstatSync(tmp);
  } catch {
    present = false;
  }
  if (!present) {
    try {
      Deno.mkdirSync(tmp, { mode: 0o700 });
      return tmp;
    } catch { /* Go logs and falls through */ }
  } else if (owned(tmp)) return tmp;
  const home = homeDir(env);
  if (!home) throw new ConfigError("neither XDG_RUNTIME_DIR nor HOME was set non-empty");
  return `${evalSymlinks(home) ?? home}/rundir`;
}

function dataHome(env: Env): string {
  if (env.XDG_DATA_HOME) return env.XDG_DATA_HOME;
  const home = homeDir(env);
  if (!home) throw new ConfigError("neither XDG_DATA_HOME nor HOME was set non-empty");
  return `${evalSymlinks(home) ?? home}/.local/share`;
}

/** Default graph root: `/var/lib/containers/storage` for root, `~/.local/share/containers/storage` rootless. */
export function defaultGraphRoot(uid: number = processUid(), env: Env = processEnv()): string {
  return uid === 0 ? DEFAULT_GRAPH_ROOT : `${dataHome(env)}/containers/storage`;
}

/** Default run root: `/run/containers/storage` for root, `$XDG_RUNTIME_DIR/containers` rootless. */
export function defaultRunRoot(uid: number = processUid(), env: Env = processEnv()): string {
  return uid === 0 ? DEFAULT_RUN_ROOT : `${rootlessRuntimeDir(uid, env)}/containers`;
}

// ---- TOML schema ----

type Kind = "string" | "bool" | "int" | "strings" | "table" | "stringmap";

const SCHEMA: Record<string, Kind> = {
  "storage": "table",
  "storage.driver": "string",
  "storage.driver_priority": "strings",
  "storage.runroot": "string",
  "storage.graphroot": "string",
  "storage.imagestore": "string",
  "storage.rootless_storage_path": "string",
  "storage.transient_store": "bool",
  "storage.options": "table",
  "storage.options.additionalimagestores": "strings",
  "storage.options.additionallayerstores": "strings",
  "storage.options.size": "string",
  "storage.options.remap-uids": "string",
  "storage.options.remap-gids": "string",
  "storage.options.ignore_chown_errors": "string",
  "storage.options.force_mask": "int",
  "storage.options.remap-user": "string",
  "storage.options.remap-group": "string",
  "storage.options.root-auto-userns-user": "string",
  "storage.options.auto-userns-min-size": "int",
  "storage.options.auto-userns-max-size": "int",
  "storage.options.mount_program": "string",
  "storage.options.mountopt": "string",
  "storage.options.skip_mount_home": "string",
  "storage.options.disable-volatile": "bool",
  "storage.options.pull_options": "stringmap",
  "storage.options.aufs": "table",
  "storage.options.aufs.mountopt": "string",
  "storage.options.btrfs": "table",
  "storage.options.btrfs.min_space": "string",
  "storage.options.btrfs.size": "string",
  "storage.options.overlay": "table",
  "storage.options.overlay.ignore_chown_errors": "string",
  "storage.options.overlay.mount_program": "string",
  "storage.options.overlay.mountopt": "string",
  "storage.options.overlay.skip_mount_home": "string",
  "storage.options.overlay.size": "string",
  "storage.options.overlay.inodes": "string",
  "storage.options.overlay.force_mask": "string",
  "storage.options.overlay.use_composefs": "string",
  "storage.options.vfs": "table",
  "storage.options.vfs.ignore_chown_errors": "string",
  "storage.options.zfs": "table",
  "storage.options.zfs.mountopt": "string",
  "storage.options.zfs.fsname": "string",
  "storage.options.zfs.size": "string",
  "storage.options.thinpool": "table",
};
for (
  const k of [
    "autoextend_percent",
    "autoextend_threshold",
    "basesize",
    "blocksize",
    "directlvm_device",
    "directlvm_device_force",
    "fs",
    "log_level",
    "metadata_size",
    "min_free_space",
    "mkfsarg",
    "mountopt",
    "size",
    "use_deferred_deletion",
    "use_deferred_removal",
    "xfs_nospace_max_retries",
  ]
) SCHEMA[`storage.options.thinpool.${k}`] = "string";

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}

/** BurntSushi/toml's name for a TOML value's type. */
function tomlTypeName(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number" || typeof v === "bigint") {
    return typeof v === "bigint" || Number.isInteger(v) ? "int64" : "float64";
  }
  if (v instanceof TomlDate) return "time.Time";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[string]interface {}";
}

const DEST_NAME: Record<Kind, string> = {
  string: "string",
  bool: "bool",
  int: "integer",
  strings: "slice",
  table: "struct",
  stringmap: "map",
};

/** Go's toml.Key rendering: bare parts as is, others quoted. */
function keyString(parts: string[]): string {
  return parts.map((p) => /^[A-Za-z0-9_-]+$/.test(p) ? p : goQuote(p)).join(".");
}

/** Best-effort line of `key` in the source (for error messages like BurntSushi's). */
function lineOf(text: string, parts: string[]): number {
  const lines = text.split("\n");
  let table: string[] = [];
  let best = 0, bestLen = 0;
  const norm = (s: string) =>
    s.split(".").map((x) => x.trim().replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1")).filter((x) =>
      x !== ""
    );
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const hdr = /^\[\[?([^\]]+)\]\]?/.exec(line);
    if (hdr) {
      table = norm(hdr[1]);
      continue;
    }
    const kv = /^([A-Za-z0-9_."' -]+?)\s*=/.exec(line);
    if (!kv) continue;
    const full = [...table, ...norm(kv[1])];
    let n = 0;
    while (n < full.length && n < parts.length && full[n] === parts[n]) n++;
    if (n === full.length && n > bestLen) {
      best = i + 1;
      bestLen = n;
      if (n === parts.length) break;
    }
  }
  return best;
}

interface Decoded {
  undecoded: string[];
}

function typeError(text: string, parts: string[], v: unknown, kind: Kind, file: string): ConfigError {
  const line = lineOf(text, parts);
  const where = line ? `line ${line} (last key ${goQuote(keyString(parts))}): ` : "";
  const msg = `toml: ${where}incompatible types: TOML value has type ${
    tomlTypeName(v)
  }; destination has type ${DEST_NAME[kind]}`;
  const err = new ConfigError(msg);
  err.preface = `Failed to read ${file} ${msg}`;
  return err;
}

function checkTypes(
  text: string,
  file: string,
  obj: Record<string, unknown>,
  path: string[],
  out: Decoded,
): void {
  for (const [k, v] of Object.entries(obj)) {
    const parts = [...path, k];
    const key = parts.join(".");
    const kind = SCHEMA[key];
    if (kind === undefined) {
      markUndecoded(parts, v, out);
      continue;
    }
    switch (kind) {
      case "string":
        if (typeof v !== "string") throw typeError(text, parts, v, kind, file);
        break;
      case "bool":
        if (typeof v !== "boolean") throw typeError(text, parts, v, kind, file);
        break;
      case "int":
        if (!(typeof v === "number" && Number.isInteger(v)) && typeof v !== "bigint") {
          throw typeError(text, parts, v, kind, file);
        }
        break;
      case "strings":
        if (!Array.isArray(v)) throw typeError(text, parts, v, kind, file);
        for (const e of v) if (typeof e !== "string") throw typeError(text, parts, e, "string", file);
        break;
      case "stringmap":
        if (!isTable(v)) throw typeError(text, parts, v, kind, file);
        for (const [mk, e] of Object.entries(v)) {
          if (typeof e !== "string") throw typeError(text, [...parts, mk], e, "string", file);
        }
        break;
      case "table":
        if (!isTable(v)) throw typeError(text, parts, v, kind, file);
        checkTypes(text, file, v, parts, out);
        break;
    }
  }
}

function markUndecoded(parts: string[], v: unknown, out: Decoded): void {
  const ks = keyString(parts);
  if (!out.undecoded.includes(ks)) out.undecoded.push(ks);
  const tables = isTable(v)
    ? [v]
    : Array.isArray(v) && v.every(isTable)
    ? v as Record<string, unknown>[]
    : [];
  for (const t of tables) for (const [k, sub] of Object.entries(t)) markUndecoded([...parts, k], sub, out);
}

/** The typed view of a storage.conf this module uses. */
interface TomlConfig {
  driver: string;
  driverPriority: string[];
  runRoot: string;
  graphRoot: string;
  imageStore: string;
  rootlessStoragePath: string;
  transientStore: boolean;
  o: Record<string, unknown>;
  table: (name: string) => Record<string, unknown>;
}

function view(doc: Record<string, unknown>): TomlConfig {
  const storage = isTable(doc.storage) ? doc.storage : {};
  const o = isTable(storage.options) ? storage.options : {};
  const str = (t: Record<string, unknown>, k: string) => typeof t[k] === "string" ? t[k] as string : "";
  return {
    driver: str(storage, "driver"),
    driverPriority: Array.isArray(storage.driver_priority) ? storage.driver_priority as string[] : [],
    runRoot: str(storage, "runroot"),
    graphRoot: str(storage, "graphroot"),
    imageStore: str(storage, "imagestore"),
    rootlessStoragePath: str(storage, "rootless_storage_path"),
    transientStore: storage.transient_store === true,
    o,
    table: (name) => isTable(o[name]) ? o[name] as Record<string, unknown> : {},
  };
}

/** Reads and type-checks a config file. Throws ConfigError (`toml: ...`) on syntax or type errors. */
export function readConfigFile(file: string): { doc: Record<string, unknown>; undecoded: string[] } {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const err = new ConfigError(`open ${file}: ${osErrorText(e)}`, undefined, { cause: e });
    err.preface = `Failed to read ${file} ${err.message}`;
    throw err;
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    let detail = e instanceof Error ? e.message.split("\n")[0] : String(e);
    detail = detail.replace(/^Invalid TOML document: /, "");
    const line = e instanceof TomlError ? e.line : 0;
    const msg = `toml: ${line ? `line ${line}: ` : ""}${detail}`;
    const err = new ConfigError(msg, undefined, { cause: e });
    err.preface = `Failed to read ${file} ${msg}`;
    throw err;
  }
  const out: Decoded = { undecoded: [] };
  checkTypes(text, file, doc, [], out);
  return { doc, undecoded: out.undecoded };
}

/** Renders an int like Go's `%o`. */
function octal(n: number): string {
  return n < 0 ? "-" + (-n).toString(8) : n.toString(8);
}

interface Reloaded {
  options: StoreOptions;
}

/**
 * Go's ReloadConfigurationFile: options from one file (cleared first), env overrides,
 * synthesized driver options, ID maps. Appends log lines to `log`.
 */
function reloadConfigurationFile(
  file: string,
  env: Env,
  log: ConfigLogEntry[],
  subIDFiles: SubIDFiles | undefined,
): Reloaded {
  const { doc, undecoded } = readConfigFile(file);
  if (undecoded.length > 0) {
    log.push({
      level: "warning",
      msg: `Failed to decode the keys ${goQuoteList(undecoded)} from ${goQuote(file)}`,
    });
  }
  const c = view(doc);
  const opts: StoreOptions = { graphRoot: "", runRoot: "", driverName: "", driverOptions: [] };
  let cfgDriver = c.driver;
  opts.driverName = c.driver;
  if (env.STORAGE_DRIVER) {
    cfgDriver = env.STORAGE_DRIVER;
    opts.driverName = cfgDriver;
  }
  if (opts.driverName === "overlay2") {
    log.push({
      level: "warning",
      msg: "Switching default driver from overlay2 to the equivalent overlay driver",
    });
    opts.driverName = "overlay";
  }
  opts.driverPriority = [...c.driverPriority];
  if (opts.driverName === "" && opts.driverPriority.length === 0) {
    log.push({
      level: "error",
      msg: `The storage 'driver' option must be set in ${file} to guarantee proper operation`,
    });
  }
  if (c.runRoot) opts.runRoot = c.runRoot;
  if (c.graphRoot) opts.graphRoot = c.graphRoot;
  if (c.imageStore) opts.imageStore = c.imageStore;
  if (c.rootlessStoragePath) opts.rootlessStoragePath = c.rootlessStoragePath;

  const o = c.o;
  const s = (k: string, t: Record<string, unknown> = o) => typeof t[k] === "string" ? t[k] as string : "";
  const dopts: string[] = [];
  for (const p of (o.additionalimagestores as string[] | undefined) ?? []) {
    dopts.push(`${cfgDriver}.imagestore=${p}`);
  }
  for (const p of (o.additionallayerstores as string[] | undefined) ?? []) {
    dopts.push(`${cfgDriver}.additionallayerstore=${p}`);
  }
  if (s("size")) dopts.push(`${cfgDriver}.size=${s("size")}`);
  if (s("mount_program")) dopts.push(`${cfgDriver}.mount_program=${s("mount_program")}`);
  if (s("skip_mount_home")) dopts.push(`${cfgDriver}.skip_mount_home=${s("skip_mount_home")}`);
  if (s("ignore_chown_errors")) dopts.push(`${cfgDriver}.ignore_chown_errors=${s("ignore_chown_errors")}`);
  const forceMask = typeof o.force_mask === "number" ? o.force_mask : 0;
  if (forceMask !== 0) dopts.push(`${cfgDriver}.force_mask=${octal(forceMask)}`);
  if (s("mountopt")) dopts.push(`${cfgDriver}.mountopt=${s("mountopt")}`);

  let uidMap: IDMap[];
  let gidMap: IDMap[];
  try {
    uidMap = parseIDMap([s("remap-uids")], "remap-uids");
    gidMap = parseIDMap([s("remap-gids")], "remap-gids");
  } catch (e) {
    throw new ConfigError((e as Error).message, undefined, { cause: e });
  }
  let user = s("remap-user"), group = s("remap-group");
  if (user && !group) group = user;
  if (group && !user) user = group;
  if (user && group) {
    try {
      const m = subIDMappings(user, group, subIDFiles);
      uidMap = m.uidMap;
      gidMap = m.gidMap;
    } catch (e) {
      const err = new ConfigError((e as Error).message, undefined, { cause: e });
      err.preface = `Error initializing ID mappings for ${user}:${group} ${(e as Error).message}`;
      throw err;
    }
  }
  opts.uidMap = uidMap;
  opts.gidMap = gidMap;
  if (isTable(o.pull_options)) opts.pullOptions = { ...(o.pull_options as Record<string, string>) };
  opts.disableVolatile = o["disable-volatile"] === true;
  opts.transientStore = c.transientStore;

  dopts.push(...graphDriverOptions(opts.driverName, o, c.table));
  opts.driverOptions = dopts;
  if (env.STORAGE_OPTS !== undefined) opts.driverOptions = env.STORAGE_OPTS.split(",");
  if (opts.driverOptions.length === 1 && opts.driverOptions[0] === "") opts.driverOptions = [];
  return { options: opts };
}

/** Go's GetGraphDriverOptions: the per-driver tables, falling back to the general options. */
function graphDriverOptions(
  driver: string,
  o: Record<string, unknown>,
  table: (name: string) => Record<string, unknown>,
): string[] {
  const out: string[] = [];
  const s = (t: Record<string, unknown>, k: string) => typeof t[k] === "string" ? t[k] as string : "";
  const pick = (t: Record<string, unknown>, k: string) => {
    const v = s(t, k) || s(o, k);
    if (v) out.push(`${driver}.${k}=${v}`);
  };
  switch (driver) {
    case "btrfs": {
      const t = table("btrfs");
      // Go returns right after min_space (so size is dropped then); kept for identical results.
      if (s(t, "min_space")) return [`${driver}.min_space=${s(t, "min_space")}`];
      pick(t, "size");
      break;
    }
    case "overlay":
    case "overlay2": {
      const t = table("overlay");
      pick(t, "ignore_chown_errors");
      pick(t, "mount_program");
      pick(t, "mountopt");
      pick(t, "size");
      if (s(t, "inodes")) out.push(`${driver}.inodes=${s(t, "inodes")}`);
      pick(t, "skip_mount_home");
      if (s(t, "force_mask")) out.push(`${driver}.force_mask=${s(t, "force_mask")}`);
      // Go renders the general int force_mask here with %s of os.FileMode (`-rwxr-xr-x`),
      // which its own driver then rejects; we render it in octal as the general option does.
      else if (typeof o.force_mask === "number" && o.force_mask !== 0) {
        out.push(`${driver}.force_mask=${octal(o.force_mask)}`);
      }
      if (s(t, "use_composefs")) out.push(`${driver}.use_composefs=${s(t, "use_composefs")}`);
      break;
    }
    case "vfs":
      pick(table("vfs"), "ignore_chown_errors");
      break;
    case "zfs": {
      const t = table("zfs");
      if (s(t, "fsname")) out.push(`${driver}.fsname=${s(t, "fsname")}`);
      pick(t, "mountopt");
      pick(t, "size");
      break;
    }
    case "aufs":
      pick(table("aufs"), "mountopt");
      break;
  }
  return out;
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw new ConfigError(`stat ${p}: ${e instanceof Error ? e.message : e}`, undefined, { cause: e });
  }
}

const ROOTLESS_DRIVERS = new Set(["overlay", "overlay2", "btrfs", "vfs"]);

/**
 * Loads the store options as Go's `types.DefaultStoreOptions` does (see cli.md 1.3–1.4):
 * root reads `$CONTAINERS_STORAGE_CONF`, else `$XDG_CONFIG_HOME/containers/storage.conf`
 * (if present), else `/etc/containers/storage.conf`, else `/usr/share/containers/storage.conf`;
 * rootless users get rootless defaults, then their own file if it exists. Throws ConfigError
 * (`stat PATH: no such file or directory`, `toml: ...`, ID map errors); log lines Go prints
 * while reading are returned in `log`/`warnings`.
 */
export function loadStoreOptions(opts: LoadOptions = {}): Promise<LoadedConfig> {
  try {
    return Promise.resolve(loadStoreOptionsSync(opts));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous loadStoreOptions. */
export function loadStoreOptionsSync(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? processEnv();
  const uid = opts.uid ?? processUid();
  const overrideFile = opts.overrideConfigFile ?? OVERRIDE_CONFIG_FILE;
  const distFile = opts.defaultConfigFile ?? DEFAULT_CONFIG_FILE;
  const log: ConfigLogEntry[] = [];
  const rootless = uid !== 0;

  // 1. System options (Go's loadDefaultStoreOptions).
  let system: StoreOptions = {
    graphRoot: DEFAULT_GRAPH_ROOT,
    runRoot: DEFAULT_RUN_ROOT,
    driverName: "",
    driverOptions: [],
  };
  let file: string | null = null;
  const envConf = env.CONTAINERS_STORAGE_CONF;
  if (envConf !== undefined) {
    if (!exists(envConf)) throw new ConfigError(`stat ${envConf}: no such file or directory`);
    file = envConf;
  } else if (env.XDG_CONFIG_HOME !== undefined && !rootless) {
    const home = `${env.XDG_CONFIG_HOME}/containers/storage.conf`;
    if (exists(home)) file = home;
  }
  if (file === null) {
    if (exists(overrideFile)) file = overrideFile;
    else if (exists(distFile)) file = distFile;
  }
  if (file !== null) system = reloadConfigurationFile(file, env, log, opts.subIDFiles).options;

  let result = system;
  if (rootless) {
    result = rootlessOptions(uid, system, env, log);
    // The user's file ($CONTAINERS_STORAGE_CONF first) replaces everything when it exists,
    // without the rootless driver filter.
    const userFile = envConf ??
      (env.XDG_CONFIG_HOME
        ? `${env.XDG_CONFIG_HOME}/containers/storage.conf`
        : `${homeDir(env)}/.config/containers/storage.conf`);
    if (exists(userFile)) {
      const defRun = result.runRoot!, defGraph = result.graphRoot!;
      // Go caches the last file read by path and mtime: the same file is not read (nor
      // reported) twice.
      result = userFile === file
        ? structuredClone(system)
        : reloadConfigurationFile(userFile, env, log, opts.subIDFiles).options;
      if (!result.runRoot) result.runRoot = defRun;
      if (!result.graphRoot) result.graphRoot = result.rootlessStoragePath || defGraph;
      file = userFile;
    }
  }

  if (result.runRoot) result.runRoot = expandEnvPath(result.runRoot, uid, env);
  if (result.graphRoot) result.graphRoot = expandEnvPath(result.graphRoot, uid, env);
  if (result.rootlessStoragePath) {
    result.rootlessStoragePath = expandEnvPath(result.rootlessStoragePath, uid, env);
  }
  if (result.imageStore) result.imageStore = expandEnvPath(result.imageStore, uid, env);
  return { options: result, warnings: log.map((l) => l.msg), log, file };
}

/** Go's getRootlessStorageOpts. */
function rootlessOptions(uid: number, system: StoreOptions, env: Env, log: ConfigLogEntry[]): StoreOptions {
  const out: StoreOptions = { graphRoot: "", runRoot: "", driverName: "", driverOptions: [] };
  out.runRoot = defaultRunRoot(uid, env);
  out.pullOptions = system.pullOptions;
  out.graphRoot = system.rootlessStoragePath
    ? expandEnvPath(system.rootlessStoragePath, uid, env)
    : defaultGraphRoot(uid, env);
  if (system.driverName && ROOTLESS_DRIVERS.has(system.driverName)) out.driverName = system.driverName;
  if (env.STORAGE_DRIVER) out.driverName = env.STORAGE_DRIVER;
  if (out.driverName === "overlay2") {
    log.push({
      level: "warning",
      msg: "Switching default driver from overlay2 to the equivalent overlay driver",
    });
    out.driverName = "overlay";
  }
  if (out.driverName === "overlay") {
    const o = (system.driverOptions ?? []).find((x) => x.includes("ignore_chown_errors"));
    if (o) out.driverOptions!.push(o);
  }
  if (!out.driverName) {
    if (system.driverPriority && system.driverPriority.length > 0) {
      out.driverPriority = [...system.driverPriority];
    } else out.driverName = "vfs";
  }
  if (env.STORAGE_OPTS) out.driverOptions!.push(...env.STORAGE_OPTS.split(","));
  return out;
}

/**
 * Fills missing roots the way Go's GetStore does: nothing at all given → the defaults
 * for `uid`; both roots missing but a driver or driver options given →
 * StoreOptionsMissingError; one missing → its default. Returns a new object.
 */
export function completeStoreOptions(
  options: StoreOptions,
  opts: { uid?: number; env?: Env } = {},
): StoreOptions {
  const uid = opts.uid ?? processUid();
  const env = opts.env ?? processEnv();
  const out: StoreOptions = { ...options, driverOptions: [...(options.driverOptions ?? [])] };
  const noDriver = !out.driverName && out.driverOptions!.length === 0;
  if (!out.graphRoot && !out.runRoot) {
    if (!noDriver) throw new StoreOptionsMissingError();
  }
  if (!out.graphRoot) out.graphRoot = defaultGraphRoot(uid, env);
  if (!out.runRoot) out.runRoot = defaultRunRoot(uid, env);
  out.graphRoot = resolve(out.graphRoot);
  out.runRoot = resolve(out.runRoot);
  return out;
}
