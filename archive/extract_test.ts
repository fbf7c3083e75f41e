import assert from "node:assert/strict";
import { extractTar } from "./extract.ts";
import { tarDirectory } from "./tar_dir.ts";
import { TypeFlag } from "./types.ts";
import { lgetxattr } from "../sys/xattr.ts";
import { lstatNs } from "../sys/fs.ts";
import { ArchiveError, SystemError } from "../store/errors.ts";
import { buildRichTree, fileStream, makeTar, rm, sh, sha256, snapshot, streamOf, tmp } from "./test_util.ts";

Deno.test("rich tree from GNU tar (pax, xattrs) extracts identically to the source and to GNU tar", async () => {
  const d = tmp();
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    sh(`tar --xattrs --xattrs-include='*' --numeric-owner --format=pax -cf t.tar -C src .`, d);
    Deno.mkdirSync(`${d}/ours`);
    Deno.mkdirSync(`${d}/gnu`);
    const r = await extractTar(await fileStream(`${d}/t.tar`), `${d}/ours`);
    assert.equal(r.bytes, Deno.statSync(`${d}/t.tar`).size);
    sh(`tar --xattrs --xattrs-include='*' --numeric-owner -xpf t.tar -C gnu`, d);
    // The root's mtime ends up "now" with the vfs ("delete") format, as in Go.
    const src = snapshot(`${d}/src`, { noRoot: true });
    assert.deepEqual(snapshot(`${d}/ours`, { noRoot: true }), src);
    assert.deepEqual(snapshot(`${d}/gnu`, { noRoot: true }), src);
    assert.equal(snapshot(`${d}/ours`, { noTimes: true })[0], snapshot(`${d}/src`, { noTimes: true })[0]);
  } finally {
    rm(d);
  }
});

Deno.test("GNU-format tar (long names via L/K records, base-256 ids) extracts like GNU tar", async () => {
  const d = tmp();
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    sh(
      `tar --numeric-owner --format=gnu -cf t.tar -C src . && mkdir ours gnu && tar --numeric-owner -xpf t.tar -C gnu`,
      d,
    );
    await extractTar(await fileStream(`${d}/t.tar`), `${d}/ours`);
    const opts = {
      seconds: true,
      noRoot: true,
      ignoreXattrs: ["user.bin", "user.text", "trusted.note", "security.capability"],
    };
    assert.deepEqual(snapshot(`${d}/ours`, opts), snapshot(`${d}/gnu`, opts));
    assert.deepEqual(snapshot(`${d}/ours`, opts), snapshot(`${d}/src`, opts));
  } finally {
    rm(d);
  }
});

Deno.test("python tarfile archives: GNU base-256 uid, NUL typeflag, PAX fractional and negative times", async () => {
  const d = tmp();
  try {
    sh(
      `python3 - <<'PY'
import tarfile, io
with tarfile.open("gnu.tar", "w", format=tarfile.GNU_FORMAT) as t:
    ti = tarfile.TarInfo("big/uid.txt"); ti.size = 3; ti.uid = 3000000; ti.gid = 2500000; ti.mtime = 1234567890
    t.addfile(ti, io.BytesIO(b"abc"))
with tarfile.open("pax.tar", "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("frac/\u00e9t\u00e9.txt"); ti.size = 2; ti.mtime = 1700000000.25; ti.mode = 0o640
    t.addfile(ti, io.BytesIO(b"hi"))
    ti = tarfile.TarInfo("old.txt"); ti.size = 1; ti.mtime = -86400
    t.addfile(ti, io.BytesIO(b"o"))
with tarfile.open("v7.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    ti = tarfile.TarInfo("areg"); ti.type = tarfile.AREGTYPE; ti.size = 4; ti.mtime = 1000
    t.addfile(ti, io.BytesIO(b"nul!"))
PY`,
      d,
    );
    for (const t of ["gnu", "pax", "v7"]) Deno.mkdirSync(`${d}/${t}`);
    await extractTar(await fileStream(`${d}/gnu.tar`), `${d}/gnu`);
    let st = lstatNs(`${d}/gnu/big/uid.txt`);
    assert.deepEqual([st.uid, st.gid, st.mtimeNs], [3000000, 2500000, 1234567890_000_000_000n]);
    await extractTar(await fileStream(`${d}/pax.tar`), `${d}/pax`);
    st = lstatNs(`${d}/pax/frac/été.txt`);
    assert.equal(st.mtimeNs, 1700000000_250_000_000n);
    assert.equal(st.mode & 0o7777, 0o640);
    // Go clamps times before the epoch to the epoch for non-symlinks.
    assert.equal(lstatNs(`${d}/pax/old.txt`).mtimeNs, 0n);
    await extractTar(await fileStream(`${d}/v7.tar`), `${d}/v7`);
    assert.equal(Deno.readTextFileSync(`${d}/v7/areg`), "nul!");
  } finally {
    rm(d);
  }
});

Deno.test("tarDirectory output extracts back to the same tree (second precision)", async () => {
  const d = tmp();
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    Deno.mkdirSync(`${d}/out`);
    await extractTar(tarDirectory(`${d}/src`), `${d}/out`);
    // tarDirectory exports only security.capability, security.ima and user.* (as Go).
    const o = { seconds: true, noRoot: true, ignoreXattrs: ["trusted.note"] };
    assert.deepEqual(snapshot(`${d}/out`, o), snapshot(`${d}/src`, o));
  } finally {
    rm(d);
  }
});

Deno.test("uid/gid maps shift owners; unmappable IDs fail", async () => {
  const d = tmp();
  try {
    const tar = makeTar([
      { name: "a/", type: TypeFlag.Dir, mode: 0o755, uid: 0, gid: 0 },
      { name: "a/f", mode: 0o644, uid: 1000, gid: 100, data: "x" },
    ]);
    const map = [{ containerId: 0, hostId: 100000, size: 65536 }];
    Deno.mkdirSync(`${d}/m`);
    await extractTar(streamOf(tar), `${d}/m`, { uidMap: map, gidMap: map });
    assert.deepEqual([lstatNs(`${d}/m/a`).uid, lstatNs(`${d}/m/a/f`).uid, lstatNs(`${d}/m/a/f`).gid], [
      100000,
      101000,
      100100,
    ]);
    Deno.mkdirSync(`${d}/bad`);
    const bad = makeTar([{ name: "f", uid: 70000, data: "x" }]);
    await assert.rejects(
      extractTar(streamOf(bad), `${d}/bad`, { uidMap: map, gidMap: map }),
      /cannot be mapped/,
    );
  } finally {
    rm(d);
  }
});

Deno.test("root entry: applied for vfs, skipped with skipRootEntry; replacement rules", async () => {
  const d = tmp();
  try {
    const tar = makeTar([
      { name: "./", type: TypeFlag.Dir, mode: 0o711, mtimeNs: 5_000_000_000n },
      { name: "x", data: "file first" },
      { name: "x/", type: TypeFlag.Dir, mode: 0o755 },
      { name: "x/in", data: "inside" },
      { name: "y/", type: TypeFlag.Dir, mode: 0o755 },
      { name: "y/z", data: "gone with y" },
      { name: "y", data: "file replaces dir" },
    ]);
    for (const n of ["vfs", "ovl"]) Deno.mkdirSync(`${d}/${n}`, { mode: 0o555 });
    Deno.chmodSync(`${d}/vfs`, 0o555);
    Deno.chmodSync(`${d}/ovl`, 0o555);
    await extractTar(streamOf(tar, 100), `${d}/vfs`);
    await extractTar(streamOf(tar, 700), `${d}/ovl`, { skipRootEntry: true, whiteoutFormat: "overlay" });
    assert.equal(lstatNs(`${d}/vfs`).mode & 0o7777, 0o711);
    // Go's vfs leaves the root's mtime at "now"; the atime is the entry's (none: the epoch).
    assert.notEqual(lstatNs(`${d}/vfs`).mtimeNs, 5_000_000_000n);
    assert.equal(lstatNs(`${d}/vfs`).atimeNs, 0n);
    assert.equal(lstatNs(`${d}/ovl`).mode & 0o7777, 0o555);
    for (const n of ["vfs", "ovl"]) {
      assert.equal(Deno.readTextFileSync(`${d}/${n}/x/in`), "inside");
      assert.equal(Deno.readTextFileSync(`${d}/${n}/y`), "file replaces dir");
    }
    Deno.mkdirSync(`${d}/strict`);
    await assert.rejects(
      extractTar(streamOf(tar), `${d}/strict`, { noOverwriteDirNonDir: true }),
      /cannot overwrite non-directory/,
    );
  } finally {
    rm(d);
  }
});

Deno.test("whiteouts: delete (vfs), overlay (device + opaque xattr), aufs (kept)", async () => {
  const d = tmp();
  try {
    const base = () =>
      sh(
        `mkdir -p a b c/old/deep && echo 1 > a/x && echo 2 > a/y && echo 3 > b/z && echo 4 > c/old/deep/f`,
        d,
      );
    const layer = makeTar([
      { name: "a/.wh.x", mode: 0o600, uid: 7, gid: 8 },
      { name: ".wh.b", mode: 0o600 },
      { name: "c/", type: TypeFlag.Dir, mode: 0o755 },
      { name: "c/.wh..wh..opq", mode: 0o600 },
      { name: "c/new", data: "new" },
      { name: "deep/x/.wh.y", mode: 0o600 },
      { name: ".wh..wh.plnk/123", data: "aufs bookkeeping" },
    ]);
    // delete: applied over a copy of the parent's tree
    base();
    await extractTar(streamOf(layer), d, { whiteoutFormat: "delete" });
    // Go creates the parent of AUFS metadata entries but not the entries themselves.
    assert.deepEqual(sh(`find . | sort`, d).trim().split("\n"), [
      ".",
      "./.wh..wh.plnk",
      "./a",
      "./a/y",
      "./c",
      "./c/new",
      "./deep",
      "./deep/x",
    ]);
    // overlay: into an empty diff dir
    Deno.mkdirSync(`${d}/ovl`);
    await extractTar(streamOf(layer), `${d}/ovl`, { whiteoutFormat: "overlay", skipRootEntry: true });
    const x = lstatNs(`${d}/ovl/a/x`);
    assert.deepEqual([x.mode, x.rdev, x.uid, x.gid], [0o020000, 0, 7, 8]);
    assert.equal(lstatNs(`${d}/ovl/b`).mode, 0o020000);
    assert.deepEqual(lgetxattr(`${d}/ovl/c`, "trusted.overlay.opaque"), new Uint8Array([0x79]));
    assert.equal(Deno.readTextFileSync(`${d}/ovl/c/new`), "new");
    // Overlay (Go's Unpack) has no AUFS-metadata rule: only .wh..wh.plnk/123 stays.
    assert.equal(sh(`find . -name '.wh.*'`, `${d}/ovl`).trim(), "./.wh..wh.plnk");
    // rootless overlay uses the user.* namespace
    Deno.mkdirSync(`${d}/ovlu`);
    await extractTar(streamOf(layer), `${d}/ovlu`, { whiteoutFormat: "overlay", rootless: true });
    assert.deepEqual(lgetxattr(`${d}/ovlu/c`, "user.overlay.opaque"), new Uint8Array([0x79]));
    // aufs: whiteouts are plain files
    Deno.mkdirSync(`${d}/aufs`);
    await extractTar(streamOf(layer), `${d}/aufs`, { whiteoutFormat: "aufs" });
    assert.ok(Deno.lstatSync(`${d}/aufs/a/.wh.x`).isFile);
    assert.ok(Deno.lstatSync(`${d}/aufs/c/.wh..wh..opq`).isFile);
  } finally {
    rm(d);
  }
});

Deno.test("observers see every byte of the stream in order (sha256 of segments + payloads)", async () => {
  const d = tmp();
  try {
    const tar = makeTar([{ name: "f", data: "x".repeat(1000) }, { name: "g/", type: TypeFlag.Dir }]);
    const withJunk = new Uint8Array(tar.length + 3000);
    withJunk.set(tar);
    withJunk.fill(7, tar.length);
    const parts: Uint8Array[] = [];
    const keep = (b: Uint8Array) => parts.push(b.slice());
    await extractTar(streamOf(withJunk, 333), d, { observers: [{ segment: keep, payload: keep }] });
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (all.set(p, o), o += p.length);
    assert.equal(sha256(all), sha256(withJunk));
  } finally {
    rm(d);
  }
});

Deno.test("unsupported entry types and extraction into a missing root fail cleanly", async () => {
  const d = tmp();
  try {
    const tar = makeTar([{ name: "c", type: 0x37, /* contiguous */ data: "x" }]);
    await assert.rejects(
      extractTar(streamOf(tar), d),
      (e) => e instanceof ArchiveError && /unhandled/.test(e.message),
    );
    await assert.rejects(extractTar(streamOf(tar), `${d}/missing`), SystemError);
  } finally {
    rm(d);
  }
});

Deno.test("rootless: device nodes are skipped, FIFOs kept; noChown keeps the extracting owner", async () => {
  const d = tmp();
  try {
    const tar = makeTar([
      { name: "c", type: TypeFlag.Char, devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "b", type: TypeFlag.Block, devmajor: 7, devminor: 0, mode: 0o660 },
      { name: "p", type: TypeFlag.Fifo, mode: 0o600, uid: 42 },
    ]);
    await extractTar(streamOf(tar), d, { rootless: true, noChown: true });
    assert.deepEqual([...Deno.readDirSync(d)].map((e) => e.name), ["p"]);
    assert.equal(lstatNs(`${d}/p`).uid, 0);
  } finally {
    rm(d);
  }
});

Deno.test("forceMask (mount-program stores): mask as mode, no chown, override_stat xattr", async () => {
  const d = tmp();
  try {
    Deno.chmodSync(d, 0o555);
    const tar = makeTar([
      { name: "dir/", type: TypeFlag.Dir, mode: 0o755, uid: 5, gid: 6 },
      { name: "dir/f", mode: 0o4644, uid: 7, gid: 8, data: "x" },
      { name: "l", type: TypeFlag.Symlink, linkname: "dir/f", uid: 9, gid: 9 },
    ]);
    await extractTar(streamOf(tar), d, { forceMask: 0o700, whiteoutFormat: "aufs", skipRootEntry: true });
    const x = (p: string) =>
      new TextDecoder().decode(lgetxattr(p, "user.containers.override_stat") ?? new Uint8Array());
    assert.equal(x(d), "0:0:0555");
    assert.equal(x(`${d}/dir`), "5:6:0755");
    assert.equal(x(`${d}/dir/f`), "7:8:0644");
    assert.equal(x(`${d}/l`), "");
    assert.deepEqual([lstatNs(`${d}/dir/f`).mode & 0o7777, lstatNs(`${d}/dir/f`).uid], [0o700, 0]);
    assert.equal(lstatNs(`${d}/dir`).mode & 0o7777, 0o700);
  } finally {
    rm(d);
  }
});

Deno.test("owners: files the process already owns skip fchown, except under set-group-ID directories", async () => {
  const d = tmp();
  try {
    const tar = makeTar([
      { name: "plain/a", data: "a" },
      { name: "sg/", type: TypeFlag.Dir, mode: 0o2755 },
      { name: "sg/b", data: "b" },
      { name: "sg/new/c", data: "c" }, // parent made implicitly: inherits set-group-ID
      { name: "sg2/", type: TypeFlag.Dir, mode: 0o755 },
      { name: "sg2/e", data: "e" },
      { name: "old/f", data: "f" },
      { name: "g", data: "g", uid: 7, gid: 8 },
    ]);
    for (const root of ["r1", "r2"]) {
      Deno.mkdirSync(`${d}/${root}`);
      // r2: the root and a directory already there are set-group-ID, group 1234.
      if (root === "r2") {
        Deno.mkdirSync(`${d}/r2/old`);
        Deno.mkdirSync(`${d}/r2/sg2`);
        sh(`chgrp 1234 r2 r2/old r2/sg2 && chmod 2755 r2 r2/old r2/sg2`, d);
      }
      await extractTar(streamOf(tar), `${d}/${root}`);
      for (const f of ["plain/a", "sg/b", "sg/new/c", "sg2/e", "old/f"]) {
        const st = lstatNs(`${d}/${root}/${f}`);
        assert.deepEqual([st.uid, st.gid], [0, 0], `${root}/${f}`);
      }
      const g = lstatNs(`${d}/${root}/g`);
      assert.deepEqual([g.uid, g.gid], [7, 8], `${root}/g`);
    }
  } finally {
    rm(d);
  }
});
