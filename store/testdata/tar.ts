/**
 * Test helper: small in-memory tars made with the project's tar writer.
 *
 * @module
 */
import { encodeHeader, padding, trailer } from "../../archive/tar_writer.ts";
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
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const type = m.type ?? (m.name.endsWith("/") ? TypeFlag.Dir : TypeFlag.Reg);
    const data = enc.encode(m.data ?? "");
    const size = type === TypeFlag.Reg ? data.length : 0;
    parts.push(encodeHeader({
      name: m.name,
      type,
      mode: m.mode ?? (type === TypeFlag.Dir ? 0o755 : 0o644),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      size,
      mtimeNs,
      linkname: m.linkname,
    }));
    if (size > 0) parts.push(data, padding(size));
  }
  parts.push(trailer());
  return concatBytes(parts);
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
