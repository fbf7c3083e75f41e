/**
 * Consistency check and repair of a store (upstream HEAD's Store.Check / Store.Repair,
 * reconstructed from its documented behaviour; the texts are its error sentinels).
 *
 * Layers: big data present, diff re-read and compared with `diff-digest`/`diff-size`,
 * parent present, driver data present, mountable, mounted contents equal to what the
 * diffs of the layer and its ancestors describe (skipped by `quick`), and (read-write
 * store only) not unreferenced for longer than `maxAgeMs`. Driver layers without a record
 * are reported as unaccounted. Images: big data present with the recorded size, every
 * layer of the top and mapped top layers present; an image inherits the problems of its
 * layers. Containers: image present, big data present with the recorded size, layers
 * present; a container inherits the problems of its layers. Read-only stores are only
 * read: their problems are reported apart and never repaired.
 *
 * @module
 */
import type { CheckOptions, CheckReport, Container, Image, Layer } from "./types.ts";
import type { LayerStore } from "./layers.ts";
import type { ImageStore } from "./images.ts";
import type { ContainerStore } from "./containers.ts";
import { bigDataFileName, parseTimestampNs } from "./records.ts";
import { Compression } from "./types.ts";
import { DigestCounter, isValidDigest } from "./digest.ts";
import { TarParser } from "../archive/tar_reader.ts";
import {
  actualTree,
  type CompareIgnore,
  compareTrees,
  expectedTree,
  type HeaderInfo,
  headerInfo,
} from "./check_tree.ts";

/** The stores a check looks at, and what it may do to them. */
export interface CheckTarget {
  /** The read-write layer store. */
  layers: LayerStore;
  /** Read-only layer stores. */
  roLayers: LayerStore[];
  /** The read-write image store. */
  images: ImageStore;
  /** Read-only image stores. */
  roImages: ImageStore[];
  /** The container store. */
  containers: ContainerStore;
  /** Whether layers may be mounted to check them (false when the store is opened read-only). */
  mount?: boolean;
  /** Attributes that legitimately differ from the diffs (driver options). */
  ignore?: CompareIgnore;
}

// Upstream's sentinel texts (types/errors.go).
/** A driver layer that no layer record knows. */
export const LAYER_UNACCOUNTED = "layer in lower level storage driver not accounted for";
/** An old layer that no image or container uses. */
export const LAYER_UNREFERENCED = "layer not referenced by any images or containers";
/** Re-reading the diff gave another digest. */
export const LAYER_DIGEST = "layer content incorrect digest";
/** Re-reading the diff gave another size. */
export const LAYER_SIZE = "layer content incorrect size";
/** The mounted layer differs from its diffs. */
export const LAYER_MODIFIED = "layer content has been modified";
/** A layer big-data file is gone. */
export const LAYER_DATA_MISSING = "layer data item is missing";
/** A layer (record or driver data) is gone. */
export const LAYER_MISSING = "layer is missing";
/** An image's layer is gone. */
export const IMAGE_LAYER_MISSING = "image layer is missing";
/** An image big-data file is gone. */
export const IMAGE_DATA_MISSING = "image data item is missing";
/** An image big-data file has another size than recorded. */
export const IMAGE_DATA_SIZE = "image data item has incorrect size";
/** A container's image is gone. */
export const CONTAINER_IMAGE_MISSING = "image missing";
/** A container big-data file is gone. */
export const CONTAINER_DATA_MISSING = "container data item is missing";
/** A container big-data file has another size than recorded. */
export const CONTAINER_DATA_SIZE = "container data item has incorrect size";

function add(m: Map<string, string[]>, id: string, ...problems: string[]): void {
  if (problems.length === 0) return;
  const l = m.get(id);
  if (l) l.push(...problems);
  else m.set(id, [...problems]);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Size of a big-data file, `"missing"`, or the read error's text. */
async function bigDataState(
  dir: string,
  key: string,
  kind: "layer" | "image" | "container",
): Promise<number | "missing" | { error: string }> {
  let path: string;
  try {
    path = `${dir}/${bigDataFileName(key, kind)}`;
  } catch (e) {
    return { error: message(e) };
  }
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) return { error: `${path}: not a regular file` };
    return st.size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "missing";
    return { error: message(e) };
  }
}

interface SeenLayer {
  store: LayerStore;
  layer: Layer;
  readWrite: boolean;
}

/** Runs the checks. Nothing is changed; layers may be mounted and unmounted again. */
export async function checkStore(t: CheckTarget, options: CheckOptions): Promise<CheckReport> {
  const report: CheckReport = {
    layers: new Map(),
    roLayers: new Map(),
    images: new Map(),
    roImages: new Map(),
    containers: new Map(),
  };
  // Layers by ID, the first store having one winning (the read-write store is searched first).
  const seen = new Map<string, SeenLayer>();
  const headers = new Map<string, HeaderInfo[]>();

  for (const store of [t.layers, ...t.roLayers]) {
    const readWrite = store === t.layers;
    const out = readWrite ? report.layers : report.roLayers;
    const desc = readWrite ? "" : "read-only ";
    for (const l of store.index.list) {
      if (seen.has(l.id)) continue;
      seen.set(l.id, { store, layer: l, readWrite });
    }
    for (const l of store.index.list) {
      if (seen.get(l.id)?.store !== store) continue;
      const id = l.id;
      if (
        l.parent && !t.layers.index.byId.has(l.parent) && !t.roLayers.some((s) => s.index.byId.has(l.parent))
      ) {
        add(out, id, `${desc}layer ${id}: parent layer ${l.parent}: ${LAYER_MISSING}`);
      }
      if (readWrite && !(await store.driver.exists(id))) {
        add(out, id, `${desc}layer ${id}: ${LAYER_MISSING}`);
        continue;
      }
      for (const key of l.bigDataNames) {
        const state = await bigDataState(store.dataDir(id), key, "layer");
        if (state === "missing") {
          add(out, id, `${desc}layer ${id}: data item ${JSON.stringify(key)}: ${LAYER_DATA_MISSING}`);
        } else if (typeof state === "object") {
          add(out, id, `${desc}layer ${id}: data item ${JSON.stringify(key)}: ${state.error}`);
        }
      }
      if (l.uncompressedDigest !== "") {
        const result = await checkDigest(store, l, desc);
        if (typeof result === "string") add(out, id, result);
        else headers.set(id, result);
      }
    }
  }

  // Mounting and walking the contents is only sure to work (and only allowed) in the
  // read-write store.
  if (t.mount !== false) {
    for (const l of t.layers.index.list) {
      if (
        seen.get(l.id)?.store !== t.layers || report.layers.get(l.id)?.some((p) => p.endsWith(LAYER_MISSING))
      ) {
        continue;
      }
      // A layer mounted right now is evidently mountable; its mount is left alone.
      if (l.mountCount > 0) continue;
      add(report.layers, l.id, ...await checkMounted(t, l, headers, seen, !options.quick));
    }
  }

  // Layers reached from images or containers.
  const referenced = new Set<string>();
  const seenImages = new Set<string>();
  for (const store of [t.images, ...t.roImages]) {
    const readWrite = store === t.images;
    for (const img of store.index.list) {
      if (seenImages.has(img.id)) continue;
      seenImages.add(img.id);
      await checkImage(
        img,
        store,
        readWrite ? report.images : report.roImages,
        readWrite ? "" : "read-only ",
      );
      const out = readWrite ? report.images : report.roImages;
      const desc = readWrite ? "" : "read-only ";
      const done = new Set<string>();
      for (const top of [img.topLayer, ...img.mappedTopLayers]) {
        if (top === "" || done.has(top)) continue;
        done.add(top);
        for (let cur = top; cur !== "";) {
          const s = seen.get(cur);
          if (!s) {
            add(out, img.id, `${desc}image ${img.id}: layer ${cur}: ${IMAGE_LAYER_MISSING}`);
            break;
          }
          referenced.add(cur);
          add(out, img.id, ...(report.layers.get(cur) ?? []), ...(report.roLayers.get(cur) ?? []));
          cur = s.layer.parent;
        }
      }
    }
  }

  for (const c of t.containers.index.list) {
    await checkContainer(c, t, seenImages, report.containers);
    const done = new Set<string>();
    for (let cur = c.layerId; cur !== "" && !done.has(cur);) {
      done.add(cur);
      const s = seen.get(cur);
      if (!s) {
        add(report.containers, c.id, `container ${c.id}: layer ${cur}: ${LAYER_MISSING}`);
        break;
      }
      referenced.add(cur);
      add(report.containers, c.id, ...(report.layers.get(cur) ?? []), ...(report.roLayers.get(cur) ?? []));
      cur = s.layer.parent;
    }
  }

  const now = BigInt(Date.now()) * 1_000_000n;
  const maxAge = BigInt(Math.max(0, Math.floor(options.maxAgeMs))) * 1_000_000n;
  for (const l of t.layers.index.list) {
    if (referenced.has(l.id)) continue;
    const created = parseTimestampNs(l.created);
    if (created === 0n || created + maxAge < now) {
      add(report.layers, l.id, `layer ${l.id}: ${LAYER_UNREFERENCED}`);
    }
  }

  let onDisk: string[] = [];
  try {
    onDisk = await t.layers.driver.listLayers();
  } catch {
    // A driver that cannot enumerate its layers has nothing to report here.
  }
  for (const id of onDisk) {
    if (!seen.has(id)) add(report.layers, id, `layer ${id}: ${LAYER_UNACCOUNTED}`);
  }
  return report;
}

/**
 * Re-reads a layer's diff: returns the headers it lists, or the problem found (digest,
 * size, or the error that stopped the reading).
 */
async function checkDigest(store: LayerStore, l: Layer, desc: string): Promise<HeaderInfo[] | string> {
  const prefix = `${desc}layer ${l.id}`;
  if (!isValidDigest(l.uncompressedDigest)) return `${prefix}: invalid digest ${l.uncompressedDigest}`;
  const counter = new DigestCounter();
  const list: HeaderInfo[] = [];
  const parser = new TarParser([{ entry: (h) => list.push(headerInfo(h)) }]);
  let tarError: unknown = null;
  try {
    const stream = await store.diff(null, l.id, Compression.None);
    for await (const chunk of stream) {
      counter.update(chunk);
      // A malformed archive still has its digest compared; the tar error comes after.
      if (tarError === null) {
        try {
          parser.push(chunk);
        } catch (e) {
          tarError = e;
        }
      }
    }
    if (tarError === null) parser.finish();
  } catch (e) {
    if (tarError === null) return `${prefix}: ${message(e)}`;
  }
  if (counter.digest() !== l.uncompressedDigest) return `${prefix}: ${LAYER_DIGEST}`;
  if (l.uncompressedSize !== 0 && counter.size !== l.uncompressedSize) {
    return `${prefix}: read ${counter.size} bytes instead of ${l.uncompressedSize} bytes: ${LAYER_SIZE}`;
  }
  if (tarError !== null) return `${prefix}: ${message(tarError)}`;
  return list;
}

/** Mounts a read-write layer read-only; compares its tree with its diffs when asked. */
async function checkMounted(
  t: CheckTarget,
  l: Layer,
  headers: Map<string, HeaderInfo[]>,
  seen: Map<string, SeenLayer>,
  contents: boolean,
): Promise<string[]> {
  const driver = t.layers.driver;
  let mountPoint: string;
  try {
    mountPoint = await driver.get(l.id, { mountLabel: l.mountLabel, options: ["ro"] });
  } catch (e) {
    return [`layer ${l.id}: ${message(e)}`];
  }
  const problems: string[] = [];
  try {
    // Only a layer whose whole chain was read from diffs has a known expected tree.
    const chain: HeaderInfo[][] = [];
    for (let cur = l.id; contents && cur !== "";) {
      const h = headers.get(cur);
      if (!h) {
        contents = false;
        break;
      }
      chain.unshift(h);
      cur = seen.get(cur)?.layer.parent ?? "";
    }
    if (contents && l.uncompressedDigest !== "") {
      const diffs = compareTrees(expectedTree(chain), await actualTree(mountPoint), l, t.ignore);
      for (const d of diffs) problems.push(`layer ${l.id}: ${d}, ${LAYER_MODIFIED}`);
    }
  } catch (e) {
    problems.push(`layer ${l.id}: ${message(e)}`);
  } finally {
    try {
      await driver.put(l.id);
    } catch (e) {
      problems.push(`layer ${l.id}: ${message(e)}`);
    }
  }
  return problems;
}

async function checkImage(img: Image, store: ImageStore, out: Map<string, string[]>, desc: string) {
  for (const key of img.bigDataNames) {
    const state = await bigDataState(store.dataDir(img.id), key, "image");
    const what = `${desc}image ${img.id}: data item ${JSON.stringify(key)}`;
    if (state === "missing") add(out, img.id, `${what}: ${IMAGE_DATA_MISSING}`);
    else if (typeof state === "object") add(out, img.id, `${what}: ${state.error}`);
    else if (img.bigDataSizes[key] !== undefined && img.bigDataSizes[key] !== state) {
      add(out, img.id, `${what}: ${IMAGE_DATA_SIZE}`);
    }
  }
}

async function checkContainer(
  c: Container,
  t: CheckTarget,
  images: Set<string>,
  out: Map<string, string[]>,
): Promise<void> {
  if (c.imageId !== "" && !images.has(c.imageId)) {
    add(out, c.id, `container ${c.id}: image ${c.imageId}: ${CONTAINER_IMAGE_MISSING}`);
  }
  for (const key of c.bigDataNames) {
    const state = await bigDataState(t.containers.dataDir(c.id), key, "container");
    const what = `container ${c.id}: data item ${JSON.stringify(key)}`;
    if (state === "missing") add(out, c.id, `${what}: ${CONTAINER_DATA_MISSING}`);
    else if (typeof state === "object") add(out, c.id, `${what}: ${state.error}`);
    else if (c.bigDataSizes[key] !== undefined && c.bigDataSizes[key] !== state) {
      add(out, c.id, `${what}: ${CONTAINER_DATA_SIZE}`);
    }
  }
}

/** What `repairStore` needs from the store (called with every write lock held). */
export interface RepairActions {
  /** Deletes a container with its layer and directories. */
  deleteContainer(id: string): Promise<void>;
  /** Deletes an image and the layers only it used (as `delete-image`); throws when a container uses it. */
  deleteImage(id: string): Promise<void>;
  /** Deletes a layer record and its data. */
  deleteLayer(id: string): Promise<void>;
  /** Removes driver data that has no record. */
  removeDriverLayer(id: string): Promise<void>;
}

/**
 * Removes what a report found damaged in the read-write stores: with `removeContainers`
 * the damaged containers, then the damaged images (with the layers only they used), then
 * the damaged layers with every layer above them, and driver layers without a record.
 * Images and layers that a remaining container still stands on are kept; an image that a
 * healthy container uses cannot be removed and is reported. Returns the errors met.
 */
export async function repairStore(
  t: CheckTarget,
  report: CheckReport,
  options: { removeContainers: boolean },
  act: RepairActions,
): Promise<string[]> {
  const errors: string[] = [];
  if (options.removeContainers) {
    for (const id of [...report.containers.keys()].sort()) {
      if (!t.containers.index.byId.has(id)) continue;
      try {
        await act.deleteContainer(id);
      } catch (e) {
        errors.push(`deleting container ${id}: ${message(e)}`);
      }
    }
  }
  const damagedKept = new Set(
    t.containers.index.list.filter((c) => report.containers.has(c.id)).map((c) => c.id),
  );
  for (const id of [...report.images.keys()].sort()) {
    if (!t.images.index.byId.has(id)) continue;
    const user = t.containers.index.list.find((c) => c.imageId === id);
    if (user) {
      // A damaged container was kept on purpose (no --force); its image stays with it.
      if (!damagedKept.has(user.id)) {
        errors.push(`deleting image ${id}: image used by container ${user.id}`);
      }
      continue;
    }
    try {
      await act.deleteImage(id);
    } catch (e) {
      errors.push(`deleting image ${id}: ${message(e)}`);
    }
  }

  // Layers still needed: the chains of the remaining images and containers.
  const keep = new Set<string>();
  const keepChain = (id: string) => {
    for (let cur = id; cur !== "" && !keep.has(cur);) {
      keep.add(cur);
      cur = t.layers.index.byId.get(cur)?.parent ?? "";
    }
  };
  for (const i of t.images.index.list) for (const l of [i.topLayer, ...i.mappedTopLayers]) keepChain(l);
  for (const c of t.containers.index.list) keepChain(c.layerId);

  const children = new Map<string, string[]>();
  for (const l of t.layers.index.list) {
    const list = children.get(l.parent);
    if (list) list.push(l.id);
    else children.set(l.parent, [l.id]);
  }
  const order: string[] = [];
  const planned = new Set<string>();
  const visit = (id: string) => {
    if (planned.has(id)) return;
    planned.add(id);
    for (const c of children.get(id) ?? []) visit(c);
    order.push(id);
  };
  for (const id of [...report.layers.keys()].sort()) {
    if (t.layers.index.byId.has(id)) visit(id);
    else if (report.layers.get(id)!.some((p) => p.endsWith(LAYER_UNACCOUNTED))) {
      try {
        await act.removeDriverLayer(id);
      } catch (e) {
        errors.push(`deleting layer ${id}: ${message(e)}`);
      }
    }
  }
  for (const id of order) {
    if (keep.has(id) || !t.layers.index.byId.has(id)) continue;
    try {
      await act.deleteLayer(id);
    } catch (e) {
      errors.push(`deleting layer ${id}: ${message(e)}`);
    }
  }
  return errors;
}
