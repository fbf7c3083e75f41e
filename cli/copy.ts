/**
 * The `copy` command: copies host paths or `LAYER:PATH` operands into a host
 * path or a layer, with the semantics of Go's archive.CopyWithTar (a
 * directory's contents are copied into the target, a file is written as the
 * target) and owners translated between the layers' ID maps or forced by
 * `--chown UID[:GID]`.
 *
 * @module
 */

import { extractTar, tarDirectory, TarWriter, toContainer, toHost } from "../mod.ts";
import type { IDMap, Layer } from "../mod.ts";
// A pure path function, not store API: shared with the library rather than copied.
import { cleanPath } from "../store/paths.ts";
import { errorText } from "./errors.ts";
import { flagString } from "./context.ts";
import type { Action, Context } from "./context.ts";
import { goQuote } from "./output.ts";

/** ID maps of one side of the copy (empty for host paths). */
interface Maps {
  uidMap: IDMap[];
  gidMap: IDMap[];
}

const NO_MAPS: Maps = { uidMap: [], gidMap: [] };

/** Go's filepath.Join. */
function joinPath(a: string, b: string): string {
  return cleanPath(b === "" ? a : `${a}/${b}`);
}

/** Parses `--chown UID[:GID]` (GID defaults to UID), with HEAD's error texts. */
export function parseChown(spec: string): { uid: number; gid: number } {
  const i = spec.indexOf(":");
  const [u, g] = i === -1 ? [spec, spec] : [spec.slice(0, i), spec.slice(i + 1)];
  const parse = (s: string, what: string) => {
    if (!/^[0-9]+$/.test(s)) {
      throw new Error(`bad ${what}: strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
    }
    const n = Number(s);
    if (n > 0xffffffff) {
      throw new Error(`bad ${what}: strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
    }
    return n;
  };
  return { uid: parse(u, "UID"), gid: parse(g, "GID") };
}

/** Creates missing directories of `dir` (0755), owned by `owner` (only the new ones, as Go's MkdirAllAndChownNew). */
async function mkdirAllChownNew(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; d !== "/" && d !== "."; d = cleanPath(`${d}/..`)) {
    try {
      await Deno.lstat(d);
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    await Deno.mkdir(d, { mode: 0o755 });
    if (owner.uid !== 0 || owner.gid !== 0) await Deno.chown(d, owner.uid, owner.gid);
  }
}

/** Copies `src` to `dst` the way CopyWithTar does. */
async function copyWithTar(
  src: string,
  dst: string,
  from: Maps,
  to: Maps,
  chown: { uid: number; gid: number } | undefined,
): Promise<void> {
  const st = await Deno.stat(src);
  const extractOpts = { uidMap: to.uidMap, gidMap: to.gidMap, noOverwriteDirNonDir: true };
  if (st.isDirectory) {
    await mkdirAllChownNew(dst, { uid: toHost(to.uidMap, 0), gid: toHost(to.gidMap, 0) });
    const tar = tarDirectory(src, {
      uidMap: from.uidMap,
      gidMap: from.gidMap,
      chownTo: chown,
      includeRoot: false,
    });
    await extractTar(tar, dst, extractOpts);
    return;
  }
  // A single file: one tar entry named after the target, extracted into the target's directory.
  const slash = dst.lastIndexOf("/");
  const dir = slash <= 0 ? (slash === 0 ? "/" : ".") : dst.slice(0, slash);
  const name = dst.slice(slash + 1);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const w = new TarWriter();
  const writing = (async () => {
    try {
      await w.addFile({
        name,
        mode: st.mode! & 0o7777,
        // Go truncates the time to seconds and drops atime/ctime.
        mtimeNs: BigInt(Math.floor((st.mtime?.getTime() ?? 0) / 1000)) * 1_000_000_000n,
        uid: chown ? chown.uid : toContainer(from.uidMap, st.uid ?? 0),
        gid: chown ? chown.gid : toContainer(from.gidMap, st.gid ?? 0),
        size: st.size,
      }, src);
      await w.close();
    } catch (e) {
      w.abort(e);
    }
  })();
  await extractTar(w.readable, dir, extractOpts);
  await writing;
}

const copy: Action = async (ctx: Context) => {
  const chownSpec = flagString(ctx, "chown");
  let chown: { uid: number; gid: number } | undefined;
  if (chownSpec) {
    try {
      chown = parseChown(chownSpec);
    } catch (e) {
      await ctx.err.print(`${errorText(e)}\n`);
      return 1;
    }
  }
  const mounted: string[] = [];
  const mountOperand = async (spec: string): Promise<{ path: string; maps: Maps } | null> => {
    const i = spec.indexOf(":");
    if (i === -1) return { path: spec.startsWith("/") ? spec : `${ctx.cwd}/${spec}`, maps: NO_MAPS };
    const ref = spec.slice(0, i);
    let layer: Layer;
    try {
      layer = await ctx.store.layer(ref);
    } catch (e) {
      await ctx.err.print(`error finding layer ${goQuote(ref)}: ${errorText(e)}\n`);
      return null;
    }
    let mountPoint: string;
    try {
      mountPoint = await ctx.store.mount(layer.id, layer.mountLabel ? { mountLabel: layer.mountLabel } : {});
    } catch (e) {
      await ctx.err.print(`error mounting layer ${goQuote(layer.id)}: ${errorText(e)}\n`);
      return null;
    }
    mounted.push(layer.id);
    return {
      path: joinPath(mountPoint, spec.slice(i + 1)),
      maps: { uidMap: layer.uidMap, gidMap: layer.gidMap },
    };
  };
  try {
    const target = await mountOperand(ctx.args[ctx.args.length - 1]);
    if (!target) return 1;
    for (const spec of ctx.args.slice(0, -1)) {
      const source = await mountOperand(spec);
      if (!source) return 1;
      try {
        await copyWithTar(source.path, target.path, source.maps, target.maps, chown);
      } catch (e) {
        await ctx.err.print(
          `error copying ${goQuote(source.path)} to ${goQuote(target.path)}: ${errorText(e)}\n`,
        );
        return 1;
      }
    }
    return 0;
  } finally {
    // HEAD reports unmount failures without changing the exit code.
    for (const id of mounted.reverse()) {
      try {
        await ctx.store.unmount(id, false);
      } catch (e) {
        await ctx.err.print(`${errorText(e)} while unmounting ${id}\n`);
      }
    }
  }
};

/** Actions by command name. */
export const actions: Record<string, Action> = { copy };
