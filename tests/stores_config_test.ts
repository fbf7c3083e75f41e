/**
 * storage.conf's store keys reach the store: `imagestore` (split store), `transient_store`
 * and `[storage.options] additionalimagestores`, read when no global store flag is given.
 */
import assert from "node:assert/strict";
import { tempStore } from "./cli_helpers.ts";
import { ours } from "./stores_helpers.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("stores (vfs): imagestore, transient_store and additionalimagestores from storage.conf", async () => {
  const src = await tempStore("vfs", "cs-stores-cfsrc-");
  const s = await tempStore("vfs", "cs-stores-cf-");
  try {
    await ours([...src.flags, "create-layer", "-n", "shared-layer"]);
    await ours([...src.flags, "create-image", "-n", "shared", "shared-layer"]);
    const conf = `${s.root}/storage.conf`;
    const img = `${s.root}/imagestore`;
    await Deno.writeTextFile(
      conf,
      `[storage]
driver = "vfs"
graphroot = "${s.graph}"
runroot = "${s.run}"
imagestore = "${img}"
transient_store = true
[storage.options]
additionalimagestores = ["${src.graph}"]
`,
    );
    const env = { env: { CONTAINERS_STORAGE_CONF: conf } };
    await ours(["create-layer", "-r", "-n", "ro"], env);
    const ctr = (await ours(["create-container", "shared"], env)).trim();
    assert.match(await ours(["images"], env), /^\tname: shared$/m);
    // The read-only layer went to the image store, the container to the run root only.
    assert.match(await Deno.readTextFile(`${img}/vfs-layers/layers.json`), /"names":\["ro"\]/);
    assert.match(
      await Deno.readTextFile(`${s.run}/vfs-containers/volatile-containers.json`),
      new RegExp(ctr),
    );
    assert.ok(!await exists(`${s.graph}/vfs-containers/containers.json`));
  } finally {
    await s.dispose();
    await src.dispose();
  }
});
