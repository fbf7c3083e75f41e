/**
 * HEAD's maintenance commands through the CLI: `gc`, `remove-names`, `config`,
 * `storage-layers`, `create-storage-layer`, `layers -q` (vfs and overlay, per
 * CLI_TEST_DRIVERS), and `dedup` on a loop-mounted btrfs (reflinks: blocks really shared,
 * contents intact) and on the temp directory's filesystem (ext4 here: "not supported").
 */
import assert from "node:assert/strict";
import { forEachCliDriver, ok, runOurs, tempStore } from "./cli_helpers.ts";
import type { RunOptions, RunResult, TempStore } from "./cli_helpers.ts";
import { makeTar } from "../store/testdata/tar.ts";
import { withScratchBtrfs } from "../drivers/btrfs/testutil.ts";
import { statfs } from "../sys/statfs.ts";

const HEX64 = /^[0-9a-f]{64}$/;

forEachCliDriver((driver) => {
  Deno.test(`maintenance on ${driver}: storage layers, gc, remove-names, layers -q, config`, async () => {
    const s = await tempStore(driver, "cs-maint-");
    const cs = (args: string[], opts?: RunOptions) => runOurs([...s.flags, ...args], opts);
    try {
      const layer = ok(await cs(["create-layer", "-n", "a", "-n", "b", "-n", "c"]), "layer").stdout.slice(
        0,
        64,
      );
      // create-storage-layer: a driver layer without a record, on a parent, with a given ID or a random one.
      const given = "f".repeat(64);
      assert.equal(ok(await cs(["create-storage-layer", "-i", given, layer]), "csl").stdout, `${given}\n`);
      const random = JSON.parse(ok(await cs(["create-storage-layer", "-j"]), "csl -j").stdout);
      assert.match(random, HEX64);
      assert.deepEqual(await cs(["create-storage-layer", "-i", given]).then((r) => [r.code, r.stderr]), [
        1,
        "that ID is already in use\n",
      ]);
      assert.equal(ok(await cs(["layers", "-q"]), "layers -q").stdout, `${layer}\n`);
      const onDisk = [layer, given, random].sort();
      assert.deepEqual(
        ok(await cs(["storage-layers"]), "storage-layers").stdout.trim().split("\n").sort(),
        onDisk,
      );
      assert.deepEqual(
        JSON.parse(ok(await cs(["storage-layers", "-j"]), "storage-layers -j").stdout).sort(),
        onDisk,
      );

      // gc: driver layers and data directories nobody owns go; records and their data stay.
      const img = ok(await cs(["create-image", layer]), "image").stdout.slice(0, 64);
      ok(await cs(["set-image-data", "-f", "/dev/null", img, "k"]), "image data");
      const stray = `${s.graph}/${driver}-images/${"e".repeat(64)}`;
      await Deno.mkdir(stray);
      assert.deepEqual(await cs(["gc"]).then((r) => [r.code, r.stdout, r.stderr]), [0, "", ""]);
      assert.deepEqual(ok(await cs(["storage-layers"]), "storage-layers").stdout, `${layer}\n`);
      await assert.rejects(Deno.stat(stray), Deno.errors.NotFound);
      await Deno.stat(`${s.graph}/${driver}-images/${img}/k`);
      assert.equal(ok(await cs(["gc", "-j"]), "gc -j").stdout, '""\n');

      // remove-names: text prints nothing, JSON the names left; unknown names are ignored.
      assert.deepEqual(
        await cs(["remove-names", "-n", "b", "-n", "zz", "a"]).then((r) => [r.code, r.stdout]),
        [
          0,
          "",
        ],
      );
      assert.equal(ok(await cs(["remove-names", "-j", "-n", "a", "c"]), "remove-names -j").stdout, '["c"]\n');
      assert.equal(ok(await cs(["get-names", layer]), "get-names").stdout, "c\n");
      assert.deepEqual(await cs(["remove-names", "-n", "c", "nosuch"]).then((r) => [r.code, r.stderr]), [
        1,
        "layer not known\n",
      ]);
    } finally {
      await s.dispose();
    }
  });
});

Deno.test("config: default options as JSON, re-read from a given file, errors prefixed", async () => {
  const s = await tempStore("vfs", "cs-config-");
  try {
    const file = `${s.root}/other.conf`;
    await Deno.writeTextFile(
      file,
      `[storage]\ndriver = "overlay"\nrunroot = "${s.run}/x"\ngraphroot = "${s.graph}/x"\n` +
        `[storage.options]\nremap-uids = "0:100000:65536"\n`,
    );
    const r = ok(await runOurs([...s.flags, "config", file]), "config FILE");
    const j = JSON.parse(r.stdout);
    assert.deepEqual([j.runroot, j.root, j.driver], [`${s.run}/x`, `${s.graph}/x`, "overlay"]);
    assert.deepEqual(j.uidmap, [{ container_id: 0, host_id: 100000, size: 65536 }]);
    const missing = await runOurs([...s.flags, "config", `${s.root}/nosuch.conf`]);
    assert.deepEqual([missing.code, missing.stderr], [
      1,
      `reload: stat ${s.root}/nosuch.conf: no such file or directory\n`,
    ]);
  } finally {
    await s.dispose();
  }
});

/** An image of two layers whose files include one duplicate pair (`big` and `copy`). */
async function imageWithDuplicates(s: TempStore, cs: (a: string[]) => Promise<RunResult>): Promise<number> {
  const big = "0123456789abcdef".repeat(65536); // 1 MiB
  await Deno.writeFile(`${s.root}/l1.tar`, makeTar([{ name: "big", data: big }, { name: "g", data: "xyz" }]));
  await Deno.writeFile(`${s.root}/l2.tar`, makeTar([{ name: "copy", data: big }]));
  ok(await cs(["import-layer", "-n", "base", "-f", `${s.root}/l1.tar`]), "base");
  ok(await cs(["import-layer", "-n", "top", "-f", `${s.root}/l2.tar`, "base"]), "top");
  ok(await cs(["create-image", "-n", "img", "top"]), "image");
  return big.length;
}

/** Bytes of the files under `dir` that btrfs stores for them alone (not shared). */
function exclusiveBytes(dir: string): number {
  // Data still in the page cache has no extents yet.
  new Deno.Command("sync", { args: ["-f", dir] }).outputSync();
  const out = new Deno.Command("btrfs", { args: ["filesystem", "du", "--raw", "-s", dir], stdout: "piped" })
    .outputSync();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
  return Number(line.trim().split(/\s+/)[1]);
}

forEachCliDriver((driver) => {
  Deno.test(`dedup on ${driver} over btrfs: identical files of image layers share their blocks`, async () => {
    await withScratchBtrfs(async (fs) => {
      const root = `${fs.mnt}/store`;
      const flags = ["--graph", `${root}/graph`, "--run", `${fs.dir}/run`, "--storage-driver", driver];
      const s: TempStore = {
        root,
        graph: `${root}/graph`,
        run: `${fs.dir}/run`,
        driver,
        flags,
        dispose: async () => {},
      };
      await Deno.mkdir(root);
      const cs = (args: string[]) => runOurs([...flags, ...args]);
      try {
        const size = await imageWithDuplicates(s, cs);
        // vfs: the top layer is a full copy (big, copy, g) after the base (big, g): every file
        // but the first `big` and `g` is a duplicate. overlay: only `copy` in top's diff.
        const expected = driver === "vfs" ? 2 * size + 3 : size;
        const home = `${root}/graph/${driver}`;
        const before = exclusiveBytes(home);
        assert.equal(ok(await cs(["dedup"]), "dedup").stdout, `Deduplicated ${expected} bytes\n`);
        const after = exclusiveBytes(home);
        assert.ok(after <= before - size, `btrfs shares the blocks now (exclusive: ${before} → ${after})`);
        assert.equal(
          ok(await cs(["dedup", "-j", "--hash-method", "sha256"]), "dedup -j").stdout,
          `{"Deduped":${expected}}\n`,
        );
        assert.equal(
          ok(await cs(["dedup", "--hash-method", "size"]), "dedup size").stdout,
          `Deduplicated ${expected} bytes\n`,
        );
        // Same-size files with other contents are never merged, and every layer reads back intact.
        assert.deepEqual(await cs(["check"]).then((r) => [r.code, r.stdout]), [0, ""]);
        assert.deepEqual(await cs(["dedup", "--hash-method", "md5"]).then((r) => [r.code, r.stderr]), [
          1,
          "invalid hash method: md5\n",
        ]);
      } finally {
        if (driver === "overlay") await cs(["shutdown", "-f"]).catch(() => {});
      }
    });
  });
});

Deno.test("dedup on a filesystem without reflinks fails clearly", async () => {
  const s = await tempStore("vfs", "cs-dedup-");
  const cs = (args: string[]) => runOurs([...s.flags, ...args]);
  try {
    const fsType = statfs(s.root).type;
    await imageWithDuplicates(s, cs);
    const r = await cs(["dedup"]);
    // ext4 and tmpfs (the usual temp directories) have no reflinks; xfs/btrfs temp dirs would.
    if (fsType === 0xef53 || fsType === 0x01021994) {
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^dedup: deduplicating \S+: the filesystem does not support reflinks: operation not supported\n$/,
      );
      assert.deepEqual(await cs(["dedup", "-j"]).then((x) => [x.code, x.stdout, x.stderr]), [1, "{}\n", ""]);
    } else {
      ok(r, "dedup");
    }
  } finally {
    await s.dispose();
  }
});
