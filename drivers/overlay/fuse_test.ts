/** The mount-program path: fuse-overlayfs mounts, AUFS-style whiteouts, naive diffs, Go interop. */
import assert from "node:assert/strict";
import { lstatNs, S_IFMT, S_IFREG } from "../../sys/fs.ts";
import { mountAt } from "../../sys/mount.ts";
import { lgetxattr } from "../../sys/xattr.ts";
import { ChangeKind } from "../../store/types.ts";
import { goOk, ls, openDriver, tarStream, type TEntry, withTempStore } from "./testutil.ts";

const T = { sanitizeResources: false, sanitizeOps: false };
const FUSE = "/usr/bin/fuse-overlayfs";
const OVERRIDE = "user.containers.override_stat";

const L1: TEntry[] = [
  { name: "etc/" },
  { name: "etc/hostname", data: "base\n" },
  { name: "gone", data: "x" },
  { name: "opaque/" },
  { name: "opaque/old", data: "old" },
];
const L2: TEntry[] = [
  { name: ".wh.gone" },
  { name: "opaque/" },
  { name: "opaque/.wh..wh..opq" },
  { name: "opaque/newf", data: "new" },
  { name: "added", data: "added" },
];

Deno.test("overlay with fuse-overlayfs: mounts, reads, unmounts; Go mounts our layers", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s, [["mount_program", FUSE]]);
    const home = `${s.graph}/overlay`;
    assert.equal(Deno.readTextFileSync(`${home}/.has-mount-program`), "true");
    assert.equal(d.whiteoutFormat, "aufs");
    assert.ok((await d.status()).some(([k, v]) => k === "Native Overlay Diff" && v === "false"));
    assert.equal(d.supportsShifting(), true);

    await d.create("l1", null, {});
    await d.applyDiff("l1", null, tarStream(L1), {});
    await d.create("l2", "l1", {});
    await d.applyDiff("l2", "l1", tarStream(L2), {});
    // Whiteouts are kept as plain empty files for the mount program.
    for (const w of [".wh.gone", "opaque/.wh..wh..opq"]) {
      const st = lstatNs(`${home}/l2/diff/${w}`);
      assert.equal(st.mode & S_IFMT, S_IFREG, w);
      assert.equal(st.size, 0);
    }
    await d.create("c1", "l2", {});
    const merged = await d.get("c1", {});
    try {
      assert.equal(d.lastMountMethod, "program");
      assert.equal(mountAt(merged)?.fstype, "fuse.fuse-overlayfs");
      assert.ok(await d.isMounted("c1", merged));
      assert.deepEqual(ls(merged), ["added", "etc", "opaque"]);
      assert.deepEqual(ls(`${merged}/opaque`), ["newf"]);
      Deno.writeTextFileSync(`${merged}/etc/hostname`, "changed\n");
    } finally {
      await d.put("c1");
    }
    assert.equal(mountAt(merged), null);
    assert.equal(Deno.readTextFileSync(`${home}/c1/diff/etc/hostname`), "changed\n");

    // Diffs are naive (both trees mounted and compared).
    const ch = await d.changes("l2", "l1", {});
    assert.ok(ch.some((c) => c.path === "/gone" && c.kind === ChangeKind.Delete), JSON.stringify(ch));
    assert.ok(ch.some((c) => c.path === "/added" && c.kind === ChangeKind.Add), JSON.stringify(ch));
    assert.equal(mountAt(`${home}/l1/merged`), null, "naive diff releases its mounts");

    // The Go CLI, seeing .has-mount-program = true, mounts our layer with fuse-overlayfs too.
    await goOk(s, ["layers"]);
    Deno.writeTextFileSync(
      `${s.graph}/overlay-layers/layers.json`,
      JSON.stringify([
        { id: "l1", created: "2026-01-01T00:00:00Z" },
        { id: "l2", parent: "l1", created: "2026-01-01T00:00:01Z" },
        { id: "c1", parent: "l2", created: "2026-01-01T00:00:02Z" },
      ]),
    );
    const goMerged = (await goOk(s, ["mount", "c1"])).trim();
    try {
      assert.equal(mountAt(goMerged)?.fstype, "fuse.fuse-overlayfs");
      assert.deepEqual(ls(goMerged), ["added", "etc", "opaque"]);
      assert.equal(Deno.readTextFileSync(`${goMerged}/etc/hostname`), "changed\n");
    } finally {
      await goOk(s, ["unmount", "c1"]);
    }

    // A reopened driver without the option still uses the program (marker file).
    const again = await openDriver(s);
    assert.equal(again.options.mountProgram, FUSE);
  }, { go: true });
});

Deno.test("overlay with a failing mount program reports its stderr", T, async () => {
  await withTempStore(async (s) => {
    const prog = `${s.root}/badmount`;
    Deno.writeTextFileSync(prog, "#!/bin/sh\necho 'fuse: device not found' >&2\nexit 1\n", { mode: 0o755 });
    const d = await openDriver(s, [["mount_program", prog]]);
    await d.create("l1", null, {});
    await assert.rejects(() => d.get("l1", {}), (err: Error) => {
      assert.equal(err.message, `using mount program ${prog}: fuse: device not found`);
      return true;
    });
    assert.equal(await d.isMounted("l1", `${s.graph}/overlay/l1/merged`), false);
    await assert.rejects(
      () => openDriver(s, [["mount_program", `${s.root}/missing`]]),
      /overlay: can't stat program ".*\/missing": stat .*missing: no such file or directory/,
    );
  });
});

Deno.test("overlay with fuse-overlayfs and force_mask records real modes in override_stat", T, async () => {
  await withTempStore(async (s) => {
    const d = await openDriver(s, [["mount_program", FUSE], ["force_mask", "private"]]);
    const home = `${s.graph}/overlay`;
    await d.create("l1", null, {});
    assert.equal(lstatNs(`${home}/l1/diff`).mode & 0o7777, 0o700, "diff/ gets the mask");
    await d.applyDiff(
      "l1",
      null,
      tarStream([
        { name: "bin/" },
        { name: "bin/su", data: "su", mode: 0o4755 },
        { name: "home/", uid: 1000, gid: 1000 },
        { name: "home/f", data: "f", mode: 0o644, uid: 1000, gid: 1000 },
        { name: "lnk", type: 0x32, linkname: "home/f" },
      ]),
      {},
    );
    const xattr = (p: string) => new TextDecoder().decode(lgetxattr(`${home}/l1/diff/${p}`, OVERRIDE)!);
    assert.equal(xattr("bin/su"), "0:0:04755");
    assert.equal(xattr("home/f"), "1000:1000:0644");
    assert.equal(lgetxattr(`${home}/l1/diff/lnk`, OVERRIDE), null);
    assert.equal(lstatNs(`${home}/l1/diff/bin/su`).mode & 0o7777, 0o700);
    // The mount works and shows the masked modes.
    const merged = await d.get("l1", {});
    try {
      assert.equal(Deno.readTextFileSync(`${merged}/home/f`), "f");
      assert.equal(lstatNs(`${merged}/bin/su`).mode & 0o7777, 0o700);
    } finally {
      await d.put("l1");
    }
  });
});
