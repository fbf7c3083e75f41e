import assert from "node:assert/strict";
import { SystemError } from "../store/errors.ts";
import * as fs from "./fs.ts";
import { errnoCode, errnoOf, errnoText, isErrno, osErrorText, sysError } from "./errno.ts";

function tmp(): string {
  return Deno.makeTempDirSync({ prefix: "cs-sysfs-" });
}

Deno.test("lstatNs/fstatNs/statNs agree with Deno and carry nanoseconds", () => {
  const d = tmp();
  try {
    const f = `${d}/f`;
    Deno.writeTextFileSync(f, "hello world");
    Deno.symlinkSync("f", `${d}/l`);
    const st = fs.lstatNs(f);
    const ds = Deno.lstatSync(f);
    assert.equal(st.size, 11);
    assert.equal(st.ino, BigInt(ds.ino!));
    assert.equal(st.dev, ds.dev);
    assert.equal(st.mode, ds.mode);
    assert.equal(st.nlink, 1);
    assert.equal(st.mode & fs.S_IFMT, fs.S_IFREG);
    assert.equal(st.mtimeNs / 1_000_000n, BigInt(ds.mtime!.getTime()));
    const ls = fs.lstatNs(`${d}/l`);
    assert.equal(ls.mode & fs.S_IFMT, fs.S_IFLNK);
    assert.equal(ls.size, 1);
    assert.equal(fs.statNs(`${d}/l`).ino, st.ino);
    const fd = fs.openFd(f, fs.O_RDONLY | fs.O_CLOEXEC);
    try {
      assert.equal(fs.fstatNs(fd).ino, st.ino);
    } finally {
      fs.closeFd(fd);
    }
    const dfd = fs.openFd(d, fs.O_RDONLY | fs.O_DIRECTORY | fs.O_CLOEXEC);
    try {
      assert.equal(fs.fstatatNs(dfd, "l").mode & fs.S_IFMT, fs.S_IFLNK);
      assert.equal(fs.fstatatNs(dfd, "l", 0).mode & fs.S_IFMT, fs.S_IFREG);
    } finally {
      fs.closeFd(dfd);
    }
    assert.equal(fs.lexists(f), true);
    assert.equal(fs.lexists(`${d}/missing`), false);
    assert.equal(fs.lexists(`${f}/below-a-file`), false);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("errors read like Go's PathError and carry errno and code", () => {
  const d = tmp();
  try {
    assert.throws(() => fs.lstatNs(`${d}/nope`), (e: unknown) => {
      assert.ok(e instanceof SystemError);
      assert.equal(e.message, `lstat ${d}/nope: no such file or directory`);
      assert.equal(e.errno, 2);
      assert.equal(e.code, "ENOENT");
      return true;
    });
    Deno.writeTextFileSync(`${d}/f`, "");
    assert.throws(
      () => fs.openFd(`${d}/f`, fs.O_RDWR | fs.O_CREAT | fs.O_EXCL | fs.O_CLOEXEC),
      { message: `open ${d}/f: file exists`, code: "EEXIST", errno: 17 },
    );
    assert.throws(() => fs.openFd(`${d}/f/x`, fs.O_RDONLY), { code: "ENOTDIR" });
    assert.throws(() => fs.closeFd(987654), {
      message: "close fd 987654: bad file descriptor",
      code: "EBADF",
    });
    assert.equal(errnoCode(95), "EOPNOTSUPP");
    assert.equal(errnoText(95), "operation not supported");
    assert.equal(errnoCode(200), "E200");
    assert.equal(sysError("mount", "", 1).message, "mount: operation not permitted");
    assert.ok(isErrno(sysError("x", "y", 95), "ENOTSUP"));
    assert.ok(!isErrno(sysError("x", "y", 2), "ENOTSUP", "EEXIST"));

    // Deno's own file errors get Go's texts through their codes.
    const denoError = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      assert.fail("no error");
    };
    const missing = denoError(() => Deno.readTextFileSync(`${d}/nope`));
    assert.equal(errnoOf(missing), 2);
    assert.equal(osErrorText(missing), "no such file or directory");
    assert.equal(osErrorText(denoError(() => Deno.readTextFileSync(d))), "is a directory");
    assert.equal(errnoOf({ code: "ENOTSUP" }), 95);
    assert.equal(errnoOf(new Error("plain")), null);
    assert.equal(osErrorText(new Error("plain")), "plain");
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("utimesNs sets exact nanoseconds on a symlink itself; futimesNs on fds", () => {
  const d = tmp();
  try {
    Deno.writeTextFileSync(`${d}/f`, "x");
    Deno.symlinkSync("f", `${d}/l`);
    const before = fs.lstatNs(`${d}/f`).mtimeNs;
    fs.utimesNs(`${d}/l`, 1_700_000_000_123_456_789n, 1_600_000_000_987_654_321n, { noFollow: true });
    const l = fs.lstatNs(`${d}/l`);
    assert.equal(l.atimeNs, 1_700_000_000_123_456_789n);
    assert.equal(l.mtimeNs, 1_600_000_000_987_654_321n);
    assert.equal(fs.lstatNs(`${d}/f`).mtimeNs, before);
    // Following the link changes the target; null keeps a time.
    fs.utimesNs(`${d}/l`, null, 5n, { noFollow: false });
    assert.equal(fs.lstatNs(`${d}/f`).mtimeNs, 5n);
    // Before the epoch.
    fs.utimesNs(`${d}/f`, -1_500_000_001n, -1n);
    assert.equal(fs.lstatNs(`${d}/f`).atimeNs, -1_500_000_001n);
    assert.equal(fs.lstatNs(`${d}/f`).mtimeNs, -1n);
    const fd = fs.openFd(`${d}/f`, fs.O_RDWR | fs.O_CLOEXEC);
    try {
      fs.futimesNs(fd, 42n, 1_234_567_890_000_000_001n);
    } finally {
      fs.closeFd(fd);
    }
    assert.equal(fs.lstatNs(`${d}/f`).mtimeNs, 1_234_567_890_000_000_001n);
    assert.equal(fs.lstatNs(`${d}/f`).atimeNs, 42n);
    const dfd = fs.openFd(d, fs.O_RDONLY | fs.O_DIRECTORY | fs.O_CLOEXEC);
    try {
      fs.utimesNsAt(dfd, "l", 7n, 8n);
    } finally {
      fs.closeFd(dfd);
    }
    assert.equal(fs.lstatNs(`${d}/l`).mtimeNs, 8n);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("lchown/fchown/fchownat/chmod/fchmod/fchmodat change what they should", () => {
  const d = tmp();
  try {
    Deno.writeTextFileSync(`${d}/f`, "x");
    Deno.symlinkSync("f", `${d}/l`);
    fs.lchown(`${d}/l`, 1001, 1002);
    assert.deepEqual([fs.lstatNs(`${d}/l`).uid, fs.lstatNs(`${d}/l`).gid], [1001, 1002]);
    assert.deepEqual([fs.lstatNs(`${d}/f`).uid, fs.lstatNs(`${d}/f`).gid], [0, 0]);
    const fd = fs.openFd(`${d}/f`, fs.O_RDWR | fs.O_CLOEXEC);
    try {
      fs.fchown(fd, 7, 8);
      fs.fchmod(fd, 0o4751);
    } finally {
      fs.closeFd(fd);
    }
    const st = fs.lstatNs(`${d}/f`);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [7, 8, 0o4751]);
    fs.chmod(`${d}/f`, 0o600);
    assert.equal(fs.lstatNs(`${d}/f`).mode & 0o7777, 0o600);
    fs.fchownat(fs.AT_FDCWD, `${d}/l`, 3, 4);
    assert.equal(fs.lstatNs(`${d}/l`).uid, 3);
    fs.fchmodat(fs.AT_FDCWD, `${d}/f`, 0o640);
    assert.equal(fs.lstatNs(`${d}/f`).mode & 0o7777, 0o640);
    assert.throws(() => fs.lchown(`${d}/none`, 1, 1), {
      message: `lchown ${d}/none: no such file or directory`,
    });
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("mknod makes whiteouts, devices and fifos; makedev/major/minor match glibc", () => {
  const d = tmp();
  try {
    fs.mknod(`${d}/wh`, fs.S_IFCHR | 0, 0, 0);
    let st = fs.lstatNs(`${d}/wh`);
    assert.equal(st.mode & fs.S_IFMT, fs.S_IFCHR);
    assert.equal(st.rdev, 0);
    fs.mknod(`${d}/null`, fs.S_IFCHR | 0o666, 1, 3);
    st = fs.lstatNs(`${d}/null`);
    assert.equal(st.rdev, 259);
    assert.equal(Deno.lstatSync(`${d}/null`).rdev, 259);
    fs.mknod(`${d}/blk`, fs.S_IFBLK | 0o600, 259, 70000);
    st = fs.lstatNs(`${d}/blk`);
    assert.equal(st.mode & fs.S_IFMT, fs.S_IFBLK);
    assert.equal(fs.major(st.rdev), 259);
    assert.equal(fs.minor(st.rdev), 70000);
    fs.mknod(`${d}/fifo`, fs.S_IFIFO | 0o644, 0, 0);
    assert.ok(Deno.lstatSync(`${d}/fifo`).isFifo);
    assert.throws(() => fs.mknod(`${d}/wh`, fs.S_IFCHR, 0, 0), {
      code: "EEXIST",
      message: `mknod ${d}/wh: file exists`,
    });
    assert.equal(fs.makedev(8, 1), 2049);
    assert.equal(fs.makedev(4096, 256), 2 ** 44 + 2 ** 20);
    for (const [ma, mi] of [[0, 0], [1, 3], [4095, 255], [4096, 256], [65535, 1048575]]) {
      const dev = fs.makedev(ma, mi);
      assert.deepEqual([fs.major(dev), fs.minor(dev)], [ma, mi]);
      assert.deepEqual([fs.major(BigInt(dev)), fs.minor(BigInt(dev))], [ma, mi]);
    }
    const dfd = fs.openFd(d, fs.O_RDONLY | fs.O_DIRECTORY | fs.O_CLOEXEC);
    try {
      fs.mknodAt(dfd, "wh2", fs.S_IFCHR, 0, 0);
    } finally {
      fs.closeFd(dfd);
    }
    assert.ok(Deno.lstatSync(`${d}/wh2`).isCharDevice);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("raw fd I/O: writeAll, readInto, pread, pwrite, ftruncate, lseek, syncs", () => {
  const d = tmp();
  try {
    const p = `${d}/data`;
    const fd = fs.openFd(p, fs.O_RDWR | fs.O_CREAT | fs.O_TRUNC | fs.O_CLOEXEC, 0o640);
    try {
      const big = new Uint8Array(3 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = i * 7;
      fs.writeAll(fd, big.subarray(0, 10));
      fs.writeAll(fd, big.subarray(10));
      fs.fdatasync(fd);
      fs.fsync(fd);
      assert.equal(fs.fstatNs(fd).size, big.length);
      assert.equal(fs.lseek(fd, 0, 0), 0);
      const back = new Uint8Array(big.length + 100);
      let got = 0;
      for (;;) {
        const n = fs.readInto(fd, back.subarray(got));
        if (n === 0) break;
        got += n;
      }
      assert.equal(got, big.length);
      assert.deepEqual(back.subarray(0, got), big);
      const small = new Uint8Array(4);
      assert.equal(fs.pread(fd, small, 100), 4);
      assert.deepEqual(small, big.subarray(100, 104));
      assert.equal(fs.pread(fd, small, big.length), 0);
      assert.equal(fs.pwrite(fd, new Uint8Array([1, 2, 3]), 5n), 3);
      assert.equal(fs.pread(fd, small, 4), 4);
      assert.deepEqual([...small], [big[4], 1, 2, 3]);
      fs.ftruncate(fd, 6);
      assert.equal(fs.fstatNs(fd).size, 6);
    } finally {
      fs.closeFd(fd);
    }
    assert.equal(Deno.statSync(p).size, 6);
    assert.throws(() => fs.readInto(fd, new Uint8Array(1)), { code: "EBADF" });
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("*at helpers create, link, rename and remove relative to a directory fd", () => {
  const d = tmp();
  try {
    const dfd = fs.openFd(d, fs.O_RDONLY | fs.O_DIRECTORY | fs.O_CLOEXEC);
    try {
      fs.mkdirAt(dfd, "sub", 0o750);
      assert.ok(Deno.statSync(`${d}/sub`).isDirectory);
      const f = fs.openAt(dfd, "sub/file", fs.O_WRONLY | fs.O_CREAT | fs.O_CLOEXEC, 0o600);
      fs.writeAll(f, new TextEncoder().encode("abc"));
      fs.closeFd(f);
      fs.symlinkAt("sub/file", dfd, "link");
      assert.equal(Deno.readLinkSync(`${d}/link`), "sub/file");
      fs.linkAt(dfd, "sub/file", dfd, "hard");
      assert.equal(fs.lstatNs(`${d}/hard`).nlink, 2);
      fs.renameAt(dfd, "hard", dfd, "hard2");
      assert.equal(Deno.readTextFileSync(`${d}/hard2`), "abc");
      fs.unlinkAt(dfd, "hard2");
      assert.throws(() => fs.unlinkAt(dfd, "sub", fs.AT_REMOVEDIR), {
        code: "ENOTEMPTY",
        message: "rmdir sub: directory not empty",
      });
      fs.unlinkAt(dfd, "sub/file");
      fs.unlinkAt(dfd, "sub", fs.AT_REMOVEDIR);
      assert.equal(fs.lexists(`${d}/sub`), false);
      assert.throws(() => fs.symlinkAt("x", dfd, "link"), { code: "EEXIST" });
    } finally {
      fs.closeFd(dfd);
    }
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("umask reads without changing; geteuid/getegid match Deno", () => {
  const old = fs.umask();
  assert.equal(fs.umask(), old);
  const prev = fs.umask(0o077);
  try {
    assert.equal(prev, old);
    assert.equal(fs.umask(), 0o077);
  } finally {
    fs.umask(old);
  }
  assert.equal(fs.geteuid(), Deno.uid());
  assert.equal(fs.getegid(), Deno.gid());
});
