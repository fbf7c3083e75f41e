/**
 * CRC-64 of large payloads computed on a worker thread, so that checksumming overlaps
 * the main thread's reads and writes (tar-split replay of big files).
 *
 * The worker is a small module given as a data: URL (no file to locate, also in bundles
 * and compiled binaries) running the kernel of archive/crc64.ts over a shared
 * WebAssembly memory: the main thread copies bytes into a ring of slots there (the only
 * copy), posts the slot, and the worker hashes it in place and counts it done in a
 * shared word. A full ring makes `update` wait (Atomics.wait) for the worker, so memory
 * stays bounded without the caller's help. Digests come back in the order sequences
 * were ended.
 *
 * @module
 */
import { Crc64, crc64CombineParts, crcSharedKernel, KERNEL_DATA, KERNEL_STATE } from "./crc64.ts";

const SLOT = 1 << 20;
const SLOTS = 32;
const PAGES = Math.ceil((KERNEL_DATA + SLOT * SLOTS) / 65536);
// Int32 index of the count of slots hashed (between the CRC state and the data).
const DONE = KERNEL_STATE / 4 + 4;
// Int32 index of the worker's failure flag (so a thread blocked on DONE notices it).
const FAILED = DONE + 1;
// Int32 index of the flag the worker raises once it can take work.
const READY = DONE + 2;
// A blocked thread gives up when the worker made no progress for this long.
const STALL_MS = 60_000;

// While the worker lags this many slots behind, `update` checksums here (no copy, no
// wait) and the worker combines the CRCs.
const BUSY = SLOTS / 2;

const WORKER_SOURCE = `
${crc64CombineParts.toString()}
let update, words;
const LO = ${KERNEL_STATE / 4}, HI = LO + 1, DONE = ${DONE}, FAILED = ${FAILED}, READY = ${READY};
const DATA = ${KERNEL_DATA}, SLOT = ${SLOT};
self.onmessage = (e) => {
  try {
    handle(e.data);
  } catch (err) {
    if (words) {
      Atomics.store(words, FAILED, 1);
      Atomics.notify(words, DONE);
    }
    throw err;
  }
};
function handle(m) {
  if (m.slot !== undefined) {
    update(DATA + m.slot * SLOT, m.len);
    Atomics.add(words, DONE, 1);
    Atomics.notify(words, DONE);
  } else if (m.combine) {
    const c = crc64CombineParts(words[HI], words[LO], m.combine[0], m.combine[1], m.combine[2]);
    words[HI] = c[0];
    words[LO] = c[1];
  } else if (m.seed) {
    words[HI] = m.seed[0];
    words[LO] = m.seed[1];
  } else if (m.end !== undefined) {
    self.postMessage({ id: m.end, hi: words[HI], lo: words[LO] });
    words[LO] = 0;
    words[HI] = 0;
  } else {
    const inst = new WebAssembly.Instance(m.module, { m: { mem: m.memory } });
    update = inst.exports.update;
    words = new Int32Array(m.memory.buffer);
    Atomics.store(words, READY, 1);
  }
}
`;

interface Pending {
  resolve(d: Uint8Array): void;
  reject(e: unknown): void;
}

/** A worker computing CRC-64/ISO digests of byte sequences, one sequence at a time. */
export class CrcOffload {
  private readonly w: Worker;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  /** Slots posted so far; slot n lives at index n % SLOTS. */
  private posted = 0;
  private fill = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failed: unknown = null;
  private closed = false;
  private readonly local = new Crc64();
  private readonly busy: number;

  private constructor(kernel: { module: WebAssembly.Module; memory: WebAssembly.Memory }, busy: number) {
    this.busy = busy;
    this.bytes = new Uint8Array(kernel.memory.buffer);
    this.words = new Int32Array(kernel.memory.buffer);
    this.words[KERNEL_STATE / 4] = 0;
    this.words[KERNEL_STATE / 4 + 1] = 0;
    this.words[DONE] = 0;
    this.words[FAILED] = 0;
    this.words[READY] = 0;
    this.w = new Worker(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`, { type: "module" });
    this.w.onmessage = (e: MessageEvent) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(digestBytes(m.hi, m.lo));
    };
    this.w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`crc64 worker: ${e.message}`));
    };
    this.w.postMessage(kernel);
  }

  /**
   * A new worker, or null when there is no WebAssembly (threads) or workers cannot start.
   * `busy`: slots of lag from which `update` checksums in-process (tests lower it).
   */
  static create(busy = BUSY): CrcOffload | null {
    const k = crcSharedKernel(PAGES);
    if (!k) return null;
    try {
      return new CrcOffload(k, busy);
    } catch {
      return null;
    }
  }

  /** Whether the worker has started (before that, hashing in-process avoids waiting for it). */
  get started(): boolean {
    return Atomics.load(this.words, READY) === 1;
  }

  /**
   * Starts the current sequence from a CRC computed so far elsewhere (`Crc64.value()`),
   * so that a file begun in-process goes on here. Call before its first `update`.
   */
  seed(value: bigint): void {
    this.w.postMessage({ seed: [Number(value >> 32n) | 0, Number(value & 0xffffffffn) | 0] });
  }

  /** Bytes handed over and not hashed yet. */
  get backlog(): number {
    return (this.posted - Atomics.load(this.words, DONE)) * SLOT + this.fill;
  }

  /** Adds (a copy of) `b` to the current sequence; waits while the ring is full. */
  update(b: Uint8Array): void {
    if (this.failed) return;
    if (b.length >= 65536 && this.posted - Atomics.load(this.words, DONE) >= this.busy) {
      this.post();
      this.local.reset();
      this.w.postMessage({ combine: [...this.local.update(b).parts(), b.length] });
      return;
    }
    let off = 0;
    while (off < b.length) {
      if (this.fill === 0) this.waitForSlot();
      const take = Math.min(b.length - off, SLOT - this.fill);
      const at = KERNEL_DATA + (this.posted % SLOTS) * SLOT + this.fill;
      this.bytes.set(off === 0 && take === b.length ? b : b.subarray(off, off + take), at);
      this.fill += take;
      off += take;
      if (this.fill === SLOT) this.post();
    }
  }

  /** Ends the current sequence: resolves to its digest (8 big-endian bytes, as `Crc64.digest()`). */
  end(): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed);
    this.post();
    const id = this.nextId++;
    const p = new Promise<Uint8Array>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.w.postMessage({ end: id });
    return p;
  }

  /** Stops the worker; digests not delivered yet are rejected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.w.terminate();
    this.fail(new Error("crc64 worker closed"));
  }

  /** Blocks until the slot to fill next is free (the worker is at most SLOTS-1 behind). */
  private waitForSlot(): void {
    let last = Atomics.load(this.words, DONE), since = Date.now();
    while (this.posted - last >= SLOTS) {
      if (Atomics.load(this.words, FAILED) || Date.now() - since > STALL_MS) {
        this.fail(new Error("crc64 worker failed or stalled"));
        throw this.failed;
      }
      Atomics.wait(this.words, DONE, last, 100);
      const done = Atomics.load(this.words, DONE);
      if (done !== last) (last = done, since = Date.now());
    }
  }

  /** Hands the current slot to the worker. */
  private post(): void {
    if (this.fill === 0) return;
    this.w.postMessage({ slot: this.posted % SLOTS, len: this.fill });
    this.posted++;
    this.fill = 0;
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
  }
}

function digestBytes(hi: number, lo: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, hi >>> 0);
  v.setUint32(4, lo >>> 0);
  return out;
}
