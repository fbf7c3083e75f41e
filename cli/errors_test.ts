import assert from "node:assert/strict";
import { errorText, goOSErrorText, isError } from "./errors.ts";
import { LayerUnknownError, wrapError } from "../store/errors.ts";

Deno.test("library errors print their Go text", () => {
  assert.equal(errorText(new LayerUnknownError()), "layer not known");
  assert.equal(
    errorText(wrapError(new LayerUnknownError(), "locating layer")),
    "locating layer: layer not known",
  );
});

Deno.test("Deno OS errors become Go PathErrors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const e = await Deno.readFile(`${dir}/nosuch`).catch((e) => e);
    assert.equal(errorText(e), `open ${dir}/nosuch: no such file or directory`);
    const d = await Deno.readFile(dir).catch((e) => e);
    assert.equal(errorText(d), `open ${dir}: is a directory`);
    const s = await Deno.stat(`${dir}/x/y`).catch((e) => e);
    assert.equal(errorText(s), `stat ${dir}/x/y: no such file or directory`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(goOSErrorText("File exists (os error 17)"), "file exists");
  assert.equal(goOSErrorText("plain"), "plain");
});

Deno.test("isError follows causes", () => {
  const inner = new LayerUnknownError();
  const outer = new Error("x", { cause: inner });
  assert.ok(isError(outer, LayerUnknownError));
  assert.ok(!isError(new Error("y"), LayerUnknownError));
});
