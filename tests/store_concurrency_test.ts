/**
 * Eight processes create fifty layers each on one store at the same time: all 400
 * layers exist afterwards, with their names, and every state file is valid JSON.
 */
import assert from "node:assert/strict";
import { openStore } from "../mod.ts";
import { goJSON, REPO, withTempStore } from "./store_util.ts";

const PROCS = 8;
const EACH = 50;

Deno.test("8 processes x 50 layers on one store", () =>
  withTempStore("concurrency", async (t) => {
    const children = Array.from({ length: PROCS }, (_, p) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${REPO}/tests/store_concurrency_child.ts`,
          t.graph,
          t.run,
          `p${p}`,
          String(EACH),
        ],
        cwd: REPO,
        stdout: "inherit",
        stderr: "inherit",
      }).spawn());
    const statuses = await Promise.all(children.map((c) => c.status));
    assert.deepEqual(statuses.map((s) => s.code), Array(PROCS).fill(0));
    const layersJSON = JSON.parse(await Deno.readTextFile(`${t.graph}/vfs-layers/layers.json`));
    assert.equal(layersJSON.length, PROCS * EACH);
    JSON.parse(await Deno.readTextFile(`${t.run}/vfs-layers/mountpoints.json`));
    assert.equal((await Deno.readFile(`${t.graph}/vfs-layers/layers.lock`)).length, 64);
    const s = await openStore({ graphRoot: t.graph, runRoot: t.run, driverName: "vfs" });
    try {
      const layers = await s.layers();
      assert.equal(layers.length, PROCS * EACH);
      const names = new Set(layers.flatMap((l) => l.names));
      for (let p = 0; p < PROCS; p++) for (let i = 0; i < EACH; i++) assert.ok(names.has(`p${p}-${i}`));
      const ids = new Set(layers.map((l) => l.id));
      for (const l of layers) {
        assert.equal(l.flags.incomplete, undefined);
        if (l.parent) assert.ok(ids.has(l.parent));
      }
      assert.equal([...Deno.readDirSync(`${t.graph}/vfs/dir`)].length, PROCS * EACH);
    } finally {
      await s.close();
    }
    assert.equal(((await goJSON(t, ["layers", "-j"])) as unknown[]).length, PROCS * EACH);
  }));
