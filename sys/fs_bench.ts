/**
 * Per-call cost of the hot-loop wrappers next to Deno's own calls
 * (`deno bench -A sys/fs_bench.ts`). Files live on /dev/shm (tmpfs) when present; numbers are for comparison only.
 */
import * as fs from "./fs.ts";
import { lgetxattr, lsetxattr } from "./xattr.ts";

// tmpfs when available, so that the syscall path rather than the disk journal is measured.
const dir = Deno.makeTempDirSync({
  prefix: "cs-bench-sys-",
  dir: Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined,
});
const file = `${dir}/f`;
Deno.writeTextFileSync(file, "x");
Deno.symlinkSync("f", `${dir}/l`);
const payload = new Uint8Array(4096).fill(1);
const value = new Uint8Array([1, 2, 3, 4]);
let i = 0;
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.bench("lstatNs (FFI)", { group: "lstat", baseline: true }, () => {
  fs.lstatNs(file);
});
Deno.bench("Deno.lstatSync", { group: "lstat" }, () => {
  Deno.lstatSync(file);
});

Deno.bench("openFd+writeAll+fchmod+closeFd 4 KiB (FFI)", { group: "create", baseline: true }, () => {
  const fd = fs.openFd(`${dir}/w${i++ & 1023}`, fs.O_WRONLY | fs.O_CREAT | fs.O_TRUNC | fs.O_CLOEXEC, 0o644);
  fs.writeAll(fd, payload);
  fs.fchmod(fd, 0o644);
  fs.closeFd(fd);
});
Deno.bench("Deno.writeFileSync 4 KiB with mode", { group: "create" }, () => {
  Deno.writeFileSync(`${dir}/d${i++ & 1023}`, payload, { mode: 0o644 });
});

Deno.bench("utimesNs noFollow (FFI)", { group: "meta" }, () => {
  fs.utimesNs(`${dir}/l`, 1_700_000_000_123_456_789n, 1_700_000_000_123_456_789n);
});
Deno.bench("lchown (FFI)", { group: "meta" }, () => {
  fs.lchown(`${dir}/l`, 0, 0);
});
Deno.bench("Deno.utimeSync (follows links, ms)", { group: "meta" }, () => {
  Deno.utimeSync(file, 1_700_000_000, 1_700_000_000);
});
Deno.bench("lsetxattr (FFI)", { group: "xattr" }, () => {
  lsetxattr(file, "user.bench", value);
});
Deno.bench("lgetxattr (FFI)", { group: "xattr" }, () => {
  lgetxattr(file, "user.bench");
});
const tokFd = fs.openFd(file, fs.O_RDWR | fs.O_CLOEXEC);
const tok = new Uint8Array(64);
Deno.bench("pread 64 bytes (lock token)", { group: "io" }, () => {
  fs.pread(tokFd, tok, 0);
});
