import assert from "node:assert/strict";
import { goJSON, goJSONString, MemorySink, Printer, RawJSON } from "./output.ts";

Deno.test("strings are escaped as Go 1.19 encoding/json does", () => {
  // The same bytes the Go binary printed for this layer name.
  assert.equal(
    goJSONString("a\bb\fc<>&\x01\u2028"),
    '"a\\u0008b\\u000cc\\u003c\\u003e\\u0026\\u0001\\u2028"',
  );
  assert.equal(goJSONString('q"\\\n\r\t\x7fé'), '"q\\"\\\\\\n\\r\\t\x7fé"');
  assert.equal(goJSONString("\ud800x"), '"\\ufffdx"');
  assert.equal(goJSONString("😀"), '"😀"');
});

Deno.test("structs keep field order, maps sort keys bytewise", () => {
  assert.equal(goJSON({ id: "x", mountpoint: "/m", error: "" }), '{"id":"x","mountpoint":"/m","error":""}');
  const m = new Map<string, unknown>([["b", true], ["a", false], ["\uffff", 1], ["😀", 2]]);
  // UTF-8 order puts U+FFFF (ef bf bf) before U+1F600 (f0 9f 98 80).
  assert.equal(goJSON(m), '{"a":false,"b":true,"\uffff":1,"😀":2}');
  assert.equal(goJSON([]), "[]");
  assert.equal(goJSON(null), "null");
  assert.equal(goJSON([new RawJSON('{"id":"l"}'), 3]), '[{"id":"l"},3]');
  assert.equal(goJSON(new Error("boom")), "{}");
  assert.equal(goJSON([["Root", "/r"]]), '[["Root","/r"]]');
});

Deno.test("Printer.json writes one value and a newline", async () => {
  const sink = new MemorySink();
  const p = new Printer(sink);
  await p.json(new Map([["x", ""]]));
  await p.print("é");
  assert.equal(sink.text(), '{"x":""}\né');
  assert.deepEqual([...sink.bytes()].slice(-2), [0xc3, 0xa9]);
});
