/**
 * `check` through the CLI on stores damaged in every way it detects (vfs and overlay, per
 * CLI_TEST_DRIVERS), before and after `--repair` / `--force`; a damaged read-only
 * additional store (reported apart, never written); a check waiting for a Go writer.
 */
import assert from "node:assert/strict";
import { forEachCliDriver, HAVE_GO, ok, runOurs, tempStore } from "./cli_helpers.ts";
import type { RunOptions } from "./cli_helpers.ts";
import { makeTar, type Member } from "../store/testdata/tar.ts";

/** `check` text output as "kind ID" → problems. */
function parseReport(out: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let cur: string[] = [];
  for (const line of out.split("\n")) {
    if (line === "") continue;
    if (line.startsWith(" ")) cur.push(line.slice(1));
    else m.set(line.replace(/:$/, ""), cur = []);
  }
  return m;
}

const id = (c: string) => c.repeat(64);
const BASE = id("1"), TOP = id("2"), SOLO = id("3"), GONE = id("4"), CHILD = id("5"), LONELY = id("6");
const DATA = id("7"), SIZED = id("8");
const IMG = id("a"), IMG2 = id("b"), IMG3 = id("c"), IMG4 = id("e");
const C1 = id("d");

async function tarFile(dir: string, name: string, members: Member[]): Promise<string> {
  const p = `${dir}/${name}.tar`;
  await Deno.writeFile(p, makeTar(members));
  return p;
}

/** Path of a layer's own files in the driver (where a test damages them). */
function layerFiles(graph: string, driver: string, layer: string): string {
  return driver === "overlay" ? `${graph}/overlay/${layer}/diff` : `${graph}/vfs/dir/${layer}`;
}

/** Rewrites the layers.json records of a store (the test's way of losing or faking metadata). */
async function editLayers(graph: string, driver: string, fn: (l: Array<Record<string, unknown>>) => unknown) {
  const p = `${graph}/${driver}-layers/layers.json`;
  const list = JSON.parse(await Deno.readTextFile(p));
  const out = fn(list) ?? list;
  await Deno.writeTextFile(p, JSON.stringify(out));
}

forEachCliDriver((driver) => {
  Deno.test(`check on ${driver}: every problem class, then --repair and --force`, async () => {
    const s = await tempStore(driver, "cs-check-");
    const cs = (args: string[], opts?: RunOptions) => runOurs([...s.flags, ...args], opts);
    try {
      const files = s.root;
      const l1 = await tarFile(files, "l1", [{ name: "d/" }, { name: "d/f", data: "abc", uid: 5 }, {
        name: "g",
        data: "xyz",
      }]);
      const l2 = await tarFile(files, "l2", [{ name: "h", data: "hhh" }]);
      const l3 = await tarFile(files, "l3", [{ name: "s", data: "sss" }]);
      ok(await cs(["import-layer", "--id", BASE, "-f", l1]), "base");
      ok(await cs(["import-layer", "--id", TOP, "-f", l2, BASE]), "top");
      ok(await cs(["import-layer", "--id", SOLO, "-f", l3]), "solo");
      ok(await cs(["create-layer", "--id", GONE]), "gone");
      ok(await cs(["create-layer", "--id", CHILD, GONE]), "child");
      ok(await cs(["create-layer", "--id", LONELY]), "lonely");
      ok(await cs(["import-layer", "--id", DATA, "-f", l3]), "data");
      ok(await cs(["import-layer", "--id", SIZED, "-f", l2]), "sized");
      ok(await cs(["set-layer-data", "-f", l2, DATA, "blob"]), "layer data");
      ok(await cs(["create-image", "--id", IMG, TOP]), "img");
      ok(await cs(["set-image-data", "-f", l2, IMG, "manifest"]), "img data");
      ok(await cs(["create-image", "--id", IMG2, SOLO]), "img2");
      ok(await cs(["create-image", "--id", IMG3, CHILD]), "img3");
      ok(await cs(["create-image", "--id", IMG4, SIZED]), "img4");
      ok(await cs(["create-container", "--id", C1, IMG]), "c1");
      ok(await cs(["set-container-data", "-f", l2, C1, "k"]), "ctr data");
      const ctrLayer = JSON.parse(ok(await cs(["container", "-j", C1]), "container").stdout)[0]
        .layer as string;

      // A healthy store: nothing to say (DATA and LONELY are unreferenced but young).
      assert.deepEqual(await cs(["check"]).then((r) => [r.code, r.stdout, r.stderr]), [0, "", ""]);

      // The damage.
      await Deno.writeTextFile(`${layerFiles(s.graph, driver, SOLO)}/s`, "SSS"); // content, same size
      await Deno.writeTextFile(`${layerFiles(s.graph, driver, TOP)}/extra`, "x"); // only a full check sees it
      await editLayers(s.graph, driver, (l) => {
        l.find((r) => r.id === SIZED)!["diff-size"] = 4096; // recorded size wrong, digest right
        return l.filter((r) => r.id !== GONE); // record lost: parent of CHILD, top of nothing
      });
      await Deno.remove(`${s.graph}/${driver}-layers/${DATA}/blob`);
      await Deno.remove(`${s.graph}/${driver}-images/${IMG}/manifest`);
      await Deno.writeTextFile(`${s.graph}/${driver}-containers/${C1}/k`, "short");
      const orphan = ok(await cs(["create-storage-layer"]), "orphan").stdout.trim();

      const full = await cs(["check", "--max", "0s"]);
      assert.equal(full.code, 1, full.stderr);
      const r = parseReport(full.stdout);
      const modified = `layer ${TOP}: +/extra, layer content has been modified`;
      assert.deepEqual(r.get(`layer ${SOLO}`), [`layer ${SOLO}: file integrity checksum failed for "s"`]);
      assert.deepEqual(r.get(`layer ${TOP}`), [modified]);
      assert.deepEqual(r.get(`layer ${SIZED}`), [
        `layer ${SIZED}: read 2048 bytes instead of 4096 bytes: layer content incorrect size`,
      ]);
      assert.deepEqual(r.get(`layer ${CHILD}`), [`layer ${CHILD}: parent layer ${GONE}: layer is missing`]);
      assert.deepEqual(r.get(`layer ${DATA}`), [
        `layer ${DATA}: data item "blob": layer data item is missing`,
        `layer ${DATA}: layer not referenced by any images or containers`,
      ]);
      assert.deepEqual(r.get(`layer ${LONELY}`), [
        `layer ${LONELY}: layer not referenced by any images or containers`,
      ]);
      for (const x of [GONE, orphan]) {
        assert.deepEqual(r.get(`layer ${x}`), [
          `layer ${x}: layer in lower level storage driver not accounted for`,
        ]);
      }
      assert.deepEqual(r.get(`image ${IMG}`), [
        `image ${IMG}: data item "manifest": image data item is missing`,
        modified,
      ]);
      assert.deepEqual(r.get(`image ${IMG2}`), r.get(`layer ${SOLO}`));
      assert.deepEqual(r.get(`image ${IMG4}`), r.get(`layer ${SIZED}`));
      assert.deepEqual(r.get(`image ${IMG3}`), [
        ...r.get(`layer ${CHILD}`)!,
        `image ${IMG3}: layer ${GONE}: image layer is missing`,
      ]);
      assert.deepEqual(r.get(`container ${C1}`), [
        `container ${C1}: data item "k": container data item has incorrect size`,
        modified,
      ]);
      assert.equal(r.size, 13, full.stdout);
      assert.equal(
        full.stderr,
        "8 layer errors, 0 read-only layer errors, 4 image errors, 0 read-only image errors, 1 container errors\n",
      );

      // Quick: no content comparison; young unreferenced layers spared by the default --max.
      const quick = parseReport((await cs(["check", "-q"])).stdout);
      assert.equal(quick.has(`layer ${TOP}`), false);
      assert.equal(quick.has(`layer ${LONELY}`), false);
      assert.deepEqual(quick.get(`layer ${SOLO}`), r.get(`layer ${SOLO}`));
      assert.deepEqual(quick.get(`container ${C1}`), [
        `container ${C1}: data item "k": container data item has incorrect size`,
      ]);

      const json = await cs(["check", "-j", "-q"]);
      assert.equal(json.code, 1);
      const j = JSON.parse(json.stdout);
      assert.deepEqual(Object.keys(j), ["Layers", "ROLayers", "Images", "ROImages", "Containers"]);
      assert.deepEqual(j.Images[IMG2], [{}]);
      assert.deepEqual(Object.keys(j.Containers), [C1]);

      // --repair: damaged images and layers go, the damaged container (and what it stands on) stays.
      const rep = await cs(["check", "-r", "--max", "0s"]);
      assert.equal(rep.code, 1);
      assert.equal(rep.stderr, "0 read-only layer errors, 0 read-only image errors, 1 container errors\n");
      const layers = ok(await cs(["layers", "-q"]), "layers").stdout.trim().split("\n").sort();
      assert.deepEqual(layers, [BASE, TOP, ctrLayer].sort());
      assert.equal(ok(await cs(["images", "-q"]), "images").stdout, `${IMG}\n`);
      assert.deepEqual(
        JSON.parse(ok(await cs(["storage-layers", "-j"]), "storage-layers").stdout).sort(),
        layers,
      );

      // --force removes the container too, and with it the image and its layers.
      assert.equal(ok(await cs(["check", "-f", "--max", "0s"]), "check -f").stderr, "");
      assert.deepEqual(await cs(["check", "--max", "0s"]).then((x) => [x.code, x.stdout]), [0, ""]);
      assert.equal(ok(await cs(["layers", "-q"]), "layers").stdout, "");
      assert.deepEqual(JSON.parse(ok(await cs(["storage-layers", "-j"]), "storage-layers").stdout), []);
    } finally {
      await s.dispose();
    }
  });
});

Deno.test("check: a damaged read-only additional store is reported apart and never written", async () => {
  const ro = await tempStore("vfs", "cs-check-ro-");
  const rw = await tempStore("vfs", "cs-check-rw-");
  try {
    const l1 = await tarFile(ro.root, "l1", [{ name: "f", data: "abc" }]);
    ok(await runOurs([...ro.flags, "import-layer", "--id", BASE, "-f", l1]), "ro layer");
    ok(await runOurs([...ro.flags, "create-image", "--id", IMG, BASE]), "ro image");
    ok(await runOurs([...ro.flags, "set-image-data", "-f", l1, IMG, "manifest"]), "ro data");
    await Deno.writeTextFile(`${ro.graph}/vfs/dir/${BASE}/f`, "ABC");
    await Deno.remove(`${ro.graph}/vfs-images/${IMG}/manifest`);
    const snapshot = async () => {
      const out: string[] = [];
      const walk = async (d: string) => {
        for await (const e of Deno.readDir(d)) {
          const p = `${d}/${e.name}`;
          const st = await Deno.lstat(p);
          out.push(`${p} ${st.mtime?.getTime()} ${st.size} ${st.mode}`);
          if (e.isDirectory) await walk(p);
        }
      };
      await walk(ro.graph);
      return out.sort();
    };
    const before = await snapshot();
    const cs = (args: string[]) =>
      runOurs([...rw.flags, "--storage-opt", `vfs.imagestore=${ro.graph}`, ...args]);
    const r = await cs(["check"]);
    assert.equal(r.code, 1);
    assert.deepEqual(
      parseReport(r.stdout),
      new Map([
        [`read-only layer ${BASE}`, [`read-only layer ${BASE}: file integrity checksum failed for "f"`]],
        [`read-only image ${IMG}`, [
          `read-only image ${IMG}: data item "manifest": image data item is missing`,
          `read-only layer ${BASE}: file integrity checksum failed for "f"`,
        ]],
      ]),
    );
    assert.equal(
      r.stderr,
      "0 layer errors, 1 read-only layer errors, 0 image errors, 1 read-only image errors, 0 container errors\n",
    );
    const f = await cs(["check", "-f"]);
    assert.equal(f.code, 1);
    assert.equal(f.stderr, "1 read-only layer errors, 1 read-only image errors\n");
    assert.deepEqual(await snapshot(), before);
  } finally {
    await ro.dispose();
    await rw.dispose();
  }
});

Deno.test({
  name: "check waits for a Go writer holding the layers lock and reports nothing half-made",
  ignore: !HAVE_GO,
  fn: async () => {
    const s = await tempStore("vfs", "cs-check-go-");
    try {
      ok(await runOurs([...s.flags, "layers"]), "init");
      const go = new Deno.Command("containers-storage", {
        args: [...s.flags, "import-layer", "-n", "slow"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const tar = makeTar([{ name: "big", data: "z".repeat(64 * 1024) }]);
      const w = go.stdin.getWriter();
      await w.write(tar.subarray(0, 4096));
      // The Go writer has its record (flagged incomplete) on disk and holds the lock.
      const layersJson = `${s.graph}/vfs-layers/layers.json`;
      for (let i = 0; !(await Deno.readTextFile(layersJson).catch(() => "")).includes("incomplete"); i++) {
        assert.ok(i < 600, "the Go import never started");
        await new Promise((r) => setTimeout(r, 50));
      }
      const check = runOurs([...s.flags, "check", "--max", "0s"]);
      // The check blocks on layers.lock: a waiter shows in /proc/locks.
      const ino = (await Deno.stat(`${s.graph}/vfs-layers/layers.lock`)).ino;
      for (let i = 0;; i++) {
        const locks = await Deno.readTextFile("/proc/locks");
        if (locks.split("\n").some((l) => l.includes("->") && l.includes(`:${ino} `))) break;
        assert.ok(i < 600, "check never waited for the lock");
        await new Promise((r) => setTimeout(r, 50));
      }
      await w.write(tar.subarray(4096));
      await w.close();
      const done = await go.output();
      assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
      const r = await check;
      // The finished layer is complete and only unreferenced.
      const rep = parseReport(r.stdout);
      assert.equal(rep.size, 1, r.stdout);
      const [problems] = [...rep.values()];
      assert.match(
        problems.join("\n"),
        /^layer [0-9a-f]{64}: layer not referenced by any images or containers$/,
      );
    } finally {
      await s.dispose();
    }
  },
});
