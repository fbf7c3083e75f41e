/**
 * Maintenance commands: status, version, shutdown, wipe, and HEAD's check,
 * config, gc and dedup.
 *
 * @module
 */

import { loadStoreOptions, NotSupportedError } from "../mod.ts";
import type { IDMap, StoreOptions } from "../mod.ts";
import { flagBool, flagString } from "./context.ts";
import type { Action, Context } from "./context.ts";
import { errorText } from "./errors.ts";
import { goList, RawJSON } from "./output.ts";
import { sortBytewise } from "./common.ts";

/** Prints `KEY: VALUE` pairs on stderr (as Go does for status and version) or JSON on stdout. */
async function printPairs(ctx: Context, pairs: Array<[string, string]>): Promise<void> {
  if (flagBool(ctx, "json")) await ctx.out.json(pairs);
  else await ctx.err.print(pairs.map(([k, v]) => `${k}: ${v}\n`).join(""));
}

const status: Action = async (ctx) => {
  let pairs: Array<[string, string]>;
  try {
    pairs = await ctx.store.status();
  } catch (e) {
    await ctx.err.print(`status: ${errorText(e)}\n`);
    return 1;
  }
  // The store may return the driver's lines only; the four basics always come first.
  if (pairs[0]?.[0] !== "Root") {
    pairs = [
      ["Root", ctx.store.graphRoot],
      ["Run Root", ctx.store.runRoot],
      ["Driver Name", ctx.store.driverName],
      ["Driver Options", goList(ctx.store.driverOptions)],
      ...pairs,
    ];
  }
  await printPairs(ctx, pairs);
  return 0;
};

const version: Action = async (ctx) => {
  let pairs: Array<[string, string]>;
  try {
    pairs = await ctx.store.version();
  } catch (e) {
    await ctx.err.print(`version: ${errorText(e)}\n`);
    return 1;
  }
  await printPairs(ctx, pairs);
  return 0;
};

/** shutdown, wipe, gc: JSON `""` on success, the error (`{}`) on failure; text only on failure. */
async function simple(ctx: Context, fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (e) {
    if (flagBool(ctx, "json")) await ctx.out.json(e instanceof Error ? e : new Error(String(e)));
    else await ctx.err.print(`${ctx.word}: ${errorText(e)}\n`);
    return 1;
  }
  if (flagBool(ctx, "json")) await ctx.out.json("");
  return 0;
}

const shutdown: Action = (ctx) => simple(ctx, () => ctx.store.shutdown(flagBool(ctx, "force")));

const wipe: Action = (ctx) => simple(ctx, () => ctx.store.wipe());

function unsupported(ctx: Context): never {
  throw new NotSupportedError(ctx.word);
}

const gc: Action = (ctx) => {
  const store = ctx.store;
  if (!store.garbageCollect) unsupported(ctx);
  return simple(ctx, async () => {
    await store.garbageCollect!();
    await store.shutdown(true).catch(() => {});
  });
};

const dedup: Action = async (ctx) => {
  const x = ctx.store;
  if (!x.dedup) unsupported(ctx);
  const method = flagString(ctx, "hashMethod") || "crc";
  if (method !== "crc" && method !== "size" && method !== "sha256") {
    await ctx.err.print(`invalid hash method: ${method}\n`);
    return 1;
  }
  let result: { deduped: number };
  try {
    result = await x.dedup({ hashMethod: method });
  } catch (e) {
    if (flagBool(ctx, "json")) await ctx.out.json(e instanceof Error ? e : {});
    else await ctx.err.print(`${ctx.word}: ${errorText(e)}\n`);
    return 1;
  }
  if (flagBool(ctx, "json")) await ctx.out.json({ Deduped: result.deduped });
  else await ctx.out.print(`Deduplicated ${result.deduped} bytes\n`);
  return 0;
};

/** Go's time.ParseDuration for the units `check --max` uses. */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  const m = /^([0-9.]+(ns|us|µs|ms|s|m|h))+$/.test(s) ? s.matchAll(/([0-9.]+)(ns|us|µs|ms|s|m|h)/g) : null;
  if (!m) throw new Error(`time: invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  for (const [, n, u] of m) total += Number(n) * units[u];
  return total;
}

const check: Action = async (ctx) => {
  const x = ctx.store;
  if (!x.check) unsupported(ctx);
  const maxAgeMs = parseDuration(flagString(ctx, "max") || "24h");
  const force = flagBool(ctx, "force");
  const repair = flagBool(ctx, "repair") || force;
  const json = flagBool(ctx, "json");
  try {
    const report = await x.check({ maxAgeMs, quick: flagBool(ctx, "quick") });
    const count = (m: Map<string, string[]>) => m.size;
    // Go ranges over maps (random order); IDs sorted here.
    const sorted = (m: Map<string, string[]>) =>
      sortBytewise([...m.keys()]).map((k) => [k, m.get(k)!] as const);
    if (json) {
      // Go's errors have no exported fields: each encodes as {}.
      const enc = (m: Map<string, string[]>) => new Map(sorted(m).map(([k, v]) => [k, v.map(() => ({}))]));
      await ctx.out.json({
        Layers: enc(report.layers),
        ROLayers: enc(report.roLayers),
        Images: enc(report.images),
        ROImages: enc(report.roImages),
        Containers: enc(report.containers),
      });
    } else {
      const sections: Array<[string, Map<string, string[]>]> = [
        ["layer", report.layers],
        ["read-only layer", report.roLayers],
        ["image", report.images],
        ["read-only image", report.roImages],
        ["container", report.containers],
      ];
      let text = "";
      for (const [what, m] of sections) {
        for (const [id, problems] of sorted(m)) {
          text += `${what} ${id}:\n` + problems.map((p) => ` ${p}\n`).join("");
        }
      }
      await ctx.out.print(text);
    }
    if (!repair) {
      const total = count(report.layers) + count(report.roLayers) + count(report.images) +
        count(report.roImages) + count(report.containers);
      if (total === 0) return 0;
      await ctx.err.print(
        `${count(report.layers)} layer errors, ${count(report.roLayers)} read-only layer errors, ` +
          `${count(report.images)} image errors, ${count(report.roImages)} read-only image errors, ` +
          `${count(report.containers)} container errors\n`,
      );
      return 1;
    }
    if (!x.repair) unsupported(ctx);
    const errors = await x.repair(report, { removeContainers: force }) ?? [];
    if (errors.length > 0) {
      if (json) await ctx.out.json(errors.map(() => ({})));
      await ctx.err.print(errors.map((e) => `${e}\n`).join(""));
      return 1;
    }
    // What repairing cannot fix: read-only stores, and containers unless --force.
    const ro = `${count(report.roLayers)} read-only layer errors, ${
      count(report.roImages)
    } read-only image errors`;
    if (force && count(report.roLayers) + count(report.roImages) > 0) {
      await ctx.err.print(`${ro}\n`);
      return 1;
    }
    if (!force && count(report.roLayers) + count(report.roImages) + count(report.containers) > 0) {
      await ctx.err.print(`${ro}, ${count(report.containers)} container errors\n`);
      return 1;
    }
    return 0;
  } finally {
    await ctx.store.shutdown(true).catch(() => {});
  }
};

function idMapsJSON(maps: IDMap[] | undefined): unknown {
  if (!maps || maps.length === 0) return undefined;
  return maps.map((m) =>
    new RawJSON(`{"container_id":${m.containerId},"host_id":${m.hostId},"size":${m.size}}`)
  );
}

/** HEAD's StoreOptions JSON (field order and omitempty as its struct tags say). */
function storeOptionsJSON(o: StoreOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown, omitEmpty = true) => {
    const empty = v === undefined || v === "" || v === false || (Array.isArray(v) && v.length === 0);
    if (!omitEmpty || !empty) out[k] = v ?? null;
  };
  put("runroot", o.runRoot);
  put("root", o.graphRoot);
  put("imagestore", o.imageStore);
  put("RootlessStoragePath", o.rootlessStoragePath ?? "", false);
  put("driver", o.driverName);
  put("driver-priority", o.driverPriority);
  put("driver-options", o.driverOptions);
  put("uidmap", idMapsJSON(o.uidMap));
  put("gidmap", idMapsJSON(o.gidMap));
  put("PullOptions", o.pullOptions ? new Map(Object.entries(o.pullOptions)) : null, false);
  put("disable-volatile", o.disableVolatile);
  put("transient_store", o.transientStore);
  return out;
}

const config: Action = async (ctx) => {
  let loaded;
  try {
    loaded = await loadStoreOptions({ env: ctx.env });
  } catch (e) {
    await ctx.err.print(`default: ${errorText(e)}\n`);
    return 1;
  }
  if (ctx.args[0]) {
    try {
      loaded = await loadStoreOptions({ env: { ...ctx.env, CONTAINERS_STORAGE_CONF: ctx.args[0] } });
    } catch (e) {
      await ctx.err.print(`reload: ${errorText(e)}\n`);
      return 1;
    }
  }
  await ctx.out.json(storeOptionsJSON(loaded.options));
  return 0;
};

/** Actions by command name. */
export const actions: Record<string, Action> = { status, version, shutdown, wipe, gc, dedup, check, config };
