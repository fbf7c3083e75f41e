/**
 * CRC-64 with the ISO polynomial, bit-reflected, as Go's `hash/crc64` with `crc64.ISO`
 * (initial value and final XOR all ones). tar-split stores it for every file payload, so
 * it runs over every byte of every layer.
 *
 * Inputs of 64 bytes and more go through a WebAssembly slicing-by-16 kernel (assembled
 * below from a few dozen opcodes, so there is no opaque binary); shorter ones through a
 * JS slicing-by-8 loop over two 32-bit halves (no bigint in the loop). `crcKernel()` gives
 * the compiled module and tables to other threads (archive/crc_offload.ts).
 *
 * @module
 */

// Reflected ISO polynomial 0xD800000000000000: high half 0xD8000000, low half 0.
const POLY_HI = 0xd8000000;
const TABLES = 16;

/** 16 tables × 256 entries, split into high and low 32-bit halves. */
const TH = new Int32Array(TABLES * 256);
const TL = new Int32Array(TABLES * 256);

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
  // Table t maps a byte followed by t zero bytes.
  for (let t = 1; t < TABLES; t++) {
    for (let i = 0; i < 256; i++) {
      const phi = TH[(t - 1) * 256 + i], plo = TL[(t - 1) * 256 + i];
      const idx = plo & 0xff;
      TL[t * 256 + i] = ((plo >>> 8) | (phi << 24)) ^ TL[idx];
      TH[t * 256 + i] = (phi >>> 8) ^ TH[idx];
    }
  }
}

/** Byte layout of the kernel's memory: tables (i64, table t at t*2048), the CRC state, the data window. */
export const KERNEL_STATE = TABLES * 2048;
/** Offset of the data window in the kernel's memory. */
export const KERNEL_DATA = KERNEL_STATE + 64;
/** Bytes hashed per kernel call (the data window's size). */
export const KERNEL_WINDOW = 1 << 20;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && (b & 0x40))) return [...out, b];
    out.push(b | 0x80);
  }
}

/**
 * The kernel: `update(p i32, n i32)` folds n bytes at p into the (inverted, as Go keeps
 * it) i64 state at KERNEL_STATE; `mem` is its memory. Equivalent WAT:
 *   crc = ~state; 16 bytes at a time: a = crc ^ load64(p), b = load64(p+8),
 *   crc = T15[a.byte0] ^ .. ^ T8[a.byte7] ^ T7[b.byte0] ^ .. ^ T0[b.byte7];
 *   tail bytewise: crc = T0[(crc ^ byte) & 0xff] ^ (crc >> 8); state = ~crc
 */
function assemble(sharedPages = 0): Uint8Array<ArrayBuffer> {
  const c: number[] = [];
  const get = (i: number) => c.push(0x20, i), set = (i: number) => c.push(0x21, i);
  const i32 = (v: number) => c.push(0x41, ...sleb(v));
  const load64 = (off: number) => c.push(0x29, 3, ...uleb(off));
  const [P, N, END, END16, CRC, A, W0, W1, W2, W3] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  i32(0), load64(KERNEL_STATE), c.push(0x42, 0x7f, 0x85), set(CRC); // crc = ~state
  get(P), get(N), c.push(0x6a), set(END);
  get(P), get(N), i32(-16), c.push(0x71, 0x6a), set(END16);
  c.push(0x02, 0x40, 0x03, 0x40); // block loop
  get(P), get(END16), c.push(0x4f, 0x0d, 1); // p >= end16: break
  // Table of byte j of 32-bit word w: (w >> 8j) & 0xff, times 8 for i64 entries.
  const lookup = (w: number, j: number, table: number) => {
    get(w);
    if (j === 0) (i32(3), c.push(0x74)); // shl 3
    else (i32(8 * j - 3), c.push(0x76)); // shr_u
    i32(0x7f8), c.push(0x71);
    load64(table * 2048);
  };
  // XOR of the 8 lookups of two words as a balanced tree: the CPU overlaps the loads
  // and the loop-carried chain stays short (a linear chain of XORs would bound it).
  const tree8 = (lo: number, hi: number, top: number) => {
    const xor = () => c.push(0x85);
    lookup(lo, 0, top),
      lookup(lo, 1, top - 1),
      xor(),
      lookup(lo, 2, top - 2),
      lookup(lo, 3, top - 3),
      xor(),
      xor();
    lookup(hi, 0, top - 4),
      lookup(hi, 1, top - 5),
      xor(),
      lookup(hi, 2, top - 6),
      lookup(hi, 3, top - 7),
      xor(),
      xor();
    xor();
  };
  // The second 8 bytes do not depend on the running CRC: their part first.
  get(P), c.push(0x28, 2, 8), set(W0); // i32.load offset=8
  get(P), c.push(0x28, 2, 12), set(W1);
  tree8(W0, W1, 7);
  get(CRC), get(P), load64(0), c.push(0x85), set(A);
  get(A), c.push(0xa7), set(W2); // wrap a
  get(A), c.push(0x42, 32, 0x88, 0xa7), set(W3); // wrap (a >> 32)
  tree8(W2, W3, 15);
  c.push(0x85);
  set(CRC);
  get(P), i32(16), c.push(0x6a), set(P);
  c.push(0x0c, 0, 0x0b, 0x0b); // br loop; end end
  c.push(0x02, 0x40, 0x03, 0x40);
  get(P), get(END), c.push(0x4f, 0x0d, 1);
  get(CRC), c.push(0xa7), get(P), c.push(0x2d, 0, 0, 0x73), i32(0xff), c.push(0x71), i32(3), c.push(0x74);
  load64(0), get(CRC), c.push(0x42, 8, 0x88, 0x85), set(CRC);
  get(P), i32(1), c.push(0x6a), set(P);
  c.push(0x0c, 0, 0x0b, 0x0b);
  i32(0), get(CRC), c.push(0x42, 0x7f, 0x85, 0x37, 3, ...uleb(KERNEL_STATE)); // state = ~crc
  c.push(0x0b);
  const body = [3, 2, 0x7f, 2, 0x7e, 4, 0x7f, ...c]; // locals: 2 i32, 2 i64, 4 i32
  const sec = (id: number, s: number[]) => [id, ...uleb(s.length), ...s];
  const name = (s: string) => [s.length, ...[...s].map((x) => x.charCodeAt(0))];
  // Own memory (one page, grown by the host), or an imported shared one ("m" "mem").
  const memory = sharedPages
    ? sec(2, [1, ...name("m"), ...name("mem"), 2, 3, ...uleb(sharedPages), ...uleb(sharedPages)])
    : sec(5, [1, 0, 1]);
  const header = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const type = sec(1, [1, 0x60, 2, 0x7f, 0x7f, 0]); // (i32, i32) -> ()
  return new Uint8Array([
    ...header,
    ...type,
    ...(sharedPages ? memory : []),
    ...sec(3, [1, 0]),
    ...(sharedPages ? [] : memory),
    ...sec(7, [2, ...name("mem"), 2, 0, ...name("update"), 0, 0]),
    ...sec(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** The compiled kernel and its tables (i64 little-endian as 32-bit halves), for another thread. */
export interface CrcKernelInit {
  module: WebAssembly.Module;
  tables: Int32Array;
}

let kernelInit: CrcKernelInit | null | undefined;
/** The kernel's module and tables, or null without WebAssembly. */
export function crcKernel(): CrcKernelInit | null {
  if (kernelInit !== undefined) return kernelInit;
  if (!tablesBuilt) buildTables();
  try {
    const tables = new Int32Array(TABLES * 256 * 2);
    for (let k = 0; k < TABLES * 256; k++) {
      tables[2 * k] = TL[k];
      tables[2 * k + 1] = TH[k];
    }
    kernelInit = { module: new WebAssembly.Module(assemble()), tables };
  } catch {
    kernelInit = null;
  }
  return kernelInit;
}

/**
 * The kernel over a shared memory of `pages` 64 KiB pages (tables filled in, state at
 * KERNEL_STATE, data from KERNEL_DATA): another thread instantiates `module` with
 * `{ m: { mem: memory } }` and hashes bytes this thread wrote there, without copies.
 * Null without WebAssembly threads.
 */
export function crcSharedKernel(
  pages: number,
): { module: WebAssembly.Module; memory: WebAssembly.Memory } | null {
  const init = crcKernel();
  if (!init) return null;
  try {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    new Int32Array(memory.buffer).set(init.tables);
    return { module: new WebAssembly.Module(assemble(pages)), memory };
  } catch {
    return null;
  }
}

interface Kernel {
  update(p: number, n: number): void;
  bytes: Uint8Array;
  words: Int32Array;
}

let kernel: Kernel | null | undefined;
function wasmKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  const init = crcKernel();
  try {
    if (!init) throw new Error("no WebAssembly");
    const inst = new WebAssembly.Instance(init.module, {});
    const mem = inst.exports.mem as WebAssembly.Memory;
    mem.grow(Math.ceil((KERNEL_DATA + KERNEL_WINDOW) / 65536));
    const words = new Int32Array(mem.buffer);
    words.set(init.tables);
    kernel = {
      update: inst.exports.update as (p: number, n: number) => void,
      bytes: new Uint8Array(mem.buffer),
      words,
    };
  } catch {
    kernel = null;
  }
  return kernel;
}

const STATE_LO = KERNEL_STATE / 4, STATE_HI = STATE_LO + 1;

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
    if (!k) return this.updateJs(b);
    const w = k.words;
    w[STATE_LO] = ~this.lo;
    w[STATE_HI] = ~this.hi;
    for (let off = 0; off < b.length; off += KERNEL_WINDOW) {
      const part = off === 0 && b.length <= KERNEL_WINDOW ? b : b.subarray(off, off + KERNEL_WINDOW);
      k.bytes.set(part, KERNEL_DATA);
      k.update(KERNEL_DATA, part.length);
    }
    this.lo = ~w[STATE_LO];
    this.hi = ~w[STATE_HI];
    return this;
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

  /** The checksum as 32-bit halves [high, low] (the value of `value()`, without a bigint). */
  parts(): [number, number] {
    return [~this.hi, ~this.lo];
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

// ---- combining: CRC(A || B) from CRC(A), CRC(B) and |B| (zlib's crc32_combine method) ----

/**
 * The CRC-64/ISO of A followed by B, from the CRCs of A and B (values as `Crc64.value()`
 * gives them, in 32-bit halves) and B's length: lets parts of one stream be checksummed
 * apart (on two threads) and joined. Self-contained (its source also runs in workers);
 * the operators for recent lengths are cached on the function.
 */
export function crc64CombineParts(
  aHi: number,
  aLo: number,
  bHi: number,
  bLo: number,
  lenB: number,
): [number, number] {
  // a·b mod P over GF(2), reflected (x^0 is the top bit).
  const mul = (xHi: number, xLo: number, yHi: number, yLo: number): [number, number] => {
    let pHi = 0, pLo = 0;
    for (let i = 0; i < 64; i++) {
      const bit = i < 32 ? (xHi >>> (31 - i)) & 1 : (xLo >>> (63 - i)) & 1;
      if (bit) (pHi ^= yHi, pLo ^= yLo);
      const low = yLo & 1;
      yLo = (yLo >>> 1) | (yHi << 31);
      yHi = yHi >>> 1;
      if (low) yHi ^= 0xd8000000;
    }
    return [pHi | 0, pLo | 0];
  };
  const st = crc64CombineParts as unknown as {
    x2n?: Array<[number, number]>;
    ops?: Map<number, [number, number]>;
  };
  if (!st.x2n) {
    // x^(2^k) mod P for k = 0..63, from x^1.
    st.x2n = [[1 << 30, 0]];
    for (let i = 1; i < 64; i++) st.x2n.push(mul(...st.x2n[i - 1], ...st.x2n[i - 1]));
    st.ops = new Map();
  }
  let op = st.ops!.get(lenB);
  if (!op) {
    // x^(8·lenB) mod P: shifting A's CRC past B's bytes.
    op = [1 << 31, 0];
    for (let n = lenB, k = 3; n > 0; n = Math.floor(n / 2), k++) {
      if (n % 2 === 1) op = mul(...st.x2n[k & 63], ...op);
    }
    if (st.ops!.size > 64) st.ops!.clear();
    st.ops!.set(lenB, op);
  }
  const [hi, lo] = mul(op[0], op[1], aHi, aLo);
  return [hi ^ bHi, lo ^ bLo];
}

/** crc64CombineParts on bigint values. */
export function crc64Combine(a: bigint, b: bigint, lenB: number): bigint {
  const [hi, lo] = crc64CombineParts(
    Number(a >> 32n) | 0,
    Number(a & 0xffffffffn) | 0,
    Number(b >> 32n) | 0,
    Number(b & 0xffffffffn) | 0,
    lenB,
  );
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** CRC-64/ISO of `data` as 8 big-endian bytes. */
export function crc64(data: Uint8Array): Uint8Array {
  return new Crc64().update(data).digest();
}
