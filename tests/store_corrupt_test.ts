/**
 * Corrupt or truncated state files make the store fail with an error naming the file,
 * and the file is left as it was; a lock file that cannot be opened fails clearly.
 */
import assert from "node:assert/strict";
import { CorruptFileError, LockError, openStore } from "../mod.ts";
import { withTempStore } from "./store_util.ts";

Deno.test("corrupt state files: clear error naming the file, file untouched", () =>
  withTempStore("corrupt", async (t) => {
    const open = () => openStore({ graphRoot: t.graph, runRoot: t.run, driverName: "vfs" });
    const s = await open();
    await s.createLayer({ id: "l1" });
    await s.createImage({ id: "i1", layer: "l1" });
    await s.createContainer({ id: "c1", image: "i1" });
    await s.mount("c1");
    await s.close();
    const files = [
      `${t.graph}/vfs-layers/layers.json`,
      `${t.graph}/vfs-images/images.json`,
      `${t.graph}/vfs-containers/containers.json`,
      `${t.run}/vfs-layers/mountpoints.json`,
    ];
    for (const file of files) {
      const good = await Deno.readFile(file);
      for (const bad of [good.slice(0, good.length - 3), new TextEncoder().encode('{"not":"a list"}')]) {
        await Deno.writeFile(file, bad);
        const before = await Deno.stat(file);
        await assert.rejects(open, (e) => {
          assert.ok(e instanceof CorruptFileError, String(e));
          assert.equal(e.path, file);
          assert.ok(e.message.startsWith(`loading ${file}: `), e.message);
          return true;
        });
        assert.deepEqual(await Deno.readFile(file), bad);
        assert.equal((await Deno.stat(file)).mtime?.getTime(), before.mtime?.getTime());
      }
      await Deno.writeFile(file, good);
    }
    const ok = await open();
    assert.equal(await ok.mounted("c1"), 1);
    await ok.close();
  }));

Deno.test("a lock file that cannot be opened gives a clear error", () =>
  withTempStore("badlock", async (t) => {
    await Deno.mkdir(`${t.graph}/vfs-layers/layers.lock`, { recursive: true });
    await assert.rejects(
      () => openStore({ graphRoot: t.graph, runRoot: t.run, driverName: "vfs" }),
      (e) => e instanceof LockError && e.message.includes(`${t.graph}/vfs-layers/layers.lock`),
    );
  }));
