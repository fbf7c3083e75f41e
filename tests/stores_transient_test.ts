/**
 * Transient stores (`--transient-store`) and volatile containers (`create-container
 * --volatile`) through the CLI: where HEAD keeps their records, what Go 1.43 (which reads
 * only the persistent files) sees, and a simulated reboot (mounts gone, run root wiped)
 * that leaves the persistent images intact.
 */
import assert from "node:assert/strict";
import { HAVE_GO, runOurs, tempStore } from "./cli_helpers.ts";
import { DRIVERS, field, goOk, makeTar, ours, records } from "./stores_helpers.ts";
import { detachAll } from "../sys/testutil.ts";

const ids = (l: Array<Record<string, unknown>>) => l.map((r) => r.id);

for (const driver of DRIVERS) {
  Deno.test(`stores (${driver}): a transient store survives a reboot with its images, not its containers`, async () => {
    const s = await tempStore(driver, "cs-stores-tr-");
    try {
      const tar = await makeTar(s.root, { "data/file": "persistent\n" });
      await ours([...s.flags, "import-layer", "-n", "base"], { stdin: tar });
      await ours([...s.flags, "create-image", "-n", "img", "base"]);
      const t = [...s.flags, "--transient-store"];
      const ctr = (await ours([...t, "create-container", "-n", "c1", "img"])).split("\n")[0].trim();
      const merged = (await ours([...t, "mount", "c1"])).trim();
      assert.equal(await Deno.readTextFile(`${merged}/data/file`), "persistent\n");
      await Deno.writeTextFile(`${merged}/data/new`, "gone after a reboot\n");

      // Records, lock and volatile layer in the run root; nothing in the graph root's files.
      const runCtrs = await records(`${s.run}/${driver}-containers/volatile-containers.json`);
      assert.deepEqual(ids(runCtrs), [ctr]);
      assert.equal((runCtrs[0].flags as Record<string, unknown>).Volatile, true);
      assert.equal((await Deno.stat(`${s.run}/${driver}-containers/containers.lock`)).size, 64);
      assert.deepEqual(await records(`${s.graph}/${driver}-containers/containers.json`), []);
      const ctrLayer = runCtrs[0].layer as string;
      assert.deepEqual(ids(await records(`${s.run}/${driver}-layers/volatile-layers.json`)), [ctrLayer]);
      assert.ok(!ids(await records(`${s.graph}/${driver}-layers/layers.json`)).includes(ctrLayer));
      assert.deepEqual(field(await ours([...t, "containers", "-j"]), "id"), [ctr]);

      if (HAVE_GO) {
        // 1.43 reads the persistent files: the image and its layer, no container.
        assert.equal(await goOk([...s.flags, "containers"]), "");
        assert.equal(await goOk([...s.flags, "layers", "-j"]), await ours([...s.flags, "layers", "-j"]));
        assert.equal(await goOk([...s.flags, "images", "-j"]), await ours([...t, "images", "-j"]));
      }

      // Reboot: every mount is gone and the run root (a tmpfs) is empty.
      detachAll(s.root);
      await Deno.remove(s.run, { recursive: true });

      assert.equal(await ours([...t, "containers"]), "");
      assert.deepEqual(field(await ours([...t, "images", "-j"]), "names"), [["img"]]);
      assert.deepEqual(field(await ours([...t, "layers", "-j"]), "names"), [["base"]]);
      // The old container layer's data is an orphan now; gc removes it.
      assert.ok(JSON.parse(await ours([...t, "storage-layers", "-j"])).includes(ctrLayer));
      await ours([...t, "gc"]);
      assert.ok(!JSON.parse(await ours([...t, "storage-layers", "-j"])).includes(ctrLayer));

      // The name is free again, and the image still works.
      await ours([...t, "create-container", "-n", "c1", "img"]);
      const again = (await ours([...t, "mount", "c1"])).trim();
      assert.equal(await Deno.readTextFile(`${again}/data/file`), "persistent\n");
      await assert.rejects(() => Deno.stat(`${again}/data/new`), Deno.errors.NotFound);
      await ours([...t, "unmount", "c1"]);
      await ours([...t, "delete-container", "c1"]);
      if (HAVE_GO) assert.match(await goOk([...s.flags, "images"]), /^\tname: img$/m);
    } finally {
      await s.dispose();
    }
  });

  Deno.test(`stores (${driver}): volatile containers live in HEAD's volatile files`, async () => {
    const s = await tempStore(driver, "cs-stores-vol-");
    try {
      await ours([...s.flags, "create-layer", "-n", "base"]);
      await ours([...s.flags, "create-image", "-n", "img", "base"]);
      await ours([...s.flags, "create-container", "-n", "keep", "img"]);
      const vol = (await ours([...s.flags, "create-container", "--volatile", "-n", "vol", "img"])).split(
        "\n",
      )[0]
        .trim();
      const dir = `${s.graph}/${driver}-containers`;
      const volatile = await records(`${dir}/volatile-containers.json`);
      assert.deepEqual(ids(volatile), [vol]);
      assert.equal((volatile[0].flags as Record<string, unknown>).Volatile, true);
      assert.deepEqual((await records(`${dir}/containers.json`)).map((c) => c.names), [["keep"]]);
      const layers = await records(`${s.graph}/${driver}-layers/volatile-layers.json`);
      assert.deepEqual(ids(layers), [volatile[0].layer]);
      assert.deepEqual(field(await ours([...s.flags, "containers", "-j"]), "names"), [["keep"], ["vol"]]);
      if (HAVE_GO) {
        // 1.43 does not read the volatile files (as with HEAD-written stores).
        assert.deepEqual(field(await goOk([...s.flags, "containers", "-j"]), "names"), [["keep"]]);
      }

      const merged = (await ours([...s.flags, "mount", "vol"])).trim();
      // status prints on stderr, as Go's.
      if (
        driver === "overlay" && /Supports volatile: true/.test((await runOurs([...s.flags, "status"])).stderr)
      ) {
        const line = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n").find((l) =>
          l.split(" ")[4] === merged
        );
        assert.match(line ?? "", /\bvolatile\b/, "overlay mount of a volatile container");
      }
      await ours([...s.flags, "unmount", "vol"]);
      await ours([...s.flags, "delete-container", "vol"]);
      assert.deepEqual(await records(`${dir}/volatile-containers.json`), []);
      assert.deepEqual(await records(`${s.graph}/${driver}-layers/volatile-layers.json`), []);
      assert.deepEqual(field(await ours([...s.flags, "containers", "-j"]), "names"), [["keep"]]);
    } finally {
      await s.dispose();
    }
  });
}
