import assert from "node:assert/strict";
import { DriverOptionError } from "../store/errors.ts";
import { goParseBool, parseBoolOption, ramInBytes } from "./options.ts";

Deno.test("goParseBool accepts exactly Go's strconv.ParseBool forms", () => {
  for (const t of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(goParseBool(t), true, t);
  for (const f of ["0", "f", "F", "FALSE", "false", "False"]) assert.equal(goParseBool(f), false, f);
  for (const x of ["", "yes", "no", "tRUE", "truE", " true", "2", "on"]) {
    assert.equal(goParseBool(x), null, x);
  }
});

Deno.test("parseBoolOption fails with Go's text and a DriverOptionError", () => {
  assert.equal(parseBoolOption("T"), true);
  assert.equal(parseBoolOption("0"), false);
  assert.throws(() => parseBoolOption("maybe"), (e: unknown) => {
    assert.ok(e instanceof DriverOptionError);
    assert.equal(e.message, 'strconv.ParseBool: parsing "maybe": invalid syntax');
    return true;
  });
});

Deno.test("ramInBytes reads go-units sizes in binary multiples", () => {
  assert.equal(ramInBytes("512m"), 512 * 1024 ** 2);
  assert.equal(ramInBytes("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(ramInBytes("10G"), 10 * 1024 ** 3);
  assert.equal(ramInBytes("100"), 100);
  assert.throws(
    () => ramInBytes("lots"),
    (e: unknown) => e instanceof DriverOptionError && e.message === "invalid size: 'lots'",
  );
});
