import assert from "node:assert/strict";
import {
  DigestCounter,
  digestingStream,
  EMPTY_SHA256,
  isValidDigest,
  sha256Digest,
  validateDigest,
} from "./digest.ts";
import { InvalidDigestFormatError, InvalidDigestLengthError, UnsupportedDigestError } from "./errors.ts";

Deno.test("validateDigest follows go-digest (messages checked against the Go CLI)", () => {
  const z = (n: number) => "0".repeat(n);
  validateDigest(`sha256:${z(64)}`);
  validateDigest(`sha384:${z(96)}`);
  validateDigest(`sha512:${z(128)}`);
  // `images-by-digest X` printed these for the same inputs.
  assert.throws(
    () => validateDigest("sha256:abc"),
    (e) => e instanceof InvalidDigestLengthError && e.message === "invalid checksum digest length",
  );
  assert.throws(
    () => validateDigest("md5:abc"),
    (e) => e instanceof UnsupportedDigestError && e.message === "unsupported digest algorithm",
  );
  assert.throws(() => validateDigest(`sha1:${z(40)}`), UnsupportedDigestError);
  assert.throws(
    () => validateDigest("Sha256:abc"),
    (e) => e instanceof InvalidDigestFormatError && e.message === "invalid checksum digest format",
  );
  for (
    const bad of ["", "sha256", ":abc", "sha256:", `sha256:${"A".repeat(64)}`, `sha256:${"g".repeat(64)}`]
  ) {
    assert.throws(() => validateDigest(bad), InvalidDigestFormatError, bad);
  }
  assert.equal(isValidDigest(`sha256:${z(63)}`), false);
});

Deno.test("sha256 digests and streaming counter agree", async () => {
  assert.equal(sha256Digest(new Uint8Array()), EMPTY_SHA256);
  assert.equal(sha256Digest("x"), "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
  const c = new DigestCounter();
  c.update(new TextEncoder().encode("manifest"));
  c.update(new TextEncoder().encode("data"));
  assert.equal(c.size, 12);
  assert.equal(c.digest(), "sha256:de24a0bda93f6bf35af22228dcc31cc81b7fde49066864fe393cb6276ffd3872");
  const { stream, counter } = digestingStream();
  const out = ReadableStream.from([new Uint8Array([120])]).pipeThrough(stream);
  const got: number[] = [];
  for await (const chunk of out) got.push(...chunk);
  assert.deepEqual(got, [120]);
  assert.equal(counter.digest(), sha256Digest("x"));
});
