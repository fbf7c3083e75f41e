/**
 * The file-system-free part of tar-split recording: turning raw segments and file
 * entries into Go's JSON lines and checksumming payloads; the host compresses the text. Used in-process by TarSplitRecorder, and as the body of its worker
 * (archive/tarsplit_remote.ts) for large streams.
 *
 * The functions here are self-contained (they use nothing from module scope but each
 * other, by name), because their source text is also what the worker runs.
 *
 * @module
 */

/** JSON-encodes a string as Go's encoding/json does (HTML-safe escapes, \u00XX controls). */
export function goJsonString(s: string): string {
  let out = JSON.stringify(s);
  if (/[<>&\u2028\u2029\b\f]/.test(out)) {
    out = out.replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"))
      .replace(/\\[bf]/g, (m) => (m === "\\b" ? "\\u0008" : "\\u000c"));
  }
  return out;
}

/** The JSON line of a file entry at `position`: `crc` is null for empty payloads. */
export function fileLine(
  name: string,
  nameRaw: Uint8Array | null | undefined,
  size: number,
  crc: Uint8Array | null,
  position: number,
): string {
  let s = `{"type":1`;
  // deno-lint-ignore no-explicit-any
  if (nameRaw) s += `,"name_raw":"${(nameRaw as any).toBase64()}"`;
  else if (name !== "") s += `,"name":${goJsonString(name)}`;
  if (size !== 0) s += `,"size":${size}`;
  // deno-lint-ignore no-explicit-any
  s += crc ? `,"payload":"${(crc as any).toBase64()}"` : `,"payload":null`;
  return s + `,"position":${position}}\n`;
}

/** A running CRC-64 as the core needs it. */
export interface CoreCrc {
  reset(): void;
  update(b: Uint8Array): void;
  /** Appends `len` bytes whose own CRC (value halves) was computed elsewhere. */
  combine?(hi: number, lo: number, len: number): void;
  digest(): Uint8Array;
}

/** What the core needs from its host. */
export interface CoreEnv {
  /** Receives the JSON text in order, in pieces of about 1 MiB (the host compresses it). */
  text(t: string): void;
  crc: CoreCrc;
  /** Position of the first line. */
  pos: number;
}

/** The recording core; see tarSplitCore. */
export interface TarSplitCore {
  /** Raw bytes that are not payload (merged into lines of up to 1 MiB). */
  segment(b: Uint8Array): void;
  /** Writes the pending segment's line. */
  flushSegment(): void;
  /** A file's payload begins (after flushSegment). */
  fileStart(): void;
  /** Payload bytes of the current file. */
  payload(b: Uint8Array): void;
  /** `len` payload bytes of the current file whose CRC was computed elsewhere. */
  payloadDone(hi: number, lo: number, len: number): void;
  /** The current file ended: writes its line (`name` decoded, or its raw bytes). */
  fileEnd(name: string, nameRaw: Uint8Array | null | undefined, size: number): void;
  /** Hands the buffered text to the host. */
  flush(): void;
  /** Position the next line gets. */
  position(): number;
}

/** A recording core writing to `env` (self-contained: also the worker's body). */
export function tarSplitCore(env: CoreEnv): TarSplitCore {
  // Segments longer than this are split into several lines (Go uses 1 MiB padding chunks).
  const MAX_SEGMENT = 1 << 20;
  // JSON text buffered before it is compressed and written.
  const FLUSH_TEXT = 1 << 20;
  let pos = env.pos;
  let text: string[] = [];
  let textLen = 0;
  let seg = new Uint8Array(64 * 1024);
  let segLen = 0;
  const line = (s: string) => {
    text.push(s);
    textLen += s.length;
    if (textLen >= FLUSH_TEXT) flush();
  };
  const flush = () => {
    if (textLen === 0) return;
    const body = text.join("");
    text = [];
    textLen = 0;
    env.text(body);
  };
  const flushSegment = () => {
    if (segLen === 0) return;
    // deno-lint-ignore no-explicit-any
    line(`{"type":2,"payload":"${(seg.subarray(0, segLen) as any).toBase64()}","position":${pos++}}\n`);
    segLen = 0;
  };
  return {
    segment(b: Uint8Array): void {
      let off = 0;
      while (off < b.length) {
        if (segLen === MAX_SEGMENT) flushSegment();
        if (segLen + (b.length - off) > seg.length && seg.length < MAX_SEGMENT) {
          const grown = new Uint8Array(
            Math.min(MAX_SEGMENT, Math.max(seg.length * 2, segLen + b.length - off)),
          );
          grown.set(seg.subarray(0, segLen));
          seg = grown;
        }
        const take = Math.min(b.length - off, seg.length - segLen);
        seg.set(off === 0 && take === b.length ? b : b.subarray(off, off + take), segLen);
        segLen += take;
        off += take;
      }
    },
    flushSegment,
    fileStart(): void {
      env.crc.reset();
    },
    payload(b: Uint8Array): void {
      env.crc.update(b);
    },
    payloadDone(hi: number, lo: number, len: number): void {
      env.crc.combine!(hi, lo, len);
    },
    fileEnd(name: string, nameRaw: Uint8Array | null | undefined, size: number): void {
      line(fileLine(name, nameRaw, size, size > 0 ? env.crc.digest() : null, pos++));
    },
    flush,
    position: () => pos,
  };
}
