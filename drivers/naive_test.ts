import assert from "node:assert/strict";
import { type Change, ChangeKind } from "../store/types.ts";
import { lchown, utimesNs } from "../sys/fs.ts";
import { lsetxattr } from "../sys/xattr.ts";
import { naiveChanges, naiveDiff, naiveDiffSize } from "./naive.ts";
import { createVfsDriver, type VfsDriver } from "./vfs.ts";
import { chainTars, listing, streamOf, tempDir } from "./vfs_testutil.ts";

const enc = new TextEncoder();

async function withDriver(fn: (d: VfsDriver) => Promise<void>): Promise<void> {
  const graph = tempDir("naive");
  try {
    await fn(
      await createVfsDriver({ graphRoot: graph, runRoot: graph, options: [], uidMap: [], gidMap: [] }),
    );
  } finally {
    Deno.removeSync(graph, { recursive: true });
  }
}

function norm(list: Change[]): string[] {
  return list.map((c) => `${ChangeKind[c.kind]} ${c.path}`).sort();
}

const T = 1_600_000_000_000_000_000n;

/** Writes a file with fixed times so that only deliberate differences show. */
function put(path: string, data: string, mtimeNs = T): void {
  Deno.writeTextFileSync(path, data);
  utimesNs(path, mtimeNs, mtimeNs);
}

Deno.test("naive changes and diffSize on hand-made trees", () =>
  withDriver(async (d) => {
    await d.create("old", null, {});
    const o = await d.get("old", {});
    Deno.chmodSync(o, 0o755);
    Deno.mkdirSync(`${o}/keep`);
    put(`${o}/keep/same`, "same");
    put(`${o}/keep/content`, "aaaa"); // same size, other mtime below
    put(`${o}/keep/mode`, "m");
    put(`${o}/keep/owner`, "o");
    put(`${o}/keep/xattr`, "x");
    put(`${o}/keep/cap`, "c");
    put(`${o}/keep/nsec`, "n", T); // ns 0 on one side: not a change
    put(`${o}/keep/gone`, "bye");
    Deno.mkdirSync(`${o}/olddir/sub`, { recursive: true });
    put(`${o}/olddir/sub/f`, "f");
    Deno.symlinkSync("same", `${o}/keep/link`);
    Deno.mkdirSync(`${o}/quiet`);
    put(`${o}/quiet/f`, "q");

    await d.create("new", "old", {});
    const n = await d.get("new", {});
    put(`${n}/keep/content`, "bbbb", T + 1_000_000_000n);
    Deno.chmodSync(`${n}/keep/mode`, 0o600);
    lchown(`${n}/keep/owner`, 7, 7);
    lsetxattr(`${n}/keep/xattr`, "user.k", enc.encode("v"));
    lsetxattr(
      `${n}/keep/cap`,
      "security.capability",
      new Uint8Array([1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    utimesNs(`${n}/keep/nsec`, T + 123n, T + 123n);
    Deno.removeSync(`${n}/keep/gone`);
    Deno.removeSync(`${n}/olddir`, { recursive: true });
    Deno.removeSync(`${n}/keep/link`);
    Deno.symlinkSync("other", `${n}/keep/link`);
    Deno.mkdirSync(`${n}/newdir/deep`, { recursive: true });
    put(`${n}/newdir/deep/file`, "12345");
    put(`${n}/added`, "1234567");
    Deno.linkSync(`${n}/added`, `${n}/newdir/added-link`);
    utimesNs(`${n}/quiet`, T, T); // a directory's own times are not compared

    const list = await naiveChanges(d, "new", "old");
    assert.deepEqual(norm(list), [
      "Add /added",
      "Add /newdir",
      "Add /newdir/added-link",
      "Add /newdir/deep",
      "Add /newdir/deep/file",
      "Delete /keep/gone",
      "Delete /olddir",
      "Modify /keep",
      "Modify /keep/cap",
      "Modify /keep/content",
      "Modify /keep/link",
      "Modify /keep/mode",
      "Modify /keep/owner",
      "Modify /keep/xattr",
    ]);
    // added (7, counted once for both names) + deep/file 5 + content 4 + mode 1 + owner 1
    // + xattr 1 + cap 1 + link target "other" 5
    assert.equal(await naiveDiffSize(d, "new", "old"), 7 + 5 + 4 + 1 + 1 + 1 + 1 + 5);
    // Without a parent everything is added.
    const all = norm(await naiveChanges(d, "old", null));
    assert.ok(all.every((c) => c.startsWith("Add ")));
    assert.equal(all.length, 15);
  }));

Deno.test("naive changes compare owners as container IDs through each side's maps", () =>
  withDriver(async (d) => {
    await d.create("a", null, {});
    const a = await d.get("a", {});
    put(`${a}/f`, "x");
    lchown(`${a}/f`, 5, 5);
    await d.create("b", "a", {});
    const b = await d.get("b", {});
    lchown(`${b}/f`, 100005, 200005);
    const uidMap = [{ containerId: 0, hostId: 100000, size: 65536 }];
    const gidMap = [{ containerId: 0, hostId: 200000, size: 65536 }];
    // Same container owner 5:5 on both sides once each side's maps are applied.
    assert.deepEqual(
      await naiveChanges(d, "b", "a", { uidMap, gidMap, parentUidMap: [], parentGidMap: [] }),
      [],
    );
    assert.deepEqual(norm(await naiveChanges(d, "b", "a", {})), ["Modify /f"]);
  }));

Deno.test("naive diff applied onto the parent reproduces the layer", () =>
  withDriver(async (d) => {
    const [t1, t2, t3] = chainTars();
    await d.create("l1", null, {});
    await d.applyDiff("l1", null, streamOf(t1), {});
    await d.create("l2", "l1", {});
    await d.applyDiff("l2", "l1", streamOf(t2), {});
    await d.create("l3", "l2", {});
    await d.applyDiff("l3", "l2", streamOf(t3), {});
    for (const [id, parent] of [["l2", "l1"], ["l3", "l2"], ["l3", "l1"]] as const) {
      const diff = await naiveDiff(d, id, parent, {});
      const copy = `${id}-from-${parent}`;
      await d.create(copy, parent, {});
      await d.applyDiff(copy, parent, diff, {});
      const want = listing(await d.get(id, {})).filter((l) => !l.startsWith(". "));
      const got = listing(await d.get(copy, {})).filter((l) => !l.startsWith(". "));
      assert.deepEqual(got, want, `${id} from ${parent}`);
    }
    // A parentless diff is the whole layer.
    const full = await naiveDiff(d, "l3", null, {});
    await d.create("again", null, {});
    await d.applyDiff("again", null, full, {});
    assert.deepEqual(
      listing(await d.get("again", {})).filter((l) => !l.startsWith(". ")),
      listing(await d.get("l3", {})).filter((l) => !l.startsWith(". ")),
    );
  }));

Deno.test("naive diff releases the layers when the stream is cancelled", () =>
  withDriver(async (d) => {
    await d.create("l", null, {});
    put(`${await d.get("l", {})}/f`, "x".repeat(100000));
    const calls: string[] = [];
    const spy = Object.create(d) as VfsDriver;
    spy.get = (id, o) => (calls.push(`get ${id}`), d.get(id, o));
    spy.put = (id) => (calls.push(`put ${id}`), d.put(id));
    const s = await naiveDiff(spy, "l", null, {});
    const r = s.getReader();
    await r.read();
    await r.cancel();
    assert.deepEqual(calls, ["get l", "put l"]);
  }));
