/**
 * Guards what every CLI call loads at startup (see the perf commits): the static module
 * graphs of the CLI, the library and the overlay driver must not import `node:` built-ins
 * (the first one boots Deno's Node layer, 20-30 ms) nor the content code that is loaded on
 * first use (image import/export, tar extraction, compression, tar-split, naive diff).
 * The graphs come from `deno info --json`; dynamic `import()` edges are not followed.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

/** Specifiers statically reachable from `entry` (relative to the repository root). */
async function staticGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { roots: string[]; modules: InfoModule[] };
  const byId = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of byId.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) stack.push(d.code.specifier);
    }
  }
  return new Set([...seen].map((s) => s.startsWith(ROOT.href) ? s.slice(ROOT.href.length) : s));
}

/** What a `mount`/`create-container` call on overlay evaluates before its work starts. */
const STARTUP = ["cli.ts", "mod.ts", "drivers/overlay/overlay.ts", "cli/mount.ts", "cli/containers.ts"];
/** Every command module and driver: none may pull in the Node layer either. */
const OTHERS = [
  "cli/layers.ts",
  "cli/images.ts",
  "cli/names.ts",
  "cli/data.ts",
  "cli/diff.ts",
  "cli/maintenance.ts",
  "drivers/vfs.ts",
  "drivers/btrfs/btrfs.ts",
];
/** Loaded on first use only. */
const LAZY = [
  "image/import.ts",
  "image/export.ts",
  "archive/extract.ts",
  "archive/compression.ts",
  "archive/tarsplit.ts",
  "drivers/naive.ts",
  "drivers/overlay/diff.ts",
  "drivers/vfs.ts",
  "drivers/btrfs/btrfs.ts",
];

Deno.test("startup module graphs import no node: built-ins and no lazily loaded content code", async () => {
  const startup = new Set<string>();
  for (const entry of STARTUP) for (const s of await staticGraph(entry)) startup.add(s);
  assert.ok(startup.has("store/store.ts") && startup.has("sys/libc.ts"), "the graph walk found the store");
  for (const s of startup) {
    assert.ok(!s.startsWith("node:"), `${s} is imported at startup`);
    assert.ok(!s.startsWith("npm:") || s.includes("smol-toml"), `${s} is imported at startup`);
  }
  for (const lazy of LAZY) assert.ok(!startup.has(lazy), `${lazy} is imported statically at startup`);
  for (const entry of OTHERS) {
    for (const s of await staticGraph(entry)) assert.ok(!s.startsWith("node:"), `${entry} imports ${s}`);
  }
});
