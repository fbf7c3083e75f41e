/**
 * Output helpers: Go `encoding/json` encoding of CLI values and the byte sinks
 * commands write to.
 *
 * JSON values follow Go (1.19, the reference binary's toolchain): compact,
 * `<>&` escaped as `\u003c\u003e\u0026`, U+2028/U+2029 escaped, control
 * characters as `\u00XX` except `\n\r\t`, plain objects in insertion order
 * (Go struct field order), `Map`s with keys sorted bytewise (Go maps), an
 * `Error` as `{}` (no exported fields).
 *
 * @module
 */

import { concatBytes } from "../store/streams.ts";

export { goList, goQuote } from "./quote.ts";

const HEX = "0123456789abcdef";

/** Already-encoded JSON, embedded verbatim (records encoded by the store's codec). */
export class RawJSON {
  /** The encoded text. */
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** Encodes a string as Go's encoding/json does with HTML escaping on. */
export function goJSONString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c !== 0x3c && c !== 0x3e && c !== 0x26) continue;
      if (c === 0x22) esc = '\\"';
      else if (c === 0x5c) esc = "\\\\";
      else if (c === 0x0a) esc = "\\n";
      else if (c === 0x0d) esc = "\\r";
      else if (c === 0x09) esc = "\\t";
      else esc = "\\u00" + HEX[c >> 4] + HEX[c & 0xf];
    } else if (c === 0x2028) {
      esc = "\\u2028";
    } else if (c === 0x2029) {
      esc = "\\u2029";
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      esc = "\\ufffd";
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      esc = "\\ufffd";
    } else {
      continue;
    }
    out += s.slice(start, i) + esc;
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

const utf8 = new TextEncoder();

/** Go compares map keys as byte strings (UTF-8), not as UTF-16 code units. */
function compareBytes(a: string, b: string): number {
  const x = utf8.encode(a), y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** Encodes a value the way Go's json.Marshal would encode the corresponding Go value. */
export function goJSON(v: unknown): string {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "string":
      return goJSONString(v);
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "bigint":
      return v.toString();
    case "boolean":
      return v ? "true" : "false";
  }
  if (v instanceof RawJSON) return v.text;
  if (Array.isArray(v)) return "[" + v.map(goJSON).join(",") + "]";
  if (v instanceof Map) {
    const keys = [...v.keys()].map(String).sort(compareBytes);
    return "{" + keys.map((k) => goJSONString(k) + ":" + goJSON(v.get(k))).join(",") + "}";
  }
  if (v instanceof Error) return "{}";
  const o = v as Record<string, unknown>;
  return "{" + Object.keys(o).map((k) => goJSONString(k) + ":" + goJSON(o[k])).join(",") + "}";
}

/** A destination for command output (stdout or stderr). */
export interface Sink {
  /** Writes all bytes. */
  write(data: Uint8Array): Promise<void>;
}

/** Wraps a Deno writer (e.g. `Deno.stdout`) as a Sink that writes everything. */
export function writerSink(w: { write(p: Uint8Array): Promise<number> }): Sink {
  return {
    async write(data: Uint8Array) {
      let off = 0;
      while (off < data.length) off += await w.write(data.subarray(off));
    },
  };
}

/** A Sink that keeps what is written (for tests and for capturing usage text). */
export class MemorySink implements Sink {
  private readonly chunks: Uint8Array[] = [];
  /** Appends a copy of the data. */
  write(data: Uint8Array): Promise<void> {
    this.chunks.push(data.slice());
    return Promise.resolve();
  }
  /** Everything written, decoded as UTF-8. */
  text(): string {
    const dec = new TextDecoder();
    return this.chunks.map((c) => dec.decode(c, { stream: true })).join("") + dec.decode();
  }
  /** Everything written, as bytes. */
  bytes(): Uint8Array {
    return concatBytes(this.chunks);
  }
}

/** Text-level printer over a Sink. */
export class Printer {
  /** The underlying byte sink. */
  readonly sink: Sink;
  constructor(sink: Sink) {
    this.sink = sink;
  }
  /** Writes text as UTF-8. */
  print(text: string): Promise<void> {
    return text.length === 0 ? Promise.resolve() : this.sink.write(utf8.encode(text));
  }
  /** Writes raw bytes. */
  bytes(data: Uint8Array): Promise<void> {
    return this.sink.write(data);
  }
  /** Writes one JSON value followed by a newline, as json.NewEncoder(os.Stdout).Encode does. */
  json(v: unknown): Promise<void> {
    return this.print(goJSON(v) + "\n");
  }
}
