/**
 * mount(2), umount2(2) and a parser of `/proc/self/mountinfo` to tell whether a path is
 * a mount point and of which filesystem type.
 *
 * @module
 */
import { sysError } from "./errno.ts";
import { cstr, errno, S } from "./libc.ts";

/** mount(2) flags. */
export const MS_RDONLY = 1,
  MS_NOSUID = 2,
  MS_NODEV = 4,
  MS_NOEXEC = 8,
  MS_SYNCHRONOUS = 16,
  MS_REMOUNT = 32,
  MS_MANDLOCK = 64,
  MS_DIRSYNC = 128,
  MS_NOSYMFOLLOW = 256,
  MS_NOATIME = 1024,
  MS_NODIRATIME = 2048,
  MS_BIND = 4096,
  MS_MOVE = 8192,
  MS_REC = 16384,
  MS_SILENT = 32768,
  MS_UNBINDABLE = 1 << 17,
  MS_PRIVATE = 1 << 18,
  MS_SLAVE = 1 << 19,
  MS_SHARED = 1 << 20,
  MS_RELATIME = 1 << 21,
  MS_STRICTATIME = 1 << 24,
  MS_LAZYTIME = 1 << 25;
/** umount2(2) flags. */
export const MNT_FORCE = 1, MNT_DETACH = 2, MNT_EXPIRE = 4, UMOUNT_NOFOLLOW = 8;

/**
 * Go's mountError text (moby/sys/mount): `OP SOURCE:TARGET, flags: 0xF, data: D: ERR`,
 * with the source, flags and data parts left out when empty.
 */
function mountErrorText(op: string, source: string, target: string, flags: number, data: string): string {
  let out = `${op} ${source ? `${source}:${target}` : target}`;
  if (flags !== 0) out += `, flags: 0x${flags.toString(16)}`;
  if (data) out += `, data: ${data}`;
  return out;
}

/**
 * mount(2). `fstype`/`data` may be null (bind mounts, propagation changes). Errors are
 * SystemErrors worded like Go's: `mount SOURCE:TARGET, flags: 0x1000: no such file or directory`.
 */
export function mount(
  source: string,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  const r = S.mount(
    cstr(source),
    cstr(target),
    fstype === null ? null : cstr(fstype),
    BigInt(flags),
    data === null ? null : cstr(data),
  );
  if (r === -1) throw sysError(mountErrorText("mount", source, target, flags, data ?? ""), "", errno());
}

/** umount2(2). Errors read like Go's: `umount TARGET, flags: 0x2: invalid argument`. */
export function umount2(target: string, flags = 0): void {
  if (S.umount2(cstr(target), flags) === -1) {
    throw sysError(mountErrorText("umount", "", target, flags, ""), "", errno());
  }
}

/** One line of `/proc/self/mountinfo`. */
export interface MountInfo {
  /** Mount ID. */
  id: number;
  /** Parent mount ID. */
  parent: number;
  /** Major device number of the filesystem. */
  major: number;
  /** Minor device number of the filesystem. */
  minor: number;
  /** Root of the mount within its filesystem (`/` unless a bind of a subdirectory). */
  root: string;
  /** Mount point (octal escapes decoded). */
  mountPoint: string;
  /** Per-mount options (`rw,nosuid,...`). */
  options: string;
  /** Optional fields (`shared:1`, `master:2`, ...). */
  optional: string[];
  /** Filesystem type (`overlay`, `tmpfs`, `fuse.fuse-overlayfs`, ...). */
  fstype: string;
  /** Mount source. */
  source: string;
  /** Superblock options (`rw,lowerdir=...`). */
  superOptions: string;
}

function unescapeOctal(s: string): string {
  return s.includes("\\") ? s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))) : s;
}

/** Parses mountinfo text (exported for tests). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const [ma, mi] = f[2].split(":");
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      major: Number(ma),
      minor: Number(mi),
      root: unescapeOctal(f[3]),
      mountPoint: unescapeOctal(f[4]),
      options: f[5],
      optional: f.slice(6, sep),
      fstype: f[sep + 1],
      source: unescapeOctal(f[sep + 2]),
      superOptions: f[sep + 3] ?? "",
    });
  }
  return out;
}

/** The mounts of this process, from `/proc/self/mountinfo` (needs `-A` under Deno). */
export function readMountInfo(): MountInfo[] {
  return parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo"));
}

/**
 * The topmost mount whose mount point is exactly `path` (absolute, no trailing slash),
 * or null when `path` is not a mount point.
 */
export function mountAt(path: string, mounts: MountInfo[] = readMountInfo()): MountInfo | null {
  const p = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  let found: MountInfo | null = null;
  // Later lines are mounted over earlier ones at the same point.
  for (const m of mounts) if (m.mountPoint === p) found = m;
  return found;
}

/** True when `path` is a mount point; with `fstype`, only if the top mount there has that type. */
export function isMountPoint(path: string, fstype?: string): boolean {
  const m = mountAt(path);
  return m !== null && (fstype === undefined || m.fstype === fstype);
}

/** Mounts whose mount point is `path` or below it, deepest first (the order to unmount them). */
export function mountsUnder(path: string, mounts: MountInfo[] = readMountInfo()): MountInfo[] {
  const p = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const prefix = p === "/" ? "/" : p + "/";
  const sel = mounts.filter((m) => m.mountPoint === p || m.mountPoint.startsWith(prefix));
  return sel.reverse();
}

/**
 * Bind-mounts `path` onto itself unless it is a mount point already, then makes it
 * private (Go's mount.MakePrivate): mounts made below it do not propagate to other
 * mount namespaces, as Go does for a driver's home.
 */
export function makePrivate(path: string): void {
  if (mountAt(path) === null) mount(path, path, "none", MS_BIND, null);
  mount("", path, "none", MS_PRIVATE, null);
}
