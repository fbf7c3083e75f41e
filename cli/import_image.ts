/**
 * `import-image SOURCE`: imports an image from an OCI layout, OCI archive or docker
 * archive into the store, as skopeo would store it; prints the image ID and names.
 *
 * @module
 */
import { importImage } from "../image/import.ts";
import { terminalProgress } from "../image/progress.ts";
import { imageJSON } from "./common.ts";
import { type Action, flagBool, flagList, flagString } from "./context.ts";

const importImageAction: Action = async (ctx) => {
  const progress = await terminalProgress("Importing");
  let result;
  try {
    const names = flagList(ctx, "name");
    result = await importImage(ctx.store, absoluteLocation(ctx.args[0], ctx.cwd), {
      names: names.length > 0 ? names : undefined,
      platform: flagString(ctx, "platform") || undefined,
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.stop();
  }
  const image = result.image;
  if (flagBool(ctx, "json")) await ctx.out.json(imageJSON(image));
  else await ctx.out.print(`${image.id}\n` + image.names.map((n) => `\t${n}\n`).join(""));
  return 0;
};

/** Makes the path of `TRANSPORT:PATH[:REF]` absolute against the CLI's working directory. */
export function absoluteLocation(loc: string, cwd: string): string {
  const i = loc.indexOf(":");
  if (i < 0 || loc[i + 1] === "/") return loc;
  return `${loc.slice(0, i + 1)}${cwd.replace(/\/+$/, "")}/${loc.slice(i + 1)}`;
}

/** Actions by command name. */
export const actions: Record<string, Action> = { "import-image": importImageAction };
