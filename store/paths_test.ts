import assert from "node:assert/strict";
import { basename, dirname, posix, resolve } from "node:path";
import { baseName, cleanPath, dirName, resolvePath } from "./paths.ts";

const SAMPLES = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///",
  "a",
  "a/",
  "a//",
  "/a",
  "//a",
  "/a/",
  "/a//",
  "a/b",
  "a/b/",
  "/a/b/c",
  "a/./b",
  "a/../b",
  "../a",
  "../../a/b",
  "/../a",
  "/..",
  "a/..",
  "a/../..",
  "./a",
  "./",
  "/./",
  "a/b/../../..",
  "/a/b/../../../c",
  "a//b//c/",
  ".a",
  "a.",
  "..a/b..",
  "/a/.../b",
  "x/y/./../z/.",
  "/a/./b/../../c/",
  "a/../../b",
  "/m/newdir/",
  "/m/../x/./y//z",
  "/a//b",
  "a//b",
  "//a//",
];

Deno.test("cleanPath matches posix.normalize without the trailing slash (Go's Clean)", () => {
  for (const p of SAMPLES) {
    const n = posix.normalize(p);
    const want = p === "" ? "." : n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
    assert.equal(cleanPath(p), want, JSON.stringify(p));
  }
});

Deno.test("resolvePath, dirName and baseName match node:path", () => {
  for (const p of SAMPLES) {
    assert.equal(resolvePath(p), resolve(p), `resolve ${JSON.stringify(p)}`);
    assert.equal(dirName(p), dirname(p), `dirname ${JSON.stringify(p)}`);
    assert.equal(baseName(p), basename(p), `basename ${JSON.stringify(p)}`);
  }
});
