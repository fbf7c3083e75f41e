/**
 * The `btrfs` driver: every layer is a btrfs subvolume `GRAPH/btrfs/subvolumes/<id>`; a
 * base layer is a new empty subvolume, a child a writable snapshot of its parent (no
 * copy, no mount per layer). Mounting returns the subvolume's path. Diffs come from
 * comparing trees (drivers/naive.ts), whiteouts are deletions, as with vfs. Per-layer
 * `size` limits are quota groups, their sizes kept in `GRAPH/btrfs/quotas/<id>`.
 * Same layout and ioctls as Go's driver, so that both can use one store.
 *
 * @module
 */
import {
  DriverOptionError,
  DriverPrerequisitesError,
  StorageError,
  SystemError,
} from "../../store/errors.ts";
import { rootPair } from "../../store/idmap.ts";
import type { Change, IDMap } from "../../store/types.ts";
import { EBUSY, ENOENT, ENOTEMPTY, errnoCode, errnoText } from "../../sys/errno.ts";
import { geteuid } from "../../sys/fs.ts";
import { makePrivate, mountAt, umount2 } from "../../sys/mount.ts";
import { FS_MAGIC, statfs } from "../../sys/statfs.ts";
import { chownTreeByMaps, type IDMappings, ownerMapper } from "../copy_chown.ts";
import { checkMountOptions, extractDeleting, idBase, mkdirAllAs, statGo, statOrNull } from "../dir_layers.ts";
import {
  type Driver,
  type DriverApplyOptions,
  type DriverCreateOptions,
  type DriverDiffOptions,
  type DriverInit,
  type DriverMountOptions,
  type FileGetter,
  registerDriver,
} from "../driver.ts";
import { naiveChanges, naiveDiff, naiveDiffSize } from "../naive.ts";
import { dirFileGetter } from "../naive_getter.ts";
import {
  isSubvolume,
  qgroupDestroyErrno,
  qgroupLimit,
  quotaEnable,
  quotaEnabled,
  quotaRescanWait,
  subvolCreate,
  subvolDestroyErrno,
  subvolId,
  subvolSnapshot,
} from "./ioctl.ts";
import { type BtrfsOptions, humanSize, parseBtrfsOptions, parseLayerSize } from "./options.ts";

/** Mode of a base layer's root (Go chmods new subvolumes to 0555). */
const BASE_ROOT_MODE = 0o555;

/**
 * The `Library Version` line of Go's status: BTRFS_LIB_VERSION of the btrfs-progs
 * headers Go's driver is built with (0.1.2 since btrfs-progs 4.x). We build against no
 * headers; the ioctl structures we use are the same ones.
 */
const LIBRARY_VERSION = "102";

/** `Btrfs v6.2` from `btrfs --version` (Go prints the version of the headers it was built with). */
async function buildVersion(): Promise<string | null> {
  try {
    const out = await new Deno.Command("btrfs", { args: ["--version"], stdout: "piped", stderr: "null" })
      .output();
    const m = /v(\d[\w.\-+~]*)/.exec(new TextDecoder().decode(out.stdout));
    return out.success && m ? `Btrfs v${m[1]}` : null;
  } catch {
    return null;
  }
}

/** The btrfs driver. Create it with `createBtrfsDriver`. */
export class BtrfsDriver implements Driver {
  /** Driver name. */
  readonly name = "btrfs";
  /** `GRAPH/btrfs`. */
  readonly home: string;
  /** Whiteouts delete what they name. */
  readonly whiteoutFormat = "delete" as const;
  /** Parsed driver options. */
  readonly options: BtrfsOptions;
  private readonly uidMap: IDMap[];
  private readonly gidMap: IDMap[];
  /** null until probed (Go's updateQuotaStatus runs once per driver). */
  private quotaOn: boolean | null = null;

  constructor(home: string, options: BtrfsOptions, uidMap: IDMap[], gidMap: IDMap[]) {
    this.home = home;
    this.options = options;
    this.uidMap = uidMap;
    this.gidMap = gidMap;
  }

  /** `GRAPH/btrfs/subvolumes`. */
  get subvolumesDir(): string {
    return `${this.home}/subvolumes`;
  }

  /** `GRAPH/btrfs/quotas`. */
  get quotasDir(): string {
    return `${this.home}/quotas`;
  }

  /** The subvolume of layer `id`. */
  dir(id: string): string {
    return `${this.subvolumesDir}/${idBase(id)}`;
  }

  /** Whether quotas are on, probing the filesystem the first time (Go's updateQuotaStatus). */
  quotaStatus(): boolean {
    if (this.quotaOn === null) this.quotaOn = quotaEnabled(this.home);
    return this.quotaOn;
  }

  /** Enables quota groups unless they are on (Go's subvolEnableQuota). */
  enableQuota(): void {
    if (this.quotaStatus()) return;
    try {
      quotaEnable(this.home);
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      throw new SystemError(
        `${err.message} (btrfs quota groups are needed for btrfs.min_space and per-layer size; ` +
          `enable them with "btrfs quota enable ${this.home}")`,
        err.errno,
        err.code,
        { cause: err },
      );
    }
    this.quotaOn = true;
  }

  /** Creates a read-only layer: a subvolume, or a snapshot of the parent's. */
  create(id: string, parent: string | null, options: DriverCreateOptions): Promise<void> {
    return Promise.resolve().then(() => this.createSync(id, parent, options));
  }

  /** Creates a writable layer (the same as a read-only one for btrfs). */
  createReadWrite(id: string, parent: string | null, options: DriverCreateOptions): Promise<void> {
    return this.create(id, parent, options);
  }

  private createSync(id: string, parent: string | null, options: DriverCreateOptions): void {
    const root = rootPair(this.uidMap, this.gidMap);
    const subvolumes = this.subvolumesDir;
    mkdirAllAs(subvolumes, 0o700, root.uid, root.gid);
    const name = idBase(id);
    const dir = `${subvolumes}/${name}`;
    if (parent) {
      const parentDir = this.dir(parent);
      if (!statGo(parentDir).isDirectory) throw new StorageError(`${parentDir}: not a directory`);
      subvolSnapshot(parentDir, subvolumes, name);
    } else {
      subvolCreate(subvolumes, name);
      Deno.chmodSync(dir, BASE_ROOT_MODE);
    }
    const size = parseLayerSize(options.storageOpt);
    if (size !== null) {
      this.setStorageSize(dir, size);
      mkdirAllAs(this.quotasDir, 0o700, root.uid, root.gid);
      Deno.writeTextFileSync(`${this.quotasDir}/${name}`, String(size), { mode: 0o644 });
    }
    // A remapped root owns the layer's root directory.
    if (root.uid !== 0 || root.gid !== 0) Deno.chownSync(dir, root.uid, root.gid);
  }

  /** Applies a per-layer size (Go's setStorageSize). */
  private setStorageSize(dir: string, size: number): void {
    if (size <= 0) throw new DriverOptionError(`btrfs: invalid storage size: ${humanSize(size)}`);
    if (this.options.minSpace > 0 && size < this.options.minSpace) {
      throw new DriverOptionError(
        `btrfs: storage size cannot be less than ${humanSize(this.options.minSpace)}`,
      );
    }
    this.enableQuota();
    qgroupLimit(dir, size);
  }

  /**
   * Deletes the layer's subvolume and every subvolume nested in it, its qgroups when
   * quotas are on, and its quota file. A missing layer is fine.
   */
  remove(id: string): Promise<void> {
    return Promise.resolve().then(() => {
      const name = idBase(id);
      const dir = `${this.subvolumesDir}/${name}`;
      if (statOrNull(dir) === null && !isSymlink(dir)) return;
      try {
        Deno.removeSync(`${this.quotasDir}/${name}`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      const quotas = this.quotaStatus();
      if (isSubvolume(dir)) this.destroy(this.subvolumesDir, name, quotas);
      else Deno.removeSync(dir, { recursive: true });
      if (quotas) quotaRescanWait(this.home);
    });
  }

  /** Deletes the subvolume `parent/name`, first deleting the subvolumes nested in it (Go's subvolDelete). */
  private destroy(parent: string, name: string, quotas: boolean): void {
    const full = `${parent}/${name}`;
    const qgroup = quotas ? subvolId(full) : 0;
    let e = subvolDestroyErrno(parent, name);
    if (e === ENOTEMPTY) {
      // Only now walk the tree: most layers have no nested subvolumes.
      this.destroyNested(full, quotas);
      e = subvolDestroyErrno(parent, name);
    }
    if (e !== 0) {
      throw new SystemError(
        `failed to destroy btrfs snapshot ${parent} for ${name}: ${errnoText(e)}`,
        e,
        errnoCode(e),
      );
    }
    if (quotas) {
      // The kernel drops a deleted subvolume's qgroup itself once its cleaner ran.
      const q = qgroupDestroyErrno(parent, qgroup);
      if (q !== 0 && q !== ENOENT && q !== EBUSY) {
        throw new SystemError(
          `failed to delete btrfs qgroup ${qgroup} for ${full}: ${errnoText(q)}`,
          q,
          errnoCode(q),
        );
      }
    }
  }

  private destroyNested(dir: string, quotas: boolean): void {
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.isDirectory) continue;
      const path = `${dir}/${entry.name}`;
      if (isSubvolume(path)) this.destroy(dir, entry.name, quotas);
      else this.destroyNested(path, quotas);
    }
  }

  /** Whether the layer's subvolume exists. */
  exists(id: string): Promise<boolean> {
    return Promise.resolve(statOrNull(this.dir(id)) !== null);
  }

  /** The subvolume's path; only the `ro` option is accepted (and changes nothing). */
  get(id: string, options: DriverMountOptions): Promise<string> {
    return Promise.resolve().then(() => this.dirFor(id, options));
  }

  /** Synchronous `get`: checks the options, re-applies the layer's quota if it has one. */
  dirFor(id: string, options: DriverMountOptions): string {
    const dir = this.dir(id);
    const st = statGo(dir);
    checkMountOptions("btrfs", options);
    if (!st.isDirectory) throw new StorageError(`${dir}: not a directory`);
    let quota: string | null = null;
    try {
      quota = Deno.readTextFileSync(`${this.quotasDir}/${idBase(id)}`);
    } catch {
      // No quota for this layer.
    }
    if (quota !== null && /^\d+$/.test(quota)) {
      const size = Number(quota);
      if (size >= this.options.minSpace) {
        this.enableQuota();
        qgroupLimit(dir, size);
      }
    }
    return dir;
  }

  /** Nothing to undo: get mounts nothing. */
  put(_id: string): Promise<void> {
    return Promise.resolve();
  }

  /** "Mounted" means the subvolume exists at that path. */
  isMounted(id: string, path: string): Promise<boolean> {
    const dir = this.dir(id);
    return Promise.resolve(path.replace(/\/+$/, "") === dir && statOrNull(dir)?.isDirectory === true);
  }

  /** `Build Version` and `Library Version`, as Go prints them. */
  async status(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    const build = await buildVersion();
    if (build) out.push(["Build Version", build]);
    out.push(["Library Version", LIBRARY_VERSION]);
    return out;
  }

  /** btrfs keeps no per-layer metadata. */
  metadata(_id: string): Promise<Record<string, string>> {
    return Promise.resolve({});
  }

  /** Extracts the tar into the subvolume, whiteouts deleting. */
  async applyDiff(
    id: string,
    _parent: string | null,
    tar: ReadableStream<Uint8Array>,
    options: DriverApplyOptions,
  ): Promise<void> {
    await extractDeleting(this.dirFor(id, {}), tar, options);
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

  /** Opens files of the layer's subvolume for tar-split replay. */
  diffGetter(id: string): Promise<FileGetter> {
    return Promise.resolve().then(() => dirFileGetter([this.dirFor(id, {})]));
  }

  /** IDs of the layers that have a subvolume. */
  listLayers(): Promise<string[]> {
    const out: string[] = [];
    try {
      for (const e of Deno.readDirSync(this.subvolumesDir)) if (e.isDirectory) out.push(e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return Promise.resolve(out);
  }

  /** btrfs cannot shift IDs at mount time. */
  supportsShifting(): boolean {
    return false;
  }

  /** Unmounts the private bind mount of the home (Go's Cleanup). */
  cleanup(): Promise<void> {
    return Promise.resolve().then(() => {
      if (mountAt(this.home) !== null) umount2(this.home, 0);
    });
  }

  /** Re-owns a layer copied from a template with other ID maps (Go's naive UpdateLayerIDMap). */
  updateLayerIDMap(id: string, toContainer: IDMappings | null, toHost: IDMappings | null): Promise<void> {
    return Promise.resolve().then(() => {
      chownTreeByMaps(this.dirFor(id, {}), ownerMapper(toContainer, toHost));
    });
  }
}

function isSymlink(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}

/**
 * Driver factory registered as `btrfs`: creates `GRAPH/btrfs` (0700), refuses a home that
 * is not on btrfs with Go's message, makes the home a private mount, parses the options
 * and turns quotas on when `btrfs.min_space` is given — in Go's order.
 */
export function createBtrfsDriver(init: DriverInit): Promise<BtrfsDriver> {
  return Promise.resolve().then(() => {
    const home = `${init.graphRoot.replace(/\/+$/, "")}/btrfs`;
    const root = rootPair(init.uidMap, init.gidMap);
    mkdirAllAs(home, 0o700, root.uid, root.gid);
    if (statfs(home).type !== FS_MAGIC.BTRFS) {
      throw new DriverPrerequisitesError(`${JSON.stringify(home)} is not on a btrfs filesystem`);
    }
    if (geteuid() === 0) makePrivate(home);
    const options = parseBtrfsOptions(init.options);
    const driver = new BtrfsDriver(home, options, init.uidMap ?? [], init.gidMap ?? []);
    if (options.userDiskQuota) driver.enableQuota();
    return driver;
  });
}

registerDriver("btrfs", createBtrfsDriver);
