/**
 * The `vfs` driver: every layer is a complete directory tree in `GRAPH/vfs/dir/<id>`;
 * a child starts as a full copy of its parent and its diff is applied on top with
 * whiteouts turned into deletions (on-disk.md 1.5, 5.6). No mounts, no shifting; diffs
 * come from comparing trees (drivers/naive.ts).
 *
 * @module
 */
import { DriverOptionError, StorageError } from "../store/errors.ts";
import { rootPair } from "../store/idmap.ts";
import type { Change, IDMap } from "../store/types.ts";
import { copyTree } from "./copy.ts";
import { chownTreeByMaps, type IDMappings, ownerMapper } from "./copy_chown.ts";
import {
  checkMountOptions,
  chownIfNeeded,
  extractDeleting,
  idBase,
  mkdirAllAs,
  statGo,
} from "./dir_layers.ts";
import type {
  Driver,
  DriverApplyOptions,
  DriverCreateOptions,
  DriverDiffOptions,
  DriverInit,
  DriverMountOptions,
  FileGetter,
} from "./driver.ts";
import { parseBoolOption } from "./options.ts";
import { naiveChanges, naiveDiff, naiveDiffSize } from "./naive.ts";
import { dirFileGetter } from "./naive_getter.ts";

/**
 * The xattrs a child copies from its parent: Go's copy keeps only these (on-disk.md 1.5;
 * `trusted.*` and other `security.*` names set by the parent's tar are dropped).
 */
function copiedXattr(name: string): boolean {
  return name === "security.capability" || name.startsWith("user.") || name === "trusted.overlay.opaque";
}

/** Mode of a base layer's root directory (Go's `defaultPerms`). */
const BASE_ROOT_MODE = 0o555;

/** Parsed vfs driver options. */
export interface VfsOptions {
  /** Graph roots of additional read-only stores (`vfs.imagestore`). */
  imageStores: string[];
  /** Ignore lchown failures while applying diffs (`vfs.ignore_chown_errors`). */
  ignoreChownErrors: boolean;
}

/**
 * Parses driver options as Go's vfs driver does. Keys are matched case-insensitively and
 * may carry the `vfs.` or bare `.` prefix (Go passes them verbatim) or none (already
 * stripped by the caller). Unknown keys fail with Go's message naming the key.
 */
export function parseVfsOptions(options: Array<[string, string]>): VfsOptions {
  const out: VfsOptions = { imageStores: [], ignoreChownErrors: false };
  for (const [rawKey, value] of options) {
    const key = rawKey.toLowerCase();
    switch (key) {
      case "vfs.imagestore":
      case ".imagestore":
      case "imagestore":
        out.imageStores.push(...value.split(","));
        break;
      case "vfs.mountopt":
      case "mountopt":
        throw new DriverOptionError("vfs driver does not support mount options");
      case "vfs.ignore_chown_errors":
      case ".ignore_chown_errors":
      case "ignore_chown_errors":
        out.ignoreChownErrors = parseBoolOption(value);
        break;
      default:
        throw new DriverOptionError(`vfs driver does not support ${key} options`);
    }
  }
  return out;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Removes a tree, making directories writable when a non-root process hits EACCES. */
function removeAll(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
    makeWritable(path);
    Deno.removeSync(path, { recursive: true });
  }
}

function makeWritable(path: string): void {
  const st = Deno.lstatSync(path);
  if (!st.isDirectory) return;
  Deno.chmodSync(path, 0o700);
  for (const e of Deno.readDirSync(path)) if (e.isDirectory) makeWritable(`${path}/${e.name}`);
}

/** The vfs driver. Create it with `createVfsDriver`. */
export class VfsDriver implements Driver {
  /** Driver name. */
  readonly name = "vfs";
  /** `GRAPH/vfs`. */
  readonly home: string;
  /** Whiteouts delete what they name. */
  readonly whiteoutFormat = "delete" as const;
  /** Where layers are looked up: the home, the split image store's `vfs/`, then each additional store's. */
  readonly homes: string[];
  /** `IMAGESTORE/vfs` of a split image store (where read-only layers are created), or null. */
  readonly imageHome: string | null;
  /** Ignore lchown failures in applyDiff. */
  readonly ignoreChownErrors: boolean;
  private readonly uidMap: IDMap[];
  private readonly gidMap: IDMap[];

  constructor(init: DriverInit, options: VfsOptions) {
    this.home = `${init.graphRoot.replace(/\/+$/, "")}/vfs`;
    this.imageHome = init.imageStore ? `${init.imageStore.replace(/\/+$/, "")}/vfs` : null;
    this.homes = [
      this.home,
      ...(this.imageHome ? [this.imageHome] : []),
      ...options.imageStores.map((s) => `${s.replace(/\/+$/, "")}/vfs`),
    ];
    this.ignoreChownErrors = options.ignoreChownErrors;
    this.uidMap = init.uidMap ?? [];
    this.gidMap = init.gidMap ?? [];
  }

  /** The directory of layer `id`: the first home that has it, else the writable one. */
  dir(id: string): string {
    const base = idBase(id);
    for (const home of this.homes) {
      const candidate = `${home}/dir/${base}`;
      if (isDir(candidate)) return candidate;
    }
    return `${this.home}/dir/${base}`;
  }

  /** Where layer `id` is (or would be) written: under a writable home (default: the graph root's). */
  private ownDir(id: string, home = this.home): string {
    return `${home}/dir/${idBase(id)}`;
  }

  /** Creates a read-only layer (in the split image store when there is one, as HEAD). */
  create(id: string, parent: string | null, options: DriverCreateOptions): Promise<void> {
    return Promise.resolve().then(() => this.createSync(id, parent, options, this.imageHome ?? this.home));
  }

  /** Creates a writable layer (the same layout as a read-only one for vfs). */
  createReadWrite(id: string, parent: string | null, options: DriverCreateOptions): Promise<void> {
    return Promise.resolve().then(() => this.createSync(id, parent, options, this.home));
  }

  private createSync(id: string, parent: string | null, options: DriverCreateOptions, home: string): void {
    if (options.storageOpt && Object.keys(options.storageOpt).length > 0) {
      throw new DriverOptionError("--storage-opt is not supported for vfs");
    }
    const root = rootPair(options.uidMap ?? this.uidMap, options.gidMap ?? this.gidMap);
    const dir = this.ownDir(id, home);
    const dirs = `${home}/dir`;
    mkdirAllAs(dirs, 0o700, root.uid, root.gid);
    // Go chowns `vfs/dir` to the new layer's root every time (MkdirAllAndChown).
    chownIfNeeded(dirs, root.uid, root.gid);
    // Go stats the parent first: a missing parent fails before anything is created.
    const parentDir = parent ? this.dir(parent) : null;
    if (parentDir !== null) statGo(parentDir);
    // A leftover from an interrupted creation would mix with the new content.
    removeAll(dir);
    try {
      if (parentDir !== null) {
        copyTree(parentDir, dir, { ignoreChownErrors: this.ignoreChownErrors, xattrFilter: copiedXattr });
      } else {
        Deno.mkdirSync(dir, { mode: 0o700 });
        chownIfNeeded(dir, root.uid, root.gid);
        // Like Go's os.Mkdir(dir, 0555): the umask applies.
        Deno.chmodSync(dir, BASE_ROOT_MODE & ~Deno.umask());
      }
    } catch (err) {
      try {
        removeAll(dir);
      } catch {
        // Keep the original error.
      }
      throw err;
    }
  }

  /** Removes the layer's directory (missing is fine). Layers of additional stores are never touched. */
  remove(id: string): Promise<void> {
    return Promise.resolve().then(() => {
      removeAll(this.ownDir(id));
      if (this.imageHome) removeAll(this.ownDir(id, this.imageHome));
    });
  }

  /** Whether some home has the layer's directory. */
  exists(id: string): Promise<boolean> {
    return Promise.resolve(isDir(this.dir(id)));
  }

  /** The layer's directory; only the `ro` option is accepted (it changes nothing). */
  get(id: string, options: DriverMountOptions): Promise<string> {
    return Promise.resolve().then(() => this.dirFor(id, options));
  }

  /** Synchronous `get`. */
  dirFor(id: string, options: DriverMountOptions): string {
    checkMountOptions("vfs", options);
    const dir = this.dir(id);
    if (!statGo(dir).isDirectory) throw new StorageError(`${dir}: not a directory`);
    return dir;
  }

  /** Nothing to undo. */
  put(_id: string): Promise<void> {
    return Promise.resolve();
  }

  /** "Mounted" means the directory exists at that path. */
  isMounted(id: string, path: string): Promise<boolean> {
    const dir = this.dir(id);
    return Promise.resolve(path.replace(/\/+$/, "") === dir && isDir(dir));
  }

  /** vfs reports no status lines. */
  status(): Promise<Array<[string, string]>> {
    return Promise.resolve([]);
  }

  /** vfs keeps no per-layer metadata. */
  metadata(_id: string): Promise<Record<string, string>> {
    return Promise.resolve({});
  }

  /** Extracts the tar on top of the layer's directory, whiteouts deleting. */
  async applyDiff(
    id: string,
    _parent: string | null,
    tar: ReadableStream<Uint8Array>,
    options: DriverApplyOptions,
  ): Promise<void> {
    await extractDeleting(this.dirFor(id, {}), tar, options, this.ignoreChownErrors);
  }

  /** A tar of the differences from the parent (all of the layer without one). */
  diff(id: string, parent: string | null, options: DriverDiffOptions): Promise<ReadableStream<Uint8Array>> {
    return naiveDiff(this, id, parent, options);
  }

  /** Changes relative to the parent. */
  changes(id: string, parent: string | null, options: DriverDiffOptions): Promise<Change[]> {
    return naiveChanges(this, id, parent, options);
  }

  /** Size of the changes relative to the parent. */
  diffSize(id: string, parent: string | null, options: DriverDiffOptions): Promise<number> {
    return naiveDiffSize(this, id, parent, options);
  }

  /** Opens files of the layer's directory for tar-split replay. */
  diffGetter(id: string): Promise<FileGetter> {
    return Promise.resolve().then(() => dirFileGetter([this.dirFor(id, {})]));
  }

  /** IDs of the layers in the writable homes (the graph root's and the split image store's). */
  listLayers(): Promise<string[]> {
    const out: string[] = [];
    for (const home of [this.home, ...(this.imageHome ? [this.imageHome] : [])]) {
      try {
        for (const e of Deno.readDirSync(`${home}/dir`)) if (e.isDirectory) out.push(e.name);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return Promise.resolve(out);
  }

  /** vfs cannot shift IDs at mount time. */
  supportsShifting(): boolean {
    return false;
  }

  /** Nothing driver-wide to release. */
  cleanup(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Re-owns a layer created from a template with other ID maps (Go's UpdateLayerIDMap
   * through the naive updater): host IDs go back through `toContainer` and out through
   * `toHost`; the layer root keeps its owner.
   */
  updateLayerIDMap(id: string, toContainer: IDMappings | null, toHost: IDMappings | null): Promise<void> {
    return Promise.resolve().then(() => {
      chownTreeByMaps(this.dirFor(id, {}), ownerMapper(toContainer, toHost));
    });
  }
}

/** Driver factory registered as `vfs`: parses options and creates `GRAPH/vfs` (0700). */
export function createVfsDriver(init: DriverInit): Promise<VfsDriver> {
  return Promise.resolve().then(() => {
    const driver = new VfsDriver(init, parseVfsOptions(init.options));
    const root = rootPair(init.uidMap, init.gidMap);
    mkdirAllAs(driver.home, 0o700, root.uid, root.gid);
    return driver;
  });
}
