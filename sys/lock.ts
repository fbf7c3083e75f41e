/**
 * fcntl open-file-description (OFD) record locks over a whole file. They conflict with
 * the classic POSIX locks (F_SETLKW) that Go's containers/storage takes, in both
 * directions, but belong to the open file description rather than the process, so a
 * stray open+close of the same file elsewhere in this process cannot drop them.
 * Never `Deno.FsFile.lock()` (flock(2), invisible to fcntl locks).
 *
 * @module
 */
import { check, EACCES, EAGAIN, EINTR } from "./errno.ts";
import { errno, S } from "./libc.ts";

/** fcntl commands. */
export const F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7, F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
/** Lock types. */
export const F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;

/** A lock type: read (shared), write (exclusive), or unlock. */
export type LockType = typeof F_RDLCK | typeof F_WRLCK | typeof F_UNLCK;

// struct flock (x86_64, 32 bytes): l_type i16@0, l_whence i16@2, l_start i64@8, l_len i64@16,
// l_pid i32@24 (must be 0 for OFD requests).
function flockStruct(type: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setInt16(0, type, true);
  return b;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Non-blocking attempt (F_OFD_SETLK). Returns false when another holder conflicts
 * (EAGAIN/EACCES); throws `SystemError` on other failures.
 */
export function ofdTryLock(fd: number, type: typeof F_RDLCK | typeof F_WRLCK): boolean {
  const b = flockStruct(type);
  for (;;) {
    if (S.fcntl_lk(fd, F_OFD_SETLK, b) === 0) return true;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN || e === EACCES) return false;
    check(-1, "fcntl", "F_OFD_SETLK");
  }
}

/**
 * Blocking lock (F_OFD_SETLKW) run on Deno's blocking thread pool so that the event
 * loop keeps running. errno of that thread is not visible here, so on failure we probe
 * with a non-blocking attempt: a conflict (or EINTR) means "wait again" after 10 ms, as
 * Go retries; other failures (EBADF, EINVAL, ENOLCK...) surface from the probe.
 */
export async function ofdLock(fd: number, type: typeof F_RDLCK | typeof F_WRLCK): Promise<void> {
  // Uncontended case without a trip through the thread pool.
  if (ofdTryLock(fd, type)) return;
  for (;;) {
    // A fresh struct per call: the worker thread reads it after this frame returns.
    const r = await S.fcntl_lk_async(fd, F_OFD_SETLKW, flockStruct(type));
    if (r === 0) return;
    if (ofdTryLock(fd, type)) return;
    await sleep(10);
  }
}

/** Releases this open file description's lock (F_UNLCK). Closing the fd does so too. */
export function ofdUnlock(fd: number): void {
  const b = flockStruct(F_UNLCK);
  for (;;) {
    if (S.fcntl_lk(fd, F_OFD_SETLK, b) === 0) return;
    if (errno() !== EINTR) {
      check(-1, "fcntl", "F_OFD_SETLK");
      return;
    }
  }
}

/** Who would block a lock of `type` (F_OFD_GETLK). `pid` is -1 for OFD holders, the pid for POSIX ones. */
export function ofdGetLock(
  fd: number,
  type: typeof F_RDLCK | typeof F_WRLCK,
): { type: LockType; pid: number } {
  return getLock(fd, type, F_OFD_GETLK, "F_OFD_GETLK");
}

/**
 * Classic POSIX probe (F_GETLK): who would block a lock of `type`, as Go's tools would
 * see it. Useful in tests to observe OFD holders from the outside (pid -1).
 */
export function posixGetLock(
  fd: number,
  type: typeof F_RDLCK | typeof F_WRLCK,
): { type: LockType; pid: number } {
  return getLock(fd, type, F_GETLK, "F_GETLK");
}

/** One GETLK query (`cmd` named `cmdName` in errors): the blocking lock's type and owner pid. */
function getLock(
  fd: number,
  type: typeof F_RDLCK | typeof F_WRLCK,
  cmd: number,
  cmdName: string,
): { type: LockType; pid: number } {
  const b = flockStruct(type);
  check(S.fcntl_lk(fd, cmd, b), "fcntl", cmdName);
  const v = new DataView(b.buffer);
  return { type: v.getInt16(0, true) as LockType, pid: v.getInt32(24, true) };
}
