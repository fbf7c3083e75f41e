/**
 * tar-split recording on a worker thread: the main thread only copies the stream's
 * segments and payloads, and each file's name and size, into batches (a few records per
 * entry); the worker runs the recording core (archive/tarsplit_core.ts: JSON lines,
 * base64, CRC-64, gzip) and sends the gzip members back, in order. The extraction and
 * the recording then use both cores.
 *
 * The worker is a data: URL module made from the core's own source and a small CRC-64
 * wrapper around the kernel compiled by archive/crc64.ts, so there is no file to locate.
 * Batches are transferred and come back for reuse; `ready()` gives back-pressure when
 * the worker lags more than BACKLOG bytes behind.
 *
 * @module
 */
import { crcKernel, KERNEL_DATA, KERNEL_STATE, KERNEL_WINDOW } from "./crc64.ts";
import { fileLine, goJsonString, tarSplitCore } from "./tarsplit_core.ts";

const BATCH = 1 << 20;
const BACKLOG = 32 << 20;
const POOL_MAX = 40;
const SEG = 1, FILE_START = 2, PAYLOAD = 3, FILE_END = 4;

const WORKER_SOURCE = `
import zlib from "node:zlib";
import { createHash } from "node:crypto";
${goJsonString.toString()}
${fileLine.toString()}
${tarSplitCore.toString()}
function kernelCrc(module, tables) {
  const inst = new WebAssembly.Instance(module, {});
  const mem = inst.exports.mem;
  mem.grow(${Math.ceil((KERNEL_DATA + KERNEL_WINDOW) / 65536)});
  const words = new Int32Array(mem.buffer);
  words.set(tables);
  const bytes = new Uint8Array(mem.buffer);
  const update = inst.exports.update;
  const LO = ${KERNEL_STATE / 4}, HI = LO + 1, DATA = ${KERNEL_DATA}, WINDOW = ${KERNEL_WINDOW};
  return {
    reset() { words[LO] = 0; words[HI] = 0; },
    update(b) {
      for (let off = 0; off < b.length; off += WINDOW) {
        const part = b.subarray(off, off + WINDOW);
        bytes.set(part, DATA);
        update(DATA, part.length);
      }
    },
    digest() {
      const out = new Uint8Array(8), v = new DataView(out.buffer);
      v.setUint32(0, words[HI] >>> 0);
      v.setUint32(4, words[LO] >>> 0);
      return out;
    },
  };
}
let core, hash = null;
const dec = new TextDecoder();
function run(buf, len) {
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  let i = 0;
  while (i < len) {
    const tag = buf[i++];
    if (tag === ${SEG} || tag === ${PAYLOAD}) {
      const n = dv.getUint32(i, true);
      i += 4;
      const part = buf.subarray(i, i + n);
      i += n;
      if (hash) hash.update(part);
      if (tag === ${SEG}) core.segment(part);
      else core.payload(part);
    } else if (tag === ${FILE_START}) {
      core.flushSegment();
      core.fileStart();
    } else if (tag === ${FILE_END}) {
      const size = dv.getFloat64(i, true);
      const raw = buf[i + 8];
      const n = dv.getUint32(i + 9, true);
      i += 13;
      const name = buf.subarray(i, i + n);
      i += n;
      if (raw) core.fileEnd("", name.slice(), size);
      else core.fileEnd(dec.decode(name), null, size);
    } else {
      throw new Error("tar-split worker: bad record " + tag);
    }
  }
}
self.onmessage = (e) => {
  const m = e.data;
  if (m.batch) {
    run(m.batch, m.len);
    self.postMessage({ ack: m.len, buf: m.batch.buffer }, [m.batch.buffer]);
  } else if (m.end) {
    core.flushSegment();
    core.flush();
    self.postMessage({ done: true, sha: hash ? hash.digest("hex") : null });
  } else {
    if (m.hash) hash = createHash("sha256");
    core = tarSplitCore({
      gzip: (text) => new Uint8Array(zlib.gzipSync(text, { level: 1 })),
      sink: (gz) => self.postMessage({ gz }, [gz.buffer]),
      crc: kernelCrc(m.module, m.tables),
      pos: m.pos,
    });
  }
};
`;

/** The main thread's side of a recording core running on a worker. */
export class RemoteTarSplit {
  private readonly w: Worker;
  private buf: Uint8Array<ArrayBuffer>;
  private view: DataView;
  private len = 0;
  private readonly pool: ArrayBuffer[] = [];
  private queued = 0;
  private waiters: Array<() => void> = [];
  private failed: unknown = null;
  private done = false;
  /** Hex sha256 of all segments and payloads, when started with `hash` (after `settle()`). */
  sha: string | null = null;
  private closed = false;
  private readonly enc = new TextEncoder();

  private constructor(pos: number, sink: (gz: Uint8Array) => void, init: object) {
    this.buf = new Uint8Array(BATCH);
    this.view = new DataView(this.buf.buffer);
    this.w = new Worker(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`, { type: "module" });
    this.w.onmessage = (e: MessageEvent) => {
      const m = e.data;
      if (m.gz) {
        if (this.failed) return;
        try {
          sink(m.gz);
        } catch (err) {
          this.fail(err);
        }
      } else if (m.buf) {
        this.queued -= m.ack;
        if (this.pool.length < POOL_MAX && m.buf.byteLength === BATCH) this.pool.push(m.buf);
        this.wake();
      } else if (m.done) {
        this.done = true;
        this.sha = m.sha;
        this.wake();
      }
    };
    this.w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`tar-split worker: ${e.message}`));
    };
    this.w.postMessage({ ...init, pos });
  }

  /**
   * A worker core whose first line gets position `pos`, or null when none can start.
   * With `hash`, the worker also computes the sha256 of every byte given (`sha`).
   */
  static start(pos: number, sink: (gz: Uint8Array) => void, hash = false): RemoteTarSplit | null {
    const k = crcKernel();
    if (!k) return null;
    try {
      return new RemoteTarSplit(pos, sink, { module: k.module, tables: k.tables, hash });
    } catch {
      return null;
    }
  }

  /** Raw non-payload bytes. */
  segment(b: Uint8Array): void {
    this.bytes(SEG, b);
  }

  /** A file's payload begins (its pending segment is written first). */
  fileStart(): void {
    this.room(1);
    this.buf[this.len++] = FILE_START;
  }

  /** Payload bytes of the current file. */
  payload(b: Uint8Array): void {
    this.bytes(PAYLOAD, b);
  }

  /** The current file ended. */
  fileEnd(name: string, nameRaw: Uint8Array | null | undefined, size: number): void {
    const max = nameRaw ? nameRaw.length : name.length * 3;
    this.room(14 + max);
    const at = this.len;
    this.buf[at] = FILE_END;
    this.view.setFloat64(at + 1, size, true);
    this.buf[at + 9] = nameRaw ? 1 : 0;
    let n: number;
    if (nameRaw) {
      this.buf.set(nameRaw, at + 14);
      n = nameRaw.length;
    } else n = this.enc.encodeInto(name, this.buf.subarray(at + 14)).written;
    this.view.setUint32(at + 10, n, true);
    this.len = at + 14 + n;
  }

  /** The stream ended: the worker writes what it holds. */
  end(): void {
    this.post();
    this.w.postMessage({ end: true });
  }

  /** While the worker lags far behind: a promise to wait for before feeding more. */
  ready(): Promise<void> | undefined {
    if (this.queued + this.len <= BACKLOG || this.failed) return undefined;
    this.post();
    return this.until(() => this.queued <= BACKLOG / 2);
  }

  /** Waits until the worker wrote everything (after `end()`); rethrows its failure. */
  async settle(): Promise<void> {
    await this.until(() => this.done);
    if (this.failed) throw this.failed;
    this.close();
  }

  /** Stops the worker. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.w.terminate();
    if (!this.done) this.fail(new Error("tar-split worker closed"));
  }

  private async until(cond: () => boolean): Promise<void> {
    while (!cond() && !this.failed) await new Promise<void>((r) => this.waiters.push(r));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    this.wake();
  }

  /** Copies `b` in records of kind `tag`, split across batches. */
  private bytes(tag: number, b: Uint8Array): void {
    let off = 0;
    while (off < b.length) {
      if (BATCH - this.len < 6) this.post();
      const take = Math.min(b.length - off, BATCH - this.len - 5);
      const at = this.len;
      this.buf[at] = tag;
      this.view.setUint32(at + 1, take, true);
      this.buf.set(off === 0 && take === b.length ? b : b.subarray(off, off + take), at + 5);
      this.len = at + 5 + take;
      off += take;
    }
  }

  /** Makes room for a record of `n` bytes (a batch of its own when larger than BATCH). */
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    this.post();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.view = new DataView(this.buf.buffer);
    }
  }

  /** Sends the current batch. */
  private post(): void {
    if (this.len === 0) return;
    const len = this.len;
    this.queued += len;
    this.w.postMessage({ batch: this.buf, len }, [this.buf.buffer]);
    this.buf = new Uint8Array(this.pool.pop() ?? new ArrayBuffer(BATCH));
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }
}
