import assert from "node:assert/strict";
import { DriverOptionError } from "../../store/errors.ts";
import { parseOverlayOptions } from "./options.ts";
import { parseMountOptions } from "./mountopts.ts";
import { generateLinkID } from "./layout.ts";
import { openDriver, withTempStore } from "./testutil.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from "../../sys/mount.ts";

const T = { sanitizeResources: false, sanitizeOps: false };

Deno.test("overlay options: known keys, prefixes, values", () => {
  const o = parseOverlayOptions([
    ["mountopt", "nodev,metacopy=on"],
    ["overlay.skip_mount_home", "true"],
    ["Overlay2.IGNORE_CHOWN_ERRORS", "1"],
    ["imagestore", "/a/b/../c,/d"],
    ["additionalimagestore", "/e"],
    ["override_kernel_check", "x"],
    ["mount_program", "/usr/bin/fuse-overlayfs"],
    ["force_mask", "shared"],
  ]);
  assert.equal(o.mountOptions, "nodev,metacopy=on");
  assert.equal(o.skipMountHome, true);
  assert.equal(o.ignoreChownErrors, true);
  assert.deepEqual(o.imageStores, ["/a/c", "/d", "/e"]);
  assert.equal(o.mountProgram, "/usr/bin/fuse-overlayfs");
  assert.equal(o.forceMask, 0o755);
  assert.equal(parseOverlayOptions([["force_mask", "private"]]).forceMask, 0o700);
  assert.equal(parseOverlayOptions([["force_mask", "0750"]]).forceMask, 0o750);
  assert.equal(parseOverlayOptions([["size", "10G"]]).quotaSize, 10 * 1024 ** 3);
});

Deno.test("overlay options: Go's error texts", () => {
  const err = (opts: Array<[string, string]>) => {
    try {
      parseOverlayOptions(opts);
    } catch (e) {
      assert.ok(e instanceof DriverOptionError);
      return (e as Error).message;
    }
    assert.fail("no error");
  };
  assert.equal(err([["overlay.bogus", "1"]]), "overlay: Unknown option overlay.bogus");
  assert.equal(err([["bogus", "1"]]), "overlay: Unknown option overlay.bogus");
  assert.equal(err([["use_composefs", "true"]]), "overlay: Unknown option overlay.use_composefs");
  assert.equal(err([["ignore_chown_errors", "x"]]), 'strconv.ParseBool: parsing "x": invalid syntax');
  assert.equal(err([["force_mask", "abc"]]), 'strconv.ParseInt: parsing "abc": invalid syntax');
  assert.equal(
    err([["imagestore", "rel"]]),
    'overlay: image path "rel" is not absolute.  Can not be relative',
  );
  assert.equal(err([["size", "lots"]]), "invalid size: 'lots'");
});

Deno.test("overlay options: init refuses what Go refuses", T, async () => {
  await withTempStore(async (s) => {
    await assert.rejects(
      () => openDriver(s, [["force_mask", "0755"]]),
      { message: "'force_mask' is supported only with 'mount_program'" },
    );
    await assert.rejects(
      () => openDriver(s, [["size", "10G"]]),
      {
        message:
          "storage option overlay.size and overlay.inodes only supported for backingFS XFS. Found extfs",
      },
    );
    const d = await openDriver(s, [["skip_mount_home", "true"], ["mountopt", "nodev"]]);
    await d.create("x", null, {});
    await assert.rejects(
      () => d.create("y", null, { storageOpt: { size: "1G" } }),
      /only for overlay over xfs/,
    );
    const m = await d.get("x", {});
    try {
      assert.match(
        Deno.readTextFileSync("/proc/self/mountinfo").split("\n").find((l) => l.includes(` ${m} `)) ?? "",
        /\bnodev\b/,
      );
    } finally {
      await d.put("x");
    }
  });
});

Deno.test("overlay mount options: Go's flag/data split", () => {
  const r = parseMountOptions("ro,nodev,,noexec,nosuid,userxattr,metacopy=on,rw,ro");
  assert.equal(r.flags, MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID);
  assert.deepEqual(r.data, ["userxattr", "metacopy=on"]);
  assert.equal(parseMountOptions("dev,nodev,dev").flags, 0);
});

Deno.test("overlay link IDs", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const id = generateLinkID();
    assert.match(id, /^[A-Z2-7]{26}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 200);
});
