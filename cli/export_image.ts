/**
 * `export-image IMAGE DEST`: writes a stored image to an OCI layout (`oci:DIR[:REF]`) or
 * an OCI archive (`oci-archive:FILE[:REF]`); prints the manifest digest.
 *
 * @module
 */
import { exportImage, type ExportOptions, ImageReferenceError } from "../mod.ts";
import { type Action, flagString } from "./context.ts";
import { absoluteLocation, terminalProgress } from "./import_image.ts";

const COMPRESSIONS = ["auto", "none", "gzip", "zstd"];

const exportImageAction: Action = async (ctx) => {
  const compression = flagString(ctx, "compression") || "auto";
  if (!COMPRESSIONS.includes(compression)) {
    throw new ImageReferenceError(
      `invalid compression ${JSON.stringify(compression)}: use ${COMPRESSIONS.join(", ")}`,
    );
  }
  const progress = await terminalProgress("Exporting");
  try {
    const r = await exportImage(ctx.store, ctx.args[0], absoluteLocation(ctx.args[1], ctx.cwd), {
      compression: compression as ExportOptions["compression"],
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    await ctx.out.print(`${r.manifestDigest}\n`);
  } finally {
    progress.stop();
  }
  return 0;
};

/** Actions by command name. */
export const actions: Record<string, Action> = { "export-image": exportImageAction };
