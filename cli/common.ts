/**
 * Helpers shared by the command groups: record encoding (through the store's
 * Go-compatible JSON codec), input files, ID-map flags, and Go-style loops
 * over operands.
 *
 * @module
 */

import { encodeContainer, encodeImage, encodeLayer, fileSource, parseIDMap, subIDMappings } from "../mod.ts";
import type { Container, IDMap, IDMappingOptions, Image, Layer } from "../mod.ts";
import { IDMapError } from "../mod.ts";
import { flagBool, flagString } from "./context.ts";
import type { Context } from "./context.ts";
import { RawJSON } from "./output.ts";

/** A layer as JSON (Go's Layer struct encoding). */
export function layerJSON(l: Layer): RawJSON {
  return new RawJSON(encodeLayer(l));
}

/** An image as JSON. */
export function imageJSON(i: Image): RawJSON {
  return new RawJSON(encodeImage(i));
}

/** A container as JSON. */
export function containerJSON(c: Container): RawJSON {
  return new RawJSON(encodeContainer(c));
}

/** Resolves a path operand against the CLI's working directory. */
export function resolvePath(ctx: Context, path: string): string {
  return path.startsWith("/") ? path : `${ctx.cwd.replace(/\/+$/, "")}/${path}`;
}

/** Reads a whole file, or standard input when `file` is empty. */
export async function readInput(ctx: Context, file: string): Promise<Uint8Array> {
  if (file) return await Deno.readFile(resolvePath(ctx, file));
  return new Uint8Array(await new Response(ctx.stdin).arrayBuffer());
}

/** A stream of a file's bytes, or standard input when `file` is empty (opened now, so errors surface early). */
export async function inputStream(ctx: Context, file: string): Promise<ReadableStream<Uint8Array>> {
  if (!file) return ctx.stdin;
  return await fileSource(resolvePath(ctx, file));
}

/** Reads `--metadata-file` (it wins over `--metadata`), as Go's create-image/create-container do. */
export async function metadataFromFlags(ctx: Context): Promise<string> {
  const file = flagString(ctx, "metadataFile");
  if (file) return new TextDecoder().decode(await Deno.readFile(resolvePath(ctx, file)));
  return flagString(ctx, "metadata");
}

/**
 * The ID-mapping request of `--uidmap`, `--gidmap`, `--subuidmap`, `--subgidmap`,
 * `--hostuidmap`, `--hostgidmap` (cli.md 4.8), checked as Go's paramIDMapping does.
 */
export function idMappingFromFlags(ctx: Context): IDMappingOptions {
  const hostUIDMapping = flagBool(ctx, "hostuidmap");
  const hostGIDMapping = flagBool(ctx, "hostgidmap");
  let uidMap: IDMap[] = [];
  let gidMap: IDMap[] = [];
  const subuid = flagString(ctx, "subuidmap");
  const subgid = flagString(ctx, "subgidmap");
  if (subuid || subgid) {
    // Naming only one of the two uses the same name for both.
    const m = subIDMappings(subuid || subgid, subgid || subuid);
    uidMap = m.uidMap;
    gidMap = m.gidMap;
  }
  uidMap = [...uidMap, ...parseIDMap(flagString(ctx, "uidmap"), "uid")];
  gidMap = [...gidMap, ...parseIDMap(flagString(ctx, "gidmap"), "gid")];
  if (uidMap.length > 0 && hostUIDMapping) {
    throw new IDMapError("host uid map specified along with UID mapping");
  }
  if (gidMap.length > 0 && hostGIDMapping) {
    throw new IDMapError("host gid map specified along with GID mapping");
  }
  const out: IDMappingOptions = { hostUIDMapping, hostGIDMapping };
  if (uidMap.length > 0) out.uidMap = uidMap;
  if (gidMap.length > 0) out.gidMap = gidMap;
  return out;
}

/** Renders an ID map entry as the `layer` command does. */
export function idMapText(m: IDMap): string {
  return `(container=${m.containerId}, host=${m.hostId}, size=${m.size})`;
}

/** Calls `fn`, returning its value or null when it throws (Go's `if x, err := ...; err == nil`). */
export async function attempt<T>(fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch {
    return null;
  }
}

/**
 * The `layer`, `image` and `container` commands: each argument resolved (unknown ones
 * left out, as Go does), all of them printed as one JSON array or one text block each;
 * exit 1 when some argument was unknown.
 */
export async function showEach<T>(
  ctx: Context,
  resolve: (arg: string) => Promise<T>,
  json: (item: T) => unknown,
  text: (item: T) => string | Promise<string>,
): Promise<number> {
  const matched: T[] = [];
  for (const arg of ctx.args) {
    const item = await attempt(() => resolve(arg));
    if (item !== null) matched.push(item);
  }
  if (flagBool(ctx, "json")) await ctx.out.json(matched.map(json));
  else for (const item of matched) await ctx.out.print(await text(item));
  return matched.length === ctx.args.length ? 0 : 1;
}

/** Sorts strings bytewise by UTF-8, the order of Go's sorted map keys. */
export function sortBytewise(keys: string[]): string[] {
  const enc = new TextEncoder();
  return keys.sort((a, b) => {
    const x = enc.encode(a), y = enc.encode(b);
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  });
}
