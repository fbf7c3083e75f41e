import assert from "node:assert/strict";
import { goList, goQuote, goQuoteList } from "./quote.ts";

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

Deno.test("goQuote: escapes, ASCII controls and C1 controls as Go", () => {
  assert.equal(goQuote("plain"), '"plain"');
  assert.equal(goQuote('q"\\'), '"q\\"\\\\"');
  assert.equal(goQuote("\x00\x1b\x7f"), '"\\x00\\x1b\\x7f"');
  assert.equal(goQuote("\n\r\t\v\f\b\x07"), '"\\n\\r\\t\\v\\f\\b\\a"');
  assert.equal(goQuote("é日本"), '"é日本"');
  assert.equal(goQuote("\u0085"), '"\\u0085"');
  assert.equal(goQuote("soft\u00adhyphen"), '"soft\\u00adhyphen"');
});

Deno.test("goQuoteList renders like %q of a []string", () => {
  assert.equal(goQuoteList([]), "[]");
  assert.equal(goQuoteList(["a", 'b"c']), '["a" "b\\"c"]');
});

Deno.test("goList renders like %v of a slice", () => {
  assert.equal(goList([]), "[]");
  assert.equal(goList(["a", "b c"]), "[a b c]");
  assert.equal(goList([0, 1000]), "[0 1000]");
});
