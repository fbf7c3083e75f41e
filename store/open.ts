/**
 * Opening a store's foundations: roots (absolute, created 0700), driver options, and
 * the driver, named or auto-detected as Go's `drivers.New` does, initialised under the
 * write lock of `storage.lock`.
 *
 * @module
 */
import { resolvePath as resolve } from "./paths.ts";
import {
  AdditionalStoreError,
  DriverNotSupportedError,
  DriverPrerequisitesError,
  StorageError,
} from "./errors.ts";
import type { StoreOptions } from "./types.ts";
import { type Driver, driverFactory, type DriverInit, driverNames } from "../drivers/driver.ts";
import { completeStoreOptions } from "./config.ts";
import { LockFile } from "./lockfile.ts";
import { osErrorText } from "../sys/errno.ts";
import "../drivers/registry.ts";

/** Go's built-in driver priority. */
export const DRIVER_PRIORITY = ["overlay", "aufs", "btrfs", "zfs", "vfs"];

/** Driver options split as the driver and the store need them. */
export interface SplitOptions {
  /** `[key, value]` pairs with keys as given (Go passes `vfs.x` verbatim; drivers strip the prefix). */
  pairs: Array<[string, string]>;
  /** Roots of additional read-only image stores (`DRIVER.imagestore=A,B` or `.imagestore`). */
  imageStores: string[];
}

/** Splits `key=value` driver options and picks out the additional image stores. */
export function splitDriverOptions(driver: string, options: readonly string[]): SplitOptions {
  const pairs: Array<[string, string]> = [];
  const imageStores: string[] = [];
  for (const o of options) {
    const eq = o.indexOf("=");
    const key = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? "" : o.slice(eq + 1);
    pairs.push([key, value]);
    const k = key.toLowerCase();
    if (
      k === `${driver}.imagestore` || k === ".imagestore" ||
      (driver === "overlay" && k === "overlay2.imagestore")
    ) {
      for (const s of value.split(",")) if (s !== "") imageStores.push(resolve(s));
    }
  }
  return { pairs, imageStores };
}

/** What openDriver made ready. */
export interface OpenedDriver {
  /** Absolute graph root (exists). */
  graphRoot: string;
  /** Absolute run root (exists). */
  runRoot: string;
  /** The initialised driver. */
  driver: Driver;
  /** `storage.lock`'s token when the driver was initialised (a change means: re-initialise). */
  graphToken: Uint8Array;
  /** Absolute root of the split image store (exists), or null. */
  imageStore: string | null;
}

function isDir(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Resolves the roots, creates them (0700) and initialises the driver under
 * `storage.lock`. Errors: StoreOptionsMissingError when neither root is given,
 * DriverNotSupportedError (`failed to GetDriver graph NAME DIR`) for unknown drivers.
 */
export async function openDriver(options: StoreOptions): Promise<OpenedDriver> {
  // Go's GetStore: no roots, no driver and no driver options → the defaults; no roots but
  // a driver or options → StoreOptionsMissingError; one root missing → its default.
  const { graphRoot, runRoot } = completeStoreOptions(options) as { graphRoot: string; runRoot: string };
  const imageStore = options.imageStore ? resolve(options.imageStore) : null;
  if (imageStore === graphRoot) {
    throw new StorageError(
      `imagestore ${imageStore} must either be not set or be a different than graphroot`,
    );
  }
  const readOnly = options.readOnly ?? false;
  // Synchronous calls here: each async fs call is a round trip through Deno's thread pool,
  // and a dozen of them in a row add up at every command's startup.
  if (!readOnly) {
    Deno.mkdirSync(graphRoot, { recursive: true, mode: 0o700 });
    Deno.mkdirSync(runRoot, { recursive: true, mode: 0o700 });
    if (imageStore) Deno.mkdirSync(imageStore, { recursive: true, mode: 0o700 });
  }
  const lock = LockFile.get(`${graphRoot}/storage.lock`, { readOnly });
  if (readOnly) await lock.rLock();
  else await lock.lock();
  let driver: Driver;
  let graphToken: Uint8Array;
  try {
    driver = await selectDriver({ ...options, imageStore: imageStore ?? undefined }, graphRoot, runRoot);
    graphToken = lock.getLastWrite();
  } finally {
    lock.unlock();
  }
  checkAdditionalStores(
    driver.name,
    splitDriverOptions(driver.name, options.driverOptions ?? []).imageStores,
  );
  if (!readOnly) {
    // Go creates the (never written) userns.lock at open, too.
    Deno.openSync(`${graphRoot}/userns.lock`, { create: true, write: true, mode: 0o644 }).close();
    const d = driver.name;
    for (
      const dir of [`${graphRoot}/${d}-layers`, `${graphRoot}/${d}-images`, `${graphRoot}/${d}-containers`]
    ) {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    for (const dir of [`${runRoot}/${d}-layers`, `${runRoot}/${d}-containers`, `${runRoot}/${d}-locks`]) {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    if (imageStore) {
      for (const dir of [`${imageStore}/${d}-layers`, `${imageStore}/${d}-images`]) {
        Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      }
    }
  }
  return { graphRoot, runRoot, driver, graphToken, imageStore };
}

/**
 * Refuses additional image stores that are missing or hold nothing for this driver
 * before anything is opened there: their lock files are only ever opened read-only,
 * and creating them (as Go does) would write to a store that must stay untouched.
 */
export function checkAdditionalStores(driver: string, roots: readonly string[]): void {
  for (const root of roots) {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(root);
    } catch (e) {
      throw new AdditionalStoreError(osErrorText(e), `additional image store ${root}`, { cause: e });
    }
    if (!st.isDirectory) throw new AdditionalStoreError("not a directory", `additional image store ${root}`);
    for (const lock of [`${driver}-layers/layers.lock`, `${driver}-images/images.lock`]) {
      try {
        Deno.statSync(`${root}/${lock}`);
      } catch (e) {
        throw new AdditionalStoreError(
          `${root}/${lock} is missing (not a store of the ${driver} driver?)`,
          `additional image store ${root}`,
          { cause: e },
        );
      }
    }
  }
}

/**
 * Initialises driver `name` again (after a Shutdown, here or by another process, undid
 * what its initialisation set up). The caller holds `storage.lock`.
 */
export function reinitDriver(
  name: string,
  options: StoreOptions,
  graphRoot: string,
  runRoot: string,
): Promise<Driver> {
  return selectDriver({ ...options, driverName: name }, graphRoot, runRoot);
}

async function selectDriver(options: StoreOptions, graphRoot: string, runRoot: string): Promise<Driver> {
  const init = (name: string): DriverInit => ({
    graphRoot,
    runRoot,
    options: splitDriverOptions(name, options.driverOptions ?? []).pairs,
    uidMap: options.uidMap ?? [],
    gidMap: options.gidMap ?? [],
    imageStore: options.imageStore || undefined,
  });
  const name = options.driverName ?? "";
  if (name !== "") {
    const factory = driverFactory(name);
    if (!factory) throw new DriverNotSupportedError(`failed to GetDriver graph ${name} ${graphRoot}`);
    return await factory(init(name));
  }
  const explicit = options.driverPriority ?? [];
  const priority = explicit.length > 0 ? explicit : DRIVER_PRIORITY;
  // State left by a driver other than vfs decides (vfs is never guessed from state).
  const prior = driverNames().filter((n) => n !== "vfs" && isDir(`${graphRoot}/${n}`));
  for (const n of priority) {
    if (n === "vfs" && explicit.length === 0) continue;
    if (!prior.includes(n)) continue;
    if (prior.length > 1) {
      throw new StorageError(
        `${graphRoot} contains several valid graphdrivers: ${prior.join(", ")}; ` +
          `Please cleanup or explicitly choose storage driver (-s <DRIVER>)`,
      );
    }
    return await driverFactory(n)!(init(n));
  }
  for (const n of priority) {
    const factory = driverFactory(n);
    if (!factory) continue;
    try {
      return await factory(init(n));
    } catch (e) {
      if (e instanceof DriverNotSupportedError || e instanceof DriverPrerequisitesError) continue;
      throw e;
    }
  }
  throw new StorageError("no supported storage backend found");
}
