/**
 * `import-image SOURCE`: imports an image from an OCI layout, OCI archive or docker
 * archive into the store, as skopeo would store it; prints the image ID and names.
 * Progress bars (`cli-progress`) go to standard error when it is a terminal.
 *
 * @module
 */
import { importImage, type LayerProgress } from "../mod.ts";
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

/** Makes the path of a known `TRANSPORT:PATH[:REF]` absolute against the CLI's working directory. */
export function absoluteLocation(loc: string, cwd: string): string {
  const i = loc.indexOf(":");
  const known = ["oci", "oci-archive", "docker-archive"].includes(loc.slice(0, i));
  if (!known || loc[i + 1] === "/") return loc;
  return `${loc.slice(0, i + 1)}${cwd.replace(/\/+$/, "")}/${loc.slice(i + 1)}`;
}

/** A progress sink: `update` per report, `stop` at the end. */
export interface ProgressDisplay {
  /** Reports progress of one layer. */
  update(p: LayerProgress): void;
  /** Ends the display. */
  stop(): void;
}

const NONE: ProgressDisplay = { update() {}, stop() {} };

/** Bars for layer copies when stderr is a terminal; a no-op display otherwise. */
export async function terminalProgress(verb: string): Promise<ProgressDisplay> {
  if (!Deno.stderr.isTerminal()) return NONE;
  const { default: cliProgress } = await import("cli-progress");
  const multi = new cliProgress.MultiBar({
    format: `${verb} {name} [{bar}] {percentage}% | {value}/{total} bytes`,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<number, ReturnType<typeof multi.create>>();
  return {
    update(p) {
      let bar = bars.get(p.index);
      const total = p.total > 0 ? p.total : Math.max(p.bytes, 1);
      const name = `${p.digest.slice(7, 19)} (${p.index + 1}/${p.count})`;
      if (!bar) {
        bar = multi.create(total, 0, { name });
        bars.set(p.index, bar);
      }
      if (p.total <= 0) bar.setTotal(total);
      bar.update(p.state === "copying" ? p.bytes : total, {
        name: p.state === "reused" ? `${name} reused` : name,
      });
    },
    stop() {
      multi.stop();
    },
  };
}

/** Actions by command name. */
export const actions: Record<string, Action> = { "import-image": importImageAction };
