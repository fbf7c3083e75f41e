/**
 * errno values, their symbols, Go's texts for them, and the `SystemError` factory that
 * renders failures like Go's `*os.PathError` (`open /x/y: no such file or directory`).
 *
 * @module
 */
import { SystemError } from "../store/errors.ts";
import { errno as lastErrno, strerror } from "./libc.ts";

/** errno constants (x86_64 Linux). */
export const EPERM = 1,
  ENOENT = 2,
  ESRCH = 3,
  EINTR = 4,
  EIO = 5,
  ENXIO = 6,
  E2BIG = 7,
  EBADF = 9,
  EAGAIN = 11,
  ENOMEM = 12,
  EACCES = 13,
  EFAULT = 14,
  EBUSY = 16,
  EEXIST = 17,
  EXDEV = 18,
  ENODEV = 19,
  ENOTDIR = 20,
  EISDIR = 21,
  EINVAL = 22,
  ENFILE = 23,
  EMFILE = 24,
  ENOTTY = 25,
  ETXTBSY = 26,
  EFBIG = 27,
  ENOSPC = 28,
  ESPIPE = 29,
  EROFS = 30,
  EMLINK = 31,
  EPIPE = 32,
  ERANGE = 34,
  EDEADLK = 35,
  ENAMETOOLONG = 36,
  ENOLCK = 37,
  ENOSYS = 38,
  ENOTEMPTY = 39,
  ELOOP = 40,
  ENODATA = 61,
  EOVERFLOW = 75,
  EOPNOTSUPP = 95,
  ENOTSUP = 95,
  ESTALE = 116,
  EDQUOT = 122,
  ECANCELED = 125;

/** [symbol, Go's lower-case text] per errno; ENOTSUP and EOPNOTSUPP are both 95 on Linux. */
const TABLE: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  6: ["ENXIO", "no such device or address"],
  7: ["E2BIG", "argument list too long"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "too many open files in system"],
  24: ["EMFILE", "too many open files"],
  25: ["ENOTTY", "inappropriate ioctl for device"],
  26: ["ETXTBSY", "text file busy"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device"],
  29: ["ESPIPE", "illegal seek"],
  30: ["EROFS", "read-only file system"],
  31: ["EMLINK", "too many links"],
  32: ["EPIPE", "broken pipe"],
  34: ["ERANGE", "numerical result out of range"],
  35: ["EDEADLK", "resource deadlock avoided"],
  36: ["ENAMETOOLONG", "file name too long"],
  37: ["ENOLCK", "no locks available"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  61: ["ENODATA", "no data available"],
  75: ["EOVERFLOW", "value too large for defined data type"],
  95: ["EOPNOTSUPP", "operation not supported"],
  116: ["ESTALE", "stale NFS file handle"],
  122: ["EDQUOT", "disk quota exceeded"],
  125: ["ECANCELED", "operation canceled"],
};

/** The symbol of an errno (`ENOENT`), or `E<n>` when not in the table. */
export function errnoCode(e: number): string {
  return TABLE[e]?.[0] ?? `E${e}`;
}

/** Go's text for an errno (`no such file or directory`); libc's text lower-cased otherwise. */
export function errnoText(e: number): string {
  const known = TABLE[e];
  if (known) return known[1];
  const s = strerror(e);
  return s.charAt(0).toLowerCase() + s.slice(1);
}

const BY_CODE = new Map<string, number>([
  ...Object.entries(TABLE).map(([n, [code]]) => [code, Number(n)] as [string, number]),
  ["ENOTSUP", EOPNOTSUPP],
]);

/** The errno of an error that carries a symbolic `code` (Deno's file errors: `ENOENT`), or null. */
export function errnoOf(err: unknown): number | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? BY_CODE.get(code) ?? null : null;
}

/**
 * What Go prints after `OP PATH: ` for a failed file operation: the errno's text
 * (`no such file or directory`), else the error's own message.
 */
export function osErrorText(err: unknown): string {
  const e = errnoOf(err);
  if (e !== null) return errnoText(e);
  return err instanceof Error ? err.message : String(err);
}

/**
 * A `SystemError` reading `OP SUBJECT: TEXT`, as Go prints `*os.PathError`
 * (`open /x/y: no such file or directory`). `subject` is the path, possibly followed by
 * more context (`lsetxattr /p trusted.x: operation not permitted`); empty to omit it.
 */
export function sysError(op: string, subject: string, e: number): SystemError {
  const head = subject ? `${op} ${subject}` : op;
  return new SystemError(`${head}: ${errnoText(e)}`, e, errnoCode(e));
}

/** Throws `sysError(op, subject, errno)` when `r` is -1, else returns `r` (for int results). */
export function check(r: number, op: string, subject: string): number {
  if (r === -1) throw sysError(op, subject, lastErrno());
  return r;
}

/** True when `err` is a SystemError for one of the given codes (`"ENOTSUP"` also matches EOPNOTSUPP). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  if (!(err instanceof SystemError)) return false;
  for (const c of codes) {
    if (err.code === c) return true;
    if ((c === "ENOTSUP" || c === "EOPNOTSUPP") && err.errno === EOPNOTSUPP) return true;
  }
  return false;
}

/** True when `err` says the operation is not supported (EOPNOTSUPP/ENOTSUP, ENOSYS, ENOTTY). */
export function isNotSupported(err: unknown): boolean {
  return err instanceof SystemError &&
    (err.errno === EOPNOTSUPP || err.errno === ENOSYS || err.errno === ENOTTY);
}

export { lastErrno as errno };
