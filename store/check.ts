/**
 * Consistency check and repair of a store (upstream HEAD's `check`): layers whose parent,
 * driver data, big data or content (re-read and re-hashed against `diff-digest`) went
 * missing or wrong, unreferenced old layers, images whose layers or big data are
 * missing, containers whose image, layer or big data are missing. The caller holds the
 * write locks of all three stores.
 *
 * @module
 */
import type { CheckOptions, CheckReport, Container, Image, Layer } from "./types.ts";
import type { LayerStore } from "./layers.ts";
import type { ImageStore } from "./images.ts";
import type { ContainerStore } from "./containers.ts";
import { bigDataFileName, parseTimestampNs } from "./records.ts";
import { Compression } from "./types.ts";
import { DigestCounter } from "./digest.ts";

/** The stores a check looks at. */
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
}

// Sentinel texts of upstream's check.go.
const LAYER_MISSING = "layer is missing";
const LAYER_DATA_MISSING = "layer data item is missing";
const LAYER_DIGEST = "layer content incorrect digest";
const LAYER_SIZE = "layer content incorrect size";
const LAYER_UNREFERENCED = "layer not referenced by any images or containers";
const IMAGE_LAYER_MISSING = "image layer is missing";
const IMAGE_DATA_MISSING = "image data item is missing";
const IMAGE_DATA_SIZE = "image data item has incorrect size";
const CONTAINER_IMAGE_MISSING = "image missing";
const CONTAINER_LAYER_MISSING = "layer is missing";
const CONTAINER_DATA_MISSING = "container data item is missing";

function add(m: Map<string, string[]>, id: string, problem: string): void {
  const l = m.get(id);
  if (l) l.push(problem);
  else m.set(id, [problem]);
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const st = await Deno.stat(path);
    return st.isFile ? st.size : null;
  } catch {
    return null;
  }
}

function bigDataPath(dir: string, key: string, kind: "layer" | "image" | "container"): string | null {
  try {
    return `${dir}/${bigDataFileName(key, kind)}`;
  } catch {
    return null;
  }
}

/** Runs the checks (read-only: nothing is changed). */
export async function checkStore(t: CheckTarget, options: CheckOptions): Promise<CheckReport> {
  const report: CheckReport = {
    layers: new Map(),
    roLayers: new Map(),
    images: new Map(),
    roImages: new Map(),
    containers: new Map(),
  };
  const findLayer = (id: string): Layer | undefined => {
    for (const s of [t.layers, ...t.roLayers]) {
      const l = s.index.byId.get(id);
      if (l) return l;
    }
    return undefined;
  };
  const driverIds = new Set(await t.layers.driver.listLayers().catch(() => [] as string[]));

  // Layers referenced by an image (top, mapped tops and their ancestors) or a container.
  const referenced = new Set<string>();
  const markChain = (id: string) => {
    for (let cur: string | undefined = id; cur && !referenced.has(cur); cur = findLayer(cur)?.parent) {
      referenced.add(cur);
    }
  };
  for (const s of [t.images, ...t.roImages]) {
    for (const i of s.index.list) for (const l of [i.topLayer, ...i.mappedTopLayers]) if (l) markChain(l);
  }
  for (const c of t.containers.index.list) markChain(c.layerId);

  const now = BigInt(Date.now()) * 1_000_000n;
  for (const store of [t.layers, ...t.roLayers]) {
    const out = store === t.layers ? report.layers : report.roLayers;
    for (const l of store.index.list) {
      if (l.parent && !findLayer(l.parent)) add(out, l.id, `parent layer ${l.parent}: ${LAYER_MISSING}`);
      if (store === t.layers && !driverIds.has(l.id) && !(await store.driver.exists(l.id))) {
        add(out, l.id, `layer ${l.id}: ${LAYER_MISSING}`);
        continue;
      }
      for (const key of l.bigDataNames) {
        const p = bigDataPath(store.dataDir(l.id), key, "layer");
        if (p === null || (await fileSize(p)) === null) {
          add(out, l.id, `layer ${l.id} data item ${JSON.stringify(key)}: ${LAYER_DATA_MISSING}`);
        }
      }
      if (!options.quick && l.uncompressedDigest !== "") {
        const problem = await checkContent(store, l);
        if (problem) add(out, l.id, problem);
      }
      if (store === t.layers && !referenced.has(l.id)) {
        const age = now - parseTimestampNs(l.created);
        if (age > BigInt(Math.floor(options.maxAgeMs)) * 1_000_000n) {
          add(out, l.id, `layer ${l.id}: ${LAYER_UNREFERENCED}`);
        }
      }
    }
  }

  for (const store of [t.images, ...t.roImages]) {
    const out = store === t.images ? report.images : report.roImages;
    for (const img of store.index.list) await checkImage(img, store, findLayer, out);
  }

  const findImage = (id: string) => [t.images, ...t.roImages].some((s) => s.index.byId.has(id));
  for (const c of t.containers.index.list) {
    await checkContainer(c, t, findImage, findLayer, report.containers);
  }
  return report;
}

/** Re-reads a layer's diff and compares it with the recorded digest and size. */
async function checkContent(store: LayerStore, l: Layer): Promise<string | null> {
  const counter = new DigestCounter();
  try {
    const stream = await store.diff(null, l.id, Compression.None);
    for await (const chunk of stream) counter.update(chunk);
  } catch (e) {
    return `layer ${l.id}: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (counter.digest() !== l.uncompressedDigest) return `layer ${l.id}: ${LAYER_DIGEST}`;
  if (l.uncompressedSize !== 0 && counter.size !== l.uncompressedSize) return `layer ${l.id}: ${LAYER_SIZE}`;
  return null;
}

async function checkImage(
  img: Image,
  store: ImageStore,
  findLayer: (id: string) => Layer | undefined,
  out: Map<string, string[]>,
): Promise<void> {
  for (const top of [img.topLayer, ...img.mappedTopLayers]) {
    for (let cur = top; cur !== "";) {
      const l = findLayer(cur);
      if (!l) {
        add(out, img.id, `image ${img.id} layer ${cur}: ${IMAGE_LAYER_MISSING}`);
        break;
      }
      cur = l.parent;
    }
  }
  for (const key of img.bigDataNames) {
    const p = bigDataPath(store.dataDir(img.id), key, "image");
    const size = p === null ? null : await fileSize(p);
    if (size === null) {
      add(out, img.id, `image ${img.id} data item ${JSON.stringify(key)}: ${IMAGE_DATA_MISSING}`);
    } else if (img.bigDataSizes[key] !== undefined && img.bigDataSizes[key] !== size) {
      add(out, img.id, `image ${img.id} data item ${JSON.stringify(key)}: ${IMAGE_DATA_SIZE}`);
    }
  }
}

async function checkContainer(
  c: Container,
  t: CheckTarget,
  findImage: (id: string) => boolean,
  findLayer: (id: string) => Layer | undefined,
  out: Map<string, string[]>,
): Promise<void> {
  if (c.imageId !== "" && !findImage(c.imageId)) {
    add(out, c.id, `container ${c.id} image ${c.imageId}: ${CONTAINER_IMAGE_MISSING}`);
  }
  if (!findLayer(c.layerId)) {
    add(out, c.id, `container ${c.id} layer ${c.layerId}: ${CONTAINER_LAYER_MISSING}`);
  }
  for (const key of c.bigDataNames) {
    const p = bigDataPath(t.containers.dataDir(c.id), key, "container");
    if (p === null || (await fileSize(p)) === null) {
      add(out, c.id, `container ${c.id} data item ${JSON.stringify(key)}: ${CONTAINER_DATA_MISSING}`);
    }
  }
}

/** What `repairStore` removes, in order. */
export interface RepairPlan {
  /** Containers to delete (only when allowed). */
  containers: string[];
  /** Images to delete. */
  images: string[];
  /** Layers to delete, children before parents. */
  layers: string[];
}

/**
 * Decides what to remove for a report: damaged read-write layers and every layer above
 * them, images that are damaged or stand on a removed layer, and (when allowed)
 * containers that are damaged or stand on a removed layer or image. Layers still used by
 * a container that stays are kept. Read-only stores are never touched.
 */
export function planRepair(t: CheckTarget, report: CheckReport, removeContainers: boolean): RepairPlan {
  const children = new Map<string, string[]>();
  for (const l of t.layers.index.list) {
    const list = children.get(l.parent);
    if (list) list.push(l.id);
    else children.set(l.parent, [l.id]);
  }
  const doomed = new Set<string>();
  const order: string[] = [];
  const visit = (id: string) => {
    if (doomed.has(id) || !t.layers.index.byId.has(id)) return;
    doomed.add(id);
    for (const c of children.get(id) ?? []) visit(c);
    order.push(id);
  };
  for (const id of report.layers.keys()) visit(id);

  const images = t.images.index.list
    .filter((i) => report.images.has(i.id) || [i.topLayer, ...i.mappedTopLayers].some((l) => doomed.has(l)))
    .map((i) => i.id);
  const gone = new Set(images);
  const containers: string[] = [];
  for (const c of t.containers.index.list) {
    const hit = report.containers.has(c.id) || doomed.has(c.layerId) || gone.has(c.imageId);
    if (hit && removeContainers) containers.push(c.id);
  }
  const removed = new Set(containers);
  // Keep layers a remaining container stands on, with their ancestors.
  const keep = new Set<string>();
  for (const c of t.containers.index.list) {
    if (removed.has(c.id)) continue;
    for (
      let cur: string | undefined = c.layerId;
      cur && !keep.has(cur);
      cur = t.layers.index.byId.get(cur)?.parent
    ) {
      keep.add(cur);
    }
  }
  return { containers, images, layers: order.filter((l) => !keep.has(l)) };
}
