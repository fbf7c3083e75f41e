import assert from "node:assert/strict";
import { goList, goQuote } from "./quote.ts";

Deno.test("goQuote follows strconv.Quote", () => {
  assert.equal(goQuote('/sp ace"q.txt'), '"/sp ace\\"q.txt"');
  assert.equal(goQuote("a\\b\n\t\r\x07\x08\x0b\x0c"), '"a\\\\b\\n\\t\\r\\a\\b\\v\\f"');
  assert.equal(goQuote("\x01\x1f\x7f"), '"\\x01\\x1f\\x7f"');
  assert.equal(goQuote("héllo ünïcode 日本"), '"héllo ünïcode 日本"');
  // Not printable: no-break space, zero-width space, a private-use astral code point.
  assert.equal(goQuote("\u00a0\u200b\u{f0000}"), '"\\u00a0\\u200b\\U000f0000"');
  assert.equal(goQuote("😀"), '"😀"');
  assert.equal(goQuote(""), '""');
});

Deno.test("goList renders like %v of a slice", () => {
  assert.equal(goList([]), "[]");
  assert.equal(goList(["a", "b c"]), "[a b c]");
  assert.equal(goList([0, 1000]), "[0 1000]");
});
