/**
 * The split image store (`--image-store DIR`, HEAD) through the CLI: read-only layers and
 * images are recorded (and, for vfs and overlay, stored) under DIR with its own
 * `layers.lock`, written together with the graph root's; writable layers and containers
 * stay in the graph root; `get-image-dir`/`get-image-run-dir`. Go 1.43, which knows no
 * split stores, uses DIR as an additional image store and sees the same items.
 */
import assert from "node:assert/strict";
import { HAVE_GO, runOurs, tempStore } from "./cli_helpers.ts";
import { DRIVERS, field, goOk, makeTar, ours, oursFails, records } from "./stores_helpers.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** Where a driver keeps a layer's files below a driver home. */
const layerFiles = (driver: string, home: string, id: string) =>
  driver === "vfs" ? `${home}/dir/${id}` : `${home}/${id}/diff`;

for (const driver of DRIVERS) {
  Deno.test(`stores (${driver}): a split image store holds images and read-only layers`, async () => {
    const s = await tempStore(driver, "cs-stores-split-");
    const img = `${s.root}/imagestore`;
    const f = [...s.flags, "--image-store", img];
    try {
      const tar = await makeTar(s.root, { "app/bin": "v1\n" });
      await ours([...f, "create-layer", "-r", "-n", "base"]);
      const app =
        JSON.parse(await ours([...f, "import-layer", "-j", "-r", "-n", "app", "base"], { stdin: tar })).id;
      const image = (await ours([...f, "create-image", "-n", "img", "app"])).split("\n")[0].trim();
      await ours([...f, "create-layer", "-n", "scratch"]);

      // Records: read-only layers and the image under the image store, the rest in the graph root.
      const names = async (p: string) => (await records(p)).map((r) => (r.names as string[])[0]);
      assert.deepEqual(await names(`${img}/${driver}-layers/layers.json`), ["base", "app"]);
      assert.deepEqual(await names(`${s.graph}/${driver}-layers/layers.json`), ["scratch"]);
      assert.deepEqual(await names(`${img}/${driver}-images/images.json`), ["img"]);
      assert.deepEqual(await records(`${s.graph}/${driver}-images/images.json`), []);
      // Layer data too.
      assert.ok(await exists(layerFiles(driver, `${img}/${driver}`, app)));
      assert.ok(!await exists(layerFiles(driver, `${s.graph}/${driver}`, app)));
      assert.equal(await Deno.readTextFile(`${layerFiles(driver, `${img}/${driver}`, app)}/app/bin`), "v1\n");
      // The original tar comes back byte for byte.
      assert.deepEqual((await runOurs([...f, "diff", "app"])).stdoutBytes, tar);
      // Without the image store, the graph root alone has no image.
      assert.equal(await ours([...s.flags, "images"]), "");

      // Both layers.lock files take a new token on every layer write.
      const tokens = () =>
        Promise.all(
          [`${s.graph}/${driver}-layers`, `${img}/${driver}-layers`].map((d) =>
            Deno.readFile(`${d}/layers.lock`)
          ),
        );
      const before = await tokens();
      assert.deepEqual(before.map((t) => t.length), [64, 64]);
      await ours([...f, "create-container", "-n", "ctr", "img"]);
      const after = await tokens();
      assert.notDeepEqual(after[0], before[0]);
      assert.notDeepEqual(after[1], before[1]);

      const merged = (await ours([...f, "mount", "ctr"])).trim();
      assert.equal(await Deno.readTextFile(`${merged}/app/bin`), "v1\n");
      await Deno.writeTextFile(`${merged}/app/bin`, "v2\n");
      await ours([...f, "unmount", "ctr"]);

      // HEAD's image directories (graph and run root, whichever store holds the image).
      assert.equal(
        (await ours([...f, "get-image-dir", "img"])).trim(),
        `${s.graph}/${driver}-images/${image}/userdata`,
      );
      assert.equal(
        (await ours([...f, "get-image-run-dir", "img"])).trim(),
        `${s.run}/${driver}-images/${image}/userdata`,
      );
      assert.ok(await exists(`${s.graph}/${driver}-images/${image}/userdata`));

      if (HAVE_GO) {
        // 1.43 reads the image store as an additional store: same items, same container content.
        const g = [...s.flags, "--storage-opt", `${driver}.imagestore=${img}`];
        for (const args of [["layers", "-j"], ["images", "-j"], ["containers", "-j"]]) {
          assert.equal(await goOk([...g, ...args]), await ours([...f, ...args]), args.join(" "));
        }
        const goMerged = (await goOk([...g, "mount", "ctr"])).trim();
        assert.equal(await Deno.readTextFile(`${goMerged}/app/bin`), "v2\n");
        await goOk([...g, "unmount", "ctr"]);
      }

      await ours([...f, "delete-container", "ctr"]);
      await ours([...f, "delete-image", "img"]);
      assert.deepEqual(field(await ours([...f, "layers", "-j"]), "names"), [["scratch"]]);
      assert.deepEqual(await records(`${img}/${driver}-layers/layers.json`), []);
      assert.ok(!await exists(layerFiles(driver, `${img}/${driver}`, app)));
      // An image of the graph root (made without the image store) still protects its layer.
      await ours([...s.flags, "create-image", "-n", "graph-img", "scratch"]);
      assert.match(await oursFails([...f, "delete-layer", "scratch"]), /layer is in use by an image/);

      const same = await runOurs([...s.flags, "--image-store", s.graph, "layers"]);
      assert.equal(same.code, 1);
      assert.equal(
        same.stdout,
        `error initializing: imagestore ${s.graph} must either be not set or be a different than graphroot\n`,
      );
    } finally {
      if (driver === "overlay") await runOurs([...f, "shutdown"]);
      await s.dispose();
    }
  });
}
