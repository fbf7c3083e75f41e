/**
 * Test helpers: small in-memory tars made with the project's tar writer, and streams of bytes.
 *
 * @module
 */
import { encodeHeader, padding, type TarWriteHeader, trailer } from "../../archive/tar_writer.ts";
import { TypeFlag } from "../../archive/types.ts";
import { concatBytes } from "../streams.ts";

const enc = new TextEncoder();

/** A tar member: files carry `data`, directories end in `/` (or say their `type`). */
export interface Member {
  /** Entry name. */
  name: string;
  /** TypeFlag (default: a directory when the name ends in `/`, else a regular file). */
  type?: number;
  /** File content (regular files). */
  data?: string;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** Permission bits (default 0755 for directories, 0644 for the rest). */
  mode?: number;
  /** Hard or symbolic link target. */
  linkname?: string;
}

/** Builds an uncompressed tar (two zero blocks at the end), every entry with mtime `mtimeNs`. */
export function makeTar(members: Member[], mtimeNs = 1_600_000_000_000_000_000n): Uint8Array {
  return tarOfHeaders(members.map((m) => {
    const type = m.type ?? (m.name.endsWith("/") ? TypeFlag.Dir : TypeFlag.Reg);
    return {
      name: m.name,
      type,
      mode: m.mode ?? (type === TypeFlag.Dir ? 0o755 : 0o644),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      mtimeNs,
      linkname: m.linkname,
      data: type === TypeFlag.Reg ? m.data ?? "" : undefined,
    };
  }));
}

/**
 * Builds an uncompressed tar from full headers and optional string/byte contents (the
 * size is set from the content when there is one).
 */
export function tarOfHeaders(entries: Array<TarWriteHeader & { data?: string | Uint8Array }>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = typeof e.data === "string" ? enc.encode(e.data) : e.data;
    parts.push(encodeHeader({ ...e, size: data ? data.length : (e.size ?? 0) }));
    if (data) parts.push(data, padding(data.length));
  }
  parts.push(trailer());
  return concatBytes(parts);
}

/** A stream of `bytes` in chunks of `chunk` bytes. */
export function streamOf(bytes: Uint8Array, chunk = 65536): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + chunk));
      off += chunk;
    },
  });
}

/** gzip of some bytes. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Reads a whole stream. */
export async function collect(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}
