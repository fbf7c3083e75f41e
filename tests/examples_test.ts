/** The README's library example and the demo run as documented. */
import assert from "node:assert/strict";

const run = async (args: string[]) => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
};

Deno.test("examples/library.ts creates a layer, an image and a container and reads the mounted file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "cs-example-test-" });
  try {
    const r = await run(["examples/library.ts", `${tmp}/g`, `${tmp}/r`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^layer [0-9a-f]{64} diff sha256:[0-9a-f]{64} \(\d+ bytes\)$/m);
    assert.match(r.stdout, /^greeting: hello from a layer$/m);
    const layers = JSON.parse(await Deno.readTextFile(`${tmp}/g/vfs-layers/layers.json`));
    assert.equal(layers.length, 2, "the image's layer and the container's layer");
    const images = JSON.parse(await Deno.readTextFile(`${tmp}/g/vfs-images/images.json`));
    assert.deepEqual(images[0].names, ["example:latest"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("deno task demo walks through a store of its own and leaves it listable", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "cs-demo-test-" });
  const g = `${tmp}/g`, r = `${tmp}/r`;
  try {
    const res = await run(["examples/demo.ts", "--graph", g, "--run", r, "--driver", "vfs"]);
    assert.equal(res.code, 0, res.stderr);
    for (
      const cmd of ["import-layer", "create-image", "create-container", "layers --tree", "mount", "changes"]
    ) {
      assert.match(res.stdout, new RegExp(`\\$ containers-storage ${cmd}`));
    }
    assert.match(res.stdout, /Add "\/app\/output\.txt"/);
    assert.match(res.stdout, /Delete "\/usr\/bin\/hello"/);
    const ls = await new Deno.Command("containers-storage", {
      args: ["--graph", g, "--run", r, "-s", "vfs", "containers"],
      stdout: "piped",
    }).output();
    assert.match(
      new TextDecoder().decode(ls.stdout),
      /name: demo-container/,
      "the Go CLI lists the demo's container",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
