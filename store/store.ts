/**
 * The Store: one graph root and run root, a driver, and the layer, image and container
 * stores (plus read-only additional image stores). This is the only module that spans
 * kinds, so it is where locks are taken, always in the order of on-disk.md 3.6:
 * userns → storage → layers (rw, then read-only stores) → images (rw, then read-only)
 * → containers; mountpoints.lock is taken inside the layer store, innermost.
 *
 * @module
 */
import {
  DuplicateIDError,
  DuplicateNameError,
  ImageUnknownError,
  ImageUsedByContainerError,
  LayerHasChildrenError,
  LayerNotMountedError,
  LayerUnknownError,
  LayerUsedByContainerError,
  LayerUsedByImageError,
  NotAContainerError,
  NotALayerError,
  NotALayerImageOrContainerError,
  NotAnImageError,
  ParentIsContainerError,
  ReadOnlyError,
  StorageError,
  wrapError,
} from "./errors.ts";
import {
  type ByteSource,
  type Change,
  type CheckOptions,
  type CheckReport,
  Compression,
  type Container,
  type CreateContainerOptions,
  type CreateImageOptions,
  type CreateLayerOptions,
  type DeleteImageResult,
  type DiffOptions,
  type IDMap,
  type Image,
  type ItemKind,
  type Layer,
  type MountOptions,
  type Store,
  type StoreOptions,
} from "./types.ts";
import type { Driver, DriverMountOptions } from "../drivers/driver.ts";
import { LockFile } from "./lockfile.ts";
import { LayerStore } from "./layers.ts";
import { ImageStore } from "./images.ts";
import { ContainerStore } from "./containers.ts";
import { clone, type NameOperation, removeAll, validateId } from "./records.ts";
import { copyIDMap, mapsEqual, tryToContainer, validateIDMap } from "./idmap.ts";
import { validateDigest } from "./digest.ts";
import { openDriver, reinitDriver, splitDriverOptions } from "./open.ts";
import { VERSION } from "./version.ts";
import { goList } from "./quote.ts";
import { loadStoreOptions } from "./config.ts";
import type { CheckTarget } from "./check.ts";

type Mode = "r" | "w";

/** Which locks an operation needs. */
interface LockPlan {
  userns?: boolean;
  storage?: boolean;
  layers?: Mode;
  images?: Mode;
  containers?: Mode;
}

/** Refuses maps the kernel would refuse (overlapping ranges, IDs beyond 2^32-2). */
function validateMaps(o: { uidMap?: IDMap[]; gidMap?: IDMap[] }): void {
  if (o.uidMap) validateIDMap(o.uidMap, "uid");
  if (o.gidMap) validateIDMap(o.gidMap, "gid");
}

function isContiguous(maps: IDMap[]): boolean {
  for (let i = 1; i < maps.length; i++) {
    const p = maps[i - 1], m = maps[i];
    if (m.containerId !== p.containerId + p.size || m.hostId !== p.hostId + p.size) return false;
  }
  return true;
}

/** Everything `StoreImpl` is built from (see openStore). */
export interface StoreParts {
  /** Absolute graph root. */
  graphRoot: string;
  /** Absolute run root. */
  runRoot: string;
  /** The initialised driver. */
  driver: Driver;
  /** Driver options as given (`vfs.x=y`). */
  driverOptions: string[];
  /** Roots of additional read-only image stores. */
  imageStores: string[];
  /** Default UID map of new base layers. */
  uidMap: IDMap[];
  /** Default GID map of new base layers. */
  gidMap: IDMap[];
  /** Take read locks only and refuse changes. */
  readOnly: boolean;
  /** Ignore containers' Volatile flag when mounting. */
  disableVolatile: boolean;
  /** `storage.lock` token at driver initialisation. */
  graphToken: Uint8Array | null;
  /** The options the store was opened with (to initialise the driver again). */
  options: StoreOptions;
  /** Transient store: container records, volatile layers and containers.lock in the run root. */
  transientStore?: boolean;
  /** Absolute root of the split image store (images and read-only layers), if any. */
  imageStoreDir?: string | null;
}

/**
 * The Store implementation returned by openStore (methods are documented on the Store
 * interface in types.ts).
 */
export class StoreImpl implements Store {
  readonly graphRoot: string;
  readonly runRoot: string;
  readonly driverName: string;
  readonly driverOptions: readonly string[];
  private driver: Driver;
  private graphToken: Uint8Array | null;
  private readonly options: StoreOptions;
  private readonly layerStore: LayerStore;
  private readonly roLayerStores: LayerStore[];
  private readonly imageStore: ImageStore;
  private readonly roImageStores: ImageStore[];
  private readonly containerStore: ContainerStore;
  private readonly graphLock: LockFile;
  private readonly usernsLock: LockFile;
  private readonly uidMap: IDMap[];
  private readonly gidMap: IDMap[];
  private readonly readOnly: boolean;
  private readonly disableVolatile: boolean;
  private readonly transient: boolean;
  private closed = false;

  constructor(p: StoreParts) {
    this.graphRoot = p.graphRoot;
    this.runRoot = p.runRoot;
    this.driver = p.driver;
    this.graphToken = p.graphToken;
    this.options = p.options;
    this.driverName = p.driver.name;
    this.driverOptions = Object.freeze([...p.driverOptions]);
    this.uidMap = copyIDMap(p.uidMap);
    this.gidMap = copyIDMap(p.gidMap);
    this.readOnly = p.readOnly;
    this.disableVolatile = p.disableVolatile;
    this.transient = p.transientStore ?? false;
    const d = this.driverName;
    const split = p.imageStoreDir ?? null;
    this.graphLock = LockFile.get(`${p.graphRoot}/storage.lock`, { readOnly: p.readOnly });
    this.usernsLock = LockFile.get(`${p.graphRoot}/userns.lock`, { readOnly: p.readOnly });
    this.layerStore = new LayerStore(
      `${p.graphRoot}/${d}-layers`,
      `${p.runRoot}/${d}-layers`,
      p.driver,
      p.readOnly,
      { transient: this.transient, imageDir: split ? `${split}/${d}-layers` : undefined },
    );
    // A split store keeps images under its own root; the graph root's images are then
    // only read (HEAD: an additional read-write image store).
    this.imageStore = new ImageStore(`${split ?? p.graphRoot}/${d}-images`, p.readOnly);
    this.containerStore = new ContainerStore(
      `${p.graphRoot}/${d}-containers`,
      p.readOnly,
      this.transient ? `${p.runRoot}/${d}-containers` : null,
    );
    this.roLayerStores = p.imageStores.map((s) =>
      new LayerStore(`${s}/${d}-layers`, `${s}/${d}-layers`, p.driver, true)
    );
    this.roImageStores = [
      ...(split ? [new ImageStore(`${p.graphRoot}/${d}-images`, p.readOnly)] : []),
      ...p.imageStores.map((s) => new ImageStore(`${s}/${d}-images`, true)),
    ];
  }

  /**
   * First load of every store. Read locks suffice: a store that needs repair (incomplete
   * layers left by a crash, duplicate names) switches to the write lock to fix itself.
   */
  async load(): Promise<void> {
    await this.withLocks({ layers: "r" }, () => {});
    await this.withLocks({ images: "r" }, () => {});
    await this.withLocks({ containers: "r" }, () => {});
  }

  // ------------------------------------------------------------ locking

  private async withLocks<T>(plan: LockPlan, fn: () => T | Promise<T>): Promise<T> {
    if (this.closed) throw new StorageError("store is closed");
    const release: Array<() => void> = [];
    try {
      if (plan.userns) {
        await this.usernsLock.lock();
        release.push(() => this.usernsLock.unlock());
      }
      if (plan.storage) {
        if (this.readOnly) await this.graphLock.rLock();
        else await this.graphLock.lock();
        release.push(() => this.graphLock.unlock());
        await this.refreshDriver(true);
      } else if (plan.layers) {
        await this.refreshDriver(false);
      }
      if (plan.layers) {
        await this.start(this.layerStore, plan.layers);
        release.push(() => this.layerStore.stop());
        for (const s of this.roLayerStores) {
          await s.startReading();
          release.push(() => s.stop());
        }
      }
      if (plan.images) {
        await this.start(this.imageStore, plan.images);
        release.push(() => this.imageStore.stop());
        for (const s of this.roImageStores) {
          await s.startReading();
          release.push(() => s.stop());
        }
      }
      if (plan.containers) {
        await this.start(this.containerStore, plan.containers);
        release.push(() => this.containerStore.stop());
      }
      return await fn();
    } finally {
      for (const r of release.reverse()) r();
    }
  }

  /**
   * Re-initialises the driver when `storage.lock`'s token changed since it was set up
   * (a Shutdown here or in another process undid the driver's set-up, e.g. overlay's
   * home mount), as Go does before using the layer store.
   */
  private async refreshDriver(storageHeld: boolean): Promise<void> {
    if (this.readOnly) return;
    if (this.graphToken !== null && !this.graphLock.modifiedSince(this.graphToken)) return;
    if (!storageHeld) await this.graphLock.lock();
    try {
      if (this.graphToken !== null && !this.graphLock.modifiedSince(this.graphToken)) return;
      const driver = await reinitDriver(this.driverName, this.options, this.graphRoot, this.runRoot);
      this.driver = driver;
      for (const s of [this.layerStore, ...this.roLayerStores]) s.driver = driver;
      this.graphToken = this.graphLock.getLastWrite();
    } finally {
      if (!storageHeld) this.graphLock.unlock();
    }
  }

  private async start(s: { startReading(): Promise<void>; startWriting(): Promise<void> }, mode: Mode) {
    if (mode === "w") {
      if (this.readOnly) throw new ReadOnlyError();
      await s.startWriting();
    } else await s.startReading();
  }

  private writeAll<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.withLocks({ layers: "w", images: "w", containers: "w" }, fn);
  }

  // ------------------------------------------------------------ lookups (locks held)

  private findLayer(ref: string): { store: LayerStore; layer: Layer } | undefined {
    for (const store of [this.layerStore, ...this.roLayerStores]) {
      const layer = store.lookup(ref);
      if (layer) return { store, layer };
    }
    return undefined;
  }

  private findImage(ref: string): { store: ImageStore; image: Image } | undefined {
    for (const store of [this.imageStore, ...this.roImageStores]) {
      const image = store.lookup(ref);
      if (image) return { store, image };
    }
    return undefined;
  }

  private canUseShifting(uidMap: IDMap[], gidMap: IDMap[]): boolean {
    return this.driver.supportsShifting() && isContiguous(uidMap) && isContiguous(gidMap);
  }

  // ------------------------------------------------------------ layers

  async createLayer(options: CreateLayerOptions = {}): Promise<Layer> {
    try {
      return await this.createLayerLocked(options);
    } catch (e) {
      // Release a diff stream that was never read (refused before extraction began).
      const d = options.diff;
      if (d instanceof ReadableStream && !d.locked) await d.cancel().catch(() => {});
      throw e;
    }
  }

  private async createLayerLocked(options: CreateLayerOptions): Promise<Layer> {
    if (options.id !== undefined && options.id !== "") validateId(options.id);
    validateMaps(options);
    return await this.withLocks({ layers: "w", containers: "w" }, async () => {
      let parent: Layer | null = null;
      let uidMap = copyIDMap(options.hostUIDMapping ? [] : options.uidMap);
      let gidMap = copyIDMap(options.hostGIDMapping ? [] : options.gidMap);
      if (options.parent) {
        const found = this.findLayer(options.parent);
        if (!found) throw new LayerUnknownError();
        parent = found.layer;
        if (this.containerStore.byLayerId(parent.id)) throw new ParentIsContainerError();
        if (!options.hostUIDMapping && uidMap.length === 0) uidMap = copyIDMap(parent.uidMap);
        if (!options.hostGIDMapping && gidMap.length === 0) gidMap = copyIDMap(parent.gidMap);
      } else {
        if (!options.hostUIDMapping && uidMap.length === 0) uidMap = copyIDMap(this.uidMap);
        if (!options.hostGIDMapping && gidMap.length === 0) gidMap = copyIDMap(this.gidMap);
      }
      if (this.canUseShifting(uidMap, gidMap)) {
        uidMap = [];
        gidMap = [];
      }
      return await this.layerStore.create({
        id: options.id,
        parent,
        names: options.names,
        mountLabel: options.mountLabel,
        writeable: !options.readOnly,
        uidMap,
        gidMap,
        flags: options.flags,
        diff: options.diff,
      });
    });
  }

  async layers(): Promise<Layer[]> {
    return await this.withLocks({ layers: "r" }, async () => {
      await this.layerStore.refreshMounts();
      return [this.layerStore, ...this.roLayerStores].flatMap((s) => s.list());
    });
  }

  async layer(ref: string): Promise<Layer> {
    return await this.withLocks({ layers: "r" }, async () => {
      await this.layerStore.refreshMounts();
      const found = this.findLayer(ref);
      if (!found) throw new LayerUnknownError();
      return clone(found.layer);
    });
  }

  async layersByCompressedDigest(digest: string): Promise<Layer[]> {
    try {
      validateDigest(digest);
    } catch (e) {
      throw wrapError(e, `looking for compressed layers matching digest ${JSON.stringify(digest)}`);
    }
    return await this.withLocks(
      { layers: "r" },
      () => [this.layerStore, ...this.roLayerStores].flatMap((s) => s.listByCompressedDigest(digest)),
    );
  }

  async layersByUncompressedDigest(digest: string): Promise<Layer[]> {
    try {
      validateDigest(digest);
    } catch (e) {
      throw wrapError(e, `looking for layers matching digest ${JSON.stringify(digest)}`);
    }
    return await this.withLocks(
      { layers: "r" },
      () => [this.layerStore, ...this.roLayerStores].flatMap((s) => s.listByUncompressedDigest(digest)),
    );
  }

  async deleteLayer(ref: string): Promise<void> {
    await this.writeAll(async () => {
      const layer = this.layerStore.lookup(ref);
      if (!layer) throw new NotALayerError();
      // The checks use the resolved ID whatever form the argument took (Go compared the
      // argument as typed, so names and prefixes skipped them).
      const id = layer.id;
      const child = this.layerStore.index.list.find((l) => l.parent === id);
      if (child) throw new LayerHasChildrenError(`used by layer ${child.id}`);
      const images = this.imageStore.index.list;
      // The graph root's images of a split store (not read-only) may use our layers too.
      const img = [this.imageStore, ...this.roImageStores.filter((s) => !s.readOnly)]
        .flatMap((s) => s.index.list).find((i) => i.topLayer === id);
      if (img) throw new LayerUsedByImageError(`layer ${id} used by image ${img.id}`);
      const ctr = this.containerStore.byLayerId(id);
      if (ctr) throw new LayerUsedByContainerError(`layer ${id} used by container ${ctr.id}`);
      try {
        await this.layerStore.delete(id);
      } catch (e) {
        throw wrapError(e, `delete layer ${id}`);
      }
      for (const i of images.filter((i) => i.mappedTopLayers.includes(id))) {
        this.imageStore.removeMappedTopLayer(i.id, id);
      }
    });
  }

  async applyDiff(ref: string, diff: ByteSource): Promise<number> {
    return await this.withLocks({ layers: "w" }, async () => {
      if (!this.layerStore.lookup(ref)) throw new LayerUnknownError();
      return await this.layerStore.applyDiff(ref, diff);
    });
  }

  async diff(
    from: string | null,
    to: string,
    options: DiffOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const compression = diffCompression(options.compression);
    // The read lock stays held until the stream is consumed or cancelled: the tar-split
    // replay reads the layer's files, which must not change meanwhile.
    const release: Array<() => void> = [];
    let handedOff = false;
    try {
      if (this.closed) throw new StorageError("store is closed");
      await this.refreshDriver(false);
      await this.layerStore.startReading();
      release.push(() => this.layerStore.stop());
      for (const s of this.roLayerStores) {
        await s.startReading();
        release.push(() => s.stop());
      }
      const found = this.findLayer(to);
      if (!found) throw new LayerUnknownError();
      const stream = await found.store.diff(from, found.layer.id, compression);
      handedOff = true;
      return releaseWhenDone(stream, () => {
        for (const r of release.reverse()) r();
      });
    } finally {
      if (!handedOff) { for (const r of release.reverse()) r(); }
    }
  }

  async changes(from: string | null, to: string): Promise<Change[]> {
    return await this.withLocks({ layers: "r" }, async () => {
      const found = this.findLayer(to);
      if (!found) throw new LayerUnknownError();
      return await found.store.changes(from, found.layer.id);
    });
  }

  async diffSize(from: string | null, to: string): Promise<number> {
    return await this.withLocks({ layers: "r" }, async () => {
      const found = this.findLayer(to);
      if (!found) throw new LayerUnknownError();
      return await found.store.diffSize(from, found.layer.id);
    });
  }

  async listLayerBigData(ref: string): Promise<string[]> {
    return await this.withLocks({ layers: "r" }, () => {
      const found = this.findLayer(ref);
      if (!found) throw new LayerUnknownError();
      return [...found.layer.bigDataNames];
    });
  }

  async layerBigData(ref: string, key: string): Promise<Uint8Array> {
    return await this.withLocks({ layers: "r" }, async () => {
      const found = this.findLayer(ref);
      if (!found) throw new LayerUnknownError(`locating layer with ID ${JSON.stringify(ref)}`);
      return await found.store.bigData(found.layer.id, key);
    });
  }

  async setLayerBigData(ref: string, key: string, data: ByteSource): Promise<void> {
    await this.withLocks({ layers: "w" }, async () => {
      if (!this.layerStore.lookup(ref)) throw new LayerUnknownError();
      await this.layerStore.setBigData(ref, key, data);
    });
  }

  async layerParentOwners(ref: string): Promise<{ uids: number[]; gids: number[] }> {
    return await this.withLocks({ layers: "r" }, async () => {
      await this.layerStore.refreshMounts();
      const layer = this.layerStore.lookup(ref);
      if (!layer) throw new LayerUnknownError();
      return parentOwners(layer);
    });
  }

  // ------------------------------------------------------------ images

  async createImage(options: CreateImageOptions = {}): Promise<Image> {
    if (options.id !== undefined && options.id !== "") validateId(options.id);
    return await this.withLocks({ layers: "r", images: "w" }, async () => {
      let top = "";
      if (options.layer) {
        const found = this.findLayer(options.layer);
        if (!found) throw new LayerUnknownError();
        top = found.layer.id;
      }
      const img = this.imageStore.create({
        id: options.id,
        names: options.names,
        topLayer: top,
        digest: options.digest,
        metadata: options.metadata,
        created: options.created,
      });
      for (const item of options.bigData ?? []) {
        await this.imageStore.setBigData(img.id, item.key, item.data, item.digest);
      }
      return clone(this.imageStore.get(img.id));
    });
  }

  async images(): Promise<Image[]> {
    return await this.withLocks(
      { images: "r" },
      () => [this.imageStore, ...this.roImageStores].flatMap((s) => s.list()),
    );
  }

  async image(ref: string): Promise<Image> {
    return await this.withLocks({ images: "r" }, () => clone(this.imageOrThrow(ref).image));
  }

  private imageOrThrow(ref: string): { store: ImageStore; image: Image } {
    const found = this.findImage(ref);
    if (!found) throw new ImageUnknownError(`locating image with ID ${JSON.stringify(ref)}`);
    return found;
  }

  async imagesByDigest(digest: string): Promise<Image[]> {
    try {
      validateDigest(digest);
    } catch (e) {
      throw wrapError(e, `validating digest ${JSON.stringify(digest)}`);
    }
    return await this.withLocks(
      { images: "r" },
      () => [this.imageStore, ...this.roImageStores].flatMap((s) => s.listByDigest(digest)),
    );
  }

  async deleteImage(ref: string, commit = true): Promise<DeleteImageResult> {
    return await this.writeAll(() => this.deleteImageLocked(ref, commit));
  }

  /** `deleteImage` with every write lock held. */
  private async deleteImageLocked(ref: string, commit: boolean): Promise<DeleteImageResult> {
    {
      const image = this.imageStore.lookup(ref);
      if (!image) throw new NotAnImageError();
      const id = image.id;
      const user = this.containerStore.index.list.find((c) => c.imageId === id);
      if (user) throw new ImageUsedByContainerError(`image used by ${user.id}`);
      const layers = this.layerStore.index.list;
      const children = new Map<string, string[]>();
      for (const l of layers) {
        const list = children.get(l.parent);
        if (list) list.push(l.id);
        else children.set(l.parent, [l.id]);
      }
      const otherTops = new Set<string>();
      for (const i of this.imageStore.index.list) {
        if (i.id === id) continue;
        otherTops.add(i.topLayer);
        for (const m of i.mappedTopLayers) otherTops.add(m);
      }
      const toRemove: string[] = [...image.mappedTopLayers];
      const removing = new Set(toRemove);
      let cur = image.topLayer;
      while (cur !== "") {
        if (this.containerStore.lookup(cur)) break;
        if (otherTops.has(cur)) break;
        // Layers of read-only stores are not ours to remove (Go tried and failed).
        if (!this.layerStore.lookup(cur) && this.roLayerStores.some((r) => r.lookup(cur))) break;
        const l = this.layerStore.lookup(cur);
        const parent = l?.parent ?? "";
        const check = cur === image.topLayer ? [cur, ...image.mappedTopLayers] : [cur];
        const busy = check.some((x) => (children.get(x) ?? []).some((c) => !removing.has(c)));
        if (busy) break;
        toRemove.push(cur);
        removing.add(cur);
        cur = parent;
      }
      if (commit) {
        // As Go: the image goes first; a failing layer removal is reported afterwards.
        await this.imageStore.delete(id);
        for (const l of toRemove) await this.layerStore.delete(l);
      }
      return { deletedLayers: toRemove };
    }
  }

  async listImageBigData(ref: string): Promise<string[]> {
    return await this.withLocks({ images: "r" }, () => [...this.imageOrThrow(ref).image.bigDataNames]);
  }

  async imageBigData(ref: string, key: string): Promise<Uint8Array> {
    return await this.withLocks({ images: "r" }, async () => {
      const { store, image } = this.imageOrThrow(ref);
      return await store.bigData(image.id, key);
    });
  }

  async imageBigDataSize(ref: string, key: string): Promise<number> {
    return await this.withLocks({ images: "r" }, async () => {
      const { store, image } = this.imageOrThrow(ref);
      return await store.bigDataSize(image.id, key);
    });
  }

  async imageBigDataDigest(ref: string, key: string): Promise<string> {
    return await this.withLocks({ images: "r" }, () => {
      const { store, image } = this.imageOrThrow(ref);
      return store.bigDataDigest(image.id, key);
    });
  }

  async setImageBigData(ref: string, key: string, data: Uint8Array, digest?: string): Promise<void> {
    await this.withLocks({ images: "w" }, async () => {
      const image = this.imageStore.lookup(ref);
      if (!image) throw new ImageUnknownError(`locating image with ID ${JSON.stringify(ref)}`);
      await this.imageStore.setBigData(image.id, key, data, digest);
    });
  }

  async imageSize(ref: string): Promise<number> {
    return await this.withLocks({ layers: "r", images: "r" }, async () => {
      const { store, image } = this.imageOrThrow(ref);
      const queue = [image.topLayer, ...image.mappedTopLayers].filter((x) => x !== "");
      const visited = new Set<string>();
      let size = 0;
      while (queue.length > 0) {
        const id = queue.shift()!;
        if (visited.has(id)) continue;
        visited.add(id);
        const found = this.findLayer(id);
        if (!found) throw new LayerUnknownError(`locating layer with ID ${JSON.stringify(id)}`);
        const l = found.layer;
        let n = l.uncompressedSize;
        // The recorded size is only trusted when a digest goes with it.
        if (l.uncompressedDigest === "") {
          try {
            n = await found.store.diffSize(null, l.id);
          } catch (e) {
            throw wrapError(
              e,
              `size/digest of layer with ID ${JSON.stringify(l.id)} could not be calculated`,
            );
          }
        }
        size += n;
        if (l.parent !== "") queue.push(l.parent);
      }
      for (const key of image.bigDataNames) size += await store.bigDataSize(image.id, key);
      return size;
    });
  }

  // ------------------------------------------------------------ containers

  async createContainer(options: CreateContainerOptions): Promise<Container> {
    if (options.id !== undefined && options.id !== "") validateId(options.id);
    validateMaps(options);
    const hostUID = options.hostUIDMapping ?? false;
    const hostGID = options.hostGIDMapping ?? false;
    const reqUID = copyIDMap(hostUID ? [] : options.uidMap);
    const reqGID = copyIDMap(hostGID ? [] : options.gidMap);
    const plan: LockPlan = { layers: "w", images: "w", containers: "w" };
    if (reqUID.length || reqGID.length) plan.userns = true;
    return await this.withLocks(plan, async () => {
      const id = options.id || this.containerStore.newId();
      // Checked before any layer is made (Go made the layer, then removed it again).
      if (this.containerStore.idInUse(id)) throw new DuplicateIDError();
      for (const n of options.names ?? []) {
        const other = this.containerStore.index.byName.get(n);
        if (other) {
          throw new DuplicateNameError(
            `the container name ${JSON.stringify(n)} is already in use by ${other.id}. ` +
              `You have to remove that container to be able to reuse that name`,
          );
        }
      }
      let image: Image | null = null;
      let imageStore: ImageStore | null = null;
      if (options.image !== "") {
        const found = this.findImage(options.image);
        if (!found) throw new ImageUnknownError(`locating image with ID ${JSON.stringify(options.image)}`);
        image = found.image;
        imageStore = found.store;
      }
      let uidMap = reqUID, gidMap = reqGID;
      let parent: Layer | null = null;
      if (image) {
        if (image.topLayer !== "") {
          parent = await this.imageTopLayerForMapping(image, imageStore!, {
            hostUID,
            hostGID,
            uidMap,
            gidMap,
          });
        }
        if (parent) {
          if (!hostUID && uidMap.length === 0) uidMap = copyIDMap(parent.uidMap);
          if (!hostGID && gidMap.length === 0) gidMap = copyIDMap(parent.gidMap);
        }
      } else {
        if (!hostUID && uidMap.length === 0) uidMap = copyIDMap(this.uidMap);
        if (!hostGID && gidMap.length === 0) gidMap = copyIDMap(this.gidMap);
      }
      if (this.canUseShifting(uidMap, gidMap)) {
        uidMap = [];
        gidMap = [];
      }
      const flags: Record<string, unknown> = { ...(options.flags ?? {}) };
      const mountLabel = options.mountLabel ?? (typeof flags.MountLabel === "string" ? flags.MountLabel : "");
      if (!("MountLabel" in flags)) flags.MountLabel = mountLabel;
      if (!("ProcessLabel" in flags)) flags.ProcessLabel = "";
      // A transient store makes every container volatile (HEAD): records in the run root.
      const volatile = (options.volatile ?? false) || this.transient;
      const layer = await this.layerStore.create({
        parent,
        mountLabel,
        writeable: true,
        uidMap,
        gidMap,
        volatile,
      });
      try {
        return this.containerStore.create({
          id,
          names: options.names,
          imageId: image?.id ?? "",
          layerId: layer.id,
          metadata: options.metadata,
          flags,
          uidMap: reqUID,
          gidMap: reqGID,
          volatile,
        });
      } catch (e) {
        await this.layerStore.delete(layer.id).catch(() => {});
        throw e;
      }
    });
  }

  /**
   * The layer a container of `image` goes on (Go's imageTopLayerForMapping): the top
   * layer or a mapped copy whose maps fit; failing that, a new mapped copy when the
   * image is writable and the driver cannot shift, else the top layer itself.
   */
  private async imageTopLayerForMapping(
    image: Image,
    store: ImageStore,
    want: { hostUID: boolean; hostGID: boolean; uidMap: IDMap[]; gidMap: IDMap[] },
  ): Promise<Layer> {
    const matches = (l: Layer) => {
      if (this.canUseShifting(want.uidMap, want.gidMap) && l.uidMap.length === 0 && l.gidMap.length === 0) {
        return true;
      }
      if (want.hostUID && l.uidMap.length !== 0) return false;
      if (want.hostGID && l.gidMap.length !== 0) return false;
      if (want.uidMap.length === 0 && want.gidMap.length === 0) return true;
      return mapsEqual(l.uidMap, want.uidMap) && mapsEqual(l.gidMap, want.gidMap);
    };
    let first: { layer: Layer; parent: Layer | null } | null = null;
    let createMapped = store === this.imageStore;
    for (const ls of [this.layerStore, ...this.roLayerStores]) {
      for (const candidate of [image.topLayer, ...image.mappedTopLayers]) {
        const l = ls.lookup(candidate);
        if (!l) continue;
        let parent: Layer | null = null;
        if (l.parent !== "") {
          parent = this.findLayer(l.parent)?.layer ?? null;
          if (!parent) continue;
        }
        if (matches(l)) return l;
        if (!first) {
          first = { layer: l, parent };
          if (ls !== this.layerStore) createMapped = false;
        }
      }
    }
    if (!first) throw new LayerUnknownError();
    if (!createMapped) return first.layer;
    let uidMap = want.uidMap, gidMap = want.gidMap;
    if (this.canUseShifting(uidMap, gidMap)) uidMap = gidMap = [];
    let mapped: Layer;
    try {
      mapped = await this.layerStore.create({
        parent: first.parent,
        template: first.layer,
        mountLabel: first.layer.mountLabel,
        uidMap,
        gidMap,
      });
    } catch (e) {
      throw wrapError(e, `creating an ID-mapped copy of layer ${JSON.stringify(first.layer.id)}`);
    }
    try {
      this.imageStore.addMappedTopLayer(image.id, mapped.id);
    } catch (e) {
      await this.layerStore.delete(mapped.id).catch(() => {});
      throw wrapError(e, `registering ID-mapped layer with image ${JSON.stringify(image.id)}`);
    }
    return this.layerStore.get(mapped.id);
  }

  async containers(): Promise<Container[]> {
    return await this.withLocks({ containers: "r" }, () => this.containerStore.list());
  }

  async container(ref: string): Promise<Container> {
    return await this.withLocks({ containers: "r" }, () => clone(this.containerStore.get(ref)));
  }

  private containerDirs(id: string): { graph: string; run: string } {
    const mid = `${this.driverName}-containers`;
    return { graph: `${this.graphRoot}/${mid}/${id}`, run: `${this.runRoot}/${mid}/${id}` };
  }

  async deleteContainer(ref: string): Promise<void> {
    await this.writeAll(async () => {
      const c = this.containerStore.lookup(ref);
      if (!c) throw new NotAContainerError();
      // The layer goes first: if that fails, the record still points at it.
      if (this.layerStore.lookup(c.layerId)) await this.layerStore.delete(c.layerId);
      await this.containerStore.delete(c.id);
      const dirs = this.containerDirs(c.id);
      await removeAll(dirs.graph);
      await removeAll(dirs.run);
    });
  }

  async listContainerBigData(ref: string): Promise<string[]> {
    return await this.withLocks({ containers: "r" }, () => this.containerStore.bigDataNames(ref));
  }

  async containerBigData(ref: string, key: string): Promise<Uint8Array> {
    return await this.withLocks({ containers: "r" }, () => this.containerStore.bigData(ref, key));
  }

  async containerBigDataSize(ref: string, key: string): Promise<number> {
    return await this.withLocks({ containers: "r" }, () => this.containerStore.bigDataSize(ref, key));
  }

  async containerBigDataDigest(ref: string, key: string): Promise<string> {
    return await this.withLocks({ containers: "r" }, () => this.containerStore.bigDataDigest(ref, key));
  }

  async setContainerBigData(ref: string, key: string, data: Uint8Array): Promise<void> {
    await this.withLocks({ containers: "w" }, () => this.containerStore.setBigData(ref, key, data));
  }

  async containerDirectory(ref: string): Promise<string> {
    const id = await this.withLocks({ containers: "r" }, () => this.containerStore.get(ref).id);
    const dir = `${this.containerDirs(id).graph}/userdata`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async containerRunDirectory(ref: string): Promise<string> {
    const id = await this.withLocks({ containers: "r" }, () => this.containerStore.get(ref).id);
    const dir = `${this.containerDirs(id).run}/userdata`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async containerSize(ref: string): Promise<number> {
    // Like Go: the directories are made (side effect) before the size is computed.
    const cdir = await this.containerDirectory(ref);
    const rdir = await this.containerRunDirectory(ref);
    return await this.withLocks({ layers: "r", containers: "r" }, async () => {
      const c = this.containerStore.get(ref);
      const found = this.findLayer(c.layerId);
      if (!found) throw new LayerUnknownError(`locating layer with ID ${JSON.stringify(c.layerId)}`);
      let size: number;
      try {
        size = await found.store.diffSize(null, found.layer.id);
      } catch (e) {
        throw wrapError(e, `determining size of layer with ID ${JSON.stringify(found.layer.id)}`);
      }
      for (const key of c.bigDataNames) size += this.containerStore.bigDataSize(c.id, key);
      size += await directorySize(cdir);
      size += await directorySize(rdir);
      return size;
    });
  }

  async containerParentOwners(ref: string): Promise<{ uids: number[]; gids: number[] }> {
    return await this.withLocks({ layers: "r", containers: "r" }, async () => {
      const c = this.containerStore.get(ref);
      await this.layerStore.refreshMounts();
      const layer = this.layerStore.lookup(c.layerId);
      if (!layer) throw new LayerUnknownError();
      return parentOwners(layer);
    });
  }

  // ------------------------------------------------------------ any kind

  async exists(ref: string): Promise<ItemKind | null> {
    if (await this.withLocks({ layers: "r" }, () => this.findLayer(ref) !== undefined)) return "layer";
    if (await this.withLocks({ images: "r" }, () => this.findImage(ref) !== undefined)) return "image";
    if (await this.withLocks({ containers: "r" }, () => this.containerStore.lookup(ref) !== undefined)) {
      return "container";
    }
    return null;
  }

  async names(ref: string): Promise<string[]> {
    const l = await this.withLocks({ layers: "r" }, () => this.findLayer(ref)?.layer.names);
    if (l) return [...l];
    const i = await this.withLocks({ images: "r" }, () => this.findImage(ref)?.image.names);
    if (i) return [...i];
    const c = await this.withLocks({ containers: "r" }, () => this.containerStore.lookup(ref)?.names);
    if (c) return [...c];
    throw new LayerUnknownError();
  }

  addNames(ref: string, names: string[]): Promise<string[]> {
    return this.updateNames(ref, names, "add");
  }

  setNames(ref: string, names: string[]): Promise<string[]> {
    return this.updateNames(ref, names, "set");
  }

  removeNames(ref: string, names: string[]): Promise<string[]> {
    return this.updateNames(ref, names, "remove");
  }

  private async updateNames(ref: string, names: string[], op: NameOperation): Promise<string[]> {
    const l = await this.withLocks({ layers: "w" }, async () => {
      if (!this.layerStore.lookup(ref)) return null;
      return await this.layerStore.updateNames(ref, names, op);
    });
    if (l) return l;
    const i = await this.withLocks({ images: "w" }, () => {
      if (this.imageStore.lookup(ref)) return this.imageStore.updateNames(ref, names, op);
      for (const ro of this.roImageStores) {
        const img = ro.lookup(ref);
        if (!img) continue;
        // A read-only image gets a writable copy of its record carrying the new names (as Go).
        let given = [...new Set(names)];
        if (given.length > 1) given = given.slice(1);
        const copy = this.imageStore.create({
          id: img.id,
          names: given,
          topLayer: img.topLayer,
          metadata: img.metadata,
          created: img.created,
          flags: img.flags,
          namesHistory: img.namesHistory,
        });
        return copy.names;
      }
      return null;
    });
    if (i) return i;
    const c = await this.withLocks({ containers: "w" }, () => {
      if (!this.containerStore.lookup(ref)) return null;
      return this.containerStore.updateNames(ref, names, op);
    });
    if (c) return c;
    throw new LayerUnknownError();
  }

  async metadata(ref: string): Promise<string> {
    const l = await this.withLocks({ layers: "r" }, () => this.findLayer(ref)?.layer.metadata);
    if (l !== undefined) return l;
    const i = await this.withLocks({ images: "r" }, () => this.findImage(ref)?.image.metadata);
    if (i !== undefined) return i;
    const c = await this.withLocks({ containers: "r" }, () => this.containerStore.lookup(ref)?.metadata);
    if (c !== undefined) return c;
    throw new NotALayerImageOrContainerError();
  }

  async setMetadata(ref: string, metadata: string): Promise<void> {
    await this.writeAll(async () => {
      if (this.layerStore.lookup(ref)) return await this.layerStore.setMetadata(ref, metadata);
      if (this.imageStore.lookup(ref)) return this.imageStore.setMetadata(ref, metadata);
      if (this.containerStore.lookup(ref)) return this.containerStore.setMetadata(ref, metadata);
      throw new NotALayerImageOrContainerError();
    });
  }

  async delete(ref: string): Promise<void> {
    await this.writeAll(async () => {
      const c = this.containerStore.lookup(ref);
      if (c) {
        if (!this.layerStore.lookup(c.layerId)) throw new NotALayerError();
        await this.layerStore.delete(c.layerId);
        await this.containerStore.delete(c.id);
        const dirs = this.containerDirs(c.id);
        await removeAll(dirs.graph);
        await removeAll(`${dirs.run}/userdata`);
        return;
      }
      if (this.imageStore.lookup(ref)) return await this.imageStore.delete(ref);
      if (this.layerStore.lookup(ref)) return await this.layerStore.delete(ref);
      throw new LayerUnknownError();
    });
  }

  // ------------------------------------------------------------ mounting

  async mount(ref: string, options: MountOptions = {}): Promise<string> {
    const opts: DriverMountOptions = { mountLabel: options.mountLabel, options: options.options };
    if (options.uidMap) opts.uidMap = options.uidMap;
    if (options.gidMap) opts.gidMap = options.gidMap;
    let id = ref;
    const c = await this.withLocks({ containers: "r" }, () => this.containerStore.lookup(ref));
    if (c) {
      id = c.layerId;
      if (c.uidMap.length) opts.uidMap = c.uidMap;
      if (c.gidMap.length) opts.gidMap = c.gidMap;
      const mo = c.flags.MountOpts;
      if (Array.isArray(mo) && mo.every((x) => typeof x === "string")) {
        opts.options = [...(opts.options ?? []), ...(mo as string[])];
      }
      if (!this.disableVolatile && c.flags.Volatile === true) opts.volatile = true;
    }
    return await this.mountLayer(id, opts);
  }

  private async mountLayer(ref: string, opts: DriverMountOptions): Promise<string> {
    return await this.withLocks({ storage: true, layers: "w" }, async () => {
      if (!this.layerStore.lookup(ref)) {
        // Mount counts live with the writable store only (as HEAD).
        if (this.roLayerStores.some((s) => s.lookup(ref))) {
          throw new ReadOnlyError("mounting read/only store images is not allowed");
        }
        throw new LayerUnknownError();
      }
      return await this.layerStore.mount(ref, opts);
    });
  }

  async mountImage(ref: string, options: string[] = [], mountLabel?: string): Promise<string> {
    const image = await this.image(ref);
    return await this.mountLayer(image.topLayer, { mountLabel, options: [...options, "ro"] });
  }

  async unmount(ref: string, force = false): Promise<boolean> {
    const c = await this.withLocks({ containers: "r" }, () => this.containerStore.lookup(ref));
    const id = c ? c.layerId : ref;
    return await this.withLocks({ layers: "w" }, () => this.layerStore.unmount(id, force));
  }

  async unmountImage(ref: string, force = false): Promise<boolean> {
    const image = await this.image(ref);
    return await this.unmount(image.topLayer, force);
  }

  async mounted(ref: string): Promise<number> {
    const c = await this.withLocks({ containers: "r" }, () => this.containerStore.lookup(ref));
    const id = c ? c.layerId : ref;
    return await this.withLocks({ layers: "r" }, () => this.layerStore.mounted(id));
  }

  // ------------------------------------------------------------ maintenance

  async status(): Promise<Array<[string, string]>> {
    const lines: Array<[string, string]> = [
      ["Root", this.graphRoot],
      ["Run Root", this.runRoot],
      ["Driver Name", this.driverName],
      ["Driver Options", goList(this.driverOptions)],
    ];
    return [...lines, ...await this.driver.status()];
  }

  version(): Promise<Array<[string, string]>> {
    return Promise.resolve([["Version", VERSION]]);
  }

  async shutdown(force = false): Promise<string[]> {
    return await this.withLocks({ storage: true, layers: "w" }, async () => {
      await this.layerStore.refreshMounts();
      const mounted = this.layerStore.index.list.filter((l) => l.mountCount > 0).map((l) => l.id);
      if (mounted.length > 0 && !force) throw new LayerUsedByContainerError("a layer is mounted");
      for (const id of mounted) await this.layerStore.unmount(id, true);
      await this.driver.cleanup();
      // Tells other processes (Go included), and this store's next use of the layers,
      // that the driver must be initialised again.
      this.graphLock.recordWrite();
      this.graphToken = null;
      return mounted;
    });
  }

  async wipe(): Promise<void> {
    await this.writeAll(async () => {
      await this.containerStore.wipe();
      await this.imageStore.wipe();
      await this.layerStore.wipe();
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  // ------------------------------------------------------------ upstream HEAD operations

  async imageDirectory(ref: string): Promise<string> {
    return await this.imageDir(ref, this.graphRoot);
  }

  async imageRunDirectory(ref: string): Promise<string> {
    return await this.imageDir(ref, this.runRoot);
  }

  /** `ROOT/DRIVER-images/ID/userdata` of a resolved image (HEAD used the argument verbatim). */
  private async imageDir(ref: string, root: string): Promise<string> {
    const id = await this.withLocks({ images: "r" }, () => this.imageOrThrow(ref).image.id);
    const dir = `${root}/${this.driverName}-images/${id}/userdata`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async driverLayers(): Promise<string[]> {
    return await this.withLocks({ layers: "r" }, () => this.driver.listLayers());
  }

  async createDriverLayer(options: CreateLayerOptions = {}): Promise<string> {
    if (options.id) validateId(options.id);
    validateMaps(options);
    return await this.withLocks({ layers: "w" }, async () => {
      let parent: Layer | null = null;
      if (options.parent) {
        parent = this.findLayer(options.parent)?.layer ?? null;
        if (!parent) throw new LayerUnknownError();
      }
      const onDisk = new Set(await this.driver.listLayers());
      const id = options.id || this.layerStore.newId();
      if (this.layerStore.index.byId.has(id) || onDisk.has(id)) throw new DuplicateIDError();
      let uidMap = copyIDMap(options.hostUIDMapping ? [] : options.uidMap);
      let gidMap = copyIDMap(options.hostGIDMapping ? [] : options.gidMap);
      if (!options.hostUIDMapping && uidMap.length === 0) {
        uidMap = copyIDMap(parent ? parent.uidMap : this.uidMap);
      }
      if (!options.hostGIDMapping && gidMap.length === 0) {
        gidMap = copyIDMap(parent ? parent.gidMap : this.gidMap);
      }
      if (this.canUseShifting(uidMap, gidMap)) uidMap = gidMap = [];
      const opts = { mountLabel: options.mountLabel ?? "", uidMap, gidMap };
      if (options.readOnly) await this.driver.create(id, parent?.id ?? null, opts);
      else await this.driver.createReadWrite(id, parent?.id ?? null, opts);
      return id;
    });
  }

  async garbageCollect(): Promise<void> {
    await this.writeAll(async () => {
      const errors: string[] = [];
      for (const id of await this.driver.listLayers()) {
        if (this.layerStore.index.byId.has(id)) continue;
        try {
          await this.driver.remove(id);
          await Deno.remove(this.layerStore.tarSplitPath(id)).catch(() => {});
          await removeAll(this.layerStore.dataDir(id));
        } catch (e) {
          errors.push(e instanceof Error ? e.message : String(e));
        }
      }
      // Data directories named like generated IDs that no record owns.
      const sweep = async (dir: string, known: (id: string) => boolean) => {
        for await (const e of Deno.readDir(dir)) {
          if (!e.isDirectory || !/^[0-9a-f]{64}$/.test(e.name) || known(e.name)) continue;
          await removeAll(`${dir}/${e.name}`).catch((err) => errors.push(String(err)));
        }
      };
      await sweep(this.imageStore.dir, (id) => this.imageStore.index.byId.has(id));
      await sweep(this.containerStore.dir, (id) => this.containerStore.index.byId.has(id));
      if (errors.length > 0) throw new StorageError(errors.join("; "));
    });
  }

  async check(options: CheckOptions): Promise<CheckReport> {
    const { checkStore } = await import("./check.ts");
    // Checking only reads (layers are mounted read-only); writers wait until it is done.
    return await this.withLocks({ layers: "r", images: "r", containers: "r" }, async () => {
      await this.layerStore.refreshMounts();
      return await checkStore(this.checkTarget(), options);
    });
  }

  async repair(report: CheckReport, options: { removeContainers: boolean }): Promise<string[]> {
    const { repairStore } = await import("./check.ts");
    return await this.writeAll(() =>
      repairStore(this.checkTarget(), report, options, {
        deleteContainer: async (id) => {
          const c = this.containerStore.get(id);
          if (this.layerStore.index.byId.has(c.layerId)) await this.layerStore.delete(c.layerId);
          await this.containerStore.delete(c.id);
          const dirs = this.containerDirs(c.id);
          await removeAll(dirs.graph);
          await removeAll(dirs.run);
        },
        deleteImage: async (id) => {
          try {
            await this.deleteImageLocked(id, true);
          } catch (e) {
            // A layer that is already gone is what was being repaired (Go ignores it too).
            if (!(e instanceof LayerUnknownError)) throw e;
          }
        },
        deleteLayer: async (id) => {
          await this.layerStore.delete(id);
          for (const i of this.imageStore.index.list.filter((i) => i.mappedTopLayers.includes(id))) {
            this.imageStore.removeMappedTopLayer(i.id, id);
          }
        },
        removeDriverLayer: async (id) => {
          await this.driver.remove(id);
          await Deno.remove(this.layerStore.tarSplitPath(id)).catch(() => {});
          await removeAll(this.layerStore.dataDir(id));
        },
      })
    );
  }

  private checkTarget(): CheckTarget {
    const opts = this.driverOptions;
    return {
      layers: this.layerStore,
      roLayers: this.roLayerStores,
      images: this.imageStore,
      roImages: this.roImageStores,
      containers: this.containerStore,
      mount: !this.readOnly,
      ignore: {
        ownership: opts.some((o) => /ignore_chown_errors=true/i.test(o)),
        permissions: opts.some((o) => /(^|\.)force_mask=/.test(o)),
      },
    };
  }

  async dedup(options: { hashMethod: "crc" | "size" | "sha256" }): Promise<{ deduped: number }> {
    const { dedupDirs, layerDataDirs } = await import("../drivers/dedup.ts");
    const images = await this.images();
    return await this.withLocks({ layers: "w" }, () => {
      // The layers of every image (top, mapped tops and their ancestors) in the writable store.
      const ids = new Set<string>();
      for (const i of images) {
        for (let cur of [i.topLayer, ...i.mappedTopLayers]) {
          while (cur !== "" && !ids.has(cur)) {
            const l = this.layerStore.index.byId.get(cur);
            if (!l) break;
            ids.add(cur);
            cur = l.parent;
          }
        }
      }
      return dedupDirs(layerDataDirs(this.driver, [...ids]), options);
    });
  }
}

function diffCompression(c: DiffOptions["compression"]): Compression | undefined {
  switch (c) {
    case undefined:
    case "default":
      return undefined;
    case "none":
      return Compression.None;
    case "gzip":
      return Compression.Gzip;
    case "bzip2":
      return Compression.Bzip2;
    case "xz":
      return Compression.Xz;
    case "zstd":
      return Compression.Zstd;
  }
}

/** Wraps a stream so that `done` runs once when it ends, fails or is cancelled. */
function releaseWhenDone(s: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = s.getReader();
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      done();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const r = await reader.read();
        if (r.done) {
          release();
          c.close();
        } else c.enqueue(r.value);
      } catch (e) {
        release();
        throw e;
      }
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason);
      } finally {
        release();
      }
    },
  }, { highWaterMark: 0 });
}

/**
 * Host IDs owning the directories above a mounted layer's mount point that its maps
 * cannot represent (Go's ParentOwners).
 */
async function parentOwners(layer: Layer): Promise<{ uids: number[]; gids: number[] }> {
  if (layer.uidMap.length === 0 && layer.gidMap.length === 0) return { uids: [], gids: [] };
  if (layer.mountPoint === "" || layer.mountCount <= 0) throw new LayerNotMountedError();
  const uids = new Set<number>(), gids = new Set<number>();
  let dir = layer.mountPoint;
  for (;;) {
    dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
    if (dir === "/") break;
    for (const st of [await Deno.stat(dir), await Deno.lstat(dir)]) {
      if (st.uid !== null && layer.uidMap.length && tryToContainer(layer.uidMap, st.uid) < 0) {
        uids.add(st.uid);
      }
      if (st.gid !== null && layer.gidMap.length && tryToContainer(layer.gidMap, st.gid) < 0) {
        gids.add(st.gid);
      }
    }
  }
  return { uids: [...uids].sort((a, b) => a - b), gids: [...gids].sort((a, b) => a - b) };
}

/** Sum of the sizes of the non-directories under `root`, hard links counted once. */
async function directorySize(root: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const p = `${dir}/${e.name}`;
      const st = await Deno.lstat(p);
      if (st.isDirectory) {
        await walk(p);
        continue;
      }
      if (st.nlink !== null && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  };
  await walk(root);
  return total;
}

/**
 * Opens (creating if needed) the store described by `options`: roots made absolute and
 * created 0700, the driver selected (named, or auto-detected as Go does) and initialised
 * under `storage.lock`, and the three stores loaded (repairing what a crashed writer
 * left behind, unless read-only).
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  // Go's GetStore: options naming no root, no driver and no driver option are replaced by
  // the defaults of storage.conf (fields such as readOnly still apply).
  if (!options.graphRoot && !options.runRoot && !options.driverName && !options.driverOptions?.length) {
    options = { ...(await loadStoreOptions()).options, ...definedFields(options) };
  }
  validateMaps(options);
  const opened = await openDriver(options);
  const store = new StoreImpl({
    graphRoot: opened.graphRoot,
    runRoot: opened.runRoot,
    driver: opened.driver,
    driverOptions: options.driverOptions ?? [],
    imageStores: splitDriverOptions(opened.driver.name, options.driverOptions ?? []).imageStores,
    uidMap: options.uidMap ?? [],
    gidMap: options.gidMap ?? [],
    readOnly: options.readOnly ?? false,
    disableVolatile: options.disableVolatile ?? false,
    graphToken: opened.graphToken,
    options: { ...options, imageStore: opened.imageStore ?? undefined },
    transientStore: options.transientStore ?? false,
    imageStoreDir: opened.imageStore,
  });
  await store.load();
  return store;
}

/** The fields of `o` that are set (not undefined, not empty). */
function definedFields(o: StoreOptions): StoreOptions {
  const set = (v: unknown) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0);
  return Object.fromEntries(Object.entries(o).filter(([, v]) => set(v))) as StoreOptions;
}
