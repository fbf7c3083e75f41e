/**
 * Mount commands: mount, unmount, mounted (cli.md 2.6).
 *
 * @module
 */

import { flagBool, flagString } from "./context.ts";
import type { Action } from "./context.ts";
import { errorText } from "./errors.ts";

const mount: Action = async (ctx) => {
  const label = flagString(ctx, "label");
  const opt = flagString(ctx, "opt");
  const readOnly = flagBool(ctx, "ro");
  const results: Array<{ id: string; mountpoint: string; error: string }> = [];
  for (const arg of ctx.args) {
    let mountpoint = "";
    let error = "";
    try {
      if (readOnly) {
        // HEAD: `ro` plus whatever -o adds (1.43 also forced noexec,nosuid).
        const options = ["ro", ...(opt ? opt.split(",") : [])];
        mountpoint = await ctx.store.mountImage(arg, options, label);
      } else {
        mountpoint = await ctx.store.mount(arg, label ? { mountLabel: label } : {});
      }
    } catch (e) {
      error = errorText(e);
    }
    results.push({ id: arg, mountpoint, error });
  }
  if (flagBool(ctx, "json")) {
    await ctx.out.json(results);
  } else {
    for (const r of results) {
      if (r.error) await ctx.err.print(`${r.error} while mounting ${r.id}\n`);
      await ctx.out.print(`${r.mountpoint}\n`);
    }
  }
  return results.some((r) => r.error) ? 1 : 0;
};

const unmount: Action = async (ctx) => {
  const force = flagBool(ctx, "force");
  const results: Array<{ id: string; error: string }> = [];
  for (const arg of ctx.args) {
    let error = "";
    try {
      const stillMounted = await ctx.store.unmount(arg, force);
      // Printed in JSON mode too, before the JSON, as Go does.
      if (!stillMounted) await ctx.out.print(`${arg} mountpoint unmounted\n`);
    } catch (e) {
      error = errorText(e);
      // Not a container or layer: maybe an image mounted with `mount -r`.
      try {
        await ctx.store.unmountImage(arg, force);
        error = "";
      } catch {
        // keep the container/layer error
      }
    }
    results.push({ id: arg, error });
  }
  if (flagBool(ctx, "json")) {
    await ctx.out.json(results);
  } else {
    for (const r of results) if (r.error) await ctx.err.print(`${r.error} while unmounting ${r.id}\n`);
  }
  return results.some((r) => r.error) ? 1 : 0;
};

const mounted: Action = async (ctx) => {
  const results: Array<{ id: string; error: string }> = [];
  for (const arg of ctx.args) {
    let error = "";
    try {
      if ((await ctx.store.mounted(arg)) > 0) await ctx.out.print(`${arg} mounted\n`);
    } catch (e) {
      error = errorText(e);
    }
    results.push({ id: arg, error });
  }
  if (flagBool(ctx, "json")) {
    await ctx.out.json(results);
  } else {
    for (const r of results) if (r.error) await ctx.err.print(`${r.error} checking if ${r.id} is mounted\n`);
  }
  return results.some((r) => r.error) ? 1 : 0;
};

/** Actions by command name. */
export const actions: Record<string, Action> = { mount, unmount, mounted };
