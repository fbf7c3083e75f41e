/**
 * Public data types of the store: records of the three kinds, options, and the
 * `Store` interface that `openStore` returns. Field meanings follow the Go
 * `containers/storage` structs; the JSON names on disk are given per field.
 *
 * @module
 */

/** One range of an ID mapping (JSON `{"container_id","host_id","size"}`). */
export interface IDMap {
  /** First ID inside the user namespace (`container_id`). */
  containerId: number;
  /** First ID outside, on the host (`host_id`). */
  hostId: number;
  /** Number of IDs in the range (`size`). */
  size: number;
}

/** Layer compression as recorded in `layers.json` (`compression`). */
export enum Compression {
  /** Not compressed (omitted from JSON). */
  None = 0,
  /** bzip2. */
  Bzip2 = 1,
  /** gzip. */
  Gzip = 2,
  /** xz. */
  Xz = 3,
  /** zstd. */
  Zstd = 4,
}

/** A layer record (an element of `layers.json`). */
export interface Layer {
  /** `id`: 64 hex characters for generated IDs. */
  id: string;
  /** `names`: unique among layers. */
  names: string[];
  /** `parent`: parent layer ID, `""` for a base layer. */
  parent: string;
  /** `metadata`: opaque caller data. */
  metadata: string;
  /** `mountlabel`: SELinux label used when mounting. */
  mountLabel: string;
  /** `created`: RFC 3339 time with nanoseconds, kept as written. */
  created: string;
  /** `compressed-diff-digest`: digest of the diff as it was given. */
  compressedDigest: string;
  /** `compressed-size`: length of the diff as it was given. */
  compressedSize: number;
  /** `diff-digest`: digest of the uncompressed tar (the DiffID). */
  uncompressedDigest: string;
  /** `toc-digest` (newer Go versions). */
  tocDigest: string;
  /** `diff-size`: length of the uncompressed tar. */
  uncompressedSize: number;
  /** `compression`. */
  compression: Compression;
  /** `uidset`: sorted unique UIDs found in the tar headers. */
  uidSet: number[];
  /** `gidset`: sorted unique GIDs found in the tar headers. */
  gidSet: number[];
  /** `flags`: free-form; `incomplete: true` marks a layer being created or deleted. */
  flags: Record<string, unknown>;
  /** `uidmap`. */
  uidMap: IDMap[];
  /** `gidmap`. */
  gidMap: IDMap[];
  /** `big-data-names`. */
  bigDataNames: string[];
  /** True for layers found in a read-only additional store (not stored). */
  readOnly: boolean;
  /** Where the layer is mounted, if it is (from `mountpoints.json`, not stored in layers.json). */
  mountPoint: string;
  /** The cross-process mount count (from `mountpoints.json`). */
  mountCount: number;
}

/** An image record (an element of `images.json`). */
export interface Image {
  /** `id`. */
  id: string;
  /** `digest`: the primary digest the image can be found by. */
  digest: string;
  /** All digests the image can be found by (not stored; derived, see on-disk spec 2.3). */
  digests: string[];
  /** `names`. */
  names: string[];
  /** `names-history`: most recent first. */
  namesHistory: string[];
  /** `layer`: the top layer ID, `""` when the image has none. */
  topLayer: string;
  /** `mapped-layers`: ID-mapped copies of the top layer. */
  mappedTopLayers: string[];
  /** `metadata`. */
  metadata: string;
  /** `big-data-names`, in first-set order. */
  bigDataNames: string[];
  /** `big-data-sizes`. */
  bigDataSizes: Record<string, number>;
  /** `big-data-digests`. */
  bigDataDigests: Record<string, string>;
  /** `created`. */
  created: string;
  /** `flags`. */
  flags: Record<string, unknown>;
  /** True for images found in a read-only additional store (not stored). */
  readOnly: boolean;
}

/** A container record (an element of `containers.json`). */
export interface Container {
  /** `id`. */
  id: string;
  /** `names`. */
  names: string[];
  /** `image`: the image ID, may be `""`. */
  imageId: string;
  /** `layer`: the container's read-write layer. */
  layerId: string;
  /** `metadata`. */
  metadata: string;
  /** `big-data-names`. */
  bigDataNames: string[];
  /** `big-data-sizes`. */
  bigDataSizes: Record<string, number>;
  /** `big-data-digests`. */
  bigDataDigests: Record<string, string>;
  /** `created`. */
  created: string;
  /** `uidmap`. */
  uidMap: IDMap[];
  /** `gidmap`. */
  gidMap: IDMap[];
  /** `flags`: `MountLabel`, `ProcessLabel`, `MountOpts`, `Volatile`. */
  flags: Record<string, unknown>;
}

/** Kind of a filesystem change (`changes` JSON: 0 Modify, 1 Add, 2 Delete). */
export enum ChangeKind {
  /** Changed in place. */
  Modify = 0,
  /** Created. */
  Add = 1,
  /** Removed. */
  Delete = 2,
}

/** One entry of a change list. */
export interface Change {
  /** Absolute path inside the layer, e.g. `/etc/hostname`. */
  path: string;
  /** What happened to it. */
  kind: ChangeKind;
}

/** ID mapping request, as the CLI's map flags give it. */
export interface IDMappingOptions {
  /** Use no mapping for UIDs (`--hostuidmap`). */
  hostUIDMapping?: boolean;
  /** Use no mapping for GIDs (`--hostgidmap`). */
  hostGIDMapping?: boolean;
  /** Explicit UID map. */
  uidMap?: IDMap[];
  /** Explicit GID map. */
  gidMap?: IDMap[];
}

/** Where the store lives and which driver it uses. */
export interface StoreOptions {
  /** Persistent data (`graphroot`). */
  graphRoot?: string;
  /** Runtime state (`runroot`). */
  runRoot?: string;
  /** Driver name; empty means auto-detect. */
  driverName?: string;
  /** Driver options such as `overlay.mountopt=nodev`. */
  driverOptions?: string[];
  /** A separate root for images and their layers (`imagestore`). */
  imageStore?: string;
  /** Keep container records in the run root only. */
  transientStore?: boolean;
  /** Default UID map for new base layers. */
  uidMap?: IDMap[];
  /** Default GID map for new base layers. */
  gidMap?: IDMap[];
  /** Refuse every change; take read locks only. */
  readOnly?: boolean;
  /** Drivers to try in order when `driverName` is empty (`driver_priority`). */
  driverPriority?: string[];
  /** Graph root for rootless users (`rootless_storage_path`, already applied to graphRoot). */
  rootlessStoragePath?: string;
  /** Ignore a container's Volatile flag when mounting (`disable-volatile`). */
  disableVolatile?: boolean;
  /** Options for image pulls (`pull_options`), unused by the store itself. */
  pullOptions?: Record<string, string>;
}

/** A stream of bytes the store reads from. */
export type ByteSource = ReadableStream<Uint8Array> | Uint8Array | AsyncIterable<Uint8Array>;

/** Options of `createLayer`. */
export interface CreateLayerOptions extends IDMappingOptions {
  /** Caller-chosen ID; random when absent. */
  id?: string;
  /** Parent layer (ID, name or unique ID prefix). */
  parent?: string;
  /** Names to give the layer; one held by another layer fails with DuplicateNameError, as in Go. */
  names?: string[];
  /** SELinux mount label. */
  mountLabel?: string;
  /** Ask the driver for a read-only layer (the CLI's `--readonly`). */
  readOnly?: boolean;
  /** Content to apply: a tar stream, possibly compressed. */
  diff?: ByteSource;
  /** Free-form flags to record. */
  flags?: Record<string, unknown>;
}

/** Options of `createImage`. */
export interface CreateImageOptions {
  /** Caller-chosen ID; random when absent. */
  id?: string;
  /** Top layer (ID, name or unique ID prefix). */
  layer?: string;
  /** Names. */
  names?: string[];
  /** An extra digest the image can be found by. */
  digest?: string;
  /** Metadata string. */
  metadata?: string;
  /** Creation time to record instead of now (RFC 3339). */
  created?: string;
  /** Big-data items to store with the image. */
  bigData?: Array<{ key: string; data: Uint8Array; digest?: string }>;
}

/** Options of `createContainer`. */
export interface CreateContainerOptions extends IDMappingOptions {
  /** Caller-chosen ID; random when absent. */
  id?: string;
  /** Image (ID, name or prefix); `""` creates a container on an empty base layer. */
  image: string;
  /** Names. */
  names?: string[];
  /** Metadata string. */
  metadata?: string;
  /** SELinux mount label. */
  mountLabel?: string;
  /** Mark the container volatile. */
  volatile?: boolean;
  /** Extra flags to record. */
  flags?: Record<string, unknown>;
}

/** Options of `mount`. */
export interface MountOptions {
  /** SELinux label. */
  mountLabel?: string;
  /** Extra mount options (`ro`, ...). */
  options?: string[];
  /** UID map to mount with (drivers that can shift). */
  uidMap?: IDMap[];
  /** GID map to mount with. */
  gidMap?: IDMap[];
}

/** Output compression of `diff`. */
export type DiffCompression = "default" | "none" | "gzip" | "bzip2" | "xz" | "zstd";

/** Options of `diff`. */
export interface DiffOptions {
  /** `default` keeps the compression the layer was applied with. */
  compression?: DiffCompression;
}

/** Result of `deleteImage`. */
export interface DeleteImageResult {
  /** Layers removed (or, with `commit: false`, that would be removed). */
  deletedLayers: string[];
}

/** The kind an argument resolved to. */
export type ItemKind = "layer" | "image" | "container";

/**
 * A containers-storage store: layers, images and containers under one graph root
 * and run root, shared with other processes (including the Go tools) through
 * the same files and locks.
 */
export interface Store {
  /** Absolute graph root. */
  readonly graphRoot: string;
  /** Absolute run root. */
  readonly runRoot: string;
  /** Name of the driver in use. */
  readonly driverName: string;
  /** Driver options in effect. */
  readonly driverOptions: readonly string[];

  // ---- layers ----
  /** Creates a layer, optionally filled from a tar diff (`create-layer`, `import-layer`). */
  createLayer(options?: CreateLayerOptions): Promise<Layer>;
  /** All layers, read-write store first, in creation order. */
  layers(): Promise<Layer[]>;
  /** Resolves a layer by ID, name or unique ID prefix. Throws LayerUnknownError. */
  layer(ref: string): Promise<Layer>;
  /** Layers whose compressed digest equals `digest`. */
  layersByCompressedDigest(digest: string): Promise<Layer[]>;
  /** Layers whose uncompressed digest equals `digest`. */
  layersByUncompressedDigest(digest: string): Promise<Layer[]>;
  /** Deletes a layer with the safety checks of `delete-layer`. */
  deleteLayer(ref: string): Promise<void>;
  /** Applies a (possibly compressed) tar diff on top of a layer; returns the uncompressed size. */
  applyDiff(ref: string, diff: ByteSource): Promise<number>;
  /** The tar diff between `from` (default: parent) and the layer. */
  diff(from: string | null, to: string, options?: DiffOptions): Promise<ReadableStream<Uint8Array>>;
  /** Filesystem changes between `from` (default: parent) and the layer. */
  changes(from: string | null, to: string): Promise<Change[]>;
  /** Uncompressed size of the diff between `from` (default: parent) and the layer. */
  diffSize(from: string | null, to: string): Promise<number>;
  /** Keys of a layer's big data. */
  listLayerBigData(ref: string): Promise<string[]>;
  /** A layer's big-data item. */
  layerBigData(ref: string, key: string): Promise<Uint8Array>;
  /** Stores a layer big-data item. */
  setLayerBigData(ref: string, key: string, data: ByteSource): Promise<void>;
  /** Host UIDs and GIDs owning the parents of a mounted layer's mount point that its maps cannot represent. */
  layerParentOwners(ref: string): Promise<{ uids: number[]; gids: number[] }>;

  // ---- images ----
  /** Creates an image record (`create-image`). */
  createImage(options?: CreateImageOptions): Promise<Image>;
  /** All images. */
  images(): Promise<Image[]>;
  /** Resolves an image by ID, name or unique ID prefix. Throws ImageUnknownError. */
  image(ref: string): Promise<Image>;
  /** Images whose digest list contains `digest` (validated). */
  imagesByDigest(digest: string): Promise<Image[]>;
  /** Deletes an image and the layers only it used; with `commit: false`, only reports. */
  deleteImage(ref: string, commit?: boolean): Promise<DeleteImageResult>;
  /** Keys of an image's big data. */
  listImageBigData(ref: string): Promise<string[]>;
  /** An image's big-data item. */
  imageBigData(ref: string, key: string): Promise<Uint8Array>;
  /** Size of an image's big-data item. */
  imageBigDataSize(ref: string, key: string): Promise<number>;
  /** Digest of an image's big-data item. */
  imageBigDataDigest(ref: string, key: string): Promise<string>;
  /** Stores an image big-data item; `digest` overrides the computed sha256 (manifest digests). */
  setImageBigData(ref: string, key: string, data: Uint8Array, digest?: string): Promise<void>;
  /** Total size of an image: its layers plus its big data. */
  imageSize(ref: string): Promise<number>;

  // ---- containers ----
  /** Creates a container and its read-write layer (`create-container`). */
  createContainer(options: CreateContainerOptions): Promise<Container>;
  /** All containers. */
  containers(): Promise<Container[]>;
  /** Resolves a container by ID, name, its layer's full ID, or unique ID prefix. */
  container(ref: string): Promise<Container>;
  /** Deletes a container, its layer and its directories. */
  deleteContainer(ref: string): Promise<void>;
  /** Keys of a container's big data. */
  listContainerBigData(ref: string): Promise<string[]>;
  /** A container's big-data item. */
  containerBigData(ref: string, key: string): Promise<Uint8Array>;
  /** Size of a container's big-data item. */
  containerBigDataSize(ref: string, key: string): Promise<number>;
  /** Digest of a container's big-data item. */
  containerBigDataDigest(ref: string, key: string): Promise<string>;
  /** Stores a container big-data item. */
  setContainerBigData(ref: string, key: string, data: Uint8Array): Promise<void>;
  /** `GRAPH/DRIVER-containers/ID/userdata`, created if missing. */
  containerDirectory(ref: string): Promise<string>;
  /** `RUN/DRIVER-containers/ID/userdata`, created if missing. */
  containerRunDirectory(ref: string): Promise<string>;
  /** Size of a container: layer diff, big data, and its directories. */
  containerSize(ref: string): Promise<number>;
  /** Like layerParentOwners, for the container's layer and maps. */
  containerParentOwners(ref: string): Promise<{ uids: number[]; gids: number[] }>;

  // ---- any kind ----
  /** What a reference resolves to, trying layer, image, container. */
  exists(ref: string): Promise<ItemKind | null>;
  /** Names of the item (layer, then image, then container). Throws LayerUnknownError. */
  names(ref: string): Promise<string[]>;
  /** Adds names, moving them from other items of the same kind; returns the new list. */
  addNames(ref: string, names: string[]): Promise<string[]>;
  /** Replaces names, moving them from other items of the same kind; returns the new list. */
  setNames(ref: string, names: string[]): Promise<string[]>;
  /** Removes names; returns the remaining list. */
  removeNames(ref: string, names: string[]): Promise<string[]>;
  /** Metadata of the item (layer, then image, then container). */
  metadata(ref: string): Promise<string>;
  /** Replaces metadata. Throws NotALayerImageOrContainerError. */
  setMetadata(ref: string, metadata: string): Promise<void>;
  /** Deletes without safety checks: a container, else an image (no layers), else a layer. */
  delete(ref: string): Promise<void>;

  // ---- mounting ----
  /** Mounts a container's layer or a layer; counts references across processes. */
  mount(ref: string, options?: MountOptions): Promise<string>;
  /** Mounts an image's top layer read-only. */
  mountImage(ref: string, options?: string[], mountLabel?: string): Promise<string>;
  /** Drops one reference (all with `force`); returns true while still mounted. */
  unmount(ref: string, force?: boolean): Promise<boolean>;
  /** Unmounts an image's top layer mounted by mountImage. */
  unmountImage(ref: string, force?: boolean): Promise<boolean>;
  /** The mount count of a container's layer or a layer. */
  mounted(ref: string): Promise<number>;

  // ---- maintenance ----
  /** Driver status lines as `[key, value]` pairs, after Root/Run Root/Driver Name/Driver Options. */
  status(): Promise<Array<[string, string]>>;
  /** Version pairs. */
  version(): Promise<Array<[string, string]>>;
  /** Unmounts everything (with `force`) and releases the driver; fails if layers stay mounted. */
  shutdown(force?: boolean): Promise<string[]>;
  /** Deletes every container, image and layer. */
  wipe(): Promise<void>;
  /** Releases file descriptors and locks held by this process. */
  close(): Promise<void>;

  // ---- upstream HEAD operations (optional: the CLI reports "not supported" without them) ----
  /** `GRAPH/DRIVER-images/ID/userdata` of an image, created if missing (`get-image-dir`). */
  imageDirectory?(ref: string): Promise<string>;
  /** `RUN/DRIVER-images/ID/userdata` of an image, created if missing (`get-image-run-dir`). */
  imageRunDirectory?(ref: string): Promise<string>;
  /** IDs of the layers the driver has on disk, with or without a record (`storage-layers`). */
  driverLayers?(): Promise<string[]>;
  /** Creates a layer in the driver only, without a record; returns its ID (`create-storage-layer`). */
  createDriverLayer?(options?: CreateLayerOptions): Promise<string>;
  /** Removes driver layers and image/container data directories no record references (`gc`). */
  garbageCollect?(): Promise<void>;
  /** Checks layers, images and containers (`check`); `maxAgeMs` spares younger unreferenced layers. */
  check?(options: CheckOptions): Promise<CheckReport>;
  /**
   * Removes what `check` found damaged; containers only with `removeContainers` (`check -r`,
   * `-f`). Returns the problems met while removing (empty when all went well).
   */
  repair?(report: CheckReport, options: { removeContainers: boolean }): Promise<string[]>;
  /** Deduplicates identical files across image layers (`dedup`); returns the bytes saved. */
  dedup?(options: { hashMethod: "crc" | "size" | "sha256" }): Promise<{ deduped: number }>;
}

/** Options of `Store.check`. */
export interface CheckOptions {
  /** Unreferenced layers younger than this are not reported. */
  maxAgeMs: number;
  /**
   * Skip comparing each mounted layer's files with what its diffs describe (digests, sizes,
   * mountability and everything else are still checked), as HEAD's CheckMost.
   */
  quick: boolean;
}

/** What `Store.check` found: per kind, item ID → problem descriptions. */
export interface CheckReport {
  /** Damaged layers of the read-write store. */
  layers: Map<string, string[]>;
  /** Damaged layers of read-only stores. */
  roLayers: Map<string, string[]>;
  /** Damaged images of the read-write store. */
  images: Map<string, string[]>;
  /** Damaged images of read-only stores. */
  roImages: Map<string, string[]>;
  /** Damaged containers. */
  containers: Map<string, string[]>;
}
