/**
 * Fast byte sources for tar input. Deno's `FsFile.readable` reads 64 KiB per async op;
 * for multi-hundred-megabyte layers the per-op cost dominates, so these read 256 KiB at
 * a time and keep a chunk read ahead (fresh buffers: chunks are never reused).
 *
 * @module
 */

/** Anything with an async `read` (Deno.FsFile, Deno.stdin). */
export interface AsyncByteReader {
  /** Reads into `p`; resolves to the byte count or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Releases the reader (called at the end or on cancel). */
  close?(): void;
}

const sizes = new WeakMap<ReadableStream<Uint8Array>, number>();

/** The size of the regular file a `fileSource` stream reads, when known (to pick a strategy). */
export function sourceSize(s: unknown): number | undefined {
  return s instanceof ReadableStream ? sizes.get(s) : undefined;
}

/** Default chunk size of the sources. */
export const SOURCE_CHUNK = 256 * 1024;

/** A ReadableStream over a reader, in chunks of up to `chunkSize` bytes. */
export function readerStream(r: AsyncByteReader, chunkSize = SOURCE_CHUNK): ReadableStream<Uint8Array> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      r.close?.();
    } catch { /* already closed */ }
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const buf = new Uint8Array(chunkSize);
      let n: number | null;
      try {
        n = await r.read(buf);
      } catch (e) {
        close();
        throw e;
      }
      if (n === null) {
        close();
        c.close();
      } else if (n > 0) c.enqueue(n === chunkSize ? buf : buf.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 2 });
}

/**
 * A file's content as a stream of large chunks. Regular files are read synchronously
 * (page-cache reads are cheaper than a thread-pool round trip per chunk); other files
 * (pipes, devices) asynchronously.
 */
export async function fileSource(
  path: string,
  chunkSize = SOURCE_CHUNK,
): Promise<ReadableStream<Uint8Array>> {
  const f = await Deno.open(path, { read: true });
  let regular = false;
  let size = 0;
  try {
    const st = await f.stat();
    regular = st.isFile;
    size = st.size;
  } catch { /* treat as a stream */ }
  if (!regular) return readerStream(f, chunkSize);
  let done = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const buf = new Uint8Array(chunkSize);
      let n: number | null;
      try {
        n = f.readSync(buf);
      } catch (e) {
        done = true;
        f.close();
        throw e;
      }
      if (n === null) {
        done = true;
        f.close();
        c.close();
      } else c.enqueue(n === chunkSize ? buf : buf.subarray(0, n));
    },
    cancel() {
      if (!done) f.close();
      done = true;
    },
  }, { highWaterMark: 2 });
  sizes.set(stream, size);
  return stream;
}
