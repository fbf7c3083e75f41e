import assert from "node:assert/strict";
import { DriverOptionError, SystemError } from "../store/errors.ts";
import { lstatNs } from "../sys/fs.ts";
import { checkMountOptions, idBase, mkdirAllAs, statGo } from "./dir_layers.ts";

Deno.test("idBase is Go's filepath.Base of a layer ID", () => {
  assert.equal(idBase("abc"), "abc");
  assert.equal(idBase("../../etc"), "etc");
  assert.equal(idBase("a/b/"), "b");
  assert.equal(idBase(""), ".");
  assert.equal(idBase("///"), "/");
});

Deno.test("statGo fails with Go's PathError text; mkdirAllAs owns only what it creates", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-dirlayers-" });
  try {
    assert.throws(() => statGo(`${d}/none`), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.message, `stat ${d}/none: no such file or directory`);
      return true;
    });
    mkdirAllAs(`${d}/a/b/c`, 0o700, 1234, 5678);
    for (const p of [`${d}/a`, `${d}/a/b`, `${d}/a/b/c`]) {
      const st = lstatNs(p);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o700 & ~Deno.umask()], p);
    }
    const parent = lstatNs(d);
    assert.deepEqual([parent.uid, parent.gid], [Deno.uid(), Deno.gid()]);
    assert.ok(statGo(`${d}/a/b/c`).isDirectory);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("checkMountOptions accepts none or a lone ro", () => {
  checkMountOptions("vfs", {});
  checkMountOptions("vfs", { options: ["ro"] });
  for (const options of [["nodev"], ["ro", "ro"]]) {
    assert.throws(
      () => checkMountOptions("btrfs", { options }),
      (e: unknown) =>
        e instanceof DriverOptionError && e.message === "btrfs driver does not support mount options",
    );
  }
});
