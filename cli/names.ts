/**
 * Commands on any kind of item: exists, metadata, set-metadata, get-names,
 * add-names, set-names, remove-names, and the delete family.
 *
 * Go prints the per-argument results of exists and delete* by iterating a map,
 * so in random order; we print them sorted bytewise by argument, the order of
 * the JSON output.
 *
 * @module
 */

import { resolvePath, sortBytewise } from "./common.ts";
import { flagBool, flagList, flagString } from "./context.ts";
import type { Action, Context } from "./context.ts";
import { errorText } from "./errors.ts";

async function resolves(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

const exists: Action = async (ctx) => {
  const { store } = ctx;
  const dict = new Map<string, boolean>();
  let anyMissing = false;
  for (const what of ctx.args) {
    const found = (await store.exists(what)) !== null;
    dict.set(what, found);
    // Go prints the kind-agnostic answer but lets the kind filters decide the exit code.
    let ok = found;
    if (flagBool(ctx, "container") && !(await resolves(() => store.container(what)))) ok = false;
    if (flagBool(ctx, "image") && !(await resolves(() => store.image(what)))) ok = false;
    if (flagBool(ctx, "layer") && !(await resolves(() => store.layer(what)))) ok = false;
    if (!ok) anyMissing = true;
  }
  if (flagBool(ctx, "json")) {
    await ctx.out.json(dict);
  } else if (!flagBool(ctx, "quiet")) {
    await ctx.out.print(sortBytewise([...dict.keys()]).map((k) => `${k}: ${dict.get(k)}\n`).join(""));
  }
  return anyMissing ? 1 : 0;
};

const metadata: Action = async (ctx) => {
  const dict = new Map<string, string>();
  let missing = false;
  for (const what of ctx.args) {
    try {
      dict.set(what, (await ctx.store.metadata(what)).replace(/\n$/, ""));
    } catch {
      missing = true;
    }
  }
  if (flagBool(ctx, "json")) {
    await ctx.out.json(dict);
  } else {
    const quiet = flagBool(ctx, "quiet");
    await ctx.out.print(
      ctx.args.map((what) => (quiet ? "" : `${what}: `) + (dict.get(what) ?? "") + "\n").join(""),
    );
  }
  return missing ? 1 : 0;
};

const setMetadata: Action = async (ctx) => {
  const file = flagString(ctx, "metadataFile");
  let value = flagString(ctx, "metadata");
  if (!file && !value) {
    await ctx.err.print("no new metadata provided\n");
    return 1;
  }
  if (file) value = new TextDecoder().decode(await Deno.readFile(resolvePath(ctx, file)));
  await ctx.store.setMetadata(ctx.args[0], value);
  return 0;
};

const getNames: Action = async (ctx) => {
  const names = await ctx.store.names(ctx.args[0]);
  if (flagBool(ctx, "json")) await ctx.out.json(names);
  else await ctx.out.print(names.map((n) => n + "\n").join(""));
  return 0;
};

function changeNames(op: "addNames" | "setNames" | "removeNames"): Action {
  return async (ctx: Context) => {
    const names = await ctx.store[op](ctx.args[0], flagList(ctx, "name"));
    // Go encodes the names slice, which is nil (null) when it ends up empty.
    if (flagBool(ctx, "json")) await ctx.out.json(names.length ? names : null);
    return 0;
  };
}

/** Runs `op` for every argument and reports as delete/delete-layer/delete-container do. */
function deleteEach(op: (ctx: Context, what: string) => Promise<void>): Action {
  return async (ctx) => {
    const results = new Map<string, string>();
    for (const what of ctx.args) {
      try {
        await op(ctx, what);
        results.set(what, "");
      } catch (e) {
        results.set(what, errorText(e));
      }
    }
    if (flagBool(ctx, "json")) {
      await ctx.out.json(results);
    } else {
      const failed = sortBytewise([...results.keys()]).filter((k) => results.get(k) !== "");
      await ctx.err.print(failed.map((k) => `${k}: ${results.get(k)}\n`).join(""));
    }
    return [...results.values()].some((e) => e !== "") ? 1 : 0;
  };
}

const deleteImage: Action = async (ctx) => {
  const commit = !flagBool(ctx, "test");
  const results = new Map<string, { layers: string[]; error: string }>();
  for (const what of ctx.args) {
    try {
      const r = await ctx.store.deleteImage(what, commit);
      results.set(what, { layers: r.deletedLayers, error: "" });
    } catch (e) {
      results.set(what, { layers: [], error: errorText(e) });
    }
  }
  if (flagBool(ctx, "json")) {
    const json = new Map<string, Record<string, unknown>>();
    for (const [what, r] of results) {
      const rec: Record<string, unknown> = {};
      if (r.layers.length) rec["deleted-layers"] = r.layers;
      if (r.error) rec.error = r.error;
      json.set(what, rec);
    }
    await ctx.out.json(json);
  } else {
    let text = "";
    for (const what of sortBytewise([...results.keys()])) {
      const r = results.get(what)!;
      if (r.error) text += `${what}: ${r.error}\n`;
      else text += r.layers.map((l) => `${what}: ${l}\n`).join("");
    }
    await ctx.err.print(text);
  }
  return [...results.values()].some((r) => r.error !== "") ? 1 : 0;
};

/** Actions by command name. */
export const actions: Record<string, Action> = {
  "exists": exists,
  "metadata": metadata,
  "set-metadata": setMetadata,
  "get-names": getNames,
  "add-names": changeNames("addNames"),
  "set-names": changeNames("setNames"),
  "remove-names": changeNames("removeNames"),
  "delete": deleteEach((ctx, what) => ctx.store.delete(what)),
  "delete-layer": deleteEach((ctx, what) => ctx.store.deleteLayer(what)),
  "delete-container": deleteEach((ctx, what) => ctx.store.deleteContainer(what)),
  "delete-image": deleteImage,
};
