/**
 * Additional read-only image stores through the CLI (`--storage-opt DRIVER.imagestore=`):
 * their images and layers are listed, resolved, used as container parents and mounted
 * below containers, never modified; the store sits on a read-only bind mount, and a
 * writable one is not written either (snapshot, and strace shows its lock files opened
 * O_RDONLY). Missing or corrupt stores fail clearly. Go 1.43 reads the same setup alike.
 */
import assert from "node:assert/strict";
import { HAVE_GO, runOurs, tempStore } from "./cli_helpers.ts";
import {
  bindReadOnly,
  DRIVERS,
  field,
  goOk,
  makeTar,
  ours,
  oursFails,
  snapshot,
  unmount,
} from "./stores_helpers.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** Builds a store holding image `roimg` on layer `rolayer` (file etc/motd) over `robase`. */
async function buildSource(flags: string[], root: string, driver: string): Promise<void> {
  const tar = await makeTar(root, { "etc/motd": "from the shared store\n" });
  await ours([...flags, "create-layer", "-n", "robase"]);
  await ours([...flags, "import-layer", "-n", "rolayer", "robase"], { stdin: tar });
  await ours([...flags, "create-image", "-n", "roimg", "rolayer"]);
  // A store exported to other hosts is not in use here: no private mount of its home.
  if (driver === "overlay") await ours([...flags, "shutdown"]);
}

for (const driver of DRIVERS) {
  Deno.test(`stores (${driver}): an additional store on a read-only bind mount is used, never written`, async () => {
    const src = await tempStore(driver, "cs-stores-src-");
    const s = await tempStore(driver, "cs-stores-add-");
    const bind = `${s.root}/shared`;
    try {
      await buildSource(src.flags, src.root, driver);
      await bindReadOnly(src.graph, bind);
      await assert.rejects(() => Deno.writeTextFile(`${bind}/probe`, "x"), /read-only file system/i);
      const before = snapshot(src.graph);
      const f = [...s.flags, "--storage-opt", `${driver}.imagestore=${bind}`];

      // Listed and resolved, marked read-only.
      assert.deepEqual(field(await ours([...f, "layers", "-j"]), "names").flat().sort(), [
        "robase",
        "rolayer",
      ]);
      assert.match(await ours([...f, "image", "roimg"]), /^Read Only: true$/m);
      assert.match(await ours([...f, "layer", "rolayer"]), /^Read Only: true$/m);

      // Used as a container parent and mounted below the container.
      await ours([...f, "create-container", "-n", "ctr", "roimg"]);
      const merged = (await ours([...f, "mount", "ctr"])).trim();
      assert.equal(await Deno.readTextFile(`${merged}/etc/motd`), "from the shared store\n");
      await Deno.writeTextFile(`${merged}/etc/motd`, "changed in the container\n");
      await ours([...f, "unmount", "ctr"]);
      const layer = JSON.parse(await ours([...f, "container", "-j", "ctr"]))[0].layer;
      // Against its parent in the additional store: a modification, not an addition.
      const changes = JSON.parse(await ours([...f, "changes", "-j", layer]));
      assert.deepEqual(changes.find((c: { Path: string }) => c.Path === "/etc/motd"), {
        Path: "/etc/motd",
        Kind: 0,
      });
      assert.ok(changes.every((c: { Kind: number }) => c.Kind === 0), JSON.stringify(changes));

      // Never modified: the writes that would touch it are refused with Go's errors.
      assert.match(
        await oursFails([...f, "set-metadata", "-m", "x", "roimg"]),
        /identifier is not a layer, image, or container/,
      );
      assert.match(await oursFails([...f, "delete-image", "roimg"]), /identifier is not an image/);
      assert.match(await oursFails([...f, "delete-layer", "rolayer"]), /identifier is not a layer/);
      assert.match(
        await oursFails([...f, "mount", "rolayer"]),
        /mounting read\/only store images is not allowed/,
      );
      if (HAVE_GO) {
        // Go 1.43 sees the same items and the same changes from the same setup.
        for (const args of [["layers", "-j"], ["images", "-j"], ["changes", "-j", layer]]) {
          assert.equal(await ours([...f, ...args]), await goOk([...f, ...args]), args.join(" "));
        }
      }
      await ours([...f, "delete-container", "ctr"]);
      assert.deepEqual(snapshot(src.graph), before);
    } finally {
      await unmount(bind);
      await s.dispose();
      await src.dispose();
    }
  });
}

Deno.test("stores (vfs): a writable additional store is not written and its locks are opened read-only", async () => {
  const src = await tempStore("vfs", "cs-stores-src-");
  const s = await tempStore("vfs", "cs-stores-add-");
  try {
    await buildSource(src.flags, src.root, "vfs");
    // A half-made layer there is not ours to clean up (a writer of that store will).
    const layersJson = `${src.graph}/vfs-layers/layers.json`;
    const recs = JSON.parse(await Deno.readTextFile(layersJson));
    recs.push({ id: "half", created: "2026-01-02T03:04:05Z", flags: { incomplete: true } });
    await Deno.writeTextFile(layersJson, JSON.stringify(recs));
    const before = snapshot(src.graph);
    const f = [...s.flags, "--storage-opt", `vfs.imagestore=${src.graph}`];
    // One run under strace: every open of a file of the additional store is read-only.
    const trace = `${s.root}/trace`;
    const st = await new Deno.Command("strace", {
      args: [
        "-f",
        "-qq",
        "-e",
        "trace=openat",
        "-o",
        trace,
        Deno.execPath(),
        "run",
        "-A",
        "--no-lock",
        CLI,
        ...f,
        "create-container",
        "-n",
        "traced",
        "roimg",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(st.success, "strace run of create-container failed");
    const opens = (await Deno.readTextFile(trace)).split("\n").filter((l) => l.includes(`"${src.graph}/`));
    const locks = opens.filter((l) => l.includes('.lock"'));
    assert.ok(locks.some((l) => l.includes("vfs-layers/layers.lock")), opens.join("\n"));
    assert.ok(locks.some((l) => l.includes("vfs-images/images.lock")), opens.join("\n"));
    for (const l of opens) assert.doesNotMatch(l, /O_WRONLY|O_RDWR/, l);

    assert.ok(field(await ours([...f, "layers", "-j"]), "id").includes("half"));
    await ours([...f, "mount", "traced"]);
    await ours([...f, "unmount", "traced"]);
    await ours([...f, "delete-container", "traced"]);
    assert.deepEqual(snapshot(src.graph), before);
  } finally {
    await s.dispose();
    await src.dispose();
  }
});

Deno.test("stores (vfs): a missing, foreign or corrupt additional store fails clearly and is left alone", async () => {
  const s = await tempStore("vfs", "cs-stores-bad-");
  try {
    const opt = (p: string) => [...s.flags, "--storage-opt", `vfs.imagestore=${p}`, "images"];

    const missing = `${s.root}/missing`;
    const r1 = await runOurs(opt(missing));
    assert.equal(r1.code, 1);
    assert.equal(
      r1.stdout,
      `error initializing: additional image store ${missing}: no such file or directory\n`,
    );
    await assert.rejects(() => Deno.stat(missing), Deno.errors.NotFound);

    // A directory that holds no store of this driver (Go would create lock files in it).
    const empty = `${s.root}/empty`;
    await Deno.mkdir(empty);
    assert.match(
      await oursFails(opt(empty)),
      new RegExp(`additional image store ${empty}: ${empty}/vfs-layers/layers.lock is missing`),
    );
    assert.deepEqual([...Deno.readDirSync(empty)], []);

    const corrupt = `${s.root}/corrupt`;
    await ours([
      "--graph",
      corrupt,
      "--run",
      `${s.root}/corrupt-run`,
      "-s",
      "vfs",
      "create-layer",
      "-n",
      "x",
    ]);
    await Deno.writeTextFile(`${corrupt}/vfs-layers/layers.json`, '[{"id":');
    const before = snapshot(corrupt);
    assert.match(
      await oursFails(opt(corrupt)),
      new RegExp(`^error initializing: loading ${corrupt}/vfs-layers/layers.json: invalid JSON`),
    );
    assert.deepEqual(snapshot(corrupt), before);
  } finally {
    await s.dispose();
  }
});
