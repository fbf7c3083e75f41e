/**
 * Differential tests against the Go reference CLI (`containers-storage`, vfs): the same
 * tars imported by Go and applied by our driver give the same trees, and our naive
 * changes and diff sizes equal Go's, both on Go's layer directories and on ours.
 */
import assert from "node:assert/strict";
import { replayTarSplit } from "../archive/tarsplit.ts";
import { type Change, ChangeKind } from "../store/types.ts";
import { createVfsDriver, type VfsDriver } from "./vfs.ts";
import { naiveChanges, naiveDiffSize } from "./naive.ts";
import { goCliOk } from "../store/testdata/harness.ts";
import { chainTars, listing, snapshotTree, streamOf, tempDir } from "./vfs_testutil.ts";

function goCli(graph: string, ...args: string[]): Promise<string> {
  return goCliOk({ graph: `${graph}/g`, run: `${graph}/r` }, "vfs", args);
}

function norm(list: Change[]): string[] {
  return list.map((c) => `${ChangeKind[c.kind]} ${c.path}`).sort();
}

function goChanges(json: string): string[] {
  return (JSON.parse(json) as Array<{ Path: string; Kind: number }>).map((c) =>
    `${ChangeKind[c.Kind]} ${c.Path}`
  )
    .sort();
}

/** Non-directory mtimes and xattrs, which `listing` leaves out. */
function details(root: string): string[] {
  const out: string[] = [];
  for (const [k, e] of snapshotTree(root, { skipAtime: true })) {
    const isDir = (e.mode & 0o170000) === 0o040000;
    out.push(`${k} ${isDir ? "-" : e.mtimeNs} ${JSON.stringify(e.xattrs)} ${e.group ?? ""}`);
  }
  return out.sort();
}

Deno.test("vfs: trees, changes, diffsize and ID-mapped copies match the Go CLI on a three-layer chain", async () => {
  const base = tempDir("go");
  try {
    const tars = chainTars();
    const names = ["l1", "l2", "l3"];
    for (let i = 0; i < 3; i++) {
      Deno.writeFileSync(`${base}/${names[i]}.tar`, tars[i]);
      const parent = i > 0 ? [names[i - 1]] : [];
      await goCli(base, "import-layer", "--id", names[i], "-f", `${base}/${names[i]}.tar`, ...parent);
    }
    const ours: VfsDriver = await createVfsDriver({
      graphRoot: `${base}/ours`,
      runRoot: `${base}/ours-run`,
      options: [],
      uidMap: [],
      gidMap: [],
    });
    for (let i = 0; i < 3; i++) {
      const parent = i > 0 ? names[i - 1] : null;
      await ours.create(names[i], parent, {});
      await ours.applyDiff(names[i], parent, streamOf(tars[i]), {});
    }
    // Go's tree, read through a driver over Go's graph root.
    const goDriver = await createVfsDriver({
      graphRoot: `${base}/g`,
      runRoot: `${base}/r`,
      options: [],
      uidMap: [],
      gidMap: [],
    });
    for (const id of names) {
      const goDir = await goDriver.get(id, {});
      const ourDir = await ours.get(id, {});
      assert.deepEqual(listing(ourDir), listing(goDir), `layer ${id}`);
      assert.deepEqual(details(ourDir), details(goDir), `layer ${id} details`);
    }
    const pairs: Array<[string, string | null]> = [
      ["l2", "l1"],
      ["l3", "l2"],
      ["l3", "l1"],
      ["l1", "l3"],
      ["l1", null],
    ];
    for (const [id, from] of pairs) {
      const fromArgs = from ? [from] : [];
      const expected = goChanges(await goCli(base, "changes", "--json", id, ...fromArgs));
      assert.deepEqual(
        norm(await naiveChanges(goDriver, id, from)),
        expected,
        `changes ${id} ${from} on Go's dirs`,
      );
      assert.deepEqual(norm(await naiveChanges(ours, id, from)), expected, `changes ${id} ${from} on ours`);
      if (from === null) continue; // Go reports the recorded diff size for a parentless imported layer
      const size = Number((await goCli(base, "diffsize", id, ...fromArgs)).trim());
      assert.equal(await naiveDiffSize(goDriver, id, from), size, `diffsize ${id} ${from} on Go's dirs`);
      assert.equal(await naiveDiffSize(ours, id, from), size, `diffsize ${id} ${from} on ours`);
    }

    // Go's tar-split files replay byte for byte from Go's layer dirs through our getter.
    for (let i = 0; i < 3; i++) {
      const getter = await goDriver.diffGetter(names[i]);
      try {
        const replay = replayTarSplit(`${base}/g/vfs-layers/${names[i]}.tar-split.gz`, getter);
        assert.deepEqual(
          new Uint8Array(await new Response(replay).arrayBuffer()),
          tars[i],
          `replay ${names[i]}`,
        );
      } finally {
        await getter.close();
      }
    }

    // ID-mapped copy of the top layer (a container with maps on an image): Go makes it with
    // CreateFromTemplate + UpdateLayerIDMap; ours is create from the template + updateLayerIDMap.
    await goCli(base, "create-image", "--id", "img", "l3");
    await goCli(
      base,
      "create-container",
      "--id",
      "c1",
      "--uidmap",
      "0:100000:65536",
      "--gidmap",
      "0:200000:1000",
      "img",
    );
    const image = JSON.parse(await goCli(base, "images", "--json"))[0];
    const goMapped = await goDriver.get(image["mapped-layers"][0], {});
    await ours.create("mapped", "l3", {
      uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
      gidMap: [{ containerId: 0, hostId: 200000, size: 1000 }],
    });
    await ours.updateLayerIDMap("mapped", { uidMap: [], gidMap: [] }, {
      uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
      gidMap: [{ containerId: 0, hostId: 200000, size: 1000 }],
    });
    const ourMapped = await ours.get("mapped", {});
    assert.ok(listing(goMapped).includes("top f644 100005:200006 back"));
    assert.ok(listing(goMapped).includes("etc/new f644 101001:65534 3"), "overflow GID");
    assert.deepEqual(listing(ourMapped), listing(goMapped));
    assert.deepEqual(details(ourMapped), details(goMapped));
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});
