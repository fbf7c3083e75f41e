import assert from "node:assert/strict";
import { SystemError } from "../store/errors.ts";
import * as x from "./xattr.ts";
import { closeFd, O_CLOEXEC, O_RDONLY, O_RDWR, openFd } from "./fs.ts";
import { isErrno } from "./errno.ts";

Deno.test("xattrs by path: binary values, missing as null, list, remove, symlink itself", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-xattr-" });
  try {
    const f = `${d}/f`;
    Deno.writeTextFileSync(f, "");
    Deno.symlinkSync("f", `${d}/l`);
    x.lsetxattr(f, "user.bin", new Uint8Array([0xff, 0, 0xfe, 1]));
    x.lsetxattr(f, "user.empty", new Uint8Array(0));
    assert.deepEqual(x.lgetxattr(f, "user.bin"), new Uint8Array([0xff, 0, 0xfe, 1]));
    assert.deepEqual(x.lgetxattr(f, "user.empty"), new Uint8Array(0));
    assert.equal(x.lgetxattr(f, "user.missing"), null);
    assert.deepEqual(x.llistxattr(f).sort(), ["user.bin", "user.empty"]);
    // Values larger than the internal probe buffer grow it.
    const big = new Uint8Array(3000).map((_, i) => i & 0xff);
    x.lsetxattr(f, "user.big", big);
    assert.deepEqual(x.lgetxattr(f, "user.big"), big);
    x.lremovexattr(f, "user.big");
    assert.equal(x.lgetxattr(f, "user.big"), null);
    assert.throws(() => x.lsetxattr(f, "user.bin", new Uint8Array([1]), x.XATTR_CREATE), { code: "EEXIST" });
    assert.throws(() => x.lremovexattr(f, "user.none"), { code: "ENODATA" });
    // trusted.* on the link itself (root), not on its target.
    x.lsetxattr(`${d}/l`, "trusted.overlay.opaque", new TextEncoder().encode("y"));
    assert.deepEqual(x.lgetxattr(`${d}/l`, "trusted.overlay.opaque"), new TextEncoder().encode("y"));
    assert.equal(x.lgetxattr(f, "trusted.overlay.opaque"), null);
    // user.* is refused on symlinks, with Go's wording.
    assert.throws(() => x.lsetxattr(`${d}/l`, "user.x", new Uint8Array([1])), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.message, `lsetxattr ${d}/l user.x: operation not permitted`);
      assert.equal(e.code, "EPERM");
      return true;
    });
    assert.throws(() => x.lgetxattr(`${d}/none`, "user.x"), { code: "ENOENT" });
    // Many names make the list longer than the probe buffer.
    for (let i = 0; i < 40; i++) x.lsetxattr(f, `user.name-number-${i}`, new Uint8Array([i]));
    assert.equal(x.llistxattr(f).length, 42);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("xattrs by fd", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-xattr-" });
  try {
    Deno.writeTextFileSync(`${d}/f`, "");
    const fd = openFd(`${d}/f`, O_RDWR | O_CLOEXEC);
    try {
      x.fsetxattr(fd, "user.a", new Uint8Array([9, 8]));
      assert.deepEqual(x.fgetxattr(fd, "user.a"), new Uint8Array([9, 8]));
      assert.equal(x.fgetxattr(fd, "user.b"), null);
      assert.deepEqual(x.flistxattr(fd), ["user.a"]);
      x.fremovexattr(fd, "user.a");
      assert.deepEqual(x.flistxattr(fd), []);
    } finally {
      closeFd(fd);
    }
    assert.equal(x.lgetxattr(`${d}/f`, "user.a"), null);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("a filesystem without xattr support raises EOPNOTSUPP (= ENOTSUP)", () => {
  assert.throws(() => x.lsetxattr("/proc/version", "user.x", new Uint8Array([1])), (e: unknown) => {
    assert.ok(e instanceof SystemError);
    assert.equal(e.code, "EOPNOTSUPP");
    assert.equal(e.errno, 95);
    assert.ok(isErrno(e, "ENOTSUP"));
    assert.equal(e.message, "lsetxattr /proc/version user.x: operation not supported");
    return true;
  });
  const fd = openFd("/proc/version", O_RDONLY | O_CLOEXEC);
  try {
    assert.throws(() => x.fsetxattr(fd, "user.x", new Uint8Array([1])), { code: "EOPNOTSUPP" });
  } finally {
    closeFd(fd);
  }
});
