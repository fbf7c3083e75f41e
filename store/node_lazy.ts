/**
 * Node built-ins loaded on first use, synchronously. The first `node:` import boots Deno's
 * Node compatibility layer (20-30 ms, plus the module: crypto ~10 ms, zlib ~15 ms); a
 * static import would make every command pay that at startup, even those that never hash
 * or compress. `process.getBuiltinModule` loads a built-in from synchronous code, so the
 * callers' APIs stay as they are.
 *
 * @module
 */

type NodeCrypto = typeof import("node:crypto");
type NodeZlib = typeof import("node:zlib");

function builtin(id: string): unknown {
  const g = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
  return g.process.getBuiltinModule(id);
}

let crypto: NodeCrypto | null = null;
let zlib: NodeZlib | null = null;

/** `node:crypto`, loaded on the first call. */
export function nodeCrypto(): NodeCrypto {
  return crypto ??= builtin("node:crypto") as NodeCrypto;
}

/** `node:zlib`, loaded on the first call. */
export function nodeZlib(): NodeZlib {
  return zlib ??= builtin("node:zlib") as NodeZlib;
}
