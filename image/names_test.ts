import assert from "node:assert/strict";
import { ImageReferenceError } from "./errors.ts";
import { isReference, normalizeName, parseReference } from "./names.ts";

const DIGEST = "sha256:" + "ab".repeat(32);

Deno.test("normalizeName: short names go to docker.io/library with :latest", () => {
  assert.equal(normalizeName("busybox"), "docker.io/library/busybox:latest");
  assert.equal(normalizeName("busybox:1.36"), "docker.io/library/busybox:1.36");
  assert.equal(normalizeName("user/app"), "docker.io/user/app:latest");
  assert.equal(normalizeName("index.docker.io/library/x:2"), "docker.io/library/x:2");
});

Deno.test("normalizeName: explicit registries and localhost keep their domain", () => {
  assert.equal(normalizeName("localhost/bb:1"), "localhost/bb:1");
  assert.equal(normalizeName("localhost/bb"), "localhost/bb:latest");
  assert.equal(normalizeName("localhost:5000/a/b"), "localhost:5000/a/b:latest");
  assert.equal(normalizeName("quay.io/org/img:v1"), "quay.io/org/img:v1");
});

Deno.test("normalizeName: digests are kept and suppress the default tag", () => {
  assert.equal(normalizeName(`x@${DIGEST}`), `docker.io/library/x@${DIGEST}`);
  assert.equal(normalizeName(`x:t@${DIGEST}`), `docker.io/library/x:t@${DIGEST}`);
  assert.deepEqual(parseReference(`quay.io/a@${DIGEST}`), { domain: "quay.io", path: "a", digest: DIGEST });
});

Deno.test("normalizeName: invalid references are refused with ImageReferenceError", () => {
  for (const bad of ["", "Busybox", "docker.io/Library/x", "x:", "x@sha256:12", "a//b", "x:-tag", "-x"]) {
    assert.throws(() => normalizeName(bad), ImageReferenceError, bad);
    assert.equal(isReference(bad), false);
  }
  // An upper-case first component is a registry name, not part of the path.
  assert.equal(normalizeName("MyReg/x"), "MyReg/x:latest");
});
