import assert from "node:assert/strict";
import {
  compareBytes,
  decodeContainer,
  decodeImage,
  decodeLayer,
  decodeMountPoints,
  encodeArray,
  encodeContainer,
  encodeGoJSON,
  encodeImage,
  encodeLayer,
  goQuote,
  parseArrayFile,
} from "./json.ts";
import { GO_CONTAINERS_JSON, GO_IMAGES_JSON, GO_LAYERS_JSON } from "./testdata/go_files.ts";

const enc = new TextEncoder();

Deno.test("goQuote escapes as Go's encoding/json", () => {
  assert.equal(goQuote("a<b>&c"), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(goQuote("ctl\x01\x1f\n\t\r"), '"ctl\\u0001\\u001f\\n\\t\\r"');
  assert.equal(goQuote("u\u2028\u2029é"), '"u\\u2028\\u2029é"');
  assert.equal(goQuote('q"\\\x7f'), '"q\\"\\\\\x7f"');
  assert.equal(goQuote("\x08\x0c"), '"\\u0008\\u000c"');
  assert.equal(goQuote("a\ud800b"), '"a\ufffdb"');
  assert.equal(goQuote("😀"), '"😀"');
});

Deno.test("Go files re-encode byte for byte", () => {
  const cases: Array<[string, (v: unknown) => string]> = [
    [GO_LAYERS_JSON, (v) => encodeLayer(decodeLayer(v).record)],
    [GO_IMAGES_JSON, (v) => encodeImage(decodeImage(v).record)],
    [GO_CONTAINERS_JSON, (v) => encodeContainer(decodeContainer(v).record)],
  ];
  for (const [text, fn] of cases) {
    const items = parseArrayFile(enc.encode(text));
    assert.ok(items.length > 0);
    assert.equal(encodeArray(items.map(fn)), text);
  }
});

Deno.test("decoded Go layer has the fields of the file", () => {
  const [l1, , , l3] = parseArrayFile(enc.encode(GO_LAYERS_JSON)).map((v) => decodeLayer(v).record);
  assert.deepEqual(l1.names, ["a<b>&c", "ctl\x01\x1f\n\t\r", "u\u2028\u2029é"]);
  assert.equal(l1.metadata, 'meta "q" \\ \x7f');
  assert.deepEqual(l1.bigDataNames, ["Layer Key!"]);
  assert.equal(l3.compression, 2);
  assert.equal(l3.compressedSize, 182);
  assert.equal(l3.uncompressedSize, 10240);
  assert.deepEqual(l3.uidSet, [0, 1000]);
  assert.deepEqual(l3.gidMap, [{ containerId: 0, hostId: 200000, size: 65536 }]);
  const [img] = parseArrayFile(enc.encode(GO_IMAGES_JSON)).map((v) => decodeImage(v).record);
  assert.deepEqual(img.namesHistory, ["extra", "img1"]);
  assert.equal(img.bigDataSizes["sha256:cfg"], 3);
});

Deno.test("unknown fields survive a rewrite, after the known ones", () => {
  const v = JSON.parse(
    '{"zz":{"b":1,"a":[true,null]},"id":"x","created":"2020-01-01T00:00:00Z","toc-digest":"sha256:1"}',
  );
  const { record, extra } = decodeLayer(v);
  assert.equal(record.tocDigest, "sha256:1");
  assert.equal(
    encodeLayer(record, extra),
    '{"id":"x","created":"2020-01-01T00:00:00Z","toc-digest":"sha256:1","zz":{"a":[true,null],"b":1}}',
  );
});

Deno.test("empty, null and absent files mean no entries; bad shapes throw", () => {
  assert.deepEqual(parseArrayFile(null), []);
  assert.deepEqual(parseArrayFile(new Uint8Array()), []);
  assert.deepEqual(parseArrayFile(enc.encode("null")), []);
  assert.throws(() => parseArrayFile(enc.encode("[{")), SyntaxError);
  assert.throws(() => parseArrayFile(enc.encode("{}")), /cannot unmarshal object/);
  assert.throws(() => decodeLayer({ id: "x", names: "n" }), /Layer.names of type \[\]string/);
  assert.throws(() => decodeImage({ id: "x", "big-data-sizes": { a: "1" } }), /int64/);
});

Deno.test("maps are sorted by UTF-8 bytes, values encoded as Go does", () => {
  assert.equal(encodeGoJSON({ b: 1, a: "x", "\uffff": 0, "😀": 1 }), '{"a":"x","b":1,"\uffff":0,"😀":1}');
  assert.ok(compareBytes("\uffff", "😀") < 0);
  assert.equal(encodeGoJSON([1.5, 1e21, 1e-7, -0, null, false]), "[1.5,1e+21,1e-7,-0,null,false]");
  assert.equal(
    encodeGoJSON({ MountLabel: "", ProcessLabel: "", Volatile: true }),
    '{"MountLabel":"","ProcessLabel":"","Volatile":true}',
  );
});

Deno.test("mountpoints entries without a path are dropped", () => {
  assert.deepEqual(decodeMountPoints([{ id: "a", path: "/p", count: 2 }, { id: "b", path: "", count: 1 }]), [
    { id: "a", path: "/p", count: 2 },
  ]);
});
