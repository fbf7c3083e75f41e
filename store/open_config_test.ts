import assert from "node:assert/strict";
import { openStore } from "./store.ts";

Deno.test("openStore() with no options takes the roots and driver of storage.conf, as Go's GetStore", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "cs-open-config-" });
  const old = Deno.env.get("CONTAINERS_STORAGE_CONF");
  try {
    await Deno.writeTextFile(
      `${tmp}/storage.conf`,
      `[storage]\ndriver = "vfs"\ngraphroot = "${tmp}/g"\nrunroot = "${tmp}/r"\n`,
    );
    Deno.env.set("CONTAINERS_STORAGE_CONF", `${tmp}/storage.conf`);
    const store = await openStore();
    try {
      assert.equal(store.graphRoot, `${tmp}/g`);
      assert.equal(store.runRoot, `${tmp}/r`);
      assert.equal(store.driverName, "vfs");
    } finally {
      await store.close();
    }
    // Given options win: a driver alone (no roots) is Go's "missing StoreOptions" error.
    await assert.rejects(openStore({ driverName: "vfs" }), /no storage runroot or graphroot specified/);
  } finally {
    if (old === undefined) Deno.env.delete("CONTAINERS_STORAGE_CONF");
    else Deno.env.set("CONTAINERS_STORAGE_CONF", old);
    await Deno.remove(tmp, { recursive: true });
  }
});
