/**
 * HEAD's deferred deletion clean-up: `DRIVER-layers/tmp/` holds `lock-X` /
 * `temp-dir-X` pairs left by deleting processes; a writer loading the layers removes
 * every pair whose lock it can take, and leaves those still held by a live process.
 */
import assert from "node:assert/strict";
import { tempStore } from "./cli_helpers.ts";
import { ours } from "./stores_helpers.ts";

const LOCKFILE = new URL("../store/lockfile.ts", import.meta.url).href;

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("stores (vfs): stale deferred deletions are finished on load, live ones left alone", async () => {
  const s = await tempStore("vfs", "cs-stores-tmp-");
  let holder: Deno.ChildProcess | null = null;
  try {
    await ours([...s.flags, "create-layer", "-n", "keep"]);
    const tmp = `${s.graph}/vfs-layers/tmp`;
    for (const x of ["stale", "busy"]) {
      await Deno.mkdir(`${tmp}/temp-dir-${x}/0-victim`, { recursive: true });
      await Deno.writeTextFile(`${tmp}/temp-dir-${x}/0-victim/f`, "x");
      await Deno.writeFile(`${tmp}/lock-${x}`, new Uint8Array());
    }
    // Another process is still deleting "busy": it holds that lock until its stdin closes.
    holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { LockFile } from ${JSON.stringify(LOCKFILE)};
         await LockFile.get(${JSON.stringify(`${tmp}/lock-busy`)}).lock();
         console.log("locked");
         await new Response(Deno.stdin.readable).text();`,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /locked/);
    reader.releaseLock();

    assert.match(await ours([...s.flags, "layers"]), /keep/);
    assert.ok(!await exists(`${tmp}/temp-dir-stale`));
    assert.ok(!await exists(`${tmp}/lock-stale`));
    assert.ok(await exists(`${tmp}/temp-dir-busy/0-victim/f`));
    assert.ok(await exists(`${tmp}/lock-busy`));

    await holder.stdin.close();
    await holder.status;
    holder = null;
    await ours([...s.flags, "layers"]);
    assert.deepEqual([...Deno.readDirSync(tmp)], []);
  } finally {
    if (holder) {
      holder.kill();
      await holder.status;
    }
    await s.dispose();
  }
});
