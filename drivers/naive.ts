/**
 * Diffs by comparing directory trees, for drivers without a native diff (vfs, btrfs,
 * overlay with a mount program): both layers are obtained with `driver.get` and released
 * with `driver.put`, and the comparison, export and size come from archive/changes.ts
 * (on-disk.md 5.7–5.9).
 *
 * @module
 */
import {
  changes as compareTrees,
  type ChangesOptions,
  changesSize,
  exportChanges,
} from "../archive/changes.ts";
import type { Change } from "../store/types.ts";
import type { Driver, DriverDiffOptions } from "./driver.ts";

/** Gets the layer (and its parent, when given) for the duration of `fn`. */
async function withLayers<T>(
  driver: Driver,
  id: string,
  parent: string | null,
  options: DriverDiffOptions,
  fn: (layer: string, parentDir: string | null) => Promise<T>,
): Promise<T> {
  const mount = { mountLabel: options.mountLabel, uidMap: options.uidMap, gidMap: options.gidMap };
  const layer = await driver.get(id, mount);
  try {
    if (!parent) return await fn(layer, null);
    const parentDir = await driver.get(parent, { mountLabel: options.mountLabel });
    try {
      return await fn(layer, parentDir);
    } finally {
      await driver.put(parent);
    }
  } finally {
    await driver.put(id);
  }
}

function mapsOf(options: DriverDiffOptions): ChangesOptions {
  return {
    uidMap: options.uidMap,
    gidMap: options.gidMap,
    oldUidMap: options.parentUidMap ?? options.uidMap,
    oldGidMap: options.parentGidMap ?? options.gidMap,
  };
}

/** Changes of layer `id` relative to `parent` (everything is added without a parent). */
export function naiveChanges(
  driver: Driver,
  id: string,
  parent: string | null,
  options: DriverDiffOptions = {},
): Promise<Change[]> {
  return withLayers(
    driver,
    id,
    parent,
    options,
    (layer, parentDir) => compareTrees(layer, parentDir, mapsOf(options)),
  );
}

/** Sum of the sizes of added and modified non-directories, each inode once (on-disk.md 5.9). */
export function naiveDiffSize(
  driver: Driver,
  id: string,
  parent: string | null,
  options: DriverDiffOptions = {},
): Promise<number> {
  return withLayers(driver, id, parent, options, async (layer, parentDir) => {
    const list = await compareTrees(layer, parentDir, mapsOf(options));
    return await changesSize(layer, list);
  });
}

/**
 * A tar of the changes of `id` relative to `parent`. The layers stay "mounted" until the
 * stream has been read to its end or cancelled.
 */
export async function naiveDiff(
  driver: Driver,
  id: string,
  parent: string | null,
  options: DriverDiffOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const mount = { mountLabel: options.mountLabel, uidMap: options.uidMap, gidMap: options.gidMap };
  const layer = await driver.get(id, mount);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await driver.put(id);
  };
  let inner: ReadableStream<Uint8Array>;
  try {
    let list: Change[];
    if (parent) {
      const parentDir = await driver.get(parent, { mountLabel: options.mountLabel });
      try {
        list = await compareTrees(layer, parentDir, mapsOf(options));
      } finally {
        await driver.put(parent);
      }
    } else {
      list = await compareTrees(layer, null, mapsOf(options));
    }
    inner = exportChanges(layer, list, { uidMap: options.uidMap, gidMap: options.gidMap });
  } catch (err) {
    await release();
    throw err;
  }
  const reader = inner.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          await release();
        } else controller.enqueue(value);
      } catch (err) {
        await release();
        controller.error(err);
      }
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason);
      } finally {
        await release();
      }
    },
  });
}
