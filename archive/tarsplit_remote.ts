/**
 * tar-split recording on a worker thread: the main thread only copies the stream's
 * segments and payloads, and each file's name and size, into batches (a few records per
 * entry); the worker runs the recording core (archive/tarsplit_core.ts: JSON lines,
 * base64, CRC-64, gzip; optionally the sha256 of the whole stream) and sends the gzip
 * members back, in order. The extraction and the recording then use both cores.
 *
 * Batches are slots of a ring in a shared WebAssembly memory, the one the CRC-64 kernel
 * of archive/crc64.ts runs on: payloads are checksummed (and hashed) in place, so the
 * main thread's copy into the slot is the only one. The worker counts finished slots in
 * a shared word; a full ring makes the main thread wait (Atomics.wait), which bounds
 * memory without help from the caller. The worker is a data: URL module made from the
 * core's own source, so there is no file to locate.
 *
 * @module
 */
import { Crc64, crc64CombineParts, crcSharedKernel, KERNEL_DATA, KERNEL_STATE } from "./crc64.ts";
import { fileLine, goJsonString, tarSplitCore } from "./tarsplit_core.ts";

const SLOT = 1 << 20;
const SLOTS = 32;
// The ring, then one more slot: the worker's copy window for bytes from elsewhere.
const WINDOW = KERNEL_DATA + SLOTS * SLOT;
const PAGES = Math.ceil((WINDOW + SLOT) / 65536);
// Int32 index of the count of slots processed (between the CRC state and the data).
const DONE = KERNEL_STATE / 4 + 4;
// Int32 index of the worker's failure flag (so a thread blocked on DONE notices it).
const FAILED = DONE + 1;
// A blocked main thread gives up when the worker made no progress for this long.
const STALL_MS = 60_000;
const SEG = 1, FILE_START = 2, PAYLOAD = 3, FILE_END = 4, PAYLOAD_DONE = 5;
// While the worker lags this many slots behind, the main thread checksums payloads
// itself (instead of waiting) and sends their CRCs to be combined.
const BUSY = SLOTS / 2;

const WORKER_SOURCE = `
import zlib from "node:zlib";
import { createHash } from "node:crypto";
${goJsonString.toString()}
${fileLine.toString()}
${tarSplitCore.toString()}
${crc64CombineParts.toString()}
const LO = ${KERNEL_STATE / 4}, HI = LO + 1, DONE = ${DONE}, FAILED = ${FAILED};
const DATA = ${KERNEL_DATA}, SLOT = ${SLOT};
const WINDOW = ${WINDOW};
let core, gz, hash = null, bytes, words;
function kernelCrc(module, memory) {
  const update = new WebAssembly.Instance(module, { m: { mem: memory } }).exports.update;
  return {
    reset() { words[LO] = 0; words[HI] = 0; },
    update(b) {
      if (b.buffer === bytes.buffer) return update(b.byteOffset, b.length);
      for (let off = 0; off < b.length; off += SLOT) {
        const part = b.subarray(off, off + SLOT);
        bytes.set(part, WINDOW);
        update(WINDOW, part.length);
      }
    },
    combine(hi, lo, len) {
      const c = crc64CombineParts(words[HI], words[LO], hi, lo, len);
      words[HI] = c[0];
      words[LO] = c[1];
    },
    digest() {
      const out = new Uint8Array(8), v = new DataView(out.buffer);
      v.setUint32(0, words[HI] >>> 0);
      v.setUint32(4, words[LO] >>> 0);
      return out;
    },
  };
}
const dec = new TextDecoder();
function run(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const len = buf.length;
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
    } else if (tag === ${PAYLOAD_DONE}) {
      const n = dv.getUint32(i, true), hi = dv.getInt32(i + 4, true), lo = dv.getInt32(i + 8, true);
      const withBytes = buf[i + 12];
      i += 13;
      if (withBytes) {
        hash.update(buf.subarray(i, i + n));
        i += n;
      }
      core.payloadDone(hi, lo, n);
    } else if (tag === ${FILE_START}) {
      core.flushSegment();
      core.fileStart();
    } else if (tag === ${FILE_END}) {
      const size = dv.getFloat64(i, true);
      const raw = buf[i + 8];
      const n = dv.getUint32(i + 9, true);
      i += 13;
      const name = buf.slice(i, i + n);
      i += n;
      if (raw) core.fileEnd("", name, size);
      else core.fileEnd(dec.decode(name), null, size);
    } else {
      throw new Error("tar-split worker: bad record " + tag);
    }
  }
}
self.onmessage = (e) => {
  try {
    handle(e.data);
  } catch (err) {
    if (words) {
      Atomics.store(words, FAILED, 1);
      Atomics.notify(words, DONE);
    }
    self.postMessage({ error: String(err && err.stack || err) });
  }
};
function handle(m) {
  if (m.slot !== undefined) {
    run(bytes.subarray(DATA + m.slot * SLOT, DATA + m.slot * SLOT + m.len));
    Atomics.add(words, DONE, 1);
    Atomics.notify(words, DONE);
  } else if (m.batch) {
    run(m.batch);
  } else if (m.end) {
    core.flushSegment();
    core.flush();
    gz.on("end", () => self.postMessage({ done: true, sha: hash ? hash.digest("hex") : null }));
    gz.end();
  } else {
    bytes = new Uint8Array(m.memory.buffer);
    words = new Int32Array(m.memory.buffer);
    if (m.hash) hash = createHash("sha256");
    // One gzip member for the whole file (what Go writes, and what the web
    // DecompressionStream reads), begun with the text recorded before the worker.
    gz = zlib.createGzip({ level: 1, chunkSize: 1 << 20 });
    gz.on("data", (d) => {
      const out = new Uint8Array(d);
      self.postMessage({ gz: out }, [out.buffer]);
    });
    gz.on("error", (err) => self.postMessage({ error: String(err) }));
    if (m.prefix) gz.write(m.prefix);
    core = tarSplitCore({
      text: (t) => gz.write(t),
      crc: kernelCrc(m.module, m.memory),
      pos: m.pos,
    });
  }
}
`;

/** The main thread's side of a recording core running on a worker. */
export class RemoteTarSplit {
  private readonly w: Worker;
  private readonly mem: Uint8Array;
  private readonly view: DataView;
  private readonly words: Int32Array;
  /** Slots posted so far; slot n lives at index n % SLOTS. */
  private posted = 0;
  /** Start of the current slot in `mem`, and bytes written in it. */
  private base: number;
  private len = 0;
  private failed: unknown = null;
  private done = false;
  private waiters: Array<() => void> = [];
  /** Hex sha256 of all segments and payloads, when started with `hash` (after `settle()`). */
  sha: string | null = null;
  private closed = false;
  private readonly enc = new TextEncoder();
  private readonly hashing: boolean;
  private readonly local = new Crc64();

  private constructor(
    pos: number,
    sink: (gz: Uint8Array) => void,
    kernel: { module: WebAssembly.Module; memory: WebAssembly.Memory },
    hash: boolean,
    prefix: string,
    private readonly busy: number,
  ) {
    this.mem = new Uint8Array(kernel.memory.buffer);
    this.view = new DataView(kernel.memory.buffer);
    this.words = new Int32Array(kernel.memory.buffer);
    this.words[DONE] = 0;
    this.words[FAILED] = 0;
    this.base = KERNEL_DATA;
    this.hashing = hash;
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
      } else if (m.done) {
        this.done = true;
        this.sha = m.sha;
        this.wake();
      } else if (m.error) {
        this.fail(new Error(`tar-split worker: ${m.error}`));
      }
    };
    this.w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`tar-split worker: ${e.message}`));
    };
    this.w.postMessage({ ...kernel, pos, hash, prefix });
  }

  /**
   * A worker core whose first line gets position `pos`, or null when none can start.
   * `sink` receives one gzip member in pieces: `prefix` (the text recorded so far), then
   * the worker's lines. With `hash`, the worker also computes the sha256 of every byte
   * given (`sha`). `busy`: slots of lag from which payloads are checksummed in-process
   * (tests lower it).
   */
  static start(
    pos: number,
    sink: (gz: Uint8Array) => void,
    hash = false,
    prefix = "",
    busy = BUSY,
  ): RemoteTarSplit | null {
    const k = crcSharedKernel(PAGES);
    if (!k) return null;
    try {
      return new RemoteTarSplit(pos, sink, k, hash, prefix, busy);
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
    this.mem[this.base + this.len++] = FILE_START;
  }

  /** Payload bytes of the current file. */
  payload(b: Uint8Array): void {
    if (b.length < 4096 || this.posted - Atomics.load(this.words, DONE) < this.busy) {
      return this.bytes(PAYLOAD, b);
    }
    // The worker lags: checksum here; it only combines (and hashes, when asked).
    let off = 0;
    while (off < b.length) {
      if (SLOT - this.len < 14 + (this.hashing ? 1 : 0)) this.post();
      const take = this.hashing ? Math.min(b.length - off, SLOT - this.len - 14) : b.length - off;
      const part = off === 0 && take === b.length ? b : b.subarray(off, off + take);
      this.local.reset();
      const [hi, lo] = this.local.update(part).parts();
      const at = this.base + this.len;
      this.mem[at] = PAYLOAD_DONE;
      this.view.setUint32(at + 1, take, true);
      this.view.setInt32(at + 5, hi, true);
      this.view.setInt32(at + 9, lo, true);
      this.mem[at + 13] = this.hashing ? 1 : 0;
      this.len += 14;
      if (this.hashing) {
        this.mem.set(part, this.base + this.len);
        this.len += take;
      }
      off += take;
    }
  }

  /** The current file ended. */
  fileEnd(name: string, nameRaw: Uint8Array | null | undefined, size: number): void {
    const max = 14 + (nameRaw ? nameRaw.length : name.length * 3);
    if (max > SLOT) return this.bigFileEnd(name, nameRaw, size);
    this.room(max);
    const at = this.base + this.len;
    this.mem[at] = FILE_END;
    this.view.setFloat64(at + 1, size, true);
    this.mem[at + 9] = nameRaw ? 1 : 0;
    let n: number;
    if (nameRaw) {
      this.mem.set(nameRaw, at + 14);
      n = nameRaw.length;
    } else n = this.enc.encodeInto(name, this.mem.subarray(at + 14, at + max)).written;
    this.view.setUint32(at + 10, n, true);
    this.len += 14 + n;
  }

  /** The stream ended: the worker writes what it holds. */
  end(): void {
    this.post();
    this.w.postMessage({ end: true });
  }

  /** Back-pressure is given by `update`'s waits on a full ring: nothing to wait for here. */
  ready(): Promise<void> | undefined {
    return undefined;
  }

  /** Waits until the worker wrote everything (after `end()`); rethrows its failure. */
  async settle(): Promise<void> {
    while (!this.done && !this.failed) await new Promise<void>((r) => this.waiters.push(r));
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

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    this.wake();
  }

  /** A FILE_END record too large for a slot, as a message of its own (after the slot). */
  private bigFileEnd(name: string, nameRaw: Uint8Array | null | undefined, size: number): void {
    const nb = nameRaw ?? this.enc.encode(name);
    const rec = new Uint8Array(14 + nb.length);
    const v = new DataView(rec.buffer);
    rec[0] = FILE_END;
    v.setFloat64(1, size, true);
    rec[9] = nameRaw ? 1 : 0;
    v.setUint32(10, nb.length, true);
    rec.set(nb, 14);
    this.post();
    this.w.postMessage({ batch: rec }, [rec.buffer]);
  }

  /** Copies `b` in records of kind `tag`, split across slots. */
  private bytes(tag: number, b: Uint8Array): void {
    let off = 0;
    while (off < b.length) {
      if (SLOT - this.len < 6) this.post();
      const take = Math.min(b.length - off, SLOT - this.len - 5);
      const at = this.base + this.len;
      this.mem[at] = tag;
      this.view.setUint32(at + 1, take, true);
      this.mem.set(off === 0 && take === b.length ? b : b.subarray(off, off + take), at + 5);
      this.len += 5 + take;
      off += take;
    }
  }

  /** Makes room for a record of `n` (<= SLOT) bytes. */
  private room(n: number): void {
    if (this.len + n > SLOT) this.post();
  }

  /** Hands the current slot to the worker and waits until the next one is free. */
  private post(): void {
    if (this.len === 0 || this.failed) {
      this.len = 0;
      return;
    }
    this.w.postMessage({ slot: this.posted % SLOTS, len: this.len });
    this.posted++;
    this.len = 0;
    this.base = KERNEL_DATA + (this.posted % SLOTS) * SLOT;
    let last = Atomics.load(this.words, DONE), since = Date.now();
    while (this.posted - last >= SLOTS) {
      if (Atomics.load(this.words, FAILED) || Date.now() - since > STALL_MS) {
        this.fail(new Error("tar-split worker failed or stalled"));
        return;
      }
      Atomics.wait(this.words, DONE, last, 100);
      const done = Atomics.load(this.words, DONE);
      if (done !== last) (last = done, since = Date.now());
    }
  }
}
