/**
 * Deduplication of identical files across layer directories (HEAD's `dedup`, Go's
 * pkg/dedup): regular files are grouped by size and a hash of their contents, and each
 * file is made to share the data blocks of the first identical one with the
 * FIDEDUPERANGE ioctl. The kernel compares the two ranges itself under its locks and only
 * shares them when they are byte-for-byte equal, so a weak grouping (`size`) or a file
 * changed meanwhile can never corrupt data; owners, modes and times of each file stay its
 * own. Filesystems without reflinks (ext4, tmpfs, ...) make it fail with
 * DedupNotSupportedError.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { errno, lazySymbols, S } from "../sys/libc.ts";
import { EINVAL, ENOSYS, ENOTTY, EOPNOTSUPP, EXDEV, sysError } from "../sys/errno.ts";
import { O_CLOEXEC, O_RDONLY } from "../sys/fs.ts";
import { NotSupportedError } from "../store/errors.ts";

/** How candidate files are grouped before the kernel compares them. */
export type DedupHashMethod = "crc" | "size" | "sha256";

/** Options of a deduplication. */
export interface DedupOptions {
  /** Grouping: CRC-32 of the contents (default), size only, or SHA-256. */
  hashMethod?: DedupHashMethod;
}

/** What a deduplication achieved. */
export interface DedupResult {
  /** Bytes now shared instead of stored twice. */
  deduped: number;
}

/** The filesystem cannot share blocks between files (no reflink support). */
export class DedupNotSupportedError extends NotSupportedError {
  constructor(path: string) {
    super(`deduplicating ${path}: the filesystem does not support reflinks`);
  }
}

/** `_IOWR(0x94, 54, struct file_dedupe_range)` (24-byte header). */
export const FIDEDUPERANGE = 0xc0189436;
const SAME = 0, DIFFERS = 1;
// Errors meaning "this filesystem cannot", for the ioctl and for a destination's status.
const UNSUPPORTED = new Set([EOPNOTSUPP, EINVAL, ENOTTY, ENOSYS, EXDEV]);
// Keeps a pathological group (many same-size, different files with `size`) bounded.
const MAX_CANDIDATES = 16;
const CHUNK = 1 << 20;

const L = lazySymbols({
  ioctl_ptr: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
});

function openRead(path: string): number {
  const fd = S.open(new TextEncoder().encode(path + "\0"), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) throw sysError("open", path, errno());
  return fd;
}

/** Hash of a file's contents by `method`, read in bounded chunks. */
function contentKey(path: string, size: number, method: DedupHashMethod, buf: Uint8Array): string {
  if (method === "size") return String(size);
  const fd = openRead(path);
  try {
    const h = method === "sha256" ? createHash("sha256") : null;
    let crc = 0;
    for (;;) {
      const n = S.read(fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length));
      if (n < 0) throw sysError("read", path, errno());
      if (n === 0) break;
      const view = buf.subarray(0, n);
      if (h) h.update(view);
      else crc = crc32(view, crc);
    }
    return `${size}:${h ? h.digest("hex") : crc.toString(16)}`;
  } finally {
    S.close(fd);
  }
}

/**
 * Shares `dst`'s blocks with `src` when their contents are equal. Returns the bytes
 * shared, 0 when the contents differ. Large files take several calls (btrfs caps one
 * call at 16 MiB).
 */
export function dedupeFile(src: string, dst: string, size: number): number {
  const sfd = openRead(src);
  try {
    // As root (CAP_SYS_ADMIN) or as the owner, a read-only descriptor is accepted, and
    // the destination's times are left alone.
    const dfd = openRead(dst);
    try {
      const arg = new Uint8Array(56);
      const v = new DataView(arg.buffer);
      let offset = 0;
      while (offset < size) {
        arg.fill(0);
        v.setBigUint64(0, BigInt(offset), true);
        v.setBigUint64(8, BigInt(size - offset), true);
        v.setUint16(16, 1, true);
        v.setBigInt64(24, BigInt(dfd), true);
        v.setBigUint64(32, BigInt(offset), true);
        if (L.ioctl_ptr(sfd, BigInt(FIDEDUPERANGE), arg) < 0) {
          const e = errno();
          if (UNSUPPORTED.has(e)) throw new DedupNotSupportedError(dst);
          throw sysError("ioctl FIDEDUPERANGE", `${src} ${dst}`, e);
        }
        const status = v.getInt32(48, true);
        if (status === DIFFERS) return offset;
        if (status < 0) {
          if (UNSUPPORTED.has(-status)) throw new DedupNotSupportedError(dst);
          throw sysError("ioctl FIDEDUPERANGE", `${src} ${dst}`, -status);
        }
        if (status !== SAME) return offset;
        const done = Number(v.getBigUint64(40, true));
        if (done <= 0) break;
        offset += done;
      }
      return offset;
    } finally {
      S.close(dfd);
    }
  } finally {
    S.close(sfd);
  }
}

/** Regular non-empty files under `root`, in a stable order (names sorted). */
function* regularFiles(root: string): Generator<{ path: string; info: Deno.FileInfo }> {
  let names: string[];
  try {
    names = [...Deno.readDirSync(root)].map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  for (const name of names) {
    const path = `${root}/${name}`;
    const info = Deno.lstatSync(path);
    if (info.isDirectory) yield* regularFiles(path);
    else if (info.isFile && info.size > 0) yield { path, info };
  }
}

/**
 * Deduplicates identical regular files found under `dirs` (each file against the first
 * identical one met). Hard links of one inode are visited once.
 */
export function dedupDirs(dirs: string[], options: DedupOptions = {}): DedupResult {
  const method = options.hashMethod ?? "crc";
  const groups = new Map<string, string[]>();
  const inodes = new Set<string>();
  const buf = new Uint8Array(CHUNK);
  let deduped = 0;
  for (const dir of dirs) {
    for (const { path, info } of regularFiles(dir)) {
      const inode = `${info.dev}:${info.ino}`;
      if (inodes.has(inode)) continue;
      inodes.add(inode);
      const key = contentKey(path, info.size, method, buf);
      const candidates = groups.get(key);
      if (!candidates) {
        groups.set(key, [path]);
        continue;
      }
      let shared = false;
      for (const src of candidates) {
        const n = dedupeFile(src, path, info.size);
        if (n > 0) {
          deduped += n;
          shared = n === info.size;
          break;
        }
      }
      if (!shared && candidates.length < MAX_CANDIDATES) candidates.push(path);
    }
  }
  return { deduped };
}

/** The directories holding the files of layers, for the drivers whose layout is known. */
export function layerDataDirs(driver: { name: string; home: string }, ids: string[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    if (driver.name === "vfs") out.push(`${driver.home}/dir/${id}`);
    else if (driver.name === "overlay") {
      // `diff`, and the `diff1..N` of ID-mapped copies (full copies: the likeliest duplicates).
      const dir = `${driver.home}/${id}`;
      out.push(`${dir}/diff`);
      for (let n = 1;; n++) {
        try {
          if (!Deno.statSync(`${dir}/diff${n}`).isDirectory) break;
        } catch {
          break;
        }
        out.push(`${dir}/diff${n}`);
      }
    } else throw new NotSupportedError(`deduplicating layers of the ${driver.name} driver`);
  }
  return out;
}
