/**
 * End-to-end CLI tests on a temp store: layers, images, containers, names,
 * metadata, exists, delete*, status/version/wipe — text and JSON output and exit
 * codes. Runs per driver in CLI_TEST_DRIVERS (default `vfs,overlay`).
 */
import assert from "node:assert/strict";
import { forEachCliDriver, ok, runOurs, tempStore } from "./cli_helpers.ts";
import type { RunOptions } from "./cli_helpers.ts";

const HEX64 = /^[0-9a-f]{64}$/;

forEachCliDriver((driver) => {
  Deno.test(`cli on ${driver}: layers, images, containers, names, metadata, exists, delete`, async () => {
    const s = await tempStore(driver);
    const cs = (args: string[], opts?: RunOptions) => runOurs([...s.flags, ...args], opts);
    try {
      // create-layer: text and JSON; duplicate names; unknown parent.
      const base = ok(await cs(["create-layer", "-n", "base"]), "create base");
      assert.match(base.stdout, /^[0-9a-f]{64}\n\tbase\n$/);
      const baseID = base.stdout.slice(0, 64);
      const midR = ok(await cs(["create-layer", "-j", "--name=mid", "base"]), "create mid");
      const mid = JSON.parse(midR.stdout);
      assert.ok(midR.stdout.endsWith("}\n"));
      assert.deepEqual(Object.keys(mid), ["id", "names", "parent", "created"]);
      assert.deepEqual([mid.names, mid.parent], [["mid"], baseID]);
      assert.match(mid.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
      const midID: string = mid.id;
      assert.deepEqual(
        await cs(["create-layer", "-n", "base"]).then((r) => [r.code, r.stdout, r.stderr]),
        [1, "", "that name is already in use\n"],
      );
      assert.deepEqual(
        await cs(["create-layer", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, "layer not known\n"],
      );

      // create-image, create-container (HEAD: one name per line).
      const img = ok(await cs(["create-image", "-n", "img", "-m", "meta", "mid"]), "create-image");
      assert.match(img.stdout, /^[0-9a-f]{64}\n\timg\n$/);
      const imgID = img.stdout.slice(0, 64);
      const ctr = ok(await cs(["create-container", "-n", "ctr", "-n", "c2", "img"]), "create-container");
      assert.match(ctr.stdout, /^[0-9a-f]{64}\n\tctr\n\tc2\n$/);
      const ctrID = ctr.stdout.slice(0, 64);
      const ctrJSON = JSON.parse(ok(await cs(["container", "-j", "ctr"]), "container -j").stdout)[0];
      const ctrLayer: string = ctrJSON.layer;
      assert.match(ctrLayer, HEX64);
      assert.deepEqual(Object.keys(ctrJSON).slice(0, 4), ["id", "names", "image", "layer"]);
      assert.equal(ctrJSON.image, imgID);

      // layers: list, tree, quiet, JSON.
      assert.equal(
        ok(await cs(["layers"]), "layers").stdout,
        `${baseID}\n\tname: base\n${midID}\n\tname: mid\n\timage: ${imgID}\n\t\tname: img\n` +
          `${ctrLayer}\n\tcontainer: ${ctrID}\n\t\tname: ctr\n\t\tname: c2\n`,
      );
      assert.equal(
        ok(await cs(["layers", "-t"]), "layers -t").stdout,
        `(base)\n└─${baseID}\n  name: base\n  └─${midID}\n    name: mid\n    image: ${imgID}\n` +
          `    image name: img\n    └─${ctrLayer}\n      container: ${ctrID}\n      container name: ctr\n` +
          `      container name: c2\n`,
      );
      assert.equal(ok(await cs(["layers", "-q"]), "layers -q").stdout, `${baseID}\n${midID}\n${ctrLayer}\n`);
      const layersJSON = JSON.parse(ok(await cs(["layers", "-jt"]), "layers -jt").stdout);
      assert.deepEqual(layersJSON.map((l: { id: string }) => l.id), [baseID, midID, ctrLayer]);

      // layer: found ones printed, exit 1 when one is missing.
      const layer = await cs(["layer", "mid", "nosuch"]);
      assert.deepEqual([layer.code, layer.stdout], [1, `ID: ${midID}\nParent: ${baseID}\nName: mid\n`]);
      assert.equal((await cs(["layer", "-j", "nosuch"])).stdout, "[]\n");

      // images / image.
      assert.equal(ok(await cs(["images"]), "images").stdout, `${imgID}\n\tname: img\n`);
      assert.equal(ok(await cs(["images", "-q"]), "images -q").stdout, `${imgID}\n`);
      const image = ok(await cs(["image", "img"]), "image").stdout;
      assert.match(image, new RegExp(`^ID: ${imgID}\nName: img\nTop Layer: ${midID}\nSize: \\d+\n$`));
      const imagesJSON = JSON.parse(ok(await cs(["images", "-j"]), "images -j").stdout);
      assert.deepEqual([imagesJSON[0].metadata, imagesJSON[0].layer], ["meta", midID]);

      // containers / container.
      assert.equal(ok(await cs(["containers"]), "containers").stdout, `${ctrID}\n\tname: ctr\n\tname: c2\n`);
      const cText = ok(await cs(["container", "c2"]), "container").stdout;
      assert.match(
        cText,
        new RegExp(
          `^ID: ${ctrID}\nName: ctr\nName: c2\nImage: ${imgID}\nImage name: img\nSize: \\d+\nLayer: ${ctrLayer}\n$`,
        ),
      );
      const dir = ok(await cs(["get-container-dir", "ctr"]), "get-container-dir").stdout;
      assert.equal(dir, `${s.graph}/${driver}-containers/${ctrID}/userdata\n`);
      assert.ok((await Deno.stat(dir.trim())).isDirectory);
      const runDir = ok(await cs(["get-container-run-dir", ctrID.slice(0, 12)]), "run-dir").stdout;
      assert.equal(runDir, `${s.run}/${driver}-containers/${ctrID}/userdata\n`);

      // exists: sorted text, JSON object, kind filter decides the exit code only.
      const ex = await cs(["exists", "nosuch", "img", "base", "ctr"]);
      assert.deepEqual(
        [ex.code, ex.stdout],
        [1, "base: true\nctr: true\nimg: true\nnosuch: false\n"],
      );
      assert.deepEqual(
        await cs(["exists", "-j", "base", "img"]).then((r) => [r.code, r.stdout]),
        [0, '{"base":true,"img":true}\n'],
      );
      assert.deepEqual(
        await cs(["exists", "-c", "img"]).then((r) => [r.code, r.stdout]),
        [1, "img: true\n"],
      );
      assert.deepEqual(await cs(["exists", "-q", "-i", "img"]).then((r) => [r.code, r.stdout]), [0, ""]);

      // metadata.
      const md = await cs(["metadata", "img", "base", "nosuch"]);
      assert.deepEqual([md.code, md.stdout], [1, "img: meta\nbase: \nnosuch: \n"]);
      ok(await cs(["set-metadata", "-m", "line\n", "base"]), "set-metadata");
      assert.equal((await cs(["metadata", "-q", "base"])).stdout, "line\n");
      assert.equal((await cs(["metadata", "-j", "base", "img"])).stdout, '{"base":"line","img":"meta"}\n');
      assert.deepEqual(
        await cs(["set-metadata", "base"]).then((r) => [r.code, r.stderr]),
        [1, "no new metadata provided\n"],
      );
      assert.deepEqual(
        await cs(["set-metadata", "-m", "x", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, "identifier is not a layer, image, or container\n"],
      );

      // names: get/add/set/remove on a spare layer.
      ok(await cs(["create-layer", "-n", "spare"]), "spare");
      assert.equal((await cs(["get-names", "-j", "spare"])).stdout, '["spare"]\n');
      assert.deepEqual(await cs(["add-names", "-n", "s2", "spare"]).then((r) => [r.code, r.stdout]), [0, ""]);
      const names = (await cs(["get-names", "s2"])).stdout.split("\n").filter(Boolean).sort();
      assert.deepEqual(names, ["s2", "spare"]);
      assert.equal((await cs(["set-names", "-j", "-n", "only", "s2"])).stdout, '["only"]\n');
      assert.equal((await cs(["remove-names", "-j", "-n", "only", "only"])).stdout, "null\n");
      assert.deepEqual(
        await cs(["get-names", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, "layer not known\n"],
      );
      assert.equal((await cs(["get-names", "a", "b"])).code, 1);

      // Safety checks of delete-layer hold whatever form the argument takes.
      for (const ref of ["base", baseID, baseID.slice(0, 10)]) {
        const r = await cs(["delete-layer", ref]);
        assert.equal(r.code, 1, ref);
        assert.match(r.stderr, new RegExp(`^${ref}: .*layer has children\n$`));
      }
      const di = await cs(["delete-image", "img"]);
      assert.equal(di.code, 1);
      assert.match(di.stderr, new RegExp(`^img: image used by ${ctrID}: image is in use by a container\n$`));
      assert.deepEqual(
        await cs(["delete-container", "-j", "c2", "nosuch"]).then((r) => [r.code, r.stdout]),
        [1, '{"c2":"","nosuch":"identifier is not a container"}\n'],
      );
      const dt = JSON.parse((await cs(["delete-image", "-t", "-j", "img"])).stdout);
      assert.deepEqual(Object.keys(dt), ["img"]);
      assert.deepEqual([...dt.img["deleted-layers"]].sort(), [baseID, midID].sort());
      assert.equal((await cs(["images", "-q"])).stdout, `${imgID}\n`, "-t deletes nothing");
      const dImg = await cs(["delete-image", "img"]);
      assert.equal(dImg.code, 0);
      assert.deepEqual(
        dImg.stderr.split("\n").filter(Boolean).sort(),
        [`img: ${baseID}`, `img: ${midID}`].sort(),
      );
      assert.equal((await cs(["images", "-j"])).stdout, "null\n");
      assert.deepEqual(
        await cs(["delete", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, "nosuch: layer not known\n"],
      );

      // Argument counts (HEAD: no operands allowed where none are used).
      const extra = await cs(["layers", "x"]);
      assert.equal(extra.code, 1);
      assert.match(extra.stdout, /^layers: too many arguments \(\[x\]\)\.\n/);

      // status / version on stderr; JSON on stdout.
      const st = ok(await cs(["status"]), "status");
      assert.equal(st.stdout, "");
      assert.ok(
        st.stderr.startsWith(
          `Root: ${s.graph}\nRun Root: ${s.run}\nDriver Name: ${driver}\nDriver Options: [`,
        ),
        st.stderr,
      );
      const stJ = JSON.parse(ok(await cs(["status", "-j"]), "status -j").stdout);
      assert.deepEqual(stJ.slice(0, 3), [["Root", s.graph], ["Run Root", s.run], ["Driver Name", driver]]);
      const ver = ok(await cs(["version", "-j"]), "version -j");
      assert.ok(Array.isArray(JSON.parse(ver.stdout)));

      // wipe, then everything is empty.
      assert.equal(ok(await cs(["wipe", "-j"]), "wipe").stdout, '""\n');
      assert.equal((await cs(["layers", "-j"])).stdout, "[]\n");
      assert.equal((await cs(["containers", "-j"])).stdout, "[]\n");
    } finally {
      await runOurs([...s.flags, "shutdown", "-f"]);
      await s.dispose();
    }
  });

  Deno.test(`cli on ${driver}: big data of layers, images and containers`, async () => {
    const s = await tempStore(driver);
    const cs = (args: string[], opts?: RunOptions) => runOurs([...s.flags, ...args], opts);
    try {
      const layerID = ok(await cs(["create-layer", "-n", "l"]), "layer").stdout.slice(0, 64);
      const imgID = ok(await cs(["create-image", "-n", "i", "l"]), "image").stdout.slice(0, 64);
      ok(await cs(["create-container", "-n", "c", "i"]), "container");

      // Images: stdin, size, digest (sha256 of "{}"), digest list, list order.
      ok(await cs(["set-image-data", "i", "manifest"], { stdin: "{}" }), "set manifest");
      const file = `${s.root}/cfg`;
      await Deno.writeTextFile(file, "config bytes");
      ok(await cs(["set-image-data", "-f", file, "i", "sha256:cfg"]), "set -f");
      assert.equal((await cs(["get-image-data", "i", "manifest"])).stdout, "{}");
      assert.equal((await cs(["get-image-data-size", "i", "sha256:cfg"])).stdout, "12\n");
      const d = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
      assert.equal((await cs(["get-image-data-digest", "i", "manifest"])).stdout, `${d}\n`);
      assert.equal((await cs(["list-image-data", "i"])).stdout, "manifest\nsha256:cfg\n");
      assert.equal((await cs(["list-image-data", "-j", "i"])).stdout, '["manifest","sha256:cfg"]\n');
      assert.equal(
        (await cs(["images"])).stdout,
        `${imgID}\n\tname: i\n\tdigest: ${d}\n\tdata: manifest\n\tdata: sha256:cfg\n`,
      );
      assert.equal((await cs(["images-by-digest", "-q", d])).stdout, `${imgID}\n`);
      assert.deepEqual(
        await cs(["images-by-digest", "sha256:abc"]).then((r) => [r.code, r.stderr]),
        [1, "sha256:abc: invalid checksum digest length\n"],
      );
      const out = `${s.root}/out`;
      ok(await cs(["get-image-data", "-f", out, "i", "sha256:cfg"]), "get -f");
      assert.equal(await Deno.readTextFile(out), "config bytes");
      const missing = await cs(["get-image-data", "i", "nosuch"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, new RegExp(`^locating item named "nosuch" for image with ID "${imgID}"`));
      assert.deepEqual(
        await cs(["set-image-data", "i", ""], { stdin: "x" }).then((r) => [r.code, r.stderr]),
        [1, "can't set empty name for image big data item: not a valid name for a big data item\n"],
      );
      assert.deepEqual(
        await cs(["list-image-data", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, 'locating image with ID "nosuch": image not known\n'],
      );

      // Layers: names only.
      ok(await cs(["set-layer-data", "l", "Other"], { stdin: "\x00\xff" }), "layer data");
      assert.equal((await cs(["list-layer-data", "-j", layerID])).stdout, '["Other"]\n');
      assert.deepEqual([...(await cs(["get-layer-data", "l", "Other"])).stdoutBytes], [0, 0xc3, 0xbf]);
      assert.equal((await cs(["list-layer-data", "-j", "l"])).code, 0);

      // Containers.
      ok(await cs(["set-container-data", "c", "config.json"], { stdin: "abc" }), "container data");
      assert.equal((await cs(["get-container-data-size", "c", "config.json"])).stdout, "3\n");
      assert.equal(
        (await cs(["get-container-data-digest", "c", "config.json"])).stdout,
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
      );
      assert.equal(
        (await cs(["containers"])).stdout.split("\n").slice(1).join("\n"),
        "\tname: c\n\tdata: config.json\n",
      );
      assert.deepEqual(
        await cs(["get-container-data-size", "c", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, "size is not known\n"],
      );
      assert.equal((await cs(["list-container-data", "-j", "c"])).stdout, '["config.json"]\n');
      assert.deepEqual(
        await cs(["list-container-data", "nosuch"]).then((r) => [r.code, r.stderr]),
        [1, "container not known\n"],
      );
    } finally {
      await runOurs([...s.flags, "shutdown", "-f"]);
      await s.dispose();
    }
  });
});

Deno.test("HEAD commands: image directories, config JSON, unsupported operations fail cleanly", async () => {
  const s = await tempStore("vfs");
  const cs = (args: string[]) => runOurs([...s.flags, ...args]);
  try {
    const id = ok(await cs(["create-image", "-n", "i"]), "image").stdout.slice(0, 64);
    const dir = ok(await cs(["get-image-dir", "i"]), "get-image-dir").stdout;
    assert.equal(dir, `${s.graph}/vfs-images/${id}/userdata\n`);
    assert.ok((await Deno.stat(dir.trim())).isDirectory);
    assert.equal(
      ok(await cs(["get-image-run-dir", id]), "run dir").stdout,
      `${s.run}/vfs-images/${id}/userdata\n`,
    );
    assert.equal((await cs(["get-image-dir", "nosuch"])).code, 1);
    const conf = JSON.parse(ok(await cs(["config"]), "config").stdout);
    assert.equal(conf.driver, "vfs");
    for (const cmd of [["storage-layers"], ["gc"], ["check"], ["dedup"]]) {
      const r = await cs(cmd);
      // Either the store implements it (exit 0) or it says so plainly.
      if (r.code !== 0) assert.equal(r.stderr, `${cmd[0]}: operation not supported\n`, cmd[0]);
    }
  } finally {
    await s.dispose();
  }
});
