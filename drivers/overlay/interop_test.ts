/**
 * Interop with the Go reference CLI (containers-storage 1.43) at the driver level: Go's
 * layers are mounted and read by our driver, our layers (with hand-written layers.json
 * records) are mounted by Go, and native changes/diffsize agree.
 */
import assert from "node:assert/strict";
import { mountAt } from "../../sys/mount.ts";
import {
  changesText,
  goOk,
  ls,
  openDriver,
  tarBytes,
  tarStream,
  type TEntry,
  withTempStore,
} from "./testutil.ts";

const T = { sanitizeResources: false, sanitizeOps: false };

const L1: TEntry[] = [
  { name: "./" },
  { name: "etc/" },
  { name: "etc/hostname", data: "base\n" },
  { name: "etc/shadow", data: "secret\n" },
  { name: "gone", data: "x" },
  { name: "opaque/" },
  { name: "opaque/old", data: "old" },
  { name: "dir/" },
  { name: "dir/a", data: "a" },
];
const L2: TEntry[] = [
  { name: ".wh.gone" },
  { name: "etc/" },
  { name: "etc/.wh.shadow" },
  { name: "opaque/" },
  { name: "opaque/.wh..wh..opq" },
  { name: "opaque/newf", data: "new" },
  { name: "dir/" },
  { name: "dir/a", data: "A2" },
  { name: "dir/hard", type: 0x31, linkname: "dir/a" },
  { name: "lnk", type: 0x32, linkname: "/etc/hostname" },
];

Deno.test("overlay interop: layers imported by Go are mounted and diffed by our driver", T, async () => {
  await withTempStore(async (s) => {
    assert.equal((await goOk(s, ["import-layer", "--id", "l1"], tarBytes(L1))).trim(), "l1");
    await goOk(s, ["import-layer", "--id", "l2", "l1"], tarBytes(L2));
    await goOk(s, ["import-layer", "--id", "l3", "l2"], tarBytes([{ name: "three", data: "3" }]));
    await goOk(s, ["create-layer", "--id", "c1", "l3"]);

    const d = await openDriver(s);
    const merged = await d.get("c1", {});
    try {
      assert.deepEqual(ls(merged), ["dir", "etc", "lnk", "opaque", "three"]);
      assert.deepEqual(ls(`${merged}/etc`), ["hostname"]);
      assert.deepEqual(ls(`${merged}/opaque`), ["newf"]);
      assert.equal(Deno.readTextFileSync(`${merged}/dir/hard`), "A2");
      assert.equal(Deno.readLinkSync(`${merged}/lnk`), "/etc/hostname");
      Deno.writeTextFileSync(`${merged}/written-by-deno`, "hello");
    } finally {
      await d.put("c1");
    }
    assert.equal(mountAt(merged), null);

    // Go sees what we wrote through the mount, and mounts the layer itself.
    const goMerged = (await goOk(s, ["mount", "c1"])).trim();
    assert.equal(goMerged, merged);
    assert.equal(Deno.readTextFileSync(`${goMerged}/written-by-deno`), "hello");
    // While Go holds the mount, our get/put only count a reference and never unmount it.
    assert.ok(await d.isMounted("c1", goMerged));
    assert.equal(await d.get("c1", {}), goMerged);
    await d.put("c1");
    assert.ok(mountAt(goMerged) !== null, "Go's mount survives our put");
    await goOk(s, ["unmount", "c1"]);
    assert.equal(await d.isMounted("c1", goMerged), false);

    // Native changes and sizes agree with Go's.
    for (const [id, parent] of [["l1", null], ["l2", "l1"], ["l3", "l2"], ["c1", "l3"]] as const) {
      assert.equal(
        changesText(await d.changes(id, parent, {})),
        await goOk(s, ["changes", id]),
        `changes ${id}`,
      );
      assert.equal(
        String(await d.diffSize(id, parent, {})),
        (await goOk(s, ["diffsize", id])).trim(),
        `size ${id}`,
      );
    }
    // tar-split replay through our diff getter reproduces Go's diff of an imported layer.
    const getter = await d.diffGetter("l2");
    try {
      const f = await getter.open("dir/a");
      assert.ok(f);
      f.close();
      const h = await getter.open("etc/hostname"); // from the lower l1
      assert.ok(h);
      assert.equal(new TextDecoder().decode(await new Response(h.readable).arrayBuffer()), "base\n");
      assert.equal(await getter.open("no/such"), null);
    } finally {
      await getter.close();
    }

    // Status lines match Go's (1.43 prints the first four).
    const goStatus = (await new Deno.Command("containers-storage", {
      args: ["--graph", s.graph, "--run", s.run, "-s", "overlay", "status"],
      stderr: "piped",
      stdout: "null",
    }).output()).stderr;
    const goLines = new TextDecoder().decode(goStatus).trim().split("\n").slice(4);
    const ours = (await d.status()).slice(0, 4).map(([k, v]) => `${k}: ${v}`);
    assert.deepEqual(ours, goLines);
  }, { go: true });
});

Deno.test(
  "overlay interop: layers created by our driver are mounted, diffed and deleted by Go",
  T,
  async () => {
    await withTempStore(async (s) => {
      await goOk(s, ["layers"]); // lets Go lay out the store
      const d = await openDriver(s);
      await d.create("o1", null, {});
      await d.applyDiff("o1", null, tarStream(L1), {});
      await d.create("o2", "o1", {});
      await d.applyDiff("o2", "o1", tarStream(L2), {});
      const records = [
        { id: "o1", created: "2026-01-01T00:00:00Z" },
        { id: "o2", parent: "o1", created: "2026-01-01T00:00:01Z" },
      ];
      Deno.writeTextFileSync(`${s.graph}/overlay-layers/layers.json`, JSON.stringify(records));

      const merged = (await goOk(s, ["mount", "o2"])).trim();
      try {
        assert.equal(merged, `${s.graph}/overlay/o2/merged`);
        assert.deepEqual(ls(merged), ["dir", "etc", "lnk", "opaque"]);
        assert.deepEqual(ls(`${merged}/opaque`), ["newf"]);
        assert.equal(Deno.readTextFileSync(`${merged}/dir/a`), "A2");
        assert.ok(await d.isMounted("o2", merged));
      } finally {
        await goOk(s, ["unmount", "o2"]);
      }
      assert.equal(await d.isMounted("o2", merged), false);
      assert.equal(await goOk(s, ["changes", "o2"]), changesText(await d.changes("o2", "o1", {})));
      assert.equal((await goOk(s, ["diffsize", "o2"])).trim(), String(await d.diffSize("o2", "o1", {})));

      // Go stacks its own layer on ours (its `lower` names our link) and we mount that.
      await goOk(s, ["create-layer", "--id", "g3", "o2"]);
      const home = `${s.graph}/overlay`;
      assert.equal(
        Deno.readTextFileSync(`${home}/g3/lower`),
        `l/${Deno.readTextFileSync(`${home}/o2/link`)}:l/${Deno.readTextFileSync(`${home}/o1/link`)}`,
      );
      const m3 = await d.get("g3", {});
      try {
        assert.deepEqual(ls(m3), ["dir", "etc", "lnk", "opaque"]);
      } finally {
        await d.put("g3");
      }

      // Go deletes our layers cleanly: directory and l/ link gone.
      const o2Link = Deno.readTextFileSync(`${home}/o2/link`);
      await goOk(s, ["delete-layer", "g3"]);
      await goOk(s, ["delete-layer", "o2"]);
      assert.ok(!ls(home).includes("o2"));
      assert.ok(!ls(`${home}/l`).includes(o2Link));
    }, { go: true });
  },
);
