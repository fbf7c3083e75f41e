/**
 * Image commands: create-image, images, image, images-by-digest, and HEAD's
 * get-image-dir and get-image-run-dir.
 *
 * @module
 */

import { InvalidDigestFormatError, InvalidDigestLengthError, UnsupportedDigestError } from "../mod.ts";
import type { Image } from "../mod.ts";
import { imageJSON, metadataFromFlags, showEach } from "./common.ts";
import { flagBool, flagList, flagString } from "./context.ts";
import type { Action, Context } from "./context.ts";
import { errorText } from "./errors.ts";

const createImage: Action = async (ctx) => {
  const metadata = await metadataFromFlags(ctx);
  const image = await ctx.store.createImage({
    id: flagString(ctx, "id") || undefined,
    layer: ctx.args[0] ?? "",
    names: flagList(ctx, "name"),
    digest: flagString(ctx, "digest") || undefined,
    metadata,
  });
  if (flagBool(ctx, "json")) {
    await ctx.out.json(imageJSON(image));
  } else {
    await ctx.out.print(`${image.id}\n` + image.names.map((n) => `\t${n}\n`).join(""));
  }
  return 0;
};

/** The `images` listing format, shared with images-by-digest. */
async function listImages(ctx: Context, images: Image[], emptyJSON: null | []): Promise<void> {
  if (flagBool(ctx, "json")) {
    await ctx.out.json(images.length === 0 ? emptyJSON : images.map(imageJSON));
    return;
  }
  const quiet = flagBool(ctx, "quiet");
  let text = "";
  for (const image of images) {
    text += `${image.id}\n`;
    if (quiet) continue;
    for (const n of image.names) text += `\tname: ${n}\n`;
    for (const d of image.digests) text += `\tdigest: ${d}\n`;
    for (const k of image.bigDataNames) text += `\tdata: ${k}\n`;
  }
  await ctx.out.print(text);
}

// Go encodes a nil slice for an empty store, hence `null`.
const images: Action = async (ctx) => {
  await listImages(ctx, await ctx.store.images(), null);
  return 0;
};

const imagesByDigest: Action = async (ctx) => {
  let found: Image[];
  try {
    found = await ctx.store.imagesByDigest(ctx.args[0]);
  } catch (e) {
    // Go prints the digest parser's bare error after the argument.
    const bare = e instanceof InvalidDigestFormatError || e instanceof InvalidDigestLengthError ||
      e instanceof UnsupportedDigestError;
    await ctx.err.print(`${ctx.args[0]}: ${bare ? e.base : errorText(e)}\n`);
    return 1;
  }
  await listImages(ctx, found, []);
  return 0;
};

const image: Action = (ctx) =>
  showEach(ctx, (arg) => ctx.store.image(arg), imageJSON, async (i: Image) => {
    let text = `ID: ${i.id}\n`;
    for (const n of i.names) text += `Name: ${n}\n`;
    text += `Top Layer: ${i.topLayer}\n`;
    for (const l of i.mappedTopLayers) text += `Top Layer: ${l}\n`;
    for (const d of i.digests) text += `Digest: ${d}\n`;
    for (const k of i.bigDataNames) text += `Data: ${k}\n`;
    try {
      text += `Size: ${await ctx.store.imageSize(i.id)}\n`;
    } catch (e) {
      text += `Size unknown: ${errorText(e)}\n`;
    }
    if (i.readOnly) text += "Read Only: true\n";
    return text;
  });

/**
 * HEAD's get-image-dir / get-image-run-dir. Unlike HEAD, the argument is resolved as an
 * image (HEAD joins it verbatim into the path); a store without the operation gets the
 * directory under its roots.
 */
function imageDir(run: boolean): Action {
  return async (ctx) => {
    const s = ctx.store;
    const fn = run ? s.imageRunDirectory : s.imageDirectory;
    let dir: string;
    if (fn) {
      dir = await fn.call(s, ctx.args[0]);
    } else {
      const { id } = await s.image(ctx.args[0]);
      dir = `${run ? s.runRoot : s.graphRoot}/${s.driverName}-images/${id}/userdata`;
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    }
    await ctx.out.print(`${dir}\n`);
    return 0;
  };
}

/** Actions by command name. */
export const actions: Record<string, Action> = {
  "create-image": createImage,
  "images": images,
  "images-by-digest": imagesByDigest,
  "image": image,
  "get-image-dir": imageDir(false),
  "get-image-run-dir": imageDir(true),
};
