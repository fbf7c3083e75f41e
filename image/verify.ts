/**
 * Blob verification while streaming: bytes are hashed and counted as the consumer reads
 * them, and `verify()` checks digest and size once the blob has been read to its end
 * (reading whatever the consumer left), so no blob is trusted before all of it was seen.
 *
 * @module
 */
import type { Hash } from "node:crypto";
import { nodeCrypto } from "../store/node_lazy.ts";
import { concatBytes } from "../store/streams.ts";
import { BlobSizeMismatchError, DigestMismatchError } from "./errors.ts";

/** The node:crypto name of a digest's algorithm. */
function algorithmOf(digest: string): string {
  return digest.slice(0, digest.indexOf(":"));
}

/**
 * Wraps a blob stream: `stream` yields the same bytes, and `verify()` resolves when the
 * blob matched `digest` and `size` (size -1: unknown), else rejects with
 * DigestMismatchError / BlobSizeMismatchError. A consumer that stops early (cancels)
 * does not end the source: `verify()` reads the rest.
 */
export class VerifyingStream {
  /** The bytes of the blob, in order. */
  readonly stream: ReadableStream<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #hash: Hash;
  readonly #digest: string;
  readonly #size: number;
  #seen = 0;
  #ended = false;
  #failure: unknown = null;
  /** The outcome once checked: null when the blob matched. */
  #result: Error | null | undefined = undefined;

  constructor(source: ReadableStream<Uint8Array>, digest: string, size: number) {
    this.#reader = source.getReader();
    this.#hash = nodeCrypto().createHash(algorithmOf(digest));
    this.#digest = digest;
    this.#size = size;
    this.stream = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        const chunk = await this.#next();
        if (chunk === null) {
          // Fail the consumer too, so that it never commits a blob that did not verify.
          const err = this.#check();
          if (err) c.error(err);
          else c.close();
        } else c.enqueue(chunk);
      },
      cancel: () => {/* the rest is read by verify() */},
    }, { highWaterMark: 0 });
  }

  /** The error this stream raised to its consumer (size or digest), if any. */
  get error(): Error | null {
    return (this.#result ?? this.#failure ?? null) as Error | null;
  }

  /** Bytes seen so far. */
  get bytesRead(): number {
    return this.#seen;
  }

  async #next(): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await this.#reader.read();
    } catch (e) {
      this.#failure = e;
      this.#ended = true;
      throw e;
    }
    if (r.done) {
      this.#ended = true;
      return null;
    }
    this.#hash.update(r.value);
    this.#seen += r.value.length;
    if (this.#size >= 0 && this.#seen > this.#size) {
      this.#ended = true;
      this.#failure = new BlobSizeMismatchError(this.#digest, this.#size, this.#seen);
      void this.#reader.cancel().catch(() => {});
      throw this.#failure;
    }
    return r.value;
  }

  #check(): Error | null {
    if (this.#result !== undefined) return this.#result;
    if (this.#failure) return (this.#result = this.#failure as Error);
    if (this.#size >= 0 && this.#seen !== this.#size) {
      return (this.#result = new BlobSizeMismatchError(this.#digest, this.#size, this.#seen));
    }
    const got = `${algorithmOf(this.#digest)}:${this.#hash.digest("hex")}`;
    return (this.#result = got === this.#digest ? null : new DigestMismatchError(this.#digest, got));
  }

  /** Reads what the consumer left and checks digest and size. */
  async verify(): Promise<void> {
    while (!this.#ended) await this.#next();
    const err = this.#check();
    if (err) throw err;
  }

  /** Releases the source without verifying (after a failure elsewhere). */
  async abort(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/** Reads a small blob whole and verifies it (manifests, configs, indexes). */
export async function readVerified(
  source: ReadableStream<Uint8Array>,
  digest: string,
  size: number,
  limit = 16 << 20,
): Promise<Uint8Array> {
  const v = new VerifyingStream(source, digest, size);
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of v.stream) {
      n += c.length;
      if (n > limit) throw new BlobSizeMismatchError(digest, limit, n, "blob too large");
      parts.push(c.slice());
    }
    await v.verify();
  } finally {
    await v.abort();
  }
  return concatBytes(parts, n);
}

/** Streams `length` bytes of a file from `offset` (whole file when both are omitted). */
export async function fileRangeStream(
  path: string,
  offset = 0,
  length = -1,
): Promise<ReadableStream<Uint8Array>> {
  const f = await Deno.open(path, { read: true });
  if (offset) await f.seek(offset, Deno.SeekMode.Start);
  let left = length;
  const close = () => {
    try {
      f.close();
    } catch { /* closed */ }
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (left === 0) {
        close();
        c.close();
        return;
      }
      const buf = new Uint8Array(left < 0 ? 1 << 20 : Math.min(left, 1 << 20));
      let n: number | null;
      try {
        n = await f.read(buf);
      } catch (e) {
        close();
        throw e;
      }
      if (n === null) {
        close();
        c.close();
        return;
      }
      if (left > 0) left -= n;
      c.enqueue(buf.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}
