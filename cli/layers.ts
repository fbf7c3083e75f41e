/**
 * Layer commands: create-layer, layers, layer, layer-parent-owners, and HEAD's
 * create-storage-layer and storage-layers.
 *
 * @module
 */

import { NotSupportedError } from "../mod.ts";
import type { Container, Image, Layer } from "../mod.ts";
import { attempt, idMappingFromFlags, idMapText, layerJSON, showEach } from "./common.ts";
import { flagBool, flagList, flagString } from "./context.ts";
import type { Action, Context } from "./context.ts";
import { errorText } from "./errors.ts";
import { goList } from "./output.ts";
import { renderTree } from "./tree.ts";
import type { TreeNode } from "./tree.ts";

/** Prints a created layer: JSON, or the ID then `\tNAME` per name. */
export async function printCreatedLayer(ctx: Context, layer: Layer): Promise<void> {
  if (flagBool(ctx, "json")) {
    await ctx.out.json(layerJSON(layer));
  } else {
    await ctx.out.print(`${layer.id}\n` + layer.names.map((n) => `\t${n}\n`).join(""));
  }
}

const createLayer: Action = async (ctx) => {
  const layer = await ctx.store.createLayer({
    ...idMappingFromFlags(ctx),
    id: flagString(ctx, "id") || undefined,
    parent: ctx.args[0] ?? "",
    names: flagList(ctx, "name"),
    mountLabel: flagString(ctx, "label"),
    readOnly: flagBool(ctx, "readonly"),
  });
  await printCreatedLayer(ctx, layer);
  return 0;
};

const layers: Action = async (ctx) => {
  const all = await ctx.store.layers();
  if (flagBool(ctx, "json")) {
    await ctx.out.json(all.map(layerJSON));
    return 0;
  }
  if (flagBool(ctx, "quiet") && !flagBool(ctx, "tree")) {
    await ctx.out.print(all.map((l) => l.id + "\n").join(""));
    return 0;
  }
  // Images by top layer (and mapped top layers), containers by layer; lookups that fail show nothing.
  const imagesByLayer = new Map<string, Image[]>();
  for (const image of (await attempt(() => ctx.store.images())) ?? []) {
    for (const id of [image.topLayer, ...image.mappedTopLayers]) {
      const list = imagesByLayer.get(id) ?? [];
      list.push(image);
      imagesByLayer.set(id, list);
    }
  }
  const containerByLayer = new Map<string, Container>();
  for (const c of (await attempt(() => ctx.store.containers())) ?? []) containerByLayer.set(c.layerId, c);

  if (flagBool(ctx, "tree")) {
    const nodes: TreeNode[] = all.map((layer) => {
      const notes = layer.names.map((n) => `name: ${n}`);
      if (layer.mountPoint) notes.push(`mount: ${layer.mountPoint}`);
      for (const image of imagesByLayer.get(layer.id) ?? []) {
        notes.push(`image: ${image.id}`, ...image.names.map((n) => `image name: ${n}`));
      }
      const c = containerByLayer.get(layer.id);
      if (c) notes.push(`container: ${c.id}`, ...c.names.map((n) => `container name: ${n}`));
      return { left: layer.parent || "(base)", right: layer.id, notes };
    });
    await ctx.out.print(renderTree(nodes));
    return 0;
  }
  let text = "";
  for (const layer of all) {
    text += `${layer.id}\n` + layer.names.map((n) => `\tname: ${n}\n`).join("");
    for (const image of imagesByLayer.get(layer.id) ?? []) {
      text += `\timage: ${image.id}\n` + image.names.map((n) => `\t\tname: ${n}\n`).join("");
    }
    const c = containerByLayer.get(layer.id);
    if (c) text += `\tcontainer: ${c.id}\n` + c.names.map((n) => `\t\tname: ${n}\n`).join("");
  }
  await ctx.out.print(text);
  return 0;
};

const layer: Action = (ctx) =>
  showEach(ctx, (arg) => ctx.store.layer(arg), layerJSON, (l: Layer) => {
    let text = `ID: ${l.id}\n`;
    for (const m of l.uidMap) text += `UID mapping: ${idMapText(m)}\n`;
    for (const m of l.gidMap) text += `GID mapping: ${idMapText(m)}\n`;
    if (l.parent) text += `Parent: ${l.parent}\n`;
    for (const n of l.names) text += `Name: ${n}\n`;
    if (l.readOnly) text += "Read Only: true\n";
    return text;
  });

/** Shared by layer-parent-owners and container-parent-owners. */
export async function parentOwners(
  ctx: Context,
  resolve: (arg: string) => Promise<string>,
  owners: (id: string) => Promise<{ uids: number[]; gids: number[] }>,
  prefix: string,
  alwaysPrint: boolean,
): Promise<number> {
  let found = 0;
  for (const arg of ctx.args) {
    const id = await attempt(() => resolve(arg));
    if (id === null) continue;
    found++;
    let result: { uids: number[]; gids: number[] };
    try {
      result = await owners(id);
    } catch (e) {
      await ctx.err.print(`${prefix}: ${errorText(e)}\n`);
      return 1;
    }
    const { uids, gids } = result;
    if (flagBool(ctx, "json")) {
      await ctx.out.json({ ID: id, UIDs: uids.length ? uids : null, GIDs: gids.length ? gids : null });
    } else {
      let text = `ID: ${id}\n`;
      if (alwaysPrint || uids.length > 0) text += `UIDs: ${goList(uids)}\n`;
      if (alwaysPrint || gids.length > 0) text += `GIDs: ${goList(gids)}\n`;
      await ctx.out.print(text);
    }
  }
  return found === ctx.args.length ? 0 : 1;
}

const layerParentOwners: Action = (ctx) =>
  parentOwners(
    ctx,
    async (arg) => (await ctx.store.layer(arg)).id,
    (id) => ctx.store.layerParentOwners(id),
    "LayerParentOwner",
    false,
  );

const storageLayers: Action = async (ctx) => {
  const x = ctx.store;
  if (!x.driverLayers) throw new NotSupportedError(ctx.word);
  const ids = await x.driverLayers();
  if (flagBool(ctx, "json")) await ctx.out.json(ids);
  else await ctx.out.print(ids.map((id) => id + "\n").join(""));
  return 0;
};

const createStorageLayer: Action = async (ctx) => {
  const x = ctx.store;
  if (!x.createDriverLayer) throw new NotSupportedError(ctx.word);
  const id = await x.createDriverLayer({
    ...idMappingFromFlags(ctx),
    id: flagString(ctx, "id") || undefined,
    parent: ctx.args[0] ?? "",
    mountLabel: flagString(ctx, "label"),
    readOnly: flagBool(ctx, "readonly"),
  });
  if (flagBool(ctx, "json")) await ctx.out.json(id);
  else await ctx.out.print(`${id}\n`);
  return 0;
};

/** Actions by command name. */
export const actions: Record<string, Action> = {
  "create-layer": createLayer,
  "layers": layers,
  "layer": layer,
  "layer-parent-owners": layerParentOwners,
  "storage-layers": storageLayers,
  "create-storage-layer": createStorageLayer,
};
