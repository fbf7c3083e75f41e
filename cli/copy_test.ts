import assert from "node:assert/strict";
import { parseChown } from "./copy.ts";
import { parseDuration } from "./maintenance.ts";

Deno.test("--chown UID[:GID] with HEAD's errors", () => {
  assert.deepEqual(parseChown("5"), { uid: 5, gid: 5 });
  assert.deepEqual(parseChown("5:7"), { uid: 5, gid: 7 });
  assert.throws(() => parseChown("abc"), {
    message: 'bad UID: strconv.ParseUint: parsing "abc": invalid syntax',
  });
  assert.throws(() => parseChown("1:x"), {
    message: 'bad GID: strconv.ParseUint: parsing "x": invalid syntax',
  });
  assert.throws(() => parseChown("4294967296"), /value out of range/);
});

Deno.test("check --max durations", () => {
  assert.equal(parseDuration("24h"), 24 * 3600e3);
  assert.equal(parseDuration("1h30m"), 5400e3);
  assert.equal(parseDuration("250ms"), 250);
  assert.throws(() => parseDuration("soon"), /invalid duration/);
});
