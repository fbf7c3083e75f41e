/**
 * ioctl(2) with a pointer argument, for drivers that talk to the kernel through
 * structures (the btrfs subvolume and quota ioctls). Kept apart from `libc.ts`, whose
 * `ioctl_int` binding passes an int: the third argument of these calls is a buffer the
 * kernel reads and writes in place.
 *
 * @module
 */
import { EINTR } from "./errno.ts";
import { errno } from "./libc.ts";

const SYMBOLS = {
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
} as const;
// Opened on first use: binding symbols costs startup time, and most commands never need it.
let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

/**
 * ioctl(fd, request, buf): returns 0 on success or the positive errno on failure, so
 * that callers word errors the way their Go original does. EINTR is retried.
 */
export function ioctlBuf(fd: number, request: number, buf: Uint8Array<ArrayBuffer> | null): number {
  for (;;) {
    lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
    const r = lib.symbols.ioctl(fd, BigInt(request), buf);
    if (r >= 0) return 0;
    const e = errno();
    if (e !== EINTR) return e;
  }
}
