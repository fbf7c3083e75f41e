/**
 * Digests as the store uses them: `algorithm:hex` strings validated with go-digest's
 * rules and errors, and sha256 computed while data streams past.
 *
 * @module
 */
import type { Hash } from "node:crypto";
import { nodeCrypto } from "./node_lazy.ts";
import { InvalidDigestFormatError, InvalidDigestLengthError, UnsupportedDigestError } from "./errors.ts";

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const LOWER_HEX = /^[a-f0-9]+$/;

/**
 * Checks a digest string as go-digest's `Digest.Validate` does. Throws
 * InvalidDigestFormatError, InvalidDigestLengthError or UnsupportedDigestError, each
 * carrying go-digest's message.
 */
export function validateDigest(d: string): void {
  const i = d.indexOf(":");
  if (i <= 0 || i + 1 === d.length) throw new InvalidDigestFormatError();
  const algorithm = d.slice(0, i);
  const encoded = d.slice(i + 1);
  const want = HEX_LENGTH[algorithm];
  if (want === undefined) {
    if (!ANY_DIGEST.test(d)) throw new InvalidDigestFormatError();
    throw new UnsupportedDigestError();
  }
  if (encoded.length !== want) throw new InvalidDigestLengthError();
  if (!LOWER_HEX.test(encoded)) throw new InvalidDigestFormatError();
}

/** Whether `d` is a valid digest. */
export function isValidDigest(d: string): boolean {
  try {
    validateDigest(d);
    return true;
  } catch {
    return false;
  }
}

/** The `sha256:<hex>` digest of some bytes. */
export function sha256Digest(data: Uint8Array | string): string {
  return "sha256:" + nodeCrypto().createHash("sha256").update(data).digest("hex");
}

/** The digest of empty input. */
export const EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Counts and hashes bytes fed to it piecewise. */
export class DigestCounter {
  #hash: Hash = nodeCrypto().createHash("sha256");
  #size = 0;
  #result: string | null = null;

  /** Adds a chunk. */
  update(chunk: Uint8Array): void {
    if (this.#result !== null) throw new Error("DigestCounter: update after digest()");
    this.#hash.update(chunk);
    this.#size += chunk.length;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** The `sha256:<hex>` of everything seen (ends the hash). */
  digest(): string {
    if (this.#result === null) this.#result = "sha256:" + this.#hash.digest("hex");
    return this.#result;
  }
}

/**
 * A pass-through stream that hashes and counts what flows through it; read `counter`
 * once the stream has ended.
 */
export function digestingStream(): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  counter: DigestCounter;
} {
  const counter = new DigestCounter();
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      counter.update(chunk);
      controller.enqueue(chunk);
    },
  });
  return { stream, counter };
}
