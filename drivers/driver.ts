/**
 * The driver interface: what makes layers real on disk. The store knows nothing
 * of tar headers or mounts; drivers know nothing of JSON records.
 *
 * @module
 */
import type { TarObserver, WhiteoutFormat } from "../archive/types.ts";
import type { Change, IDMap } from "../store/types.ts";

/** Options of Driver.create and Driver.createReadWrite. */
export interface DriverCreateOptions {
  /** SELinux label. */
  mountLabel?: string;
  /** Per-layer driver options (e.g. `size`). */
  storageOpt?: Record<string, string>;
  /** The layer's UID map (owner of the layer root = mapped root). */
  uidMap?: IDMap[];
  /** The layer's GID map. */
  gidMap?: IDMap[];
}

/** Options of Driver.get (mounting). */
export interface DriverMountOptions {
  /** SELinux label. */
  mountLabel?: string;
  /** Mount options such as `ro`. */
  options?: string[];
  /** UID map to mount with (drivers that can shift). */
  uidMap?: IDMap[];
  /** GID map to mount with. */
  gidMap?: IDMap[];
  /** Mount a volatile container's layer with overlay's `volatile` option when supported (Go: MountOpts.Volatile). */
  volatile?: boolean;
}

/** Options of Driver.applyDiff. */
export interface DriverApplyOptions {
  /** The layer's UID map: tar IDs are mapped container → host. */
  uidMap?: IDMap[];
  /** The layer's GID map. */
  gidMap?: IDMap[];
  /** Ignore lchown failures. */
  ignoreChownErrors?: boolean;
  /** SELinux label. */
  mountLabel?: string;
  /** Observers that see the tar stream in the same pass as the extraction. */
  observers?: TarObserver[];
}

/** Options of Driver.diff, changes and diffSize. */
export interface DriverDiffOptions {
  /** The layer's UID map: host IDs are mapped back to container IDs. */
  uidMap?: IDMap[];
  /** The layer's GID map. */
  gidMap?: IDMap[];
  /** The parent's UID map when it differs from the layer's (ID-mapped copies); default: uidMap. */
  parentUidMap?: IDMap[];
  /** The parent's GID map when it differs from the layer's; default: gidMap. */
  parentGidMap?: IDMap[];
  /** SELinux label for mounts made while diffing. */
  mountLabel?: string;
}

/** Reads files of a layer as a tar-split replay needs them. */
export interface FileGetter {
  /** Opens a file by its path inside the layer; null when absent. */
  open(path: string): Promise<Deno.FsFile | null>;
  /**
   * Optional fast path of `open`: a raw read-only file descriptor (the caller closes it
   * with close(2)), or -1 when absent. Throws as `open` rejects.
   */
  openFd?(path: string): number;
  /** Releases what the getter holds (mounts, descriptors). */
  close(): Promise<void>;
}

/** A storage driver (`vfs`, `overlay`, `btrfs`). */
export interface Driver {
  /** Driver name as used in directory names (`vfs` → `vfs-layers`). */
  readonly name: string;
  /** The driver's home directory (`GRAPH/NAME`). */
  readonly home: string;
  /** How this driver stores whiteouts. */
  readonly whiteoutFormat: WhiteoutFormat;
  /** Creates a read-only layer, a copy-on-write child of `parent` when given. */
  create(id: string, parent: string | null, options: DriverCreateOptions): Promise<void>;
  /** Creates a layer meant to be written directly (container layers). */
  createReadWrite(id: string, parent: string | null, options: DriverCreateOptions): Promise<void>;
  /** Removes a layer's data. Removing a missing layer succeeds. */
  remove(id: string): Promise<void>;
  /** Whether the driver has data for the layer. */
  exists(id: string): Promise<boolean>;
  /** Mounts the layer and returns the path of its root (Go: Get). No reference counting. */
  get(id: string, options: DriverMountOptions): Promise<string>;
  /** Unmounts the layer (Go: Put). */
  put(id: string): Promise<void>;
  /** Whether the path is currently a live mount of this layer (for stale mount counts). */
  isMounted(id: string, path: string): Promise<boolean>;
  /** Status lines as the Go driver prints them. */
  status(): Promise<Array<[string, string]>>;
  /** Driver-specific metadata of a layer. */
  metadata(id: string): Promise<Record<string, string>>;
  /** Extracts an uncompressed tar stream into the layer; drains the stream to its end. */
  applyDiff(
    id: string,
    parent: string | null,
    tar: ReadableStream<Uint8Array>,
    options: DriverApplyOptions,
  ): Promise<void>;
  /** Generates a tar of the layer's changes relative to `parent`. */
  diff(id: string, parent: string | null, options: DriverDiffOptions): Promise<ReadableStream<Uint8Array>>;
  /** Lists the layer's changes relative to `parent`. */
  changes(id: string, parent: string | null, options: DriverDiffOptions): Promise<Change[]>;
  /** Size of the layer's changes relative to `parent`. */
  diffSize(id: string, parent: string | null, options: DriverDiffOptions): Promise<number>;
  /** Reads the layer's files for tar-split replay. */
  diffGetter(id: string): Promise<FileGetter>;
  /** IDs of all layers the driver has data for. */
  listLayers(): Promise<string[]>;
  /** Whether mounts can shift IDs (no mapped copies needed). */
  supportsShifting(): boolean;
  /** Releases driver-wide resources (overlay: its private bind mount of the home). */
  cleanup(): Promise<void>;
  /**
   * Re-owns the files of a layer created as a copy of a template that had other ID maps
   * (Go's UpdateLayerIDMap, on-disk.md 6.4–6.5): on-disk host IDs go back to container IDs
   * through `toContainer`, then out through `toHost`. Optional: drivers that can shift IDs
   * at mount time need not implement it.
   */
  updateLayerIDMap?(
    id: string,
    toContainer: { uidMap: IDMap[]; gidMap: IDMap[] } | null,
    toHost: { uidMap: IDMap[]; gidMap: IDMap[] } | null,
    mountLabel?: string,
  ): Promise<void>;
}

/** Everything a driver factory receives. */
export interface DriverInit {
  /** Graph root. */
  graphRoot: string;
  /** Run root. */
  runRoot: string;
  /** Driver options without the `DRIVER.` prefix, e.g. `mountopt=nodev`. */
  options: Array<[string, string]>;
  /** Store-wide default UID map. */
  uidMap: IDMap[];
  /** Store-wide default GID map. */
  gidMap: IDMap[];
  /**
   * Root of the split image store (`--image-store`), absolute, when set: read-only layers
   * (`create`) go to `IMAGESTORE/NAME/`, and layers are looked up there too (HEAD).
   */
  imageStore?: string;
}

/** Creates a driver; throws DriverNotSupportedError when it cannot work here. */
export type DriverFactory = (init: DriverInit) => Promise<Driver>;

const registry = new Map<string, DriverFactory>();

/** Registers a driver under its name. */
export function registerDriver(name: string, factory: DriverFactory): void {
  registry.set(name, factory);
}

/** The factory registered for `name`, if any. */
export function driverFactory(name: string): DriverFactory | undefined {
  return registry.get(name);
}

/** Names of the registered drivers. */
export function driverNames(): string[] {
  return [...registry.keys()];
}
