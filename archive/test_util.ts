/**
 * Helpers for the archive tests: temp dirs, running system tools, streams, and
 * snapshots of directory trees that capture every attribute extraction must keep.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { lstatNs } from "../sys/fs.ts";
import { lgetxattr, llistxattr } from "../sys/xattr.ts";

// The stream and tar builders are the store's test helpers (makeTar here takes full headers).
export { collect, streamOf, tarOfHeaders as makeTar } from "../store/testdata/tar.ts";

/** A fresh temp directory; remove it with `rm`. */
export function tmp(prefix = "archive-test-"): string {
  return Deno.makeTempDirSync({ prefix });
}

/** Removes a path recursively, ignoring a missing one. */
export function rm(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Runs a program; returns stdout; throws with stderr on failure. */
export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Uint8Array {
  const r = new Deno.Command(cmd, { args, cwd: opts.cwd, stdin: "null", stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return r.stdout;
}

/** Runs a program with optional stdin bytes. */
export async function runAsync(
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdin?: Uint8Array } = {},
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const p = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin) {
    const w = p.stdin.getWriter();
    await w.write(opts.stdin);
    await w.close();
  }
  const r = await p.output();
  return { code: r.code, stdout: r.stdout, stderr: new TextDecoder().decode(r.stderr) };
}

/** Runs a shell script (bash -e). */
export function sh(script: string, cwd?: string): string {
  return new TextDecoder().decode(run("bash", ["-ec", script], { cwd }));
}

/** A file's content as a stream. */
export async function fileStream(path: string): Promise<ReadableStream<Uint8Array>> {
  return (await Deno.open(path, { read: true })).readable;
}

/** sha256 hex. */
export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Options of snapshot. */
export interface SnapOptions {
  /** Compare mtimes only to the second (e.g. after a writer that truncates). */
  seconds?: boolean;
  /** Leave out directory mtimes. */
  noDirTimes?: boolean;
  /** Leave out all times. */
  noTimes?: boolean;
  /** Xattr names to ignore. */
  ignoreXattrs?: string[];
  /** Ignore the root entry itself. */
  noRoot?: boolean;
}

/**
 * A sorted, printable description of every path under `root`: type, mode, owner,
 * size, content hash, link target, device, mtime (ns) and xattrs; hard links are
 * shown as `link-group` numbers shared by names of one inode.
 */
export function snapshot(root: string, o: SnapOptions = {}): string[] {
  const out: string[] = [];
  const inodes = new Map<string, number>();
  const walk = (rel: string) => {
    const abs = rel ? `${root}/${rel}` : root;
    const st = lstatNs(abs);
    const fmt = st.mode & 0o170000;
    const parts = [rel || ".", (st.mode & 0o7777).toString(8), `${st.uid}:${st.gid}`];
    if (fmt === 0o100000) {
      parts.push("file", String(st.size), sha256(Deno.readFileSync(abs)).slice(0, 16));
      if (st.nlink > 1) {
        const k = `${st.dev}:${st.ino}`;
        if (!inodes.has(k)) inodes.set(k, inodes.size);
        parts.push(`link-group=${inodes.get(k)}`);
      }
    } else if (fmt === 0o040000) parts.push("dir");
    else if (fmt === 0o120000) parts.push("symlink", Deno.readLinkSync(abs));
    else if (fmt === 0o020000 || fmt === 0o060000) {
      parts.push(fmt === 0o020000 ? "chr" : "blk", String(st.rdev));
    } else if (fmt === 0o010000) parts.push("fifo");
    else parts.push("other");
    if (!o.noTimes && !(o.noDirTimes && fmt === 0o040000)) {
      parts.push(`mtime=${o.seconds ? st.mtimeNs / 1_000_000_000n : st.mtimeNs}`);
    }
    let names: string[] = [];
    try {
      names = llistxattr(abs).sort();
    } catch { /* none */ }
    for (const n of names) {
      if (o.ignoreXattrs?.includes(n)) continue;
      const v = lgetxattr(abs, n);
      parts.push(`${n}=${v ? [...v].map((x) => x.toString(16).padStart(2, "0")).join("") : "null"}`);
    }
    if (rel || !o.noRoot) out.push(parts.join(" "));
    if (fmt === 0o040000) {
      const names = [...Deno.readDirSync(abs)].map((e) => e.name).sort();
      for (const n of names) walk(rel ? `${rel}/${n}` : n);
    }
  };
  walk("");
  return out;
}

/**
 * Builds a tree with every entry kind and attribute under `dir` (which must exist):
 * modes with setuid/setgid/sticky, owners, user/security/trusted xattrs (binary),
 * nanosecond mtimes, symlinks with times, hard links, devices, a FIFO, long names.
 */
export function buildRichTree(dir: string): void {
  const long = "L".repeat(120);
  sh(
    `
    cd "${dir}"
    mkdir -p sub/deep/er sticky sgid "${long}/${long}"
    echo hello > sub/file.txt
    printf 'bin\\0ary' > sub/deep/er/bin
    echo suid > suid; chmod 4755 suid
    echo sgidf > sgidf; chmod 2711 sgidf
    chmod 1777 sticky; chmod 2755 sgid; chmod 0700 sub/deep
    echo owned > owned; chown 1234:5678 owned
    chown 4000000:4000001 sub/deep/er/bin
    echo x > "${long}/${long}/${long}"
    ln sub/file.txt hard1; ln sub/file.txt sub/deep/hard2
    ln -s sub/file.txt rel-link; ln -s /etc/passwd abs-link; ln -s ../../nowhere sub/dangling
    mkfifo fifo; mknod cdev c 1 3; mknod bdev b 7 0
    echo caps > caps
    setfattr -n user.bin -v 0xff00fe01 sub/file.txt
    setfattr -n user.text -v "héllo" owned
    setfattr -n trusted.note -v 0x0001 sub/deep
    setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 caps
    echo unicode > "ünï çødé"
    touch -h -d '2001-02-03 04:05:06.123456789' rel-link abs-link
    touch -d '1999-12-31 23:59:58.987654321' sub/file.txt suid owned caps fifo cdev
    touch -d '2010-10-10 10:10:10.5' sub/deep sub/deep/er sticky sgid sub
    touch -d '2012-01-01 00:00:00' .
  `,
  );
}
