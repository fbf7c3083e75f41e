/**
 * statfs(2): filesystem type magic and space figures, used to pick drivers and to
 * refuse unsupported backing filesystems.
 *
 * @module
 */
import { check } from "./errno.ts";
import { cs0, S } from "./libc.ts";

/** Filesystem type magic numbers (`f_type`). */
export const FS_MAGIC = {
  EXT4: 0xef53,
  TMPFS: 0x01021994,
  XFS: 0x58465342,
  BTRFS: 0x9123683e,
  OVERLAY: 0x794c7630,
  ZFS: 0x2fc12fc1,
  NFS: 0x6969,
  FUSE: 0x65735546,
  SQUASHFS: 0x73717368,
  ECRYPTFS: 0xf15f,
  AUFS: 0x61756673,
  PROC: 0x9fa0,
  RAMFS: 0x858458f6,
} as const;

/** Result of statfs. */
export interface StatFs {
  /** `f_type` magic number (see FS_MAGIC). */
  type: number;
  /** Block size. */
  bsize: number;
  /** Total blocks. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Blocks available to unprivileged users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Maximum file name length. */
  namelen: number;
  /** Fragment size. */
  frsize: number;
  /** Mount flags (`ST_RDONLY` 1, `ST_NOSUID` 2, ...). */
  flags: number;
}

// struct statfs (x86_64, 120 bytes): type@0 bsize@8 blocks@16 bfree@24 bavail@32 files@40 ffree@48
// fsid@56 namelen@64 frsize@72 flags@80 spare@88.
const buf = new Uint8Array(120);
const view = new DataView(buf.buffer);

function decode(): StatFs {
  const n = (o: number) => Number(view.getBigInt64(o, true));
  return {
    type: n(0),
    bsize: n(8),
    blocks: n(16),
    bfree: n(24),
    bavail: n(32),
    files: n(40),
    ffree: n(48),
    namelen: n(64),
    frsize: n(72),
    flags: n(80),
  };
}

/** statfs(2) of the filesystem holding `path`. */
export function statfs(path: string): StatFs {
  check(S.statfs(cs0(path), buf), "statfs", path);
  return decode();
}

/** fstatfs(2). */
export function fstatfs(fd: number, name = `fd ${fd}`): StatFs {
  check(S.fstatfs(fd, buf), "fstatfs", name);
  return decode();
}

/** The name Go's graphdriver gives a magic number (`extfs`, `tmpfs`, ...; `<unknown>` otherwise). */
export function fsName(type: number): string {
  switch (type) {
    case FS_MAGIC.EXT4:
      return "extfs";
    case FS_MAGIC.TMPFS:
      return "tmpfs";
    case FS_MAGIC.XFS:
      return "xfs";
    case FS_MAGIC.BTRFS:
      return "btrfs";
    case FS_MAGIC.OVERLAY:
      return "overlayfs";
    case FS_MAGIC.ZFS:
      return "zfs";
    case FS_MAGIC.NFS:
      return "nfs";
    case FS_MAGIC.FUSE:
      return "fuse";
    case FS_MAGIC.SQUASHFS:
      return "squashfs";
    case FS_MAGIC.ECRYPTFS:
      return "ecryptfs";
    case FS_MAGIC.AUFS:
      return "aufs";
    case FS_MAGIC.RAMFS:
      return "ramfs";
    default:
      return "<unknown>";
  }
}
