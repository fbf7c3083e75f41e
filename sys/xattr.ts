/**
 * Extended attributes by path (without following symlinks) and by fd. Values are raw
 * bytes. A missing attribute reads as `null`; a filesystem without xattr support raises
 * a `SystemError` with code `EOPNOTSUPP` (same number as ENOTSUP; see `isErrno`).
 *
 * @module
 */
import { check, ENODATA, ERANGE } from "./errno.ts";
import { cs0, cs1, errno, S } from "./libc.ts";

/** setxattr flags. */
export const XATTR_CREATE = 1, XATTR_REPLACE = 2;

const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);
// Most values (whiteouts, capabilities, ACLs) are small: one probe-free read usually suffices.
let probe = new Uint8Array(256);

/** The names in the first `n` bytes of a listxattr(2) buffer (NUL-terminated, empty ones skipped). */
export function splitXattrNames(buf: Uint8Array, n: number): string[] {
  if (n <= 0) return [];
  return dec.decode(buf.subarray(0, n)).split("\0").filter((s) => s !== "");
}

/** lsetxattr(2): sets `name` on `path` itself (not a symlink's target). */
export function lsetxattr(path: string, name: string, value: Uint8Array, flags = 0): void {
  const v = (value.length ? value : EMPTY) as Uint8Array<ArrayBuffer>;
  check(S.lsetxattr(cs0(path), cs1(name), v, BigInt(value.length), flags), "lsetxattr", `${path} ${name}`);
}

/** lgetxattr(2): the value of `name`, or null when the attribute does not exist. */
export function lgetxattr(path: string, name: string): Uint8Array | null {
  for (;;) {
    const p = cs0(path), n = cs1(name);
    let r = S.lgetxattr(p, n, probe, BigInt(probe.length));
    if (r >= 0) return probe.slice(0, r);
    let e = errno();
    if (e === ENODATA) return null;
    if (e !== ERANGE) return check(-1, "lgetxattr", `${path} ${name}`) as never;
    r = S.lgetxattr(p, n, null, 0n);
    if (r === -1) {
      e = errno();
      if (e === ENODATA) return null;
      check(-1, "lgetxattr", `${path} ${name}`);
    }
    // Grow and retry; the value may grow again meanwhile (ERANGE loop).
    probe = new Uint8Array(Math.max(r, probe.length * 2));
  }
}

/** llistxattr(2): attribute names of `path` itself. */
export function llistxattr(path: string): string[] {
  for (;;) {
    const p = cs0(path);
    let r = S.llistxattr(p, probe, BigInt(probe.length));
    if (r >= 0) return splitXattrNames(probe, r);
    if (errno() !== ERANGE) check(-1, "llistxattr", path);
    r = check(S.llistxattr(p, null, 0n), "llistxattr", path);
    probe = new Uint8Array(Math.max(r, probe.length * 2));
  }
}

/** lremovexattr(2). */
export function lremovexattr(path: string, name: string): void {
  check(S.lremovexattr(cs0(path), cs1(name)), "lremovexattr", `${path} ${name}`);
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: string, value: Uint8Array, flags = 0, label = `fd ${fd}`): void {
  const v = (value.length ? value : EMPTY) as Uint8Array<ArrayBuffer>;
  check(S.fsetxattr(fd, cs0(name), v, BigInt(value.length), flags), "fsetxattr", `${label} ${name}`);
}

/** fgetxattr(2): the value, or null when missing. */
export function fgetxattr(fd: number, name: string, label = `fd ${fd}`): Uint8Array | null {
  for (;;) {
    const n = cs0(name);
    let r = S.fgetxattr(fd, n, probe, BigInt(probe.length));
    if (r >= 0) return probe.slice(0, r);
    const e = errno();
    if (e === ENODATA) return null;
    if (e !== ERANGE) check(-1, "fgetxattr", `${label} ${name}`);
    r = S.fgetxattr(fd, n, null, 0n);
    if (r === -1) {
      if (errno() === ENODATA) return null;
      check(-1, "fgetxattr", `${label} ${name}`);
    }
    probe = new Uint8Array(Math.max(r, probe.length * 2));
  }
}

/** flistxattr(2). */
export function flistxattr(fd: number, label = `fd ${fd}`): string[] {
  for (;;) {
    let r = S.flistxattr(fd, probe, BigInt(probe.length));
    if (r >= 0) return splitXattrNames(probe, r);
    if (errno() !== ERANGE) check(-1, "flistxattr", label);
    r = check(S.flistxattr(fd, null, 0n), "flistxattr", label);
    probe = new Uint8Array(Math.max(r, probe.length * 2));
  }
}

/** fremovexattr(2). */
export function fremovexattr(fd: number, name: string, label = `fd ${fd}`): void {
  check(S.fremovexattr(fd, cs0(name)), "fremovexattr", `${label} ${name}`);
}
