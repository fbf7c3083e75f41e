import assert from "node:assert/strict";
import { TypeFlag } from "../archive/types.ts";
import { actualTree, cleanEntryPath, compareTrees, expectedTree, type HeaderInfo } from "./check_tree.ts";

const H = (name: string, type: number = TypeFlag.Reg, extra: Partial<HeaderInfo> = {}): HeaderInfo => ({
  name,
  type,
  uid: 0,
  gid: 0,
  mode: type === TypeFlag.Dir ? 0o755 : 0o644,
  size: type === TypeFlag.Reg ? 3 : 0,
  linkname: "",
  ...extra,
});

Deno.test("cleanEntryPath", () => {
  assert.equal(cleanEntryPath("./a/./b/"), "a/b");
  assert.equal(cleanEntryPath("/a/../c"), "c");
  assert.equal(cleanEntryPath("./"), null);
});

Deno.test("expectedTree applies whiteouts, opaque directories, hard links and implicit parents", () => {
  const tree = expectedTree([
    [H("./"), H("d/", TypeFlag.Dir), H("d/x"), H("d/y"), H("e/f"), H("gone"), H("keep")],
    [
      H("d/", TypeFlag.Dir, { mode: 0o700 }),
      H("d/.wh..wh..opq"),
      H("d/new"),
      H(".wh.gone"),
      H("e/.wh.f"),
      H("hl", TypeFlag.Link, { linkname: "keep", size: 0 }),
      H("s", TypeFlag.Symlink, { linkname: "keep", mode: 0o777 }),
    ],
  ]);
  assert.deepEqual([...tree.keys()].sort(), ["d", "d/new", "e", "hl", "keep", "s"]);
  assert.equal(tree.get("d")!.mode, 0o700);
  assert.equal(tree.get("e")!.implicit, true);
  assert.deepEqual(tree.get("hl"), tree.get("keep"));
  assert.equal(tree.get("s")!.kind, "symlink");
});

Deno.test("compareTrees reports missing, added and changed entries, owners read through the maps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cs-tree-" });
  try {
    await Deno.mkdir(`${dir}/d`);
    await Deno.writeTextFile(`${dir}/d/x`, "abc");
    await Deno.writeTextFile(`${dir}/added`, "1");
    await Deno.chmod(`${dir}/d/x`, 0o600);
    await Deno.chown(`${dir}/d/x`, 100005, 100000);
    await Deno.chown(`${dir}/d`, 100000, 100000);
    const expected = expectedTree([[
      H("d/", TypeFlag.Dir),
      H("d/x", TypeFlag.Reg, { uid: 5 }),
      H("missing"),
    ]]);
    const actual = await actualTree(dir);
    const maps = { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMap: [] };
    assert.deepEqual(compareTrees(expected, actual, maps), [
      "+/added",
      "/d/(gid:0→100000)",
      "/d/x(gid:0→100000,mode:0644→0600)",
      "-/missing",
    ]);
    assert.deepEqual(compareTrees(expected, actual, maps, { ownership: true, permissions: true }), [
      "+/added",
      "-/missing",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
