/**
 * Compression detection, streaming decompression and compression of layer diffs
 * (on-disk.md 5.1, 5.2). gzip and zstd go through `node:zlib` streams; bzip2 and xz
 * through the system `bzip2 -dc` / `xz -dc` programs, as Go's containers/storage does.
 *
 * @module
 */
import { nodeZlib } from "../store/node_lazy.ts";
import { ArchiveError } from "../store/errors.ts";
import { Compression } from "../store/types.ts";
import { concatBytes } from "../store/streams.ts";

export { Compression };

/** How many bytes `decompress` may look at before deciding (as Go's reader does). */
export const PEEK_SIZE = 10240;

/** Asking for an output compression that cannot be produced (Go: `unsupported compression format tar.xz`). */
export class UnsupportedCompressionError extends ArchiveError {
  constructor(extension: string, options?: ErrorOptions) {
    super(`unsupported compression format ${extension}`, undefined, options);
  }
}

/** Detects the compression of a stream from its first bytes (magic numbers); `None` otherwise. */
export function detectCompression(bytes: Uint8Array): Compression {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return Compression.Bzip2;
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return Compression.Gzip;
  if (
    b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a &&
    b[5] === 0x00
  ) return Compression.Xz;
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) {
    return Compression.Zstd;
  }
  return Compression.None;
}

/** The file extension Go uses for a compression (`tar`, `tar.gz`, ...), as in its error texts. */
export function compressionExtension(c: Compression): string {
  switch (c) {
    case Compression.Bzip2:
      return "tar.bz2";
    case Compression.Gzip:
      return "tar.gz";
    case Compression.Xz:
      return "tar.xz";
    case Compression.Zstd:
      return "tar.zst";
    default:
      return "tar";
  }
}

/** Reads chunks until `min` bytes were seen or the stream ended; returns them and the reader. */
async function peek(
  input: ReadableStream<Uint8Array>,
  min: number,
): Promise<
  { head: Uint8Array[]; headLen: number; reader: ReadableStreamDefaultReader<Uint8Array>; done: boolean }
> {
  const reader = input.getReader();
  const head: Uint8Array[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < min) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    if (r.value.length === 0) continue;
    head.push(r.value);
    headLen += r.value.length;
  }
  return { head, headLen, reader, done };
}

/** A stream that yields `head` then whatever `reader` still has. */
function rejoin(
  head: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: boolean,
): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (i < head.length) {
        c.enqueue(head[i++]);
        return;
      }
      if (done) {
        c.close();
        return;
      }
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Detects the compression of `input` (peeking at its first bytes without losing them)
 * and returns the decompressed stream. Malformed compressed data makes the returned
 * stream error with an `ArchiveError`.
 */
export async function decompress(
  input: ReadableStream<Uint8Array>,
): Promise<{ compression: Compression; stream: ReadableStream<Uint8Array> }> {
  // Six bytes decide every format; more chunks are not needed (Go peeks up to PEEK_SIZE).
  const { head, headLen, reader, done } = await peek(input, 6);
  // The usual single chunk is not copied.
  const first = head.length === 1 ? head[0] : concatBytes(head, headLen);
  const compression = detectCompression(first.subarray(0, 6));
  const raw = rejoin(head, reader, done);
  switch (compression) {
    case Compression.None:
      return { compression, stream: raw };
    case Compression.Gzip:
      return {
        compression,
        stream: throughNode(raw, nodeZlib().createGunzip({ chunkSize: 256 * 1024 }), "gzip"),
      };
    case Compression.Zstd:
      // The zstd program reports truncated frames (node:zlib silently stops) and is faster.
      return {
        compression,
        stream: throughProgram(raw, "zstd", ["-d", "-c", "-q"], () => nodeZlib().createZstdDecompress()),
      };
    case Compression.Bzip2:
      return { compression, stream: throughProgram(raw, "bzip2", ["-d", "-c", "-q"]) };
    case Compression.Xz:
      return { compression, stream: throughProgram(raw, "xz", ["-d", "-c", "-q"]) };
  }
}

/**
 * Compresses `input` for output. Only none, gzip and zstd can be produced; bzip2 and xz
 * throw `UnsupportedCompressionError` (Go: `unsupported compression format tar.bz2`).
 */
export function compress(
  input: ReadableStream<Uint8Array>,
  compression: Compression,
): ReadableStream<Uint8Array> {
  switch (compression) {
    case Compression.None:
      return input;
    case Compression.Gzip:
      return throughNode(input, nodeZlib().createGzip({ chunkSize: 256 * 1024 }), "gzip");
    case Compression.Zstd:
      return throughNode(input, nodeZlib().createZstdCompress(), "zstd");
    default:
      throw new UnsupportedCompressionError(compressionExtension(compression));
  }
}

/** Maps a zlib error to an ArchiveError with Go-like wording. */
function zlibError(kind: string, err: unknown): ArchiveError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/unexpected end of file|premature end|truncated/i.test(msg)) {
    return new ArchiveError("unexpected EOF", `${kind}`, { cause: err });
  }
  return new ArchiveError(`${kind}: ${msg}`, undefined, { cause: err });
}

// deno-lint-ignore no-explicit-any
type NodeTransform = any;

/** Pipes a web stream through a node:zlib transform, with backpressure both ways. */
function throughNode(
  input: ReadableStream<Uint8Array>,
  z: NodeTransform,
  kind: string,
): ReadableStream<Uint8Array> {
  const reader = input.getReader();
  let failed: unknown = null;
  let pumping = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const fail = (e: unknown) => {
    if (failed) return;
    failed = e;
    try {
      controller.error(e);
    } catch { /* already closed */ }
    reader.cancel(e).catch(() => {});
    z.destroy();
  };
  const pump = async () => {
    pumping = true;
    try {
      for (;;) {
        const r = await reader.read();
        if (failed) return;
        if (r.done) {
          z.end();
          return;
        }
        if (!z.write(r.value)) {
          await new Promise<void>((res) => {
            const ok = () => {
              z.off("drain", ok);
              z.off("close", ok);
              res();
            };
            z.on("drain", ok);
            z.on("close", ok);
          });
        }
      }
    } catch (e) {
      fail(e instanceof ArchiveError ? e : zlibError(kind, e));
    }
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      z.on("data", (d: Uint8Array) => {
        if (failed) return;
        c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        if ((c.desiredSize ?? 1) <= 0) z.pause();
      });
      z.on("end", () => {
        if (!failed) c.close();
      });
      z.on("error", (e: unknown) => fail(zlibError(kind, e)));
    },
    pull() {
      if (!pumping) pump();
      z.resume();
    },
    cancel(reason) {
      failed = reason ?? new Error("cancelled");
      z.destroy();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 4 });
}

/** Pipes a web stream through an external filter program (`xz -dc`, `bzip2 -dc`). */
function throughProgram(
  input: ReadableStream<Uint8Array>,
  program: string,
  args: string[],
  fallback?: () => NodeTransform,
): ReadableStream<Uint8Array> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  } catch (e) {
    if (fallback && e instanceof Deno.errors.NotFound) return throughNode(input, fallback(), program);
    return new ReadableStream({
      start(c) {
        c.error(
          new ArchiveError(`${program}: cannot run decompressor: ${(e as Error).message}`, undefined, {
            cause: e,
          }),
        );
      },
    });
  }
  // Feed stdin in the background; a failure surfaces through the exit status below.
  const feeding = input.pipeTo(child.stdin).catch(() => {});
  const stderrText = new Response(child.stderr).text().catch(() => "");
  const out = child.stdout.getReader();
  let finished = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (finished) return;
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await out.read();
      } catch (e) {
        finished = true;
        c.error(new ArchiveError(`${program}: ${(e as Error).message}`, undefined, { cause: e }));
        return;
      }
      if (!r.done) {
        c.enqueue(r.value);
        return;
      }
      finished = true;
      const [status, err] = await Promise.all([child.status, stderrText, feeding]).then((x) =>
        [x[0], x[1]] as const
      );
      if (status.success) c.close();
      else {
        const text = err.trim().replace(/^[^:]*: \(stdin\): /, "");
        const msg = /unexpected end|ends unexpectedly|truncated/i.test(text)
          ? "unexpected EOF"
          : text || `exit status ${status.code}`;
        c.error(new ArchiveError(msg, program));
      }
    },
    async cancel() {
      finished = true;
      try {
        child.kill();
      } catch { /* exited */ }
      await out.cancel().catch(() => {});
      await child.status;
    },
  }, { highWaterMark: 0 });
}
