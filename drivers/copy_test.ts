import assert from "node:assert/strict";
import { copyTree } from "./copy.ts";
import { chownTreeByMaps, ownerMapper } from "./copy_chown.ts";
import { createRawNamedFile, type SnapEntry, snapshotTree, tempDir } from "./vfs_testutil.ts";
import {
  closeFd,
  fchmodat,
  fstatatNs,
  lchown,
  linkAt,
  makedev,
  mkdirAt,
  mknod,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_RDONLY,
  O_WRONLY,
  openAt,
  openFd,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  symlinkAt,
  utimesNs,
} from "../sys/fs.ts";
import { lgetxattr, lsetxattr } from "../sys/xattr.ts";
import { SystemError } from "../store/errors.ts";

const enc = new TextEncoder();
// A v2 file capability (cap_net_bind_service) with bytes >= 0x80 to catch lossy handling.
const CAP = new Uint8Array([1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const BIN = new Uint8Array([0xff, 0x00, 0xfe, 0x01, 0x80]);

/** Builds a tree with every kind of entry and attribute under `root`. */
function buildTree(root: string): void {
  Deno.mkdirSync(`${root}/dir/sub/deep`, { recursive: true });
  Deno.mkdirSync(`${root}/empty`);
  Deno.mkdirSync(`${root}/ro`);
  Deno.writeTextFileSync(`${root}/ro/inside`, "in a read-only dir\n");
  Deno.chmodSync(`${root}/ro`, 0o555);
  Deno.writeTextFileSync(`${root}/plain`, "hello\n");
  Deno.writeFileSync(`${root}/empty-file`, new Uint8Array(0));
  const big = new Uint8Array(3 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
  Deno.writeFileSync(`${root}/dir/big`, big);
  Deno.writeTextFileSync(`${root}/suid`, "#!/bin/sh\n");
  lchown(`${root}/suid`, 0, 0);
  fchmodat(-100, `${root}/suid`, 0o4755);
  Deno.writeTextFileSync(`${root}/sgid`, "x");
  fchmodat(-100, `${root}/sgid`, 0o2710);
  Deno.writeTextFileSync(`${root}/nothing`, "secret");
  fchmodat(-100, `${root}/nothing`, 0o000);
  Deno.mkdirSync(`${root}/tmp`);
  fchmodat(-100, `${root}/tmp`, 0o1777);
  Deno.mkdirSync(`${root}/setgid-dir`);
  lchown(`${root}/setgid-dir`, 0, 42);
  fchmodat(-100, `${root}/setgid-dir`, 0o2775);
  Deno.writeTextFileSync(`${root}/setgid-dir/f`, "g");
  lchown(`${root}/setgid-dir/f`, 7, 8);
  Deno.writeTextFileSync(`${root}/dir/owned`, "owned");
  lchown(`${root}/dir/owned`, 1000, 1001);
  lchown(`${root}/dir/sub`, 33, 33);
  // hard links, three names across directories
  Deno.writeTextFileSync(`${root}/dir/linked`, "shared inode\n");
  Deno.linkSync(`${root}/dir/linked`, `${root}/dir/sub/linked2`);
  Deno.linkSync(`${root}/dir/linked`, `${root}/linked3`);
  // two names of one inode at the top level: the first one copied is a top-level name
  Deno.writeTextFileSync(`${root}/top1`, "top-level link\n");
  Deno.linkSync(`${root}/top1`, `${root}/top2`);
  // symlinks: relative, absolute, dangling, with own owner and times
  Deno.symlinkSync("plain", `${root}/rel-link`);
  Deno.symlinkSync("/etc/passwd", `${root}/abs-link`);
  Deno.symlinkSync("../nowhere", `${root}/dir/dangling`);
  lchown(`${root}/rel-link`, 1234, 5678);
  utimesNs(`${root}/rel-link`, 1_000_000_001_111_111_111n, 1_000_000_000_222_222_222n);
  lsetxattr(`${root}/abs-link`, "trusted.linkattr", enc.encode("on the link"));
  // devices and fifo
  mknod(`${root}/null`, S_IFCHR | 0o666, 1, 3);
  mknod(`${root}/whiteout`, S_IFCHR, 0, 0);
  mknod(`${root}/loop`, S_IFBLK | 0o660, 7, 0);
  mknod(`${root}/bigdev`, S_IFCHR | 0o600, 300, 70000);
  mknod(`${root}/fifo`, S_IFIFO | 0o644, 0, 0);
  lchown(`${root}/fifo`, 5, 6);
  // xattrs
  lsetxattr(`${root}/suid`, "security.capability", CAP);
  lsetxattr(`${root}/plain`, "user.bin", BIN);
  lsetxattr(`${root}/plain`, "user.empty", new Uint8Array(0));
  lsetxattr(`${root}/dir/sub`, "trusted.overlay.opaque", enc.encode("y"));
  lsetxattr(`${root}/dir`, "user.dirattr", enc.encode("d"));
  lsetxattr(`${root}/null`, "trusted.devattr", enc.encode("dev"));
  // a name that is not UTF-8
  createRawNamedFile(`${root}/dir`, new Uint8Array([0x61, 0xff, 0xfe, 0x62]), enc.encode("raw name\n"));
  // exact nanosecond times everywhere that matters (directories last)
  utimesNs(`${root}/plain`, 1_500_000_000_123_456_789n, 1_400_000_000_987_654_321n);
  utimesNs(`${root}/null`, 1_500_000_000_000_000_001n, 1_400_000_000_000_000_002n);
  utimesNs(`${root}/dir/sub/deep`, 1_300_000_000_000_000_003n, 1_200_000_000_000_000_004n);
  utimesNs(`${root}/dir`, 1_300_000_000_555_000_000n, 1_200_000_000_444_000_000n);
  utimesNs(root, 1_300_000_000_000_000_777n, 1_200_000_000_000_000_888n);
}

function withDirs(fn: (src: string, dst: string) => void): () => void {
  return () => {
    const base = tempDir("copy");
    try {
      fn(`${base}/src`, `${base}/dst`);
    } finally {
      Deno.removeSync(base, { recursive: true });
    }
  };
}

function assertSameTrees(a: Map<string, SnapEntry>, b: Map<string, SnapEntry>, ignore: string[] = []): void {
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [k, ea] of a) {
    if (ignore.includes(k)) continue;
    assert.deepEqual(b.get(k), ea, `entry ${JSON.stringify(k)}`);
  }
}

Deno.test(
  "copyTree keeps every kind of entry and attribute",
  withDirs((src, dst) => {
    Deno.mkdirSync(src);
    buildTree(src);
    const listener = Deno.listen({ transport: "unix", path: `${src}/sock` });
    utimesNs(src, 1_300_000_000_000_000_777n, 1_200_000_000_000_000_888n);
    let stats;
    const before = snapshotTree(src);
    try {
      assert.ok(Deno.lstatSync(`${src}/sock`).isSocket);
      stats = copyTree(src, dst);
    } finally {
      listener.close();
    }
    const after = snapshotTree(dst);
    // The socket is skipped; everything else is identical, atimes included.
    before.delete("sock");
    assertSameTrees(before, after);
    assert.equal(stats.sockets, 1);
    assert.equal(stats.hardlinks, 3);
    assert.equal(after.get("top1")!.group, after.get("top2")!.group);
    assert.equal(stats.fifos, 1);
    assert.equal(stats.devices, 4);
    // Spot checks that the snapshot really covers what matters.
    const rel = after.get("rel-link")!;
    assert.equal(rel.uid, 1234);
    assert.equal(rel.mtimeNs, 1_000_000_000_222_222_222n);
    assert.equal(after.get("suid")!.mode & 0o7777, 0o4755);
    assert.equal(after.get("suid")!.xattrs["security.capability"], "0100000200040000" + "0".repeat(24));
    assert.equal(after.get("plain")!.xattrs["user.bin"], "ff00fe0180");
    assert.equal(after.get("bigdev")!.rdev, BigInt(makedev(300, 70000)));
    assert.equal(after.get("dir/a\xff\xfeb")!.sha256 !== undefined, true);
    const g = after.get("dir/linked")!.group;
    assert.notEqual(g, undefined);
    assert.equal(after.get("dir/sub/linked2")!.group, g);
    assert.equal(after.get("linked3")!.group, g);
    assert.equal(after.get("dir/linked")!.nlink, 3);
    assert.equal(after.get(".")!.mtimeNs, 1_200_000_000_000_000_888n);
  }),
);

Deno.test(
  "copyTree merges into an existing directory, replacing what is in the way",
  withDirs((src, dst) => {
    Deno.mkdirSync(src);
    buildTree(src);
    Deno.mkdirSync(`${dst}/dir`, { recursive: true });
    Deno.writeTextFileSync(`${dst}/plain`, "old content that is longer");
    Deno.mkdirSync(`${dst}/null`); // an empty dir where a device goes
    Deno.writeTextFileSync(`${dst}/empty`, "a file where a directory goes");
    Deno.writeTextFileSync(`${dst}/extra`, "kept");
    const before = snapshotTree(src);
    copyTree(src, dst);
    const after = snapshotTree(dst);
    assert.ok(after.has("extra"));
    after.delete("extra");
    assertSameTrees(before, after, ["."]);
  }),
);

Deno.test(
  "copyTree with mapOwner shifts every owner but the root's and keeps caps and setuid",
  withDirs((src, dst) => {
    Deno.mkdirSync(src);
    buildTree(src);
    const before = snapshotTree(src);
    copyTree(src, dst, { mapOwner: (u, g) => [u + 100000, g + 200000] });
    const after = snapshotTree(dst);
    for (const [k, e] of before) {
      const d = after.get(k)!;
      if (k === ".") {
        assert.equal(d.uid, e.uid);
        continue;
      }
      assert.equal(d.uid, e.uid + 100000, k);
      assert.equal(d.gid, e.gid + 200000, k);
      assert.equal(d.mode, e.mode, k);
      assert.deepEqual(d.xattrs, e.xattrs, k);
    }
  }),
);

Deno.test(
  "chownTreeByMaps re-owns in place as Go's ChownPathByMaps",
  withDirs((src) => {
    Deno.mkdirSync(src);
    buildTree(src);
    lchown(`${src}/dir/owned`, 100000 + 1000, 100000 + 1001);
    lchown(`${src}/dir/sub/deep`, 99, 99);
    const before = snapshotTree(src);
    const from = {
      uidMap: [{ containerId: 0, hostId: 0, size: 1 }, { containerId: 1, hostId: 1, size: 200000 }],
      gidMap: [{ containerId: 0, hostId: 0, size: 300000 }],
    };
    const to = {
      uidMap: [{ containerId: 0, hostId: 500000, size: 65536 }],
      gidMap: [{ containerId: 0, hostId: 600000, size: 65536 }],
    };
    const n = chownTreeByMaps(src, ownerMapper(from, to));
    const after = snapshotTree(src);
    assert.equal(after.get(".")!.uid, before.get(".")!.uid, "root untouched");
    // 101000 is beyond the 65536-sized target map: overflow ID
    assert.equal(after.get("dir/owned")!.uid, 65534);
    assert.equal(after.get("dir/owned")!.gid, 65534);
    assert.equal(after.get("plain")!.uid, 500000);
    assert.equal(after.get("plain")!.gid, 600000);
    assert.equal(after.get("dir/sub/deep")!.uid, 500099);
    assert.equal(after.get("suid")!.mode & 0o7777, 0o4755);
    assert.equal(
      after.get("suid")!.xattrs["security.capability"],
      before.get("suid")!.xattrs["security.capability"],
    );
    assert.equal(after.get("rel-link")!.uid, 500000 + 1234);
    // the three names of one inode are changed once
    assert.equal(after.get("linked3")!.uid, 500000);
    assert.equal(n, before.size - 1 - 3);
  }),
);

Deno.test(
  "ownerMapper refuses unmappable non-root pairs and keeps 0:0",
  () => {
    const m = ownerMapper(
      {
        uidMap: [{ containerId: 0, hostId: 1000, size: 10 }],
        gidMap: [{ containerId: 0, hostId: 1000, size: 10 }],
      },
      {
        uidMap: [{ containerId: 0, hostId: 5000, size: 5 }],
        gidMap: [{ containerId: 0, hostId: 7000, size: 5 }],
      },
    );
    assert.deepEqual(m(1001, 1002), [5001, 7002]);
    assert.deepEqual(m(0, 0), [5000, 7000]);
    assert.deepEqual(m(1009, 1009), [65534, 65534]);
    assert.throws(() => m(5, 1000), /cannot be mapped/);
  },
);

Deno.test(
  "copyTree reports a missing source like Go's PathError",
  withDirs((src, dst) => {
    assert.throws(() => copyTree(src, dst), (err: unknown) => {
      assert.ok(err instanceof SystemError);
      assert.equal(err.code, "ENOENT");
      assert.equal(err.message, `open ${src}: no such file or directory`);
      return true;
    });
  }),
);

Deno.test(
  "copyTree copes with trees deeper than PATH_MAX (hard links and symlink xattrs included)",
  withDirs((src, dst) => {
    const name = "d".repeat(40);
    const depth = 120; // about 4,900 bytes of path
    Deno.mkdirSync(src);
    let fd = openFd(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      for (let i = 0; i < depth; i++) {
        mkdirAt(fd, name);
        const next = openAt(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        closeFd(fd);
        fd = next;
      }
      closeFd(openAt(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0o640));
      linkAt(fd, "f", fd, "g");
      symlinkAt("f", fd, "s");
      lsetxattr(`/proc/self/fd/${fd}/s`, "trusted.deep", enc.encode("yes"));
      lsetxattr(`/proc/self/fd/${fd}/f`, "security.capability", CAP);
    } finally {
      closeFd(fd);
    }
    const stats = copyTree(src, dst);
    assert.equal(stats.dirs, depth + 1);
    assert.equal(stats.hardlinks, 1);
    chownTreeByMaps(dst, (u, g) => [u + 1, g + 2]);
    fd = openFd(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      for (let i = 0; i < depth; i++) {
        const next = openAt(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        closeFd(fd);
        fd = next;
      }
      const f = fstatatNs(fd, "f"), g = fstatatNs(fd, "g");
      assert.equal(f.ino, g.ino);
      assert.equal(f.mode & 0o7777, 0o640);
      assert.deepEqual([f.uid, f.gid], [1, 2]);
      assert.deepEqual(lgetxattr(`/proc/self/fd/${fd}/f`, "security.capability"), CAP);
      assert.equal(new TextDecoder().decode(lgetxattr(`/proc/self/fd/${fd}/s`, "trusted.deep")!), "yes");
    } finally {
      closeFd(fd);
    }
  }),
);
