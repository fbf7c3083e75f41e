/**
 * The btrfs ioctls the driver needs, with their structures laid out by hand
 * (include/uapi/linux/btrfs.h, x86_64): subvolume create / snapshot / destroy, quota
 * enable and status, qgroup limit / destroy, quota rescan, and the subvolume ID lookup.
 * Errors are worded as Go's driver words them (`failed to create btrfs snapshot: ...`).
 *
 * @module
 */
import { SystemError } from "../../store/errors.ts";
import { EINVAL, ENAMETOOLONG, ENOENT, errnoCode, errnoText } from "../../sys/errno.ts";
import { closeFd, lstatNs, O_CLOEXEC, O_DIRECTORY, O_RDONLY, openFd } from "../../sys/fs.ts";
import { ioctlBuf } from "../../sys/ioctl_btrfs.ts";

const IOC_WRITE = 1, IOC_READ = 2;
/** Linux `_IOC(dir, 0x94, nr, size)`. */
function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + (size << 16) + (0x94 << 8) + nr;
}

/** `struct btrfs_ioctl_vol_args`: `__s64 fd; char name[4088]`. */
const VOL_ARGS_SIZE = 4096;
const PATH_NAME_MAX = 4087;
/** `struct btrfs_ioctl_vol_args_v2`: fd, transid, flags, 32-byte union, `char name[4040]`. */
const VOL_ARGS_V2_SIZE = 4096;
const V2_NAME_OFFSET = 56;
const SUBVOL_NAME_MAX = 4039;
/** `struct btrfs_ioctl_search_args`: 104-byte key, then results. */
const SEARCH_ARGS_SIZE = 4096;
/** `struct btrfs_ioctl_ino_lookup_args`: treeid, objectid, `char name[4080]`. */
const INO_LOOKUP_SIZE = 4096;

/** ioctl request numbers. */
export const BTRFS_IOC = {
  SUBVOL_CREATE: ioc(IOC_WRITE, 14, VOL_ARGS_SIZE),
  SNAP_DESTROY: ioc(IOC_WRITE, 15, VOL_ARGS_SIZE),
  TREE_SEARCH: ioc(IOC_WRITE | IOC_READ, 17, SEARCH_ARGS_SIZE),
  INO_LOOKUP: ioc(IOC_WRITE | IOC_READ, 18, INO_LOOKUP_SIZE),
  SNAP_CREATE_V2: ioc(IOC_WRITE, 23, VOL_ARGS_V2_SIZE),
  QUOTA_CTL: ioc(IOC_WRITE | IOC_READ, 40, 16),
  QGROUP_CREATE: ioc(IOC_WRITE, 42, 16),
  QGROUP_LIMIT: ioc(IOC_READ, 43, 48),
  QUOTA_RESCAN_WAIT: ioc(0, 46, 0),
} as const;

/** Inode number of every subvolume's root directory. */
export const FIRST_FREE_OBJECTID = 256;
const QUOTA_TREE_OBJECTID = 8;
const QGROUP_STATUS_KEY = 240;
const QUOTA_CTL_ENABLE = 1;
const QGROUP_LIMIT_MAX_RFER = 1;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

const enc = new TextEncoder();

function fail(message: string, e: number): SystemError {
  return new SystemError(`${message}: ${errnoText(e)}`, e, errnoCode(e));
}

/** Opens a directory for ioctls; Go's openDir fails with `can't access PATH`. */
function openDir(path: string): number {
  try {
    return openFd(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } catch (err) {
    const e = err instanceof SystemError ? err.errno : ENOENT;
    throw new SystemError(`can't access ${path}`, e, errnoCode(e), { cause: err });
  }
}

function withDir<T>(path: string, fn: (fd: number) => T): T {
  const fd = openDir(path);
  try {
    return fn(fd);
  } finally {
    closeFd(fd, path);
  }
}

function putName(buf: Uint8Array, offset: number, name: string, max: number): void {
  const bytes = enc.encode(name);
  if (bytes.length > max) throw fail(`btrfs: subvolume name ${name}`, ENAMETOOLONG);
  buf.set(bytes, offset);
}

/** Creates an empty subvolume `dir/name` (BTRFS_IOC_SUBVOL_CREATE). */
export function subvolCreate(dir: string, name: string): void {
  withDir(dir, (fd) => {
    const args = new Uint8Array(VOL_ARGS_SIZE);
    putName(args, 8, name, PATH_NAME_MAX);
    const e = ioctlBuf(fd, BTRFS_IOC.SUBVOL_CREATE, args);
    if (e !== 0) throw fail("failed to create btrfs subvolume", e);
  });
}

/** Creates `destDir/name` as a writable snapshot of the subvolume `src` (BTRFS_IOC_SNAP_CREATE_V2). */
export function subvolSnapshot(src: string, destDir: string, name: string): void {
  withDir(src, (srcFd) =>
    withDir(destDir, (destFd) => {
      const args = new Uint8Array(VOL_ARGS_V2_SIZE);
      new DataView(args.buffer).setBigInt64(0, BigInt(srcFd), true);
      putName(args, V2_NAME_OFFSET, name, SUBVOL_NAME_MAX);
      const e = ioctlBuf(destFd, BTRFS_IOC.SNAP_CREATE_V2, args);
      if (e !== 0) throw fail("failed to create btrfs snapshot", e);
    }));
}

/**
 * Deletes the subvolume `dir/name` (BTRFS_IOC_SNAP_DESTROY). Returns 0 or the errno,
 * so that the caller can handle ENOTEMPTY (nested subvolumes) itself.
 */
export function subvolDestroyErrno(dir: string, name: string): number {
  return withDir(dir, (fd) => {
    const args = new Uint8Array(VOL_ARGS_SIZE);
    putName(args, 8, name, PATH_NAME_MAX);
    return ioctlBuf(fd, BTRFS_IOC.SNAP_DESTROY, args);
  });
}

/** Whether `path` is the root of a subvolume (a directory with inode 256), as Go's isSubvolume. */
export function isSubvolume(path: string): boolean {
  const st = lstatNs(path);
  return (st.mode & 0o170000) === 0o040000 && st.ino === BigInt(FIRST_FREE_OBJECTID);
}

/** Whether quotas are enabled on the filesystem of `path` (a search for the qgroup status item). */
export function quotaEnabled(path: string): boolean {
  return withDir(path, (fd) => {
    const args = new Uint8Array(SEARCH_ARGS_SIZE);
    const v = new DataView(args.buffer);
    v.setBigUint64(0, BigInt(QUOTA_TREE_OBJECTID), true); // tree_id
    v.setBigUint64(16, U64_MAX, true); // max_objectid
    v.setBigUint64(32, U64_MAX, true); // max_offset
    v.setBigUint64(48, U64_MAX, true); // max_transid
    v.setUint32(56, QGROUP_STATUS_KEY, true); // min_type
    v.setUint32(60, QGROUP_STATUS_KEY, true); // max_type
    v.setUint32(64, 1, true); // nr_items
    // Without quotas the quota tree does not exist: ENOENT.
    const e = ioctlBuf(fd, BTRFS_IOC.TREE_SEARCH, args);
    if (e === ENOENT) return false;
    if (e !== 0) throw fail(`failed to search qgroup for ${path}`, e);
    const found = v.getUint32(64, true);
    // First search header: transid, objectid, offset (u64 each), then type.
    return found > 0 && v.getUint32(104 + 24, true) === QGROUP_STATUS_KEY;
  });
}

/** Enables quota groups on the filesystem of `path` (BTRFS_IOC_QUOTA_CTL). */
export function quotaEnable(path: string): void {
  withDir(path, (fd) => {
    const args = new Uint8Array(16);
    new DataView(args.buffer).setBigUint64(0, BigInt(QUOTA_CTL_ENABLE), true);
    const e = ioctlBuf(fd, BTRFS_IOC.QUOTA_CTL, args);
    if (e !== 0) throw fail(`failed to enable btrfs quota for ${path}`, e);
  });
}

/** Limits the referenced size of the subvolume at `path` to `size` bytes (BTRFS_IOC_QGROUP_LIMIT). */
export function qgroupLimit(path: string, size: number): void {
  withDir(path, (fd) => {
    const args = new Uint8Array(48);
    const v = new DataView(args.buffer);
    // qgroupid 0: the subvolume the fd is in.
    v.setBigUint64(8, BigInt(QGROUP_LIMIT_MAX_RFER), true); // lim.flags
    v.setBigUint64(16, BigInt(size), true); // lim.max_rfer
    const e = ioctlBuf(fd, BTRFS_IOC.QGROUP_LIMIT, args);
    if (e !== 0) throw fail(`failed to limit qgroup for ${path}`, e);
  });
}

/** The ID of the subvolume holding `path` (BTRFS_IOC_INO_LOOKUP of the root objectid). */
export function subvolId(path: string): number {
  return withDir(path, (fd) => {
    const args = new Uint8Array(INO_LOOKUP_SIZE);
    const v = new DataView(args.buffer);
    v.setBigUint64(8, BigInt(FIRST_FREE_OBJECTID), true);
    const e = ioctlBuf(fd, BTRFS_IOC.INO_LOOKUP, args);
    if (e !== 0) throw fail(`failed to lookup qgroup for ${path}`, e);
    const id = Number(v.getBigUint64(0, true));
    if (id === 0) throw fail(`invalid qgroup id for ${path}: 0`, EINVAL);
    return id;
  });
}

/** Deletes the level-0 qgroup `qgroupid` (BTRFS_IOC_QGROUP_CREATE with create = 0); returns the errno or 0. */
export function qgroupDestroyErrno(path: string, qgroupid: number): number {
  return withDir(path, (fd) => {
    const args = new Uint8Array(16);
    new DataView(args.buffer).setBigUint64(8, BigInt(qgroupid), true);
    return ioctlBuf(fd, BTRFS_IOC.QGROUP_CREATE, args);
  });
}

/** Rescans quota usage and waits for the rescan to end (BTRFS_IOC_QUOTA_RESCAN_WAIT). */
export function quotaRescanWait(path: string): void {
  withDir(path, (fd) => {
    const e = ioctlBuf(fd, BTRFS_IOC.QUOTA_RESCAN_WAIT, null);
    if (e !== 0) throw fail(`failed to rescan btrfs quota for ${path}`, e);
  });
}
