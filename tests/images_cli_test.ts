/**
 * The import-image and export-image commands' error paths: what they print and their
 * exit codes, and that a failed import leaves no trace in the store.
 */
import assert from "node:assert/strict";
import { runOurs, tempStore } from "./cli_helpers.ts";
import { writeImageBlobs, writeIndex } from "./images_helpers.ts";

Deno.test("import-image / export-image: usage and input errors", async () => {
  const s = await tempStore("vfs", "cs-img-cli-");
  try {
    const bad = await runOurs([...s.flags, "import-image", "docker:busybox"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unsupported image location "docker:busybox"/);

    const missing = await runOurs([...s.flags, "import-image", `oci:${s.root}/nothing`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /is not an OCI image layout/);

    // A layout whose only layer blob is gone: error, and the store has no layers.
    const layout = `${s.root}/layout`;
    const w = await writeImageBlobs(layout, { layers: [{ "x": "x\n" }] });
    await writeIndex(layout, [w.manifest]);
    await Deno.remove(w.layerPaths[0]);
    const gone = await runOurs([...s.flags, "import-image", "--name", "x", `oci:${layout}`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`blob ${w.layers[0].digest} not found`));
    const layers = await runOurs([...s.flags, "layers", "-j"]);
    assert.deepEqual(JSON.parse(layers.stdout) ?? [], []);

    const noImage = await runOurs([...s.flags, "export-image", "nope", `oci:${s.root}/out`]);
    assert.equal(noImage.code, 1);
    assert.match(noImage.stderr, /image not known/);

    const comp = await runOurs([
      ...s.flags,
      "export-image",
      "--compression",
      "lz4",
      "nope",
      `oci:${s.root}/out`,
    ]);
    assert.equal(comp.code, 1);
    assert.match(comp.stderr, /invalid compression "lz4"/);

    const args = await runOurs([...s.flags, "export-image", "only-one"]);
    assert.equal(args.code, 1);
    assert.match(args.stdout, /export-image: more arguments required/);
  } finally {
    await s.dispose();
  }
});
