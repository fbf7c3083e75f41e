/**
 * A TarObserver that hashes (sha256) and counts every byte of the tar stream it sees:
 * the layer's `diff-digest` and `diff-size` computed in the extraction pass itself,
 * without an extra stream stage. Segments and payloads together are the whole stream
 * (trailer and trailing bytes included), in order.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import type { TarObserver } from "./types.ts";

/** sha256 and byte count of the uncompressed tar stream. */
export class HashObserver implements TarObserver {
  private readonly h: Hash = createHash("sha256");
  /** Bytes seen so far. */
  size = 0;

  segment(b: Uint8Array): void {
    this.h.update(b);
    this.size += b.length;
  }

  payload(b: Uint8Array): void {
    this.h.update(b);
    this.size += b.length;
  }

  /** `sha256:<hex>` of everything seen (call once, at the end). */
  digest(): string {
    return `sha256:${this.h.digest("hex")}`;
  }
}
