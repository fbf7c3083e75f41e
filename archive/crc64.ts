/**
 * CRC-64 with the ISO polynomial, bit-reflected, as Go's `hash/crc64` with `crc64.ISO`
 * (initial value and final XOR all ones). tar-split stores it for every file payload, so
 * it runs over every byte of every layer: slicing-by-8 over two 32-bit halves keeps it
 * in V8's fast integer paths (no bigint in the loop).
 *
 * @module
 */

// Reflected ISO polynomial 0xD800000000000000: high half 0xD8000000, low half 0.
const POLY_HI = 0xd8000000;

/** 8 tables × 256 entries, split into high and low 32-bit halves. */
const TH = new Int32Array(8 * 256);
const TL = new Int32Array(8 * 256);

// Filled by the first Crc64 (not at module load: most commands never checksum).
let tablesBuilt = false;
function buildTables(): void {
  tablesBuilt = true;
  for (let i = 0; i < 256; i++) {
    let hi = 0, lo = i;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = (lo >>> 1) | ((hi & 1) << 31);
      hi = hi >>> 1;
      if (bit) hi ^= POLY_HI;
    }
    TH[i] = hi;
    TL[i] = lo;
  }
  for (let t = 1; t < 8; t++) {
    for (let i = 0; i < 256; i++) {
      const phi = TH[(t - 1) * 256 + i], plo = TL[(t - 1) * 256 + i];
      const idx = plo & 0xff;
      TL[t * 256 + i] = ((plo >>> 8) | (phi << 24)) ^ TL[idx];
      TH[t * 256 + i] = (phi >>> 8) ^ TH[idx];
    }
  }
}

// Slicing-by-8 in WebAssembly (i64 lookups from linear memory): several times faster
// than the JS loop. Source (WAT), tables at 0..16383 as i64 (table t at t*2048):
//   update(crc i64, p i32, n i32) -> i64: crc = ~crc; 8 bytes at a time
//   crc = T7[b0]^T6[b1]^..^T0[b7] of (crc ^ load64(p)); tail bytewise; return ~crc
const WASM =
  "AGFzbQEAAAABCAFgA35/fwF+AwIBAAUDAQABBxACA21lbQIABnVwZGF0ZQAACoACAf0BAgJ/AX4gAEJ/hSEAIAEgAmohBCABIAJBeHFqIQMCQANAIAEgA08NASAAIAEpAwCFIQUgBUL/AYOnQQN0KQOAcCAFQgiIQv8Bg6dBA3QpA4BghSAFQhCIQv8Bg6dBA3QpA4BQhSAFQhiIQv8Bg6dBA3QpA4BAhSAFQiCIQv8Bg6dBA3QpA4AwhSAFQiiIQv8Bg6dBA3QpA4AghSAFQjCIQv8Bg6dBA3QpA4AQhSAFQjiIp0EDdCkDAIUhACABQQhqIQEMAAsLAkADQCABIARPDQEgAEIIiCAAIAExAACFQv8Bg6dBA3QpAwCFIQAgAUEBaiEBDAALCyAAQn+FCw==";
const TABLE_BYTES = 8 * 256 * 8;
const WINDOW = 1 << 20; // bytes hashed per wasm call

interface Kernel {
  update(crc: bigint, p: number, n: number): bigint;
  bytes: Uint8Array;
}

let kernel: Kernel | null | undefined;
function wasmKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    // deno-lint-ignore no-explicit-any
    const bin = (Uint8Array as any).fromBase64(WASM) as Uint8Array<ArrayBuffer>;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bin), {});
    const mem = inst.exports.mem as WebAssembly.Memory;
    mem.grow(Math.ceil((TABLE_BYTES + WINDOW) / 65536));
    const words = new Int32Array(mem.buffer, 0, TABLE_BYTES / 4);
    for (let k = 0; k < 8 * 256; k++) {
      words[2 * k] = TL[k];
      words[2 * k + 1] = TH[k];
    }
    kernel = {
      update: inst.exports.update as (crc: bigint, p: number, n: number) => bigint,
      bytes: new Uint8Array(mem.buffer),
    };
  } catch {
    kernel = null;
  }
  return kernel;
}

/** An incremental CRC-64/ISO (Go `crc64.New(crc64.MakeTable(crc64.ISO))`). */
export class Crc64 {
  // Running CRC kept inverted (as Go does internally), in two 32-bit halves.
  private hi = -1;
  private lo = -1;

  constructor() {
    if (!tablesBuilt) buildTables();
  }

  /** Adds bytes to the checksum. */
  update(b: Uint8Array): this {
    const k = b.length >= 64 ? wasmKernel() : null;
    if (k) {
      let crc = (BigInt((~this.hi) >>> 0) << 32n) | BigInt((~this.lo) >>> 0);
      for (let off = 0; off < b.length; off += WINDOW) {
        const part = b.subarray(off, off + WINDOW);
        k.bytes.set(part, TABLE_BYTES);
        crc = k.update(crc, TABLE_BYTES, part.length);
      }
      crc = BigInt.asUintN(64, crc);
      this.hi = ~Number(crc >> 32n);
      this.lo = ~Number(crc & 0xffffffffn);
      return this;
    }
    return this.updateJs(b);
  }

  /** The pure-JS slicing-by-8 path (small inputs, or no WebAssembly). */
  updateJs(b: Uint8Array): this {
    let hi = this.hi, lo = this.lo;
    let i = 0;
    const n = b.length;
    const end8 = n - (n & 7);
    while (i < end8) {
      const l = lo ^ (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
      const h = hi ^ (b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24));
      const a0 = 7 * 256 + (l & 0xff), a1 = 6 * 256 + ((l >>> 8) & 0xff);
      const a2 = 5 * 256 + ((l >>> 16) & 0xff), a3 = 4 * 256 + (l >>> 24);
      const a4 = 3 * 256 + (h & 0xff), a5 = 2 * 256 + ((h >>> 8) & 0xff);
      const a6 = 256 + ((h >>> 16) & 0xff), a7 = h >>> 24;
      lo = TL[a0] ^ TL[a1] ^ TL[a2] ^ TL[a3] ^ TL[a4] ^ TL[a5] ^ TL[a6] ^ TL[a7];
      hi = TH[a0] ^ TH[a1] ^ TH[a2] ^ TH[a3] ^ TH[a4] ^ TH[a5] ^ TH[a6] ^ TH[a7];
      i += 8;
    }
    while (i < n) {
      const idx = (lo ^ b[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TL[idx];
      hi = (hi >>> 8) ^ TH[idx];
      i++;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** The checksum as 8 big-endian bytes (Go's `Sum(nil)`, what tar-split stores). */
  digest(): Uint8Array {
    const out = new Uint8Array(8);
    const hi = ~this.hi, lo = ~this.lo;
    out[0] = hi >>> 24;
    out[1] = hi >>> 16;
    out[2] = hi >>> 8;
    out[3] = hi;
    out[4] = lo >>> 24;
    out[5] = lo >>> 16;
    out[6] = lo >>> 8;
    out[7] = lo;
    return out;
  }

  /** The checksum as a bigint (Go's `Sum64()`). */
  value(): bigint {
    return (BigInt((~this.hi) >>> 0) << 32n) | BigInt((~this.lo) >>> 0);
  }

  /** Starts over. */
  reset(): void {
    this.hi = -1;
    this.lo = -1;
  }
}

/** CRC-64/ISO of `data` as 8 big-endian bytes. */
export function crc64(data: Uint8Array): Uint8Array {
  return new Crc64().update(data).digest();
}
