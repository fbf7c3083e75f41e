import assert from "node:assert/strict";
import {
  applyNameOperation,
  bigDataFileName,
  clone,
  dedupeNames,
  formatTimestamp,
  generateId,
  noteBigData,
  nowTimestamp,
  parseTimestampNs,
  RecordIndex,
  validateId,
  writeBigDataFile,
} from "./records.ts";
import { InvalidBigDataNameError, InvalidIDError } from "./errors.ts";

Deno.test("generated IDs are 64 hex, never 12 leading digits, never taken", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const id = generateId((x) => seen.has(x));
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.doesNotMatch(id, /^[0-9]{12}/);
    seen.add(id);
  }
  let calls = 0;
  const id = generateId(() => ++calls < 3);
  assert.equal(calls, 3);
  assert.match(id, /^[0-9a-f]{64}$/);
});

Deno.test("validateId accepts path components and refuses the rest", () => {
  for (const ok of ["abc", "l1", "A-b_c.d", "x".repeat(64), "é"]) validateId(ok);
  for (const bad of ["", ".", "..", "x/y", "/", "has space", "tab\t", "nl\n", "nul\0", "x".repeat(201)]) {
    assert.throws(() => validateId(bad), InvalidIDError, JSON.stringify(bad));
  }
});

Deno.test("names: dedupe and the three operations (add puts new names first)", () => {
  assert.deepEqual(dedupeNames(["a", "b", "a", ""]), ["a", "b", ""]);
  assert.deepEqual(applyNameOperation(["a", "b"], ["c", "a"], "add"), ["c", "a", "b"]);
  assert.deepEqual(applyNameOperation(["a", "b"], ["c", "c"], "set"), ["c"]);
  assert.deepEqual(applyNameOperation(["a", "b", "c"], ["b"], "remove"), ["a", "c"]);
});

Deno.test("RecordIndex resolves ID, then name, then unique prefix; load fixes duplicate names", () => {
  const ix = new RecordIndex<{ id: string; names: string[] }>();
  const a = { id: "abc1", names: ["x", "dup"] };
  const b = { id: "abd2", names: ["dup"] };
  const c = { id: "x", names: [] };
  assert.equal(ix.reset([a, b, c]), true);
  assert.deepEqual(a.names, ["x"]);
  assert.equal(ix.lookup("dup"), b);
  assert.equal(ix.lookup("x"), c, "an ID beats a name");
  assert.equal(ix.lookup("abc"), a);
  assert.equal(ix.lookup("ab"), undefined, "ambiguous prefix");
  assert.equal(ix.lookup(""), undefined);
  ix.setNames(c, ["dup", "new"]);
  assert.deepEqual(b.names, []);
  assert.equal(ix.lookup("dup"), c);
  ix.remove(c);
  assert.equal(ix.lookup("new"), undefined);
  assert.equal(ix.lookup("x"), a);
});

Deno.test("timestamps: RFC 3339 UTC with trimmed nanoseconds, increasing", () => {
  assert.equal(formatTimestamp(1764090253040666023n), "2025-11-25T17:04:13.040666023Z");
  assert.equal(formatTimestamp(1764090253000000000n), "2025-11-25T17:04:13Z");
  assert.equal(formatTimestamp(1764090253100000000n), "2025-11-25T17:04:13.1Z");
  assert.equal(parseTimestampNs("2025-11-25T17:04:13.040666023Z"), 1764090253040666023n);
  assert.equal(parseTimestampNs("2025-11-25T18:04:13.5+01:00"), 1764090253500000000n);
  const a = nowTimestamp(), b = nowTimestamp();
  assert.match(a, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
  assert.ok(parseTimestampNs(b) > parseTimestampNs(a));
  assert.ok(Math.abs(Number(parseTimestampNs(a) / 1_000_000n) - Date.now()) < 5000);
});

Deno.test("big-data file names follow Go (checked against files the Go CLI wrote)", () => {
  assert.equal(bigDataFileName("manifest", "image"), "manifest");
  assert.equal(bigDataFileName("config.json", "container"), "config.json");
  assert.equal(bigDataFileName("sha256:cfg", "image"), "=c2hhMjU2OmNmZw==");
  assert.equal(bigDataFileName("Layer Key!", "layer"), "=TGF5ZXIgS2V5IQ==");
  assert.equal(bigDataFileName("???", "layer"), "=Pz8");
  assert.throws(() => bigDataFileName("", "image"), /can't set empty name for image big data item/);
  for (const bad of [".", "..", "????"]) {
    assert.throws(() => bigDataFileName(bad, "layer"), InvalidBigDataNameError, bad);
  }
});

Deno.test("noteBigData records size and digest in new objects and tells when the record changed", () => {
  const r = { bigDataNames: ["a"], bigDataSizes: { a: 1 }, bigDataDigests: { a: "sha256:1" } };
  const sizes = r.bigDataSizes, names = r.bigDataNames;
  assert.equal(noteBigData(r, "a", 1, "sha256:1"), false);
  assert.equal(noteBigData(r, "a", 2, "sha256:1"), true);
  assert.equal(noteBigData(r, "a", 2, "sha256:2"), true);
  assert.equal(noteBigData(r, "b", 0, "sha256:0"), true);
  assert.deepEqual(r, {
    bigDataNames: ["a", "b"],
    bigDataSizes: { a: 2, b: 0 },
    bigDataDigests: { a: "sha256:2", b: "sha256:0" },
  });
  // Copies handed out before keep what they had.
  assert.deepEqual([sizes, names], [{ a: 1 }, ["a"]]);
});

Deno.test("big-data files are written 0600 in 0700 directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeBigDataFile(`${dir}/img`, "Other", "image", new TextEncoder().encode("data"));
    assert.equal(await Deno.readTextFile(`${dir}/img/=T3RoZXI=`), "data");
    assert.equal((await Deno.stat(`${dir}/img/=T3RoZXI=`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/img`)).mode! & 0o777, 0o700);
    assert.deepEqual([...Deno.readDirSync(`${dir}/img`)].map((e) => e.name), ["=T3RoZXI="]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("clone copies records deeply, keeping undefined fields and non-plain values", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const rec = {
    id: "x",
    names: ["a", "b"],
    flags: { nested: { deep: [1, { k: true }] } } as Record<string, unknown>,
    uidMap: [{ containerId: 0, hostId: 1000, size: 1 }],
    label: undefined,
    raw: bytes,
    none: null,
  };
  const c = clone(rec);
  assert.deepStrictEqual(c, rec);
  assert.ok("label" in c);
  assert.notEqual(c.names, rec.names);
  assert.notEqual(c.flags.nested, rec.flags.nested);
  assert.notEqual(c.uidMap[0], rec.uidMap[0]);
  assert.notEqual(c.raw, bytes);
  c.names.push("c");
  (c.flags.nested as { deep: unknown[] }).deep.push(2);
  assert.deepEqual(rec.names, ["a", "b"]);
  assert.deepEqual(rec.flags, { nested: { deep: [1, { k: true }] } });
});
