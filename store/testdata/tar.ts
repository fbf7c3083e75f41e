/**
 * Test helper: small in-memory tars made with the project's tar writer.
 *
 * @module
 */
import { encodeHeader, padding, trailer } from "../../archive/tar_writer.ts";
import { TypeFlag } from "../../archive/types.ts";

const enc = new TextEncoder();

/** A tar member: files carry `data`, directories end in `/`. */
export interface Member {
  /** Entry name. */
  name: string;
  /** File content (regular files). */
  data?: string;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** Permission bits. */
  mode?: number;
}

/** Builds an uncompressed tar (two zero blocks at the end). */
export function makeTar(members: Member[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const isDir = m.name.endsWith("/");
    const data = enc.encode(m.data ?? "");
    parts.push(encodeHeader({
      name: m.name,
      type: isDir ? TypeFlag.Dir : TypeFlag.Reg,
      mode: m.mode ?? (isDir ? 0o755 : 0o644),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      size: isDir ? 0 : data.length,
      mtimeNs: 1_600_000_000_000_000_000n,
    }));
    if (!isDir && data.length > 0) parts.push(data, padding(data.length));
  }
  parts.push(trailer());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
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
