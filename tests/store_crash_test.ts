/**
 * A process killed (SIGKILL) while creating a layer leaves an `incomplete` record; the
 * next process that opens the store removes it and the store lists normally (for Go too).
 */
import assert from "node:assert/strict";
import { openStore } from "../mod.ts";
import { goJSON, REPO, withTempStore } from "./store_util.ts";

Deno.test("a layer creation killed midway is cleaned up by the next opener", () =>
  withTempStore("crash", async (t) => {
    const s0 = await openStore({ graphRoot: t.graph, runRoot: t.run, driverName: "vfs" });
    await s0.createLayer({ id: "keep", names: ["keep"] });
    await s0.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO}/tests/store_crash_child.ts`, t.graph, t.run],
      cwd: REPO,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let killed = false;
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("applying\n")) {
        const r = await reader.read();
        if (r.done) break;
        out += r.value;
      }
      assert.equal(out, "applying\n");
      const during = JSON.parse(await Deno.readTextFile(`${t.graph}/vfs-layers/layers.json`));
      assert.deepEqual(during.map((l: { id: string; flags?: unknown }) => [l.id, l.flags ?? null]), [
        ["keep", null],
        ["crashy", { incomplete: true }],
      ]);
      assert.ok(Deno.statSync(`${t.graph}/vfs/dir/crashy`).isDirectory);
      child.kill("SIGKILL");
      killed = true;
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL");
      reader.releaseLock();
    } finally {
      if (!killed) {
        child.kill("SIGKILL");
        await child.status;
      }
      await child.stdout.cancel().catch(() => {});
    }
    // The record is still there after the crash...
    assert.match(await Deno.readTextFile(`${t.graph}/vfs-layers/layers.json`), /"incomplete":true/);
    // ...until the next process opens the store.
    const s = await openStore({ graphRoot: t.graph, runRoot: t.run, driverName: "vfs" });
    try {
      assert.deepEqual((await s.layers()).map((l) => l.id), ["keep"]);
      await assert.rejects(() => Deno.stat(`${t.graph}/vfs/dir/crashy`), Deno.errors.NotFound);
      await assert.rejects(
        () => Deno.stat(`${t.graph}/vfs-layers/crashy.tar-split.gz`),
        Deno.errors.NotFound,
      );
      assert.doesNotMatch(await Deno.readTextFile(`${t.graph}/vfs-layers/layers.json`), /incomplete/);
      const again = await s.createLayer({ names: ["crash"] });
      assert.deepEqual(again.names, ["crash"]);
    } finally {
      await s.close();
    }
    const go = (await goJSON(t, ["layers", "-j"])) as Array<{ id: string }>;
    assert.equal(go.length, 2);
  }));
