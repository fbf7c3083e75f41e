/**
 * Test helpers for tree-copying drivers: a byte-exact snapshot of a directory tree
 * (names as raw bytes, lstat fields with nanoseconds, xattrs, link targets, content
 * digests, hard-link groups) and a builder for a tree holding every kind of entry.
 * Not part of the library API.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { encodeHeader, padding, type TarWriteHeader, trailer } from "../archive/tar_writer.ts";
import { TypeFlag } from "../archive/types.ts";
import { readDirFd, readlinkAtRaw } from "../sys/dirent_vfs.ts";
import { sysError } from "../sys/errno.ts";
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOATIME,
  O_NOFOLLOW,
  O_RDONLY,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  UTIME_OMIT,
} from "../sys/fs.ts";
import { errno, S } from "../sys/libc.ts";
import { concatBytes } from "../store/streams.ts";

/** One entry of a snapshot. */
export interface SnapEntry {
  mode: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  /** Symlink target (latin1 view of the bytes). */
  link?: string;
  /** sha256 of a regular file's content. */
  sha256?: string;
  /** xattr name → hex value. */
  xattrs: Record<string, string>;
  /** Index of the hard-link group (same inode), for non-directories with nlink > 1. */
  group?: number;
  nlink: number;
}

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function nulled(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const o = new Uint8Array(b.length + 1);
  o.set(b);
  return o;
}

function listXattrs(path: Uint8Array<ArrayBuffer>): Record<string, string> {
  const buf = new Uint8Array(65536);
  const n = S.llistxattr(path, buf, BigInt(buf.length));
  if (n < 0) throw sysError("llistxattr", utf8.decode(path), errno());
  const out: Record<string, string> = {};
  const names = utf8.decode(buf.subarray(0, n)).split("\0").filter((s) => s !== "");
  for (const name of names.sort()) {
    const v = new Uint8Array(65536);
    const r = S.lgetxattr(path, nulled(new TextEncoder().encode(name)), v, BigInt(v.length));
    if (r < 0) throw sysError("lgetxattr", utf8.decode(path), errno());
    out[name] = hex(v.subarray(0, r));
  }
  return out;
}

/**
 * Snapshots the tree under `root` (the root itself under key `.`). Keys are the relative
 * paths with names decoded as latin1, so every byte sequence maps to a distinct key.
 */
export function snapshotTree(root: string, opts: { skipAtime?: boolean } = {}): Map<string, SnapEntry> {
  const out = new Map<string, SnapEntry>();
  const groups = new Map<string, number>();
  const stat = new Uint8Array(144);
  const v = new DataView(stat.buffer);
  const rootBytes = new TextEncoder().encode(root);

  const record = (
    key: string,
    full: Uint8Array<ArrayBuffer>,
    dirfd: number,
    name: Uint8Array<ArrayBuffer>,
  ) => {
    if (S.fstatat(dirfd, name, stat, AT_SYMLINK_NOFOLLOW) === -1) throw sysError("lstat", key, errno());
    const ts = (o: number) => v.getBigInt64(o, true) * 1_000_000_000n + v.getBigInt64(o + 8, true);
    const mode = v.getUint32(24, true);
    const nlink = Number(v.getBigUint64(16, true));
    const e: SnapEntry = {
      mode,
      uid: v.getUint32(28, true),
      gid: v.getUint32(32, true),
      rdev: v.getBigUint64(40, true),
      size: Number(v.getBigInt64(48, true)),
      atimeNs: opts.skipAtime ? 0n : ts(72),
      mtimeNs: ts(88),
      xattrs: {},
      nlink,
    };
    const ino = `${v.getBigUint64(0, true)}:${v.getBigUint64(8, true)}`;
    const type = mode & S_IFMT;
    if (type !== S_IFDIR && nlink > 1) {
      if (!groups.has(ino)) groups.set(ino, groups.size);
      e.group = groups.get(ino);
    }
    if (type === S_IFDIR) e.size = 0;
    e.xattrs = listXattrs(full);
    if (type === S_IFLNK) {
      const target = readlinkAtRaw(dirfd, name, key);
      // readlink updated the link's atime: put the recorded one back (mtime untouched).
      const times = new Uint8Array(32);
      times.set(stat.subarray(72, 88));
      new DataView(times.buffer).setBigInt64(24, BigInt(UTIME_OMIT), true);
      if (S.utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW) === -1) {
        throw sysError("utimensat", key, errno());
      }
      e.link = latin1.decode(target.subarray(0, target.length - 1));
    } else if (type === S_IFREG) {
      // O_NOATIME: reading without touching atimes keeps snapshots side-effect free (owner or root).
      const fd = S.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME, 0);
      if (fd < 0) throw sysError("open", key, errno());
      const h = createHash("sha256");
      const buf = new Uint8Array(1 << 16);
      for (;;) {
        const n = S.read(fd, buf, BigInt(buf.length));
        if (n <= 0) break;
        h.update(buf.subarray(0, n));
      }
      S.close(fd);
      e.sha256 = h.digest("hex");
    }
    out.set(key, e);
    return type;
  };

  const walk = (dirfd: number, dirBytes: Uint8Array, prefix: string) => {
    for (const ent of readDirFd(dirfd, prefix)) {
      const nameBytes = ent.name.subarray(0, ent.name.length - 1);
      const key = prefix === "." ? latin1.decode(nameBytes) : `${prefix}/${latin1.decode(nameBytes)}`;
      const full = new Uint8Array(dirBytes.length + 1 + nameBytes.length + 1);
      full.set(dirBytes);
      full[dirBytes.length] = 0x2f;
      full.set(nameBytes, dirBytes.length + 1);
      const type = record(key, full, dirfd, ent.name);
      if (type === S_IFDIR) {
        const fd = S.openat(dirfd, ent.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME, 0);
        if (fd < 0) throw sysError("open", key, errno());
        try {
          walk(fd, full.subarray(0, full.length - 1), key);
        } finally {
          S.close(fd);
        }
      }
    }
  };

  const rootNul = nulled(rootBytes);
  record(".", rootNul, AT_FDCWD, rootNul);
  const fd = S.openat(AT_FDCWD, rootNul, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME, 0);
  if (fd < 0) throw sysError("open", root, errno());
  try {
    walk(fd, rootBytes, ".");
  } finally {
    S.close(fd);
  }
  return out;
}

/** Creates a file whose name is given as raw bytes (e.g. not valid UTF-8) inside `dir`. */
export function createRawNamedFile(dir: string, name: Uint8Array, content: Uint8Array): void {
  const d = nulled(new TextEncoder().encode(dir));
  const dfd = S.openat(AT_FDCWD, d, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dfd < 0) throw sysError("open", dir, errno());
  try {
    const fd = S.openat(dfd, nulled(name), 0o1 | 0o100 | O_CLOEXEC, 0o644);
    if (fd < 0) throw sysError("open", utf8.decode(name), errno());
    S.write(fd, content as Uint8Array<ArrayBuffer>, BigInt(content.length));
    S.close(fd);
  } finally {
    S.close(dfd);
  }
}

/** A fresh temp directory under /tmp (ext4 here: user.* and trusted.* xattrs work). */
export function tempDir(prefix: string): string {
  return Deno.makeTempDirSync({ prefix: `vfs-${prefix}-` });
}

/** One tar member for `makeTar`: a header plus the content of regular files. */
export type Member = TarWriteHeader & { data?: string };

/** An in-memory tar (ustar/PAX via the project's writer helpers). */
export function makeTar(members: Member[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const data = m.data !== undefined ? enc.encode(m.data) : new Uint8Array(0);
    const type = m.type ?? TypeFlag.Reg;
    const size = type === TypeFlag.Reg ? data.length : 0;
    parts.push(encodeHeader({ mtimeNs: 1_600_000_000_000_000_000n, mode: 0o644, ...m, size }));
    if (size > 0) parts.push(data, padding(size));
  }
  parts.push(trailer());
  return concatBytes(parts);
}

/** The bytes as a stream of uneven chunks. */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      // Uneven chunks exercise the parser's buffering.
      for (let i = 0; i < bytes.length; i += 700) c.enqueue(bytes.slice(i, i + 700));
      c.close();
    },
  });
}

/** A directory member. */
export const dir = (name: string, mode = 0o755): Member => ({ name, type: TypeFlag.Dir, mode });
/** A regular file member. */
export const file = (name: string, data: string, extra: Partial<Member> = {}): Member => ({
  name,
  data,
  ...extra,
});

/** Relative paths of a tree with type letter, mode and content, for readable comparisons. */
export function listing(root: string): string[] {
  const out: string[] = [];
  for (const [k, e] of snapshotTree(root, { skipAtime: true })) {
    const t = { 0o040000: "d", 0o100000: "f", 0o120000: "l", 0o020000: "c" }[e.mode & 0o170000] ?? "?";
    let extra = "";
    if (t === "f") extra = " " + Deno.readTextFileSync(`${root}/${k}`).trim();
    if (t === "l") extra = " -> " + e.link;
    out.push(`${k} ${t}${(e.mode & 0o7777).toString(8)} ${e.uid}:${e.gid}${extra}`);
  }
  return out.sort();
}

/**
 * Three layer tars exercising whiteouts: l1 a base with a `./` entry, l2 removing files,
 * a directory and an opaque directory's old contents, adding a hard link and a whiteout
 * under missing parents; l3 re-adding a removed file, whiting out a directory and a symlink.
 */
export function chainTars(): [Uint8Array, Uint8Array, Uint8Array] {
  const l1 = makeTar([
    dir("./", 0o755),
    dir("etc/"),
    file("etc/hostname", "one"),
    file("etc/shadow", "secret", { mode: 0o600 }),
    dir("gone/"),
    file("gone/f", "x"),
    dir("opaque/"),
    file("opaque/old1", "o1"),
    dir("opaque/olddir/"),
    file("opaque/olddir/deep", "d"),
    file("top", "top", { uid: 1000, gid: 1000 }),
    { name: "lnk", type: TypeFlag.Symlink, linkname: "etc/hostname" },
    { name: "usr/bin/tool", data: "tool", mode: 0o4755 },
  ]);
  const l2 = makeTar([
    dir("./", 0o750),
    file(".wh.top", ""),
    file("etc/.wh.shadow", ""),
    file(".wh.gone", ""),
    dir("opaque/"),
    file("opaque/.wh..wh..opq", ""),
    file("opaque/new", "n"),
    // Same size as before: a new mtime is what lets a naive diff see the change (as in Go).
    file("etc/hostname", "two", { mtimeNs: 1_600_000_100_000_000_000n }),
    file("deep/x/.wh.y", ""),
    { name: "hl", type: TypeFlag.Link, linkname: "usr/bin/tool" },
  ]);
  const l3 = makeTar([
    file("top", "back", { uid: 5, gid: 6 }),
    file("usr/.wh.bin", ""),
    file("etc/new", "3", { uid: 1001, gid: 2000 }),
    file(".wh.lnk", ""),
  ]);
  return [l1, l2, l3];
}
