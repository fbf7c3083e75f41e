import assert from "node:assert/strict";
import { lstatNs, major, minor, S_IFCHR, S_IFMT } from "../../sys/fs.ts";
import { lgetxattr } from "../../sys/xattr.ts";
import { MNT_DETACH, mountAt, umount2 } from "../../sys/mount.ts";
import { TarReader } from "../../archive/tar_reader.ts";
import { TypeFlag } from "../../archive/types.ts";
import { ChangeKind } from "../../store/types.ts";
import type { OverlayDriver } from "./overlay.ts";
import { changesText, ls, openDriver, tarStream, type TEntry, withTempStore } from "./testutil.ts";

const T = { sanitizeResources: false, sanitizeOps: false };

/** l1: base content; l2: whiteouts and an opaque dir; l3: one more file. */
const L1: TEntry[] = [
  { name: "./" },
  { name: "etc/" },
  { name: "etc/hostname", data: "base\n" },
  { name: "etc/shadow", data: "secret\n" },
  { name: "gone", data: "x" },
  { name: "gonedir/" },
  { name: "gonedir/f", data: "f" },
  { name: "opaque/" },
  { name: "opaque/old", data: "old" },
  { name: "keep/" },
  { name: "keep/k", data: "k" },
];
const L2: TEntry[] = [
  { name: "./", mode: 0o700 },
  { name: ".wh.gone" },
  { name: ".wh.gonedir" },
  { name: "etc/" },
  { name: "etc/.wh.shadow" },
  { name: "opaque/" },
  { name: "opaque/.wh..wh..opq" },
  { name: "opaque/newf", data: "new" },
  { name: "added", data: "added\n" },
];
const L3: TEntry[] = [{ name: "three", data: "3" }];

async function chain(d: OverlayDriver): Promise<void> {
  await d.create("l1", null, {});
  await d.applyDiff("l1", null, tarStream(L1), {});
  await d.create("l2", "l1", {});
  await d.applyDiff("l2", "l1", tarStream(L2), {});
  await d.create("l3", "l2", {});
  await d.applyDiff("l3", "l2", tarStream(L3), {});
}

function mode(p: string): number {
  return lstatNs(p).mode & 0o7777;
}

Deno.test("overlay: layout, modes, links and markers after create", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    const home = `${s.graph}/overlay`;
    assert.equal(Deno.readTextFileSync(`${home}/.has-mount-program`), "false");
    assert.equal(mode(`${home}/.has-mount-program`), 0o600);
    assert.equal(mode(`${home}/l`), 0o755);
    assert.deepEqual(ls(`${s.run}/overlay`), [
      "idmapped-lower-dir-true",
      "metacopy()-false",
      "native-diff()-true",
      "overlay-true",
      "volatile-true",
    ]);
    // The home is bind-mounted onto itself, private (no shared: tag).
    const m = mountAt(home);
    assert.ok(m, "home is a mount point");
    assert.ok(!m.optional.some((o) => o.startsWith("shared:")), m.optional.join(" "));

    await d.create("base", null, {});
    await d.create("child", "base", {});
    for (const id of ["base", "child"]) {
      const dir = `${home}/${id}`;
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(`${dir}/diff`), 0o555);
      assert.equal(mode(`${dir}/work`), 0o700);
      assert.equal(mode(`${dir}/merged`), 0o700);
      const link = Deno.readTextFileSync(`${dir}/link`);
      assert.match(link, /^[A-Z2-7]{26}$/);
      assert.equal(mode(`${dir}/link`), 0o644);
      assert.equal(Deno.readLinkSync(`${home}/l/${link}`), `../${id}/diff`);
    }
    assert.deepEqual(ls(`${home}/base`), ["diff", "empty", "link", "merged", "work"]);
    assert.deepEqual(ls(`${home}/child`), ["diff", "link", "lower", "merged", "work"]);
    const baseLink = Deno.readTextFileSync(`${home}/base/link`);
    assert.equal(Deno.readTextFileSync(`${home}/child/lower`), `l/${baseLink}`);
    await d.create("grandchild", "child", {});
    assert.equal(
      Deno.readTextFileSync(`${home}/grandchild/lower`),
      `l/${Deno.readTextFileSync(`${home}/child/link`)}:l/${baseLink}`,
    );
    assert.deepEqual((await d.listLayers()).sort(), ["base", "child", "grandchild"]);
    assert.deepEqual(await d.status(), [
      ["Backing Filesystem", "extfs"],
      ["Supports d_type", "true"],
      ["Native Overlay Diff", "true"],
      ["Using metacopy", "false"],
      ["Supports shifting", "true"],
      ["Supports volatile", "true"],
    ]);
    assert.deepEqual(await d.metadata("child"), {
      WorkDir: `${home}/child/work`,
      MergedDir: `${home}/child/merged`,
      UpperDir: `${home}/child/diff`,
      LowerDir: `${home}/base/diff`,
    });

    // Removal drops the l/ link and the directory.
    const childLink = Deno.readTextFileSync(`${home}/child/link`);
    await d.remove("child");
    assert.ok(!ls(`${home}/l`).includes(childLink));
    assert.ok(!ls(home).includes("child"));
    await d.remove("child"); // missing is fine

    await d.cleanup();
    assert.equal(mountAt(home), null, "cleanup detaches the home bind mount");
  });
});

Deno.test("overlay: 3-layer chain with whiteouts and opaque dirs mounts and reads", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    await chain(d);
    const home = `${s.graph}/overlay`;
    // Whiteouts stored as char 0/0 mode 0, opaque as trusted.overlay.opaque=y; the tar root is ignored.
    for (const w of ["gone", "gonedir", "etc/shadow"]) {
      const st = lstatNs(`${home}/l2/diff/${w}`);
      assert.equal(st.mode & S_IFMT, S_IFCHR);
      assert.equal(st.mode & 0o7777, 0);
      assert.equal(major(st.rdev), 0);
      assert.equal(minor(st.rdev), 0);
    }
    assert.deepEqual(
      lgetxattr(`${home}/l2/diff/opaque`, "trusted.overlay.opaque"),
      new TextEncoder().encode("y"),
    );
    assert.ok(!ls(`${home}/l2/diff/opaque`).includes(".wh..wh..opq"));
    assert.equal(mode(`${home}/l2/diff`), 0o555, "root entry ./ does not change diff/");

    await d.create("ctr", "l3", {});
    const merged = await d.get("ctr", {});
    try {
      assert.equal(merged, `${home}/ctr/merged`);
      assert.equal(d.lastMountMethod, "mount");
      assert.ok(await d.isMounted("ctr", merged));
      assert.deepEqual(ls(merged), ["added", "etc", "keep", "opaque", "three"]);
      assert.deepEqual(ls(`${merged}/etc`), ["hostname"]);
      assert.deepEqual(ls(`${merged}/opaque`), ["newf"]);
      assert.equal(Deno.readTextFileSync(`${merged}/etc/hostname`), "base\n");
      assert.equal(Deno.readTextFileSync(`${merged}/three`), "3");
      // Writes go to the container layer's diff.
      Deno.writeTextFileSync(`${merged}/keep/k`, "changed");
      assert.equal(Deno.readTextFileSync(`${home}/ctr/diff/keep/k`), "changed");
      assert.equal(Deno.readTextFileSync(`${home}/l1/diff/keep/k`), "k");
      // A second get in this process only counts a reference.
      assert.equal(await d.get("ctr", {}), merged);
      await d.put("ctr");
      assert.ok(await d.isMounted("ctr", merged));
    } finally {
      await d.put("ctr");
    }
    assert.ok(!(await d.isMounted("ctr", merged)));
    assert.ok(!ls(`${home}/ctr`).includes("merged"), "put removes merged/");

    // Read-only mount of an image layer: its diff becomes the top lower.
    const ro = await d.get("l3", { options: ["ro"] });
    try {
      assert.deepEqual(ls(ro), ["added", "etc", "keep", "opaque", "three"]);
      assert.match(mountAt(ro)!.options, /^ro\b/);
      assert.throws(() => Deno.writeTextFileSync(`${ro}/x`, "x"));
    } finally {
      await d.put("l3");
    }
  });
});

Deno.test("overlay: a chain 70 deep mounts (options beyond a page) by every method", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    const N = 70;
    // Long IDs like real ones (64 hex) make the absolute option string exceed 4096 bytes.
    const id = (i: number) => i.toString(16).padStart(64, "a");
    for (let i = 0; i < N; i++) {
      await d.create(id(i), i ? id(i - 1) : null, {});
      await d.applyDiff(id(i), null, tarStream([{ name: `f${i}`, data: String(i) }]), {});
    }
    const top = id(N - 1);
    for (const method of [undefined, "relative"] as const) {
      d.forceMountMethod = method;
      const merged = await d.get(top, {});
      try {
        assert.equal(d.lastMountMethod, method ?? "fsmount");
        assert.equal(ls(merged).length, N);
        assert.equal(Deno.readTextFileSync(`${merged}/f0`), "0");
        assert.equal(Deno.readTextFileSync(`${merged}/f${N - 1}`), String(N - 1));
      } finally {
        await d.put(top);
      }
      assert.equal(mountAt(merged), null);
    }
    // A deep read-only mount works too.
    d.forceMountMethod = undefined;
    const ro = await d.get(top, { options: ["ro"] });
    try {
      assert.equal(ls(ro).length, N);
    } finally {
      await d.put(top);
    }
  });
});

Deno.test("overlay: native changes, diff and diffSize on known content", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    await chain(d);
    assert.equal(
      changesText(await d.changes("l2", "l1", {})),
      [
        'Add "/added"',
        'Modify "/etc"',
        'Delete "/etc/shadow"',
        'Delete "/gone"',
        'Delete "/gonedir"',
        'Delete "/opaque"',
        'Add "/opaque/newf"',
        "",
      ].join("\n"),
    );
    assert.deepEqual(await d.changes("l1", null, {}), [
      { path: "/etc", kind: ChangeKind.Add },
      { path: "/etc/hostname", kind: ChangeKind.Add },
      { path: "/etc/shadow", kind: ChangeKind.Add },
      { path: "/gone", kind: ChangeKind.Add },
      { path: "/gonedir", kind: ChangeKind.Add },
      { path: "/gonedir/f", kind: ChangeKind.Add },
      { path: "/keep", kind: ChangeKind.Add },
      { path: "/keep/k", kind: ChangeKind.Add },
      { path: "/opaque", kind: ChangeKind.Add },
      { path: "/opaque/old", kind: ChangeKind.Add },
    ]);
    // Sizes: l1 5+7+1+1+3+1 bytes; l2 "new" + "added\n" (whiteouts count 0).
    assert.equal(await d.diffSize("l1", null, {}), 18);
    assert.equal(await d.diffSize("l2", "l1", {}), 9);

    const entries: Array<{ name: string; type: number; mode: number; size: number; body: string }> = [];
    const r = new TarReader(await d.diff("l2", "l1", {}));
    for (let h = await r.next(); h; h = await r.next()) {
      let body = "";
      for (let c = await r.read(); c; c = await r.read()) body += new TextDecoder().decode(c);
      entries.push({ name: h.name, type: h.type, mode: h.mode, size: h.size, body });
    }
    // Walk order of diff/, where the whiteouts are named after what they delete.
    assert.deepEqual(entries.map((e) => e.name), [
      "added",
      "etc/",
      "etc/.wh.shadow",
      ".wh.gone",
      ".wh.gonedir",
      "opaque/",
      "opaque/.wh..wh..opq",
      "opaque/newf",
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get(".wh.gone")!.type, TypeFlag.Reg);
    assert.equal(byName.get(".wh.gone")!.mode, 0);
    assert.equal(byName.get("opaque/.wh..wh..opq")!.mode, 0o755);
    assert.equal(byName.get("opaque/newf")!.body, "new");
    assert.equal(byName.get("etc/")!.type, TypeFlag.Dir);

    // A diff against a non-parent falls back to the naive comparison of mounted trees.
    const naive = await d.changes("l3", "l1", {});
    assert.ok(naive.some((c) => c.path === "/three" && c.kind === ChangeKind.Add));
    assert.ok(naive.some((c) => c.path === "/gone" && c.kind === ChangeKind.Delete));
  });
});

Deno.test("overlay: lost links are recreated; a missing lower fails clearly", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    await chain(d);
    const home = `${s.graph}/overlay`;
    const l1Link = Deno.readTextFileSync(`${home}/l1/link`);
    const l2Link = Deno.readTextFileSync(`${home}/l2/link`);
    Deno.removeSync(`${home}/l/${l1Link}`); // symlink lost
    Deno.removeSync(`${home}/l2/link`); // link file lost
    const merged = await d.get("l3", {});
    try {
      assert.deepEqual(ls(merged), ["added", "etc", "keep", "opaque", "three"]);
    } finally {
      await d.put("l3");
    }
    assert.equal(Deno.readLinkSync(`${home}/l/${l1Link}`), "../l1/diff");
    assert.equal(Deno.readTextFileSync(`${home}/l2/link`), l2Link);

    // Both the file and the link of l2 gone: l2 gets a new link; l3 (which names the old one) fails clearly.
    Deno.removeSync(`${home}/l2/link`);
    Deno.removeSync(`${home}/l/${l2Link}`);
    await assert.rejects(() => d.get("l3", {}), /lower layer "l\/[A-Z2-7]{26}" does not exist/);
    assert.match(Deno.readTextFileSync(`${home}/l2/link`), /^[A-Z2-7]{26}$/);
    assert.equal(mountAt(`${home}/l3/merged`), null);

    // A lower layer directory removed behind our back.
    await d.create("x1", null, {});
    await d.create("x2", "x1", {});
    Deno.removeSync(`${home}/x1`, { recursive: true });
    await assert.rejects(() => d.get("x2", {}), /lower layer/);
  });
});

Deno.test("overlay: a stale mount is reported truthfully and remounted", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    await chain(d);
    const merged = await d.get("l3", {});
    umount2(merged, MNT_DETACH); // someone else unmounted it
    assert.equal(await d.isMounted("l3", merged), false);
    const again = await d.get("l3", {});
    try {
      assert.ok(await d.isMounted("l3", again));
      assert.deepEqual(ls(again), ["added", "etc", "keep", "opaque", "three"]);
    } finally {
      await d.put("l3");
    }
    assert.equal(await d.isMounted("l3", merged), false);
    // A put without any mount (e.g. after a crash) still succeeds.
    await d.put("l3");
  });
});

Deno.test("overlay: remove detaches a mounted layer first", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    await chain(d);
    const merged = await d.get("l3", {});
    await d.remove("l3");
    assert.equal(mountAt(merged), null);
    assert.equal(await d.exists("l3"), false);
  });
});

Deno.test("overlay: concurrent gets of one layer mount it once", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s);
    await chain(d);
    const paths = await Promise.all([d.get("l3", {}), d.get("l3", {}), d.get("l3", {})]);
    try {
      assert.equal(new Set(paths).size, 1);
      const stacked = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) =>
        l.includes(` ${paths[0]} `)
      );
      assert.equal(stacked.length, 1);
    } finally {
      await Promise.all([d.put("l3"), d.put("l3")]);
      assert.ok(await d.isMounted("l3", paths[0]), "still one reference");
      await d.put("l3");
    }
    assert.equal(await d.isMounted("l3", paths[0]), false);
  });
});
