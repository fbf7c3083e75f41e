/**
 * CRC-64 of large payloads computed on a worker thread, so that checksumming overlaps
 * the main thread's reads and writes (tar-split replay and recording of big files).
 *
 * The worker is a small module given as a data: URL (no file to locate, also in bundles
 * and compiled binaries); it runs the same WebAssembly kernel as archive/crc64.ts, whose
 * compiled module and tables it receives. Bytes are copied into transferred buffers;
 * `backlog` counts what the worker has not hashed yet, `settle()` waits for it to shrink
 * (callers bound memory with it). Digests come back in the order sequences were ended.
 *
 * @module
 */
import { crcKernel, KERNEL_DATA, KERNEL_STATE, KERNEL_WINDOW } from "./crc64.ts";

const BUFFER = 1 << 20;
const POOL_MAX = 40;
const PAGES = Math.ceil((KERNEL_DATA + KERNEL_WINDOW) / 65536);
const WORKER_SOURCE = `
let update, bytes, words;
const LO = ${KERNEL_STATE / 4}, HI = LO + 1, DATA = ${KERNEL_DATA}, WINDOW = ${KERNEL_WINDOW};
self.onmessage = (e) => {
  const m = e.data;
  if (m instanceof Uint8Array) {
    const b = m;
    for (let off = 0; off < b.length; off += WINDOW) {
      const part = b.subarray(off, off + WINDOW);
      bytes.set(part, DATA);
      update(DATA, part.length);
    }
    self.postMessage({ n: b.length, buf: b.buffer }, [b.buffer]);
  } else if (m.end !== undefined) {
    self.postMessage({ id: m.end, hi: words[HI], lo: words[LO] });
    words[LO] = 0;
    words[HI] = 0;
  } else {
    const inst = new WebAssembly.Instance(m.module, {});
    const mem = inst.exports.mem;
    mem.grow(${PAGES});
    words = new Int32Array(mem.buffer);
    words.set(m.tables);
    words[LO] = 0;
    words[HI] = 0;
    bytes = new Uint8Array(mem.buffer);
    update = inst.exports.update;
  }
};
`;

interface Pending {
  resolve(d: Uint8Array): void;
  reject(e: unknown): void;
}

/** A worker computing CRC-64/ISO digests of byte sequences, one sequence at a time. */
export class CrcOffload {
  private readonly w: Worker;
  private queued = 0;
  // Buffers come back from the worker and are reused (fresh ones would cost page faults).
  private readonly pool: ArrayBuffer[] = [];
  /** Bytes gathered for the next message (BUFFER bytes each). */
  private buf: Uint8Array<ArrayBuffer> | null = null;
  private bufLen = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private waiters: Array<() => void> = [];
  private failed: unknown = null;
  private closed = false;

  private constructor(init: { module: WebAssembly.Module; tables: Int32Array }) {
    this.w = new Worker(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`, { type: "module" });
    this.w.onmessage = (e: MessageEvent) => {
      const m = e.data;
      if (m.buf) {
        this.queued -= m.n;
        if (this.pool.length < POOL_MAX) this.pool.push(m.buf);
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
        return;
      }
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(digestBytes(m.hi, m.lo));
    };
    this.w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`crc64 worker: ${e.message}`));
    };
    this.w.postMessage(init);
  }

  /** A new worker, or null when there is no WebAssembly or workers cannot start. */
  static create(): CrcOffload | null {
    const init = crcKernel();
    if (!init) return null;
    try {
      return new CrcOffload(init);
    } catch {
      return null;
    }
  }

  /** Bytes handed over and not hashed yet. */
  get backlog(): number {
    return this.queued;
  }

  /** Adds (a copy of) `b` to the current sequence. */
  update(b: Uint8Array): void {
    if (this.failed) return;
    let off = 0;
    while (off < b.length) {
      this.buf ??= new Uint8Array(this.pool.pop() ?? new ArrayBuffer(BUFFER));
      const take = Math.min(b.length - off, BUFFER - this.bufLen);
      this.buf.set(off === 0 && take === b.length ? b : b.subarray(off, off + take), this.bufLen);
      this.bufLen += take;
      this.queued += take;
      off += take;
      if (this.bufLen === BUFFER) this.post();
    }
  }

  /** Hands the gathered bytes to the worker. */
  private post(): void {
    if (!this.buf) return;
    const view = this.buf.subarray(0, this.bufLen);
    this.buf = null;
    this.bufLen = 0;
    this.w.postMessage(view, [view.buffer]);
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

  /** Resolves once at most `max` bytes wait to be hashed; rejects if the worker failed. */
  async settle(max = 0): Promise<void> {
    this.post();
    while (this.queued > max && !this.failed) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failed) throw this.failed;
  }

  /** Stops the worker; digests not delivered yet are rejected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.w.terminate();
    this.fail(new Error("crc64 worker closed"));
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function digestBytes(hi: number, lo: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, hi >>> 0);
  v.setUint32(4, lo >>> 0);
  return out;
}
