/**
 * Byte-stream helpers: every ByteSource the API accepts becomes a ReadableStream.
 *
 * @module
 */
import type { ByteSource } from "./types.ts";

/** Turns a Uint8Array, ReadableStream or async iterable of chunks into a ReadableStream. */
export function toReadableStream(source: ByteSource): ReadableStream<Uint8Array> {
  if (source instanceof ReadableStream) return source;
  if (source instanceof Uint8Array) {
    return new ReadableStream<Uint8Array>({
      start(c) {
        if (source.length > 0) c.enqueue(source);
        c.close();
      },
    });
  }
  return ReadableStream.from(source as AsyncIterable<Uint8Array>);
}

/** Reads a whole stream into memory (for small items such as big data). */
export async function readAll(source: ByteSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of toReadableStream(source)) {
    chunks.push(c);
    n += c.length;
  }
  return concatBytes(chunks, n);
}

/** The chunks joined into one new array; `total` is their summed length when the caller knows it. */
export function concatBytes(
  parts: readonly Uint8Array[],
  total: number = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
