/**
 * Big-data commands for layers, images and containers: list-*-data,
 * get-*-data, get-*-data-size, get-*-data-digest, set-*-data.
 *
 * Unlike Go, `get-*-data -f FILE` writes FILE only once the item was found,
 * so a failed lookup does not truncate an existing file.
 *
 * @module
 */

import { readInput, resolvePath } from "./common.ts";
import { flagBool, flagString } from "./context.ts";
import type { Action, Context } from "./context.ts";

type Kind = "layer" | "image" | "container";

function list(kind: Kind): Action {
  return async (ctx) => {
    const s = ctx.store;
    const ref = ctx.args[0];
    const keys = kind === "layer"
      ? await s.listLayerBigData(ref)
      : kind === "image"
      ? await s.listImageBigData(ref)
      : await s.listContainerBigData(ref);
    if (flagBool(ctx, "json")) await ctx.out.json(keys.length ? keys : null);
    else await ctx.out.print(keys.map((k) => k + "\n").join(""));
    return 0;
  };
}

async function writeOutput(ctx: Context, data: Uint8Array): Promise<void> {
  const file = flagString(ctx, "file");
  if (file) await Deno.writeFile(resolvePath(ctx, file), data, { mode: 0o666 });
  else await ctx.out.bytes(data);
}

function get(kind: Kind): Action {
  return async (ctx) => {
    const s = ctx.store;
    const [ref, key] = ctx.args;
    const data = kind === "layer"
      ? await s.layerBigData(ref, key)
      : kind === "image"
      ? await s.imageBigData(ref, key)
      : await s.containerBigData(ref, key);
    await writeOutput(ctx, data);
    return 0;
  };
}

function size(kind: "image" | "container"): Action {
  return async (ctx) => {
    const [ref, key] = ctx.args;
    const n = kind === "image"
      ? await ctx.store.imageBigDataSize(ref, key)
      : await ctx.store.containerBigDataSize(ref, key);
    await ctx.out.print(`${n}\n`);
    return 0;
  };
}

function digest(kind: "image" | "container"): Action {
  return async (ctx) => {
    const [ref, key] = ctx.args;
    const d = kind === "image"
      ? await ctx.store.imageBigDataDigest(ref, key)
      : await ctx.store.containerBigDataDigest(ref, key);
    await ctx.out.print(`${d}\n`);
    return 0;
  };
}

function set(kind: Kind): Action {
  return async (ctx) => {
    const s = ctx.store;
    const [ref, key] = ctx.args;
    // Resolve first so that an unknown item fails before stdin is read, as in Go.
    if (kind === "layer") await s.layer(ref);
    else if (kind === "image") await s.image(ref);
    else await s.container(ref);
    const data = await readInput(ctx, flagString(ctx, "file"));
    if (kind === "layer") await s.setLayerBigData(ref, key, data);
    else if (kind === "image") await s.setImageBigData(ref, key, data);
    else await s.setContainerBigData(ref, key, data);
    return 0;
  };
}

/** Actions by command name. */
export const actions: Record<string, Action> = {
  "list-layer-data": list("layer"),
  "get-layer-data": get("layer"),
  "set-layer-data": set("layer"),
  "list-image-data": list("image"),
  "get-image-data": get("image"),
  "get-image-data-size": size("image"),
  "get-image-data-digest": digest("image"),
  "set-image-data": set("image"),
  "list-container-data": list("container"),
  "get-container-data": get("container"),
  "get-container-data-size": size("container"),
  "get-container-data-digest": digest("container"),
  "set-container-data": set("container"),
};
