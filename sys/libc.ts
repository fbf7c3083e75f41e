/**
 * The one place that opens libc (x86_64 Linux, glibc >= 2.33) through Deno FFI.
 *
 * Every other module of `sys/` calls `lib` here. Requires `--allow-ffi` (tests and the
 * CLI run with `-A`). Strings are passed as NUL-terminated bytes: `cstr` allocates,
 * `cs0`/`cs1` reuse scratch buffers for synchronous calls in hot loops (never pass a
 * scratch buffer to a `nonblocking` symbol: the call runs later on another thread).
 *
 * @module
 */

/** Calls of a symbol made through the generic path before it gets its compiled trampoline. */
const WARM_CALLS = 200;

type AnyFn = (...args: unknown[]) => unknown;

/**
 * Binds symbols of libc lazily and by use. Binding a symbol the usual way (`Deno.dlopen`
 * with its signature) costs ~0.45 ms: Deno compiles a fast-call trampoline for each. A
 * command calls most symbols a few times, so each property of the result starts as a stub
 * that calls through `Deno.UnsafeFnPointer` (no compilation; ~1.5 µs per call instead of
 * ~0.3 µs); after WARM_CALLS calls (a hot loop: extraction, copies) the symbol is bound
 * with its trampoline and replaces the stub. Nonblocking symbols are bound on first call
 * (they compile nothing). Call through the object (`S.read(...)`): a function value read
 * off it early stays the (working, slower) stub.
 */
export function lazySymbols<const T extends Deno.ForeignLibraryInterface>(
  defs: T,
): Deno.StaticForeignLibraryInterface<T> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(defs)) {
    const def = defs[name] as Deno.ForeignFunction;
    const bind = (): AnyFn => {
      const fn = Deno.dlopen("libc.so.6", { [name]: def }).symbols[name] as AnyFn;
      out[name] = fn;
      return fn;
    };
    if (def.nonblocking) {
      out[name] = (...args: unknown[]) => bind()(...args);
      continue;
    }
    let calls = 0;
    let slow: Deno.UnsafeFnPointer<Deno.ForeignFunction> | null = null;
    out[name] = (...args: unknown[]) => {
      if (++calls > WARM_CALLS) return bind()(...args);
      if (slow === null) {
        const symbol = def.name ?? name;
        const ptr = Deno.dlopen("libc.so.6", { [symbol]: { type: "pointer" } }).symbols[symbol];
        if (ptr === null) throw new Deno.errors.NotFound(`libc has no symbol ${symbol}`);
        const sig: Deno.ForeignFunction = { parameters: def.parameters, result: def.result };
        slow = new Deno.UnsafeFnPointer(ptr as Deno.PointerObject<Deno.ForeignFunction>, sig);
      }
      return (slow.call as AnyFn)(...args);
    };
  }
  return out as Deno.StaticForeignLibraryInterface<T>;
}

/**
 * Symbol table. 64-bit `size_t`/`off_t` parameters are bigint. Results of calls that
 * return `ssize_t` but whose values stay below 2^31 (read/write/xattr sizes) are bound
 * as `i32`: on x86_64 the low half of rax carries the value, and -1 stays -1, which
 * spares a bigint per call in hot loops.
 */
const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  // files
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  pread: { name: "pread64", parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  pwrite: { name: "pwrite64", parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  fsync: { parameters: ["i32"], result: "i32" },
  fdatasync: { parameters: ["i32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  // metadata
  lstat: { parameters: ["buffer", "buffer"], result: "i32" },
  stat: { parameters: ["buffer", "buffer"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  fstatat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  chmod: { parameters: ["buffer", "u32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getegid: { parameters: [], result: "u32" },
  // directory entries
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  // xattrs
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "i32" },
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  lremovexattr: { parameters: ["buffer", "buffer"], result: "i32" },
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  fgetxattr: { parameters: ["i32", "buffer", "buffer", "usize"], result: "i32" },
  flistxattr: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  fremovexattr: { parameters: ["i32", "buffer"], result: "i32" },
  // mounts and filesystems
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  // data copies
  copy_file_range: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "i64",
  },
  ioctl_int: { name: "ioctl", parameters: ["i32", "u64", "i32"], result: "i32" },
  // locks: fcntl is variadic; a pointer third argument is passed in the same register on x86_64
  fcntl_lk: { name: "fcntl", parameters: ["i32", "i32", "buffer"], result: "i32" },
  fcntl_lk_async: { name: "fcntl", parameters: ["i32", "i32", "buffer"], result: "i32", nonblocking: true },
} as const;

/** The symbols, each bound on its first call. */
export const S = lazySymbols(SYMBOLS);

const enc = new TextEncoder();

/** A fresh NUL-terminated copy of `s` (safe for nonblocking calls). */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s + "\0") as Uint8Array<ArrayBuffer>;
}

/** A reusable scratch buffer for one synchronous string argument. */
class Scratch {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(4096);
  /** Encodes `s` + NUL into the scratch buffer and returns a view of it. */
  put(s: string): Uint8Array<ArrayBuffer> {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    const need = s.length * 3 + 1;
    if (need > this.buf.length) this.buf = new Uint8Array(Math.max(need, this.buf.length * 2));
    const { written } = enc.encodeInto(s, this.buf);
    this.buf[written] = 0;
    return this.buf;
  }
}
const scratch0 = new Scratch();
const scratch1 = new Scratch();
/** First string argument of a synchronous call (reused buffer; valid until the next `cs0`). */
export function cs0(s: string): Uint8Array<ArrayBuffer> {
  return scratch0.put(s);
}
/** Second string argument of a synchronous call (reused buffer; valid until the next `cs1`). */
export function cs1(s: string): Uint8Array<ArrayBuffer> {
  return scratch1.put(s);
}

let errnoView: Deno.UnsafePointerView | null = null;
/** errno of the calling thread; read it right after a synchronous call returned -1. */
export function errno(): number {
  if (errnoView === null) {
    // The main JS thread never changes, so its errno location is stable.
    errnoView = new Deno.UnsafePointerView(S.__errno_location()!);
  }
  return errnoView.getInt32(0);
}

/** libc's text for an errno value (e.g. `No such file or directory`). */
export function strerror(e: number): string {
  const p = S.strerror(e);
  return p === null ? `errno ${e}` : Deno.UnsafePointerView.getCString(p);
}
