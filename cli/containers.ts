/**
 * Container commands: create-container, containers, container,
 * get-container-dir, get-container-run-dir, container-parent-owners.
 *
 * @module
 */

import type { Container } from "../mod.ts";
import { attempt, containerJSON, idMappingFromFlags, metadataFromFlags, showEach } from "./common.ts";
import { flagBool, flagList, flagString } from "./context.ts";
import type { Action } from "./context.ts";
import { errorText } from "./errors.ts";
import { parentOwners } from "./layers.ts";

const createContainer: Action = async (ctx) => {
  const mappings = idMappingFromFlags(ctx);
  const metadata = await metadataFromFlags(ctx);
  const c = await ctx.store.createContainer({
    ...mappings,
    id: flagString(ctx, "id") || undefined,
    image: ctx.args[0],
    names: flagList(ctx, "name"),
    metadata,
    volatile: flagBool(ctx, "volatile"),
  });
  if (flagBool(ctx, "json")) {
    await ctx.out.json(containerJSON(c));
  } else {
    // HEAD prints one name per line (1.43 forgot the newlines).
    await ctx.out.print(`${c.id}\n` + c.names.map((n) => `\t${n}\n`).join(""));
  }
  return 0;
};

const containers: Action = async (ctx) => {
  const all = await ctx.store.containers();
  if (flagBool(ctx, "json")) {
    await ctx.out.json(all.map(containerJSON));
    return 0;
  }
  let text = "";
  for (const c of all) {
    text += `${c.id}\n`;
    for (const n of c.names) text += `\tname: ${n}\n`;
    for (const k of c.bigDataNames) text += `\tdata: ${k}\n`;
  }
  await ctx.out.print(text);
  return 0;
};

const container: Action = (ctx) =>
  showEach(ctx, (arg) => ctx.store.container(arg), containerJSON, async (c: Container) => {
    let text = `ID: ${c.id}\n`;
    for (const n of c.names) text += `Name: ${n}\n`;
    text += `Image: ${c.imageId}\n`;
    const image = c.imageId ? await attempt(() => ctx.store.image(c.imageId)) : null;
    for (const n of image?.names ?? []) text += `Image name: ${n}\n`;
    try {
      text += `Size: ${await ctx.store.containerSize(c.id)}\n`;
    } catch (e) {
      text += `Size unknown: ${errorText(e)}\n`;
    }
    text += `Layer: ${c.layerId}\n`;
    for (const k of c.bigDataNames) text += `Data: ${k}\n`;
    return text;
  });

const containerDir: Action = async (ctx) => {
  await ctx.out.print(`${await ctx.store.containerDirectory(ctx.args[0])}\n`);
  return 0;
};

const containerRunDir: Action = async (ctx) => {
  await ctx.out.print(`${await ctx.store.containerRunDirectory(ctx.args[0])}\n`);
  return 0;
};

const containerParentOwners: Action = (ctx) =>
  parentOwners(
    ctx,
    async (arg) => (await ctx.store.container(arg)).id,
    (id) => ctx.store.containerParentOwners(id),
    "ContainerParentOwner",
    true,
  );

/** Actions by command name. */
export const actions: Record<string, Action> = {
  "create-container": createContainer,
  "containers": containers,
  "container": container,
  "get-container-dir": containerDir,
  "get-container-run-dir": containerRunDir,
  "container-parent-owners": containerParentOwners,
};
