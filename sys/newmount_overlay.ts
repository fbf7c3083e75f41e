/**
 * The new mount API (fsopen/fsconfig/fsmount/move_mount, open_tree, mount_setattr) and a
 * few process helpers the overlay driver needs.
 *
 * The overlay driver uses it to mount layer chains whose option string would not fit in
 * the one page mount(2) accepts: `fsconfig(FSCONFIG_SET_STRING, "lowerdir+", dir)` takes
 * one lower at a time (kernel >= 6.8), so no relative paths (and no process-wide chdir)
 * are needed. Bound through `syscall(2)` so that loading this module never fails on a
 * libc without the wrappers; an old kernel answers ENOSYS, which callers treat as
 * "not supported".
 *
 * @module
 */
import { check, EINTR, sysError } from "./errno.ts";
import { cstr, errno, lazySymbols } from "./libc.ts";

const S = lazySymbols({
  // long syscall(long nr, ...): fixed prototypes per use; ints and pointers share registers.
  sc_fsopen: { name: "syscall", parameters: ["i64", "buffer", "u32"], result: "i64" },
  sc_fsconfig: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "buffer", "buffer", "i32"],
    result: "i64",
  },
  sc_fsmount: { name: "syscall", parameters: ["i64", "i32", "u32", "u32"], result: "i64" },
  sc_move_mount: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "i32", "buffer", "u32"],
    result: "i64",
  },
  sc_open_tree: { name: "syscall", parameters: ["i64", "i32", "buffer", "u32"], result: "i64" },
  sc_mount_setattr: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "u32", "buffer", "usize"],
    result: "i64",
  },
  read: { parameters: ["i32", "buffer", "usize"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  syncfs: { parameters: ["i32"], result: "i32" },
});

// x86_64 syscall numbers.
const SYS_open_tree = 428n,
  SYS_move_mount = 429n,
  SYS_fsopen = 430n,
  SYS_fsconfig = 431n,
  SYS_fsmount = 432n,
  SYS_mount_setattr = 442n;

/** fsopen/fsmount/open_tree flags. */
export const FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1, OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0o2000000;
/** fsconfig commands. */
export const FSCONFIG_SET_FLAG = 0,
  FSCONFIG_SET_STRING = 1,
  FSCONFIG_SET_FD = 5,
  FSCONFIG_CMD_CREATE = 6;
/** move_mount flags. */
export const MOVE_MOUNT_F_EMPTY_PATH = 4;
/** Mount attributes (fsmount attr_flags, mount_setattr). */
export const MOUNT_ATTR_RDONLY = 0x1,
  MOUNT_ATTR_NOSUID = 0x2,
  MOUNT_ATTR_NODEV = 0x4,
  MOUNT_ATTR_NOEXEC = 0x8,
  MOUNT_ATTR_RELATIME = 0x0,
  MOUNT_ATTR_NOATIME = 0x10,
  MOUNT_ATTR_STRICTATIME = 0x20,
  MOUNT_ATTR_NODIRATIME = 0x80,
  MOUNT_ATTR_IDMAP = 0x100000,
  MOUNT_ATTR_NOSYMFOLLOW = 0x200000;
/** AT_* flags used here. */
export const AT_EMPTY_PATH = 0x1000, AT_RECURSIVE = 0x8000, AT_FDCWD = -100;

function sc(r: bigint, op: string, subject: string): number {
  return check(Number(r), op, subject);
}

/** Reads what the kernel logged into a filesystem context (`e overlay: ...` lines). */
function fsLog(fd: number): string {
  const buf = new Uint8Array(1024);
  const lines: string[] = [];
  for (let i = 0; i < 16; i++) {
    const n = Number(S.read(fd, buf, BigInt(buf.length)));
    if (n <= 0) break;
    lines.push(new TextDecoder().decode(buf.subarray(0, n)).trim());
  }
  return lines.join("; ");
}

/** One fsconfig call: a key with a string value, a flag (value null), or a key with an fd. */
export type FsParam = { key: string; value: string | null } | { key: string; fd: number };

/**
 * Creates a filesystem instance with fsopen + fsconfig + fsmount and attaches it at
 * `target` with move_mount. `attrs` are MOUNT_ATTR_* bits. Errors carry the kernel's
 * context log when it has one.
 */
export function fsMount(fstype: string, params: FsParam[], attrs: number, target: string): void {
  const fsfd = sc(S.sc_fsopen(SYS_fsopen, cstr(fstype), FSOPEN_CLOEXEC), "fsopen", fstype);
  let mfd = -1;
  try {
    for (const p of params) {
      let r: bigint;
      if ("fd" in p) {
        r = S.sc_fsconfig(SYS_fsconfig, fsfd, FSCONFIG_SET_FD, cstr(p.key), null, p.fd);
      } else if (p.value === null) {
        r = S.sc_fsconfig(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, cstr(p.key), null, 0);
      } else {
        r = S.sc_fsconfig(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, cstr(p.key), cstr(p.value), 0);
      }
      if (r < 0n) {
        failWithLog(fsfd, "fsconfig", "value" in p && p.value !== null ? `${p.key}=${p.value}` : p.key);
      }
    }
    if (S.sc_fsconfig(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, null, null, 0) < 0n) {
      failWithLog(fsfd, "fsconfig", `create ${fstype}`);
    }
    mfd = sc(S.sc_fsmount(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs), "fsmount", target);
    sc(
      S.sc_move_mount(SYS_move_mount, mfd, cstr(""), AT_FDCWD, cstr(target), MOVE_MOUNT_F_EMPTY_PATH),
      "move_mount",
      target,
    );
  } finally {
    if (mfd >= 0) S.close(mfd);
    S.close(fsfd);
  }
}

function failWithLog(fsfd: number, op: string, subject: string): never {
  const err = sysError(op, subject, errno());
  const log = fsLog(fsfd);
  if (log) err.message += ` (${log})`;
  throw err;
}

/** open_tree(2): returns an fd for `path` (a detached clone with OPEN_TREE_CLONE). */
export function openTree(path: string, flags: number): number {
  return sc(S.sc_open_tree(SYS_open_tree, AT_FDCWD, cstr(path), flags), "open_tree", path);
}

/** move_mount(2) of a detached mount fd onto `target`. */
export function moveMountFd(fd: number, target: string): void {
  sc(
    S.sc_move_mount(SYS_move_mount, fd, cstr(""), AT_FDCWD, cstr(target), MOVE_MOUNT_F_EMPTY_PATH),
    "move_mount",
    target,
  );
}

/**
 * mount_setattr(2) on a mount fd (AT_EMPTY_PATH): sets `attrSet` bits; with
 * MOUNT_ATTR_IDMAP, `usernsFd` names the user namespace whose mapping the mount gets.
 */
export function mountSetattrFd(
  fd: number,
  attrSet: number,
  attrClr = 0,
  usernsFd = 0,
  recursive = false,
): void {
  // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
  const attr = new BigUint64Array([BigInt(attrSet), BigInt(attrClr), 0n, BigInt(usernsFd)]);
  const flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  sc(
    S.sc_mount_setattr(SYS_mount_setattr, fd, cstr(""), flags, new Uint8Array(attr.buffer), 32n),
    "mount_setattr",
    `fd ${fd}`,
  );
}

/** close(2) ignoring EINTR. */
export function closeQuiet(fd: number): void {
  if (S.close(fd) === -1 && errno() !== EINTR) { /* nothing useful to do */ }
}

/** The system page size (the limit of mount(2)'s data argument). */
export function pageSize(): number {
  return S.getpagesize();
}

/** syncfs(2) on an open fd. */
export function syncfs(fd: number, name = `fd ${fd}`): void {
  check(S.syncfs(fd), "syncfs", name);
}
