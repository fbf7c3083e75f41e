/**
 * Kernel-side data copies: reflink clones (FICLONE) and copy_file_range(2). Both report
 * "not possible here" as a `false`/`-1` result instead of throwing, so callers can fall
 * back to a read/write loop.
 *
 * @module
 */
import { check, EBADF, EINVAL, ENOSYS, ENOTTY, EOPNOTSUPP, EPERM, ETXTBSY, EXDEV } from "./errno.ts";
import { errno, S } from "./libc.ts";

/** ioctl request number of FICLONE (`_IOW(0x94, 9, int)`). */
export const FICLONE = 0x40049409;

// errnos meaning "this filesystem pair cannot do it", not "something is wrong"
const UNSUPPORTED = new Set([EXDEV, EOPNOTSUPP, EINVAL, ENOSYS, ENOTTY, EPERM, ETXTBSY, EBADF]);

/**
 * Makes `destFd` share `srcFd`'s extents (btrfs, xfs, ...). Returns false when the
 * filesystems cannot (EXDEV, EOPNOTSUPP, EINVAL, ...); throws on other errors (ENOSPC, EIO).
 */
export function ioctlFiclone(destFd: number, srcFd: number): boolean {
  if (S.ioctl_int(destFd, BigInt(FICLONE), srcFd) === 0) return true;
  const e = errno();
  if (UNSUPPORTED.has(e)) return false;
  check(-1, "ioctl", "FICLONE");
  return false;
}

/**
 * copy_file_range(2) of up to `len` bytes from the current offset of `inFd` to that of
 * `outFd`. Returns bytes copied (0 at end of input), or -1 when the kernel/filesystems
 * cannot do it (EXDEV, EOPNOTSUPP, EINVAL, ENOSYS): fall back to read/write then.
 */
export function copyFileRange(inFd: number, outFd: number, len: number): number {
  for (;;) {
    const r = Number(S.copy_file_range(inFd, null, outFd, null, BigInt(len), 0));
    if (r >= 0) return r;
    const e = errno();
    if (e === 4 /* EINTR */) continue;
    if (UNSUPPORTED.has(e) && e !== EBADF) return -1;
    return check(-1, "copy_file_range", "");
  }
}

/**
 * Copies everything from `inFd` to `outFd` (from their current offsets) with
 * copy_file_range. Returns the bytes copied, or -1 if the very first call was refused
 * (nothing copied; caller falls back).
 */
export function copyFileRangeAll(inFd: number, outFd: number): number {
  let total = 0;
  for (;;) {
    const n = copyFileRange(inFd, outFd, 1 << 30);
    if (n < 0) {
      if (total === 0) return -1;
      // A later refusal after progress would leave a partial copy: report it loudly.
      return check(-1, "copy_file_range", "");
    }
    if (n === 0) return total;
    total += n;
  }
}
