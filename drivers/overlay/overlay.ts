/**
 * The `overlay` storage driver, with exactly the Go driver's layout under
 * `GRAPH/overlay/` (on-disk.md 1.4) so that Go and Deno processes share layers: each
 * layer is a `diff/` directory stacked over its parents' `diff/` directories (listed in
 * `lower` through the short links in `l/`) by a kernel overlay mount at `merged/`, or by
 * a mount program such as fuse-overlayfs.
 *
 * Importing this module registers the driver as `overlay`.
 *
 * @module
 */
import { geteuid, lstatNs, statNs } from "../../sys/fs.ts";
import { lgetxattr, llistxattr, lsetxattr } from "../../sys/xattr.ts";
import { makePrivate, mountAt, mountsUnder, readMountInfo } from "../../sys/mount.ts";
import { fsName, statfs } from "../../sys/statfs.ts";
import { closeFd, O_CLOEXEC, O_DIRECTORY, O_RDONLY, openFd } from "../../sys/fs.ts";
import { syncfs } from "../../sys/newmount_overlay.ts";
import {
  DriverNotSupportedError,
  DriverOptionError,
  NotSupportedError,
  StorageError,
} from "../../store/errors.ts";
import { rootPair } from "../../store/idmap.ts";
import type { Change, IDMap } from "../../store/types.ts";

import type { WhiteoutFormat } from "../../archive/types.ts";
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

import { dirFileGetter } from "../naive_getter.ts";
import { chownTreeByMaps, type IDMappings, ownerMapper } from "../copy_chown.ts";
import { type OverlayOptions, parseOverlayOptions } from "./options.ts";
import {
  diffName,
  exists,
  generateLinkID,
  LINK_DIR,
  MAX_DEPTH,
  mkdirAllAs,
  mkdirAs,
  NOT_LAYERS,
  readOptional,
  recreateSymlinks,
  splitLowers,
  writePlain,
} from "./layout.ts";
import {
  cachedFeature,
  cachedProbe,
  cachedProbeAsync,
  probeIdmappedLowerDir,
  probeMetacopy,
  probeNativeDiff,
  probeOverlay,
  probeVolatile,
  supportsDType,
} from "./probe.ts";
import {
  detach,
  fuseUnmount,
  type MountMethod,
  mountOverlay,
  mountWithProgram,
  overlayData,
} from "./mounter.ts";
import { parseMountOptions, splitOptions } from "./mountopts.ts";
import { directorySize, overlayChanges, walkSorted } from "./changes.ts";
import { createIDMappedMount, createUsernsProcess, mappedMountRoot } from "./idmapped.ts";

const FLAG_FILE = ".has-mount-program";
const DEFAULT_PERMS = 0o555;
const OVERRIDE_XATTR = "user.containers.override_stat";

/** Backing filesystems on which kernel overlay cannot work (Go: a mount_program is required). */
const NEEDS_MOUNT_PROGRAM = new Set(["aufs", "zfs", "overlayfs", "ecryptfs"]);

/** A lower layer of a layer, as resolved from its `lower` file. */
interface Lower {
  /** The entry as written in `lower` (`l/LINKID`). */
  rel: string;
  /** Absolute path of the `l/LINKID` symlink (what Go puts into lowerdir). */
  link: string;
  /** Directory of the lower layer (`HOME/<id>` or `STORE/overlay/<id>`). */
  layerDir: string;
  /** Its layer ID. */
  id: string;
}

/** Finds an executable in PATH. */
function which(name: string): string | null {
  for (
    const dir of (Deno.env.get("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
      .split(":")
  ) {
    const p = `${dir || "."}/${name}`;
    try {
      const st = statNs(p);
      if ((st.mode & 0o170000) === 0o100000 && (st.mode & 0o111) !== 0) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** Go's mount-program detection: `.wh.` names or fuse-overlayfs/containers xattrs anywhere in the home. */
function scanForMountProgramIndicators(home: string): boolean {
  const dev = lstatNs(home).dev;
  const walk = (dir: string): boolean => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith(".wh.")) return true;
      if (!e.isDirectory) continue;
      const p = `${dir}/${e.name}`;
      if (lstatNs(p).dev !== dev) continue; // a mount (e.g. merged/): not the store's own data
      for (const x of llistxattr(p)) {
        if (x.startsWith("user.fuseoverlayfs.") || x.startsWith("user.containers.")) return true;
      }
      if (walk(p)) return true;
    }
    return false;
  };
  return walk(home);
}

/** Validates a layer ID used as a path component. */
function checkID(id: string): void {
  if (id === "" || id === "." || id === ".." || id.includes("/") || id.includes("\0")) {
    throw new StorageError(`invalid layer ID ${JSON.stringify(id)}`);
  }
}

/** The overlay driver. */
export class OverlayDriver implements Driver {
  /** Driver name. */
  readonly name = "overlay";
  /** Whiteouts are char devices, or `.wh.` files for mount-program stores. */
  readonly whiteoutFormat: WhiteoutFormat;
  /** Name of the opaque-directory xattr. */
  readonly opaqueXattr: string;
  /** The method used by the latest kernel mount (for tests and diagnostics). */
  lastMountMethod: MountMethod | "program" | null = null;
  /** Forces a kernel mount method (tests of the long-option paths). */
  forceMountMethod: MountMethod | undefined;

  /**
   * `IMAGESTORE/overlay` of a split image store, or null: read-only layers are created
   * there (HEAD) and are otherwise used like the home's own layers.
   */
  imageHome: string | null = null;

  private readonly refs = new Map<string, number>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private nativeDiffCache: boolean | null = null;

  private constructor(
    /** The driver home, `GRAPH/overlay`. */
    readonly home: string,
    /** Where probe results are cached, `RUN/overlay`. */
    readonly runhome: string,
    /** Parsed options. */
    readonly options: OverlayOptions,
    private readonly backingFs: string,
    private readonly dType: boolean,
    private readonly metacopy: boolean,
    private readonly volatile: boolean,
    private readonly idmappedLowers: boolean,
    private readonly rootless: boolean,
    private readonly uidMap: IDMap[],
    private readonly gidMap: IDMap[],
  ) {
    this.whiteoutFormat = options.mountProgram ? "aufs" : "overlay";
    this.opaqueXattr = rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";
  }

  /** Initialises the driver in `GRAPH/overlay` (Go's overlay.Init). */
  static async init(init: DriverInit): Promise<OverlayDriver> {
    const options = parseOverlayOptions(init.options);
    const home = `${init.graphRoot}/overlay`;
    const runhome = `${init.runRoot}/overlay`;
    const rootless = geteuid() !== 0;

    const { uid, gid } = rootPair(init.uidMap, init.gidMap);
    mkdirAllAs(home, 0o700, uid, gid);
    const backingFs = fsName(statfs(init.graphRoot).type);
    mkdirAllAs(`${home}/${LINK_DIR}`, 0o755, 0, 0);
    mkdirAllAs(runhome, 0o700, uid, gid);

    if (options.mountProgram) {
      try {
        statNs(options.mountProgram);
      } catch (err) {
        throw new DriverOptionError(
          `overlay: can't stat program ${JSON.stringify(options.mountProgram)}: ${(err as Error).message}`,
        );
      }
      Deno.writeTextFileSync(`${home}/${FLAG_FILE}`, "true", { mode: 0o600 });
    } else {
      let flag = readOptional(`${home}/${FLAG_FILE}`);
      if (flag === null && !rootless) {
        flag = String(scanForMountProgramIndicators(home));
        Deno.writeTextFileSync(`${home}/${FLAG_FILE}`, flag, { mode: 0o600 });
      }
      if (flag === "true" || rootless) {
        const prog = which("fuse-overlayfs");
        if (prog) options.mountProgram = prog;
        else if (flag === "true") {
          throw new DriverNotSupportedError(
            `overlay: ${home}/${FLAG_FILE} says the store needs a mount program, but fuse-overlayfs is not installed`,
          );
        }
      }
    }

    let dType = true, metacopy = false, volatile = true;
    if (!options.mountProgram) {
      if (options.forceMask !== null) {
        throw new DriverOptionError("'force_mask' is supported only with 'mount_program'");
      }
      if (NEEDS_MOUNT_PROGRAM.has(backingFs)) {
        throw new DriverNotSupportedError(
          `'overlay' is not supported over ${backingFs}, a mount_program is required: backing file system is unsupported for this graph driver`,
        );
      }
      const extra = rootless ? ["userxattr"] : [];
      const overlay = cachedProbe(runhome, "overlay", () => {
        if (!supportsDType(home)) {
          throw new Error(`'overlay' is not supported over ${backingFs} without d_type support`);
        }
        probeOverlay(home, extra);
      });
      if (!overlay.value) {
        throw new DriverNotSupportedError(`kernel does not support overlay fs: ${overlay.text}`);
      }
      dType = true;
      const opaque = rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";
      const feature = `metacopy(${options.mountOptions})`;
      const cached = cachedFeature(runhome, feature);
      if (cached) metacopy = cached.value;
      else {
        metacopy = probeMetacopy(home, options.mountOptions, opaque);
        Deno.writeTextFileSync(`${runhome}/${feature}-${metacopy}`, "", { mode: 0o644 });
      }
      volatile = cachedProbe(runhome, "volatile", () => probeVolatile(home, options.mountOptions)).value;
    }

    if (options.quotaSize > 0 || options.quotaInodes > 0) {
      if (backingFs !== "xfs") {
        throw new DriverOptionError(
          `storage option overlay.size and overlay.inodes only supported for backingFS XFS. Found ${backingFs}`,
        );
      }
      throw new NotSupportedError(
        "overlay: project quotas (overlay.size, overlay.inodes) are not implemented",
      );
    }

    if (!options.skipMountHome && !rootless) makePrivate(home);

    let idmapped = false;
    if (!options.mountProgram && !rootless && Deno.env.get("_CONTAINERS_OVERLAY_DISABLE_IDMAP") !== "yes") {
      idmapped = (await cachedProbeAsync(runhome, "idmapped-lower-dir", () =>
        probeIdmappedLowerDir(home))).value;
    }

    const d = new OverlayDriver(
      home,
      runhome,
      options,
      backingFs,
      dType,
      metacopy,
      volatile,
      idmapped,
      rootless,
      init.uidMap,
      init.gidMap,
    );
    if (init.imageStore) {
      d.imageHome = `${init.imageStore}/overlay`;
      mkdirAllAs(d.imageHome, 0o700, uid, gid);
      mkdirAllAs(`${d.imageHome}/${LINK_DIR}`, 0o755, 0, 0);
    }
    // Probed at init, as Go does, so that the marker exists for every later process.
    d.useNaiveDiff();
    return d;
  }

  // ---- paths ----

  /** The layer's directory: in the home, else in an additional image store that has it. */
  private dir2(id: string): { dir: string; readOnly: boolean } {
    checkID(id);
    const own = `${this.home}/${id}`;
    // A home directory holding only the mount point of a read-only store's layer is not a layer.
    if (exists(`${own}/link`) || exists(`${own}/diff`)) return { dir: own, readOnly: false };
    if (this.imageHome && exists(`${this.imageHome}/${id}`)) {
      return { dir: `${this.imageHome}/${id}`, readOnly: false };
    }
    for (const store of this.options.imageStores) {
      const p = `${store}/${this.name}/${id}`;
      if (exists(p)) return { dir: p, readOnly: true };
    }
    return { dir: own, readOnly: false };
  }

  /**
   * Where a layer is mounted: `<dir>/merged`, except for layers of read-only image
   * stores, whose mount point lives in our home (that store may well be read-only).
   */
  private mergedDir(id: string, dir: string, readOnly: boolean): string {
    return readOnly ? `${this.home}/${id}/merged` : `${dir}/merged`;
  }

  /** `p` relative to the home when below it, else absolute (mounts run with the home as cwd). */
  private relToHome(p: string): string {
    return p.startsWith(this.home + "/") ? p.slice(this.home.length + 1) : p;
  }

  /** The layer's directory (see dir2). */
  layerDir(id: string): string {
    return this.dir2(id).dir;
  }

  /** Reads the layer's `link` file, repairing lost links once when it is missing. */
  private readLink(dir: string): string {
    let link = readOptional(`${dir}/link`);
    if (link === null) {
      recreateSymlinks(this.home);
      link = readOptional(`${dir}/link`);
      if (link === null) throw new StorageError(`open ${dir}/link: no such file or directory`);
    }
    return link.trim();
  }

  /** Resolves the entries of the layer's `lower` file to lower layers. */
  private resolveLowers(id: string, dir: string): Lower[] {
    const entries = splitLowers(readOptional(`${dir}/lower`));
    if (entries.length > MAX_DEPTH) throw new StorageError("max depth exceeded");
    const out: Lower[] = [];
    let repaired = false;
    for (const rel of entries) {
      let link = `${this.home}/${rel}`;
      let base = this.home;
      let target: string | null = null;
      for (;;) {
        target = readLinkOrNull(link);
        if (target !== null) break;
        const found = [
          ...(this.imageHome ? [this.imageHome] : []),
          ...this.options.imageStores.map((s) => `${s}/${this.name}`),
        ].find((s) => readLinkOrNull(`${s}/${rel}`) !== null);
        if (found) {
          base = found;
          link = `${found}/${rel}`;
          continue;
        }
        if (!repaired) {
          // Links can be lost in a sudden reboot: rebuild them from the layers' link files.
          repaired = true;
          recreateSymlinks(this.home);
          continue;
        }
        throw new StorageError(
          `layer ${id}: lower layer ${
            JSON.stringify(rel)
          } does not exist (its link ${link} is missing and no layer has that link ID)`,
        );
      }
      const parts = target.split("/");
      const lowerID = parts.length === 3 && parts[0] === ".." && parts[2] === "diff" ? parts[1] : "";
      if (!lowerID) {
        throw new StorageError(`layer ${id}: link ${link} has a bad target ${JSON.stringify(target)}`);
      }
      const layerDir = `${base}/${lowerID}`;
      if (!exists(`${layerDir}/diff`)) {
        throw new StorageError(
          `layer ${id}: lower layer ${lowerID} (${rel}) has no diff directory: ${layerDir}/diff`,
        );
      }
      out.push({ rel, link, layerDir, id: lowerID });
    }
    return out;
  }

  /** `diff1..N` directories of a layer (ID-mapped copies, on-disk.md 6.4). */
  private extraDiffs(dir: string): string[] {
    const out: string[] = [];
    for (let n = 1; exists(`${dir}/${diffName(n)}`); n++) out.push(`${dir}/${diffName(n)}`);
    return out;
  }

  /** The diff directories below a layer, nearest first (its own diffN, then each lower with its diffN). */
  private lowerDiffPaths(id: string, dir: string): string[] {
    const out = this.extraDiffs(dir);
    for (const l of this.resolveLowers(id, dir)) {
      out.push(`${l.layerDir}/diff`, ...this.extraDiffs(l.layerDir));
    }
    return out;
  }

  /** The lower diff directories of a layer from its `lower` file (Go's getLowerDirs). */
  private lowerDirs(id: string, dir: string): string[] {
    return this.resolveLowers(id, dir).map((l) => `${l.layerDir}/diff`);
  }

  /** Whether `parent` is the direct parent of `id` (Go's isParent). */
  private isParent(id: string, parent: string | null): boolean {
    let lowers: string[];
    try {
      lowers = this.lowerDirs(id, this.layerDir(id));
    } catch {
      return false;
    }
    if (!parent) return lowers.length === 0;
    if (lowers.length === 0) return false;
    return lowers[0].slice(0, -"/diff".length) === this.layerDir(parent);
  }

  /** Whether diffs must be computed naively (mount program, or the native-diff probe failed). */
  private useNaiveDiff(): boolean {
    if (this.nativeDiffCache !== null) return !this.nativeDiffCache;
    if (this.options.mountProgram) {
      this.nativeDiffCache = false;
      return true;
    }
    const r = cachedProbe(
      this.runhome,
      `native-diff(${this.options.mountOptions})`,
      () => probeNativeDiff(this.home, this.options.mountOptions, this.opaqueXattr),
    );
    this.nativeDiffCache = r.value;
    return !r.value;
  }

  // ---- creation and removal ----

  /** Creates a layer (Go's create); in the split image store when there is one. */
  create(id: string, parent: string | null, options: DriverCreateOptions): Promise<void> {
    return this.createLayer(id, parent, options, this.imageHome ?? this.home);
  }

  /** Creates a layer meant to be written directly (same layout as create). */
  createReadWrite(id: string, parent: string | null, options: DriverCreateOptions): Promise<void> {
    return this.createLayer(id, parent, options, this.home);
  }

  private async createLayer(
    id: string,
    parent: string | null,
    options: DriverCreateOptions,
    home: string,
  ): Promise<void> {
    checkID(id);
    for (const key of Object.keys(options.storageOpt ?? {})) {
      if (key.toLowerCase() === "size" || key.toLowerCase() === "inodes") {
        throw new NotSupportedError(
          "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        );
      }
      throw new DriverOptionError(`overlay: Unknown option ${key}`);
    }
    const uidMap = options.uidMap ?? this.uidMap, gidMap = options.gidMap ?? this.gidMap;
    const layerRoot = rootPair(uidMap, gidMap);
    let { uid, gid } = layerRoot;
    let perms = this.options.forceMask ?? DEFAULT_PERMS;
    let lower = "";
    if (parent) {
      const parentDir = this.layerDir(parent);
      const st = statNs(`${parentDir}/diff`); // throws Go's "stat ...: no such file or directory"
      uid = st.uid;
      gid = st.gid;
      perms = st.mode & 0o7777;
      lower = this.lowerFor(parentDir);
    }
    const dir = `${home}/${id}`;
    if (exists(dir)) await this.remove(id); // a leftover: never let an old l/ link point at new content
    mkdirAs(dir, 0o700, layerRoot.uid, layerRoot.gid);
    try {
      mkdirAs(`${dir}/diff`, perms, uid, gid);
      const link = this.newLinkID();
      Deno.symlinkSync(`../${id}/diff`, `${home}/${LINK_DIR}/${link}`);
      writePlain(`${dir}/link`, link);
      mkdirAs(`${dir}/work`, 0o700, uid, gid);
      mkdirAs(`${dir}/merged`, 0o700, uid, gid);
      if (!parent) mkdirAs(`${dir}/empty`, 0o700, uid, gid);
      else if (lower) writePlain(`${dir}/lower`, lower);
    } catch (err) {
      await this.remove(id).catch(() => {});
      throw err;
    }
  }

  /** A link ID not yet used in `l/` (of the home nor of the split image store). */
  private newLinkID(): string {
    for (;;) {
      const id = generateLinkID();
      if (readLinkOrNull(`${this.home}/${LINK_DIR}/${id}`) !== null) continue;
      if (this.imageHome && readLinkOrNull(`${this.imageHome}/${LINK_DIR}/${id}`) !== null) continue;
      return id;
    }
  }

  /** The `lower` content of a child of the layer in `parentDir` (Go's getLower). */
  private lowerFor(parentDir: string): string {
    const parentLink = this.readLink(parentDir);
    const lowers = [`${LINK_DIR}/${parentLink}`, ...splitLowers(readOptional(`${parentDir}/lower`))];
    if (lowers.length > MAX_DEPTH) throw new StorageError("max depth exceeded");
    return lowers.join(":");
  }

  /** Removes a layer: its `l/` link first, then its directory (mounts below it are detached). */
  async remove(id: string): Promise<void> {
    checkID(id);
    for (const home of [this.home, ...(this.imageHome ? [this.imageHome] : [])]) {
      const dir = `${home}/${id}`;
      const link = readOptional(`${dir}/link`)?.trim();
      if (link) {
        try {
          Deno.removeSync(`${home}/${LINK_DIR}/${link}`);
        } catch { /* already gone */ }
      }
      for (const m of mountsUnder(dir)) detach(m.mountPoint);
      try {
        await Deno.remove(dir, { recursive: true });
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }

  /** Whether the layer's directory exists (here or in an additional store). */
  exists(id: string): Promise<boolean> {
    try {
      return Promise.resolve(exists(this.layerDir(id)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // ---- mounting ----

  /**
   * Per-process mount references, re-synchronised with the kernel's view on every use
   * (like Go HEAD's RefCounter): a mount made by another process counts as one reference,
   * so our get/put pair never unmounts it; a mount that vanished resets the count.
   */
  private refIncDec(path: string, delta: 1 | -1): number {
    const live = isLiveMount(path);
    let count = this.refs.get(path) ?? 0;
    if (!live) count = 0;
    else if (count === 0) count = 1;
    count = Math.max(0, count + delta);
    this.refs.set(path, count);
    return count;
  }

  /** Mounts the layer at `<dir>/merged` and returns that path (Go's Get). */
  get(id: string, options: DriverMountOptions): Promise<string> {
    return this.locked(id, () => this.getLocked(id, options));
  }

  /** Runs `fn` after every earlier get/put of the same layer in this process (Go's per-ID locker). */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(id, tail);
    tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }

  private async getLocked(id: string, options: DriverMountOptions): Promise<string> {
    const { dir, readOnly } = this.dir2(id);
    statNs(dir); // missing layer → "stat DIR: no such file or directory", as Go
    let optsList = options.options?.length ? [...options.options] : splitOptions(this.options.mountOptions);
    if (options.options?.length && splitOptions(this.options.mountOptions).includes("metacopy=on")) {
      optsList.push("metacopy=on"); // the kernel refuses to follow metacopy xattrs without it
    }
    const readWrite = !readOnly && !optsList.includes("ro");
    if (readOnly && !optsList.includes("ro")) optsList = ["ro", ...optsList];
    // A volatile container's layer skips syncs when the kernel can (HEAD; ignored otherwise).
    if (options.volatile && readWrite && this.volatile && !this.options.mountProgram) {
      if (!optsList.includes("volatile")) optsList.push("volatile");
    }

    this.readLink(dir); // repairs lost links before the lowers are resolved
    const absLowers: string[] = [], relLowers: string[] = [];
    let perms = this.options.forceMask ?? DEFAULT_PERMS;
    let permsKnown = false;
    for (const d of this.extraDiffs(dir)) {
      if (!permsKnown) (perms = statNs(d).mode & 0o7777, permsKnown = true);
      absLowers.push(d);
      relLowers.push(this.relToHome(d));
    }
    for (const l of this.resolveLowers(id, dir)) {
      if (!permsKnown) (perms = statNs(l.link).mode & 0o7777, permsKnown = true);
      absLowers.push(l.link);
      relLowers.push(l.layerDir.startsWith(this.home + "/") ? l.rel : l.link);
      for (const d of this.extraDiffs(l.layerDir)) {
        absLowers.push(d);
        relLowers.push(
          l.layerDir.startsWith(this.home + "/") ? `${l.id}/${d.slice(l.layerDir.length + 1)}` : d,
        );
      }
    }
    if (absLowers.length === 0) {
      absLowers.push(`${dir}/empty`);
      relLowers.push(this.relToHome(`${dir}/empty`));
    }
    const root = rootPair(this.uidMap, this.gidMap);
    const diffDir = `${dir}/diff`;
    if (!exists(diffDir)) mkdirAllAs(diffDir, perms, root.uid, root.gid);
    const merged = this.mergedDir(id, dir, readOnly);
    if (readOnly) mkdirAllAs(`${this.home}/${id}`, 0o700, root.uid, root.gid);
    mkdirAs(merged, 0o700, root.uid, root.gid, true);

    if (this.refIncDec(merged, 1) > 1) return merged;
    const mapped: string[] = [];
    try {
      if (!this.options.mountProgram && this.rootless) optsList.push("userxattr");
      if (
        !this.options.mountProgram && this.supportsShifting() && options.uidMap?.length &&
        options.gidMap?.length
      ) {
        // Lowers are read through idmapped clones of the directories holding them.
        const mappedRoot = `${this.home}/${id}/mapped`;
        mkdirAllAs(mappedRoot, 0o700);
        const ns = await createUsernsProcess(options.uidMap, options.gidMap);
        try {
          const roots = new Map<string, string>();
          for (let i = 0; i < absLowers.length; i++) {
            const src = mappedMountRoot(absLowers[i]);
            let root = roots.get(src);
            if (root === undefined) {
              root = `${mappedRoot}/${roots.size}`;
              createIDMappedMount(src, root, ns.pid);
              mapped.push(root);
              roots.set(src, root);
            }
            absLowers[i] = root + absLowers[i].slice(src.length);
            relLowers[i] = absLowers[i].slice(this.home.length + 1);
          }
        } finally {
          await ns.close();
        }
      }
      const spec = {
        home: this.home,
        target: merged,
        relTarget: this.relToHome(merged),
        lowers: readWrite ? absLowers : [diffDir, ...absLowers],
        relLowers: readWrite ? relLowers : [this.relToHome(diffDir), ...relLowers],
        upper: readWrite ? diffDir : undefined,
        work: readWrite ? `${dir}/work` : undefined,
        relUpper: this.relToHome(diffDir),
        relWork: this.relToHome(`${dir}/work`),
        options: optsList,
      };
      if (this.options.mountProgram) {
        let data = overlayData(spec, false);
        if (options.uidMap?.length || options.gidMap?.length) {
          data += mappingOptions(options.uidMap, options.gidMap);
        }
        // Flags such as nodev are not passed to the program (Go hands it only the data part).
        await mountWithProgram(
          this.options.mountProgram,
          this.home,
          merged,
          parseMountOptions(data).data.join(","),
        );
        this.lastMountMethod = "program";
      } else {
        // A volatile mount leaves this behind, and overlay refuses to reuse the workdir while it exists.
        await Deno.remove(`${dir}/work/work/incompat/volatile`, { recursive: true }).catch(() => {});
        this.lastMountMethod = await mountOverlay(spec, this.forceMountMethod);
      }
    } catch (err) {
      this.refIncDec(merged, -1);
      throw err;
    } finally {
      // The overlay holds its own references: the idmapped clones can go (their dirs stay, as with Go).
      for (const m of mapped) detach(m);
    }
    return merged;
  }

  /** Unmounts the layer and removes its `merged/` directory (Go's Put). */
  put(id: string): Promise<void> {
    return this.locked(id, () => this.putLocked(id));
  }

  private async putLocked(id: string): Promise<void> {
    const { dir, readOnly } = this.dir2(id);
    statNs(dir);
    const merged = this.mergedDir(id, dir, readOnly);
    if (this.refIncDec(merged, -1) > 0) return;
    // Leaked idmapped mounts of the lowers, if any.
    try {
      for (const e of Deno.readDirSync(`${dir}/mapped`)) detach(`${dir}/mapped/${e.name}`);
    } catch { /* none */ }
    let unmounted = false;
    if (this.options.mountProgram && isLiveMount(merged)) {
      unmounted = await fuseUnmount(merged);
      if (!unmounted) {
        // Make sure pending changes reach the disk before the lazy unmount below.
        try {
          const fd = openFd(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          try {
            syncfs(fd, merged);
          } finally {
            closeFd(fd);
          }
        } catch { /* best effort */ }
      }
    }
    if (!unmounted) detach(merged);
    try {
      Deno.removeSync(merged);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw new StorageError((err as Error).message, `removing mount point ${JSON.stringify(merged)}`, {
        cause: err,
      });
    }
    if (readOnly) {
      try {
        Deno.removeSync(`${this.home}/${id}`); // it only held the mount point
      } catch { /* not empty or gone: leave it */ }
    }
  }

  /** Whether `path` is a live overlay (or FUSE) mount. */
  isMounted(_id: string, path: string): Promise<boolean> {
    return Promise.resolve(isLiveMount(path));
  }

  // ---- information ----

  /** Status lines as Go HEAD prints them. */
  status(): Promise<Array<[string, string]>> {
    return Promise.resolve([
      ["Backing Filesystem", this.backingFs],
      ["Supports d_type", String(this.dType)],
      ["Native Overlay Diff", String(!this.useNaiveDiff())],
      ["Using metacopy", String(this.metacopy)],
      ["Supports shifting", String(this.supportsShifting())],
      ["Supports volatile", String(this.volatile)],
    ]);
  }

  /** `WorkDir`, `MergedDir`, `UpperDir` and (with parents) `LowerDir`, as Go. */
  metadata(id: string): Promise<Record<string, string>> {
    const { dir, readOnly } = this.dir2(id);
    statNs(dir);
    const md: Record<string, string> = {
      WorkDir: `${dir}/work`,
      MergedDir: this.mergedDir(id, dir, readOnly),
      UpperDir: `${dir}/diff`,
    };
    const lowers = this.lowerDirs(id, dir);
    if (lowers.length > 0) md.LowerDir = lowers.join(":");
    return Promise.resolve(md);
  }

  /** IDs of the layer directories in the home (and in the split image store's). */
  listLayers(): Promise<string[]> {
    const out: string[] = [];
    for (const home of [this.home, ...(this.imageHome ? [this.imageHome] : [])]) {
      for (const e of Deno.readDirSync(home)) {
        if (!e.isDirectory || NOT_LAYERS.has(e.name)) continue;
        const d = `${home}/${e.name}`;
        if (exists(`${d}/diff`) || exists(`${d}/link`)) out.push(e.name);
      }
    }
    return Promise.resolve(out);
  }

  /** Mounts can shift IDs: by the mount program's uidmapping, or by idmapped lower layers. */
  supportsShifting(): boolean {
    if (Deno.env.get("_CONTAINERS_OVERLAY_DISABLE_IDMAP") === "yes") return false;
    return this.options.mountProgram !== "" || this.idmappedLowers;
  }

  /** Detaches the private bind mount of the home made at init. */
  cleanup(): Promise<void> {
    if (!this.options.skipMountHome && mountAt(this.home) !== null) detach(this.home);
    return Promise.resolve();
  }

  /**
   * Re-owns an ID-mapped copy (on-disk.md 6.4, Go's UpdateLayerIDMap): the layer is
   * mounted and chowned through the merged view (copying every file up into `diff/`),
   * unmounted; then `diff` becomes `diff1` (existing `diffN` shift up), `work` is
   * recreated and a fresh empty `diff` owned by the new root becomes the upper.
   */
  async updateLayerIDMap(
    id: string,
    toContainer: IDMappings | null,
    toHost: IDMappings | null,
    mountLabel?: string,
  ): Promise<void> {
    const dir = this.layerDir(id);
    const root = toHost ? rootPair(toHost.uidMap, toHost.gidMap) : { uid: 0, gid: 0 };
    const merged = await this.get(id, { mountLabel, options: splitOptions(this.options.mountOptions) });
    try {
      chownTreeByMaps(merged, ownerMapper(toContainer, toHost));
    } finally {
      await this.put(id);
    }
    const diff = `${dir}/diff`;
    const perms = statNs(diff).mode & 0o7777;
    let n = 0;
    while (exists(`${dir}/${diffName(n + 1)}`)) n++;
    for (let i = n; i >= 0; i--) Deno.renameSync(`${dir}/${diffName(i)}`, `${dir}/${diffName(i + 1)}`);
    mkdirAs(diff, perms, root.uid, root.gid);
    await Deno.remove(`${dir}/work`, { recursive: true }).catch(() => {});
    mkdirAs(`${dir}/work`, perms, root.uid, root.gid);
  }

  // ---- content ----

  /** Extracts a layer tar into `<id>/diff` (whiteouts as overlay devices, or `.wh.` files with a mount program). */
  async applyDiff(
    id: string,
    _parent: string | null,
    tar: ReadableStream<Uint8Array>,
    options: DriverApplyOptions,
  ): Promise<void> {
    const { dir, readOnly } = this.dir2(id);
    if (readOnly) throw new StorageError(`layer ${id} is in a read-only image store`);
    const { extractTar } = await import("../../archive/extract.ts");
    await extractTar(tar, `${dir}/diff`, {
      whiteoutFormat: this.whiteoutFormat,
      skipRootEntry: true,
      uidMap: options.uidMap,
      gidMap: options.gidMap,
      ignoreChownErrors: options.ignoreChownErrors || this.options.ignoreChownErrors,
      rootless: this.rootless,
      observers: options.observers,
    });
    if (this.options.forceMask !== null) applyForceMask(`${dir}/diff`, this.options.forceMask);
  }

  /** Tar of the layer's changes: native from `diff/` when `parent` is its parent, else naive. */
  async diff(
    id: string,
    parent: string | null,
    options: DriverDiffOptions,
  ): Promise<ReadableStream<Uint8Array>> {
    if (this.useNaiveDiff() || !this.isParent(id, parent)) {
      return await (await naiveModule()).naiveDiff(this, id, parent, options);
    }
    const dir = this.layerDir(id);
    const { overlayDiff } = await import("./diff.ts");
    return overlayDiff(`${dir}/diff`, this.lowerDirs(id, dir), {
      uidMap: options.uidMap,
      gidMap: options.gidMap,
      opaqueXattr: this.opaqueXattr,
    });
  }

  /** Changes of the layer relative to `parent`, sorted by path. */
  changes(id: string, parent: string | null, options: DriverDiffOptions): Promise<Change[]> {
    if (this.useNaiveDiff() || !this.isParent(id, parent)) {
      return naiveModule().then((m) => m.naiveChanges(this, id, parent, options));
    }
    const dir = this.layerDir(id);
    return Promise.resolve(overlayChanges(`${dir}/diff`, this.lowerDirs(id, dir), this.opaqueXattr));
  }

  /** Size of the layer's changes: the size of its `diff/` when `parent` is its parent. */
  diffSize(id: string, parent: string | null, options: DriverDiffOptions): Promise<number> {
    if (this.useNaiveDiff() || !this.isParent(id, parent)) {
      return naiveModule().then((m) => m.naiveDiffSize(this, id, parent, options));
    }
    return Promise.resolve(directorySize(`${this.layerDir(id)}/diff`));
  }

  /** Opens files from `diff/`, then the layer's `diffN`, then each lower's, for tar-split replay. */
  diffGetter(id: string): Promise<FileGetter> {
    const dir = this.layerDir(id);
    return Promise.resolve(dirFileGetter([`${dir}/diff`, ...this.lowerDiffPaths(id, dir)]));
  }
}

/**
 * The naive differ (tree comparison and tar writing), loaded by the calls that need it:
 * content code is left out of the driver's startup cost, as most commands only mount,
 * create and delete. (Extraction and the native differ are imported likewise.)
 */
function naiveModule(): Promise<typeof import("../naive.ts")> {
  return import("../naive.ts");
}

function readLinkOrNull(path: string): string | null {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return null;
  }
}

/** True when a live overlay or FUSE filesystem is mounted exactly at `path`. */
function isLiveMount(path: string): boolean {
  const m = mountAt(path, readMountInfo());
  return m !== null && (m.fstype === "overlay" || m.fstype.startsWith("fuse"));
}

/** `,uidmapping=C:H:S[:C:H:S...],gidmapping=...` for fuse-overlayfs (Go's optsAppendMappings). */
function mappingOptions(uidMap?: IDMap[], gidMap?: IDMap[]): string {
  const fmt = (m: IDMap[]) => m.map((e) => `${e.containerId}:${e.hostId}:${e.size}`).join(":");
  let s = "";
  if (uidMap?.length) s += `,uidmapping=${fmt(uidMap)}`;
  if (gidMap?.length) s += `,gidmapping=${fmt(gidMap)}`;
  return s;
}

/**
 * `force_mask` (mount-program stores): every entry but symlinks keeps its real owner and
 * mode in `user.containers.override_stat` (`UID:GID:0MODE`, Go 1.43's format) and gets the
 * mask as its mode on disk, so that an unprivileged reader of the store sees no setuid
 * files. (The mount is not asked to present the recorded values: fuse-overlayfs 1.10's
 * `xattr_permissions=2` refuses directories without the xattr.)
 */
function applyForceMask(diff: string, mask: number): void {
  const enc = new TextEncoder();
  for (const { path, st } of walkSorted(diff)) {
    if ((st.mode & 0o170000) === 0o120000) continue;
    if (lgetxattr(path, OVERRIDE_XATTR) === null) {
      const value = `${st.uid}:${st.gid}:0${(st.mode & 0o7777).toString(8)}`;
      lsetxattr(path, OVERRIDE_XATTR, enc.encode(value));
    }
    Deno.chmodSync(path, mask);
  }
}

/** Creates the overlay driver (the registered factory). */
export function createOverlayDriver(init: DriverInit): Promise<Driver> {
  return OverlayDriver.init(init);
}

registerDriver("overlay", createOverlayDriver);
