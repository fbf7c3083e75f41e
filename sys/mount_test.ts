import assert from "node:assert/strict";
import { SystemError } from "../store/errors.ts";
import * as m from "./mount.ts";
import { FS_MAGIC, fsName, fstatfs, statfs } from "./statfs.ts";
import { closeFd, O_CLOEXEC, O_DIRECTORY, O_RDONLY, openFd } from "./fs.ts";
import { detachAll } from "./testutil.ts";

/** Unmounts everything at or below `dir`, then removes it. */
function cleanup(dir: string): void {
  detachAll(dir);
  Deno.removeSync(dir, { recursive: true });
}

Deno.test("tmpfs mount, bind mount, readMountInfo/mountAt/isMountPoint, statfs, umount2", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-mount-" });
  try {
    Deno.mkdirSync(`${d}/t`);
    Deno.mkdirSync(`${d}/b`);
    Deno.mkdirSync(`${d}/with space`);
    assert.equal(m.isMountPoint(`${d}/t`), false);
    m.mount("cs-test", `${d}/t`, "tmpfs", m.MS_NODEV | m.MS_NOSUID, "size=1m,mode=0755");
    assert.equal(m.isMountPoint(`${d}/t`), true);
    assert.equal(m.isMountPoint(`${d}/t/`, "tmpfs"), true);
    assert.equal(m.isMountPoint(`${d}/t`, "overlay"), false);
    const info = m.mountAt(`${d}/t`)!;
    assert.equal(info.fstype, "tmpfs");
    assert.equal(info.source, "cs-test");
    assert.match(info.options, /nosuid/);
    assert.match(info.options, /nodev/);
    assert.match(info.superOptions, /size=1024k/);
    const sf = statfs(`${d}/t`);
    assert.equal(sf.type, FS_MAGIC.TMPFS);
    assert.equal(fsName(sf.type), "tmpfs");
    assert.equal(sf.bsize * sf.blocks, 1024 * 1024);
    const fd = openFd(`${d}/t`, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      assert.equal(fstatfs(fd).type, FS_MAGIC.TMPFS);
    } finally {
      closeFd(fd);
    }
    assert.equal(fsName(0x1234), "<unknown>");

    // A bind mount on a path with a space (mountinfo escapes it as \040).
    Deno.writeTextFileSync(`${d}/t/hello`, "hi");
    m.mount(`${d}/t`, `${d}/with space`, null, m.MS_BIND, null);
    m.mount("none", `${d}/with space`, null, m.MS_PRIVATE, null);
    assert.equal(Deno.readTextFileSync(`${d}/with space/hello`), "hi");
    const bind = m.mountAt(`${d}/with space`)!;
    assert.equal(bind.fstype, "tmpfs");
    assert.deepEqual(bind.optional, []);
    m.mount("none", `${d}/with space`, null, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY, null);
    assert.throws(
      () => Deno.writeTextFileSync(`${d}/with space/x`, ""),
      (e: unknown) => (e as { code?: string }).code === "EROFS",
    );
    assert.deepEqual(m.mountsUnder(d).map((x) => x.mountPoint), [`${d}/with space`, `${d}/t`]);

    m.umount2(`${d}/with space`);
    m.umount2(`${d}/t`, m.MNT_DETACH);
    assert.equal(m.isMountPoint(`${d}/t`), false);
    assert.throws(() => m.umount2(`${d}/t`), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.code, "EINVAL");
      assert.equal(e.message, `umount ${d}/t: invalid argument`);
      return true;
    });
    assert.throws(() => m.umount2(`${d}/t`, m.MNT_DETACH), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.message, `umount ${d}/t, flags: 0x2: invalid argument`);
      return true;
    });
    assert.throws(() => m.mount("none", `${d}/missing`, "tmpfs", 0, "size=1m"), {
      code: "ENOENT",
      message: `mount none:${d}/missing, data: size=1m: no such file or directory`,
    });
    assert.throws(() => m.mount(`${d}/missing`, `${d}/t`, null, m.MS_BIND, null), {
      message: `mount ${d}/missing:${d}/t, flags: 0x1000: no such file or directory`,
    });
    assert.throws(() => statfs(`${d}/missing`), { code: "ENOENT" });
  } finally {
    cleanup(d);
  }
});

Deno.test("parseMountInfo decodes fields, optional tags and octal escapes", () => {
  const text = [
    "22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw",
    "101 27 0:50 /sub /mnt/a\\040b rw,nodev master:3 shared:7 - overlay over\\011lay rw,lowerdir=/l,upperdir=/u",
    "garbage line",
    "",
  ].join("\n");
  const r = m.parseMountInfo(text);
  assert.equal(r.length, 2);
  assert.deepEqual(r[0], {
    id: 22,
    parent: 27,
    major: 0,
    minor: 21,
    root: "/",
    mountPoint: "/proc",
    options: "rw,relatime",
    optional: ["shared:5"],
    fstype: "proc",
    source: "proc",
    superOptions: "rw",
  });
  assert.equal(r[1].mountPoint, "/mnt/a b");
  assert.equal(r[1].root, "/sub");
  assert.equal(r[1].source, "over\tlay");
  assert.deepEqual(r[1].optional, ["master:3", "shared:7"]);
  assert.equal(m.mountAt("/mnt/a b", r)?.fstype, "overlay");
  assert.equal(m.mountAt("/mnt", r), null);
});

Deno.test("makePrivate bind-mounts a plain directory onto itself once and makes it private", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-mount-" });
  try {
    // A shared parent mount: a plain bind mount below it would join its peer group.
    Deno.mkdirSync(`${d}/t`);
    m.mount("cs-test", `${d}/t`, "tmpfs", 0, "size=1m");
    m.mount("", `${d}/t`, null, m.MS_SHARED, null);
    Deno.mkdirSync(`${d}/t/home`);
    Deno.writeTextFileSync(`${d}/t/home/f`, "x");
    m.makePrivate(`${d}/t/home`);
    const first = m.mountAt(`${d}/t/home`);
    assert.ok(first, "home is a mount point");
    assert.deepEqual(first.optional, []);
    assert.equal(Deno.readTextFileSync(`${d}/t/home/f`), "x");
    // Already a mount point: no second bind mount is stacked on it.
    m.makePrivate(`${d}/t/home`);
    assert.deepEqual(m.mountsUnder(`${d}/t/home`).map((x) => x.id), [first.id]);
  } finally {
    cleanup(d);
  }
});
