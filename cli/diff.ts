/**
 * Content commands: import-layer, changes, diffsize, diff, applydiff, and
 * copy (in copy.ts).
 *
 * @module
 */

import { ChangeKind } from "../mod.ts";
import type { DiffCompression } from "../mod.ts";
import { idMappingFromFlags, inputStream, resolvePath } from "./common.ts";
import { flagBool, flagList, flagString } from "./context.ts";
import type { Action } from "./context.ts";
import { goQuote } from "./output.ts";
import { printCreatedLayer } from "./layers.ts";
import { actions as copyActions } from "./copy.ts";

const importLayer: Action = async (ctx) => {
  const mappings = idMappingFromFlags(ctx);
  const diff = await inputStream(ctx, flagString(ctx, "file"));
  const layer = await ctx.store.createLayer({
    ...mappings,
    id: flagString(ctx, "id") || undefined,
    parent: ctx.args[0] ?? "",
    names: flagList(ctx, "name"),
    mountLabel: flagString(ctx, "label"),
    readOnly: flagBool(ctx, "readonly"),
    diff,
  });
  await printCreatedLayer(ctx, layer);
  return 0;
};

const KIND_NAMES: Record<number, string> = {
  [ChangeKind.Modify]: "Modify",
  [ChangeKind.Add]: "Add",
  [ChangeKind.Delete]: "Delete",
};

const changes: Action = async (ctx) => {
  const list = await ctx.store.changes(ctx.args[1] ?? null, ctx.args[0]);
  if (flagBool(ctx, "json")) {
    await ctx.out.json(list.length ? list.map((c) => ({ Path: c.path, Kind: c.kind })) : null);
  } else {
    await ctx.out.print(list.map((c) => `${KIND_NAMES[c.kind] ?? "?"} ${goQuote(c.path)}\n`).join(""));
  }
  return 0;
};

const diffsize: Action = async (ctx) => {
  await ctx.out.print(`${await ctx.store.diffSize(ctx.args[1] ?? null, ctx.args[0])}\n`);
  return 0;
};

const diff: Action = async (ctx) => {
  // Go applies the flags in this order, so the last one set wins: xz > bzip2 > gzip > none.
  let compression: DiffCompression = "default";
  if (flagBool(ctx, "uncompressed")) compression = "none";
  if (flagBool(ctx, "gzip")) compression = "gzip";
  if (flagBool(ctx, "bzip2")) compression = "bzip2";
  if (flagBool(ctx, "xz")) compression = "xz";
  // Unlike Go, the output file is created only once the diff could be started.
  const stream = await ctx.store.diff(ctx.args[1] ?? null, ctx.args[0], { compression });
  const file = flagString(ctx, "file");
  if (file) {
    const f = await Deno.open(resolvePath(ctx, file), {
      write: true,
      create: true,
      truncate: true,
      mode: 0o666,
    });
    await stream.pipeTo(f.writable);
  } else {
    for await (const chunk of stream) await ctx.out.bytes(chunk);
  }
  return 0;
};

const applydiff: Action = async (ctx) => {
  const input = await inputStream(ctx, flagString(ctx, "file"));
  await ctx.store.applyDiff(ctx.args[0], input);
  return 0;
};

/** Actions by command name. */
export const actions: Record<string, Action> = {
  "import-layer": importLayer,
  "changes": changes,
  "diffsize": diffsize,
  "diff": diff,
  "applydiff": applydiff,
  ...copyActions,
};
