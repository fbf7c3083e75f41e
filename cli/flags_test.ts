import assert from "node:assert/strict";
import { FlagError, FlagSet, HelpRequested } from "./flags.ts";
import type { FlagSpec } from "./flags.ts";

const SPECS: FlagSpec[] = [
  { key: "json", names: ["-json", "j"], kind: "bool", usage: "Prefer JSON output" },
  { key: "tree", names: ["-tree", "t"], kind: "bool", usage: "Use a tree" },
  { key: "name", names: ["-name", "n"], kind: "list", usage: "Layer name" },
  { key: "driver", names: ["-storage-driver", "s"], kind: "string", usage: "Storage driver" },
  { key: "bzip2", names: ["-bzip2", "-bz2", "b"], kind: "bool", usage: "bzip2" },
];

function make(name = "layers") {
  let report = "";
  const fs = new FlagSet(name, (t) => (report += t));
  for (const s of SPECS) fs.define(s);
  return { fs, report: () => report };
}

function parse(args: string[]) {
  const { fs, report } = make();
  fs.parse(args);
  return { values: fs.values, rest: fs.args, report: report() };
}

Deno.test("long, short, = and separate values", () => {
  const r = parse(["--storage-driver", "vfs", "-n", "a", "--name=b", "-n=c", "--json"]);
  assert.equal(r.values.driver, "vfs");
  assert.deepEqual(r.values.name, ["a", "b", "c"]);
  assert.equal(r.values.json, true);
  assert.deepEqual(r.rest, []);
  assert.equal(parse(["-s=overlay"]).values.driver, "overlay");
  assert.equal(parse(["--storage-driver='vfs'"]).values.driver, "vfs");
});

Deno.test("combined one-letter booleans and aliases", () => {
  const r = parse(["-jt", "--bz2"]);
  assert.equal(r.values.json, true);
  assert.equal(r.values.tree, true);
  assert.equal(r.values.bzip2, true);
});

Deno.test("a letter group ending in a value flag takes the next word", () => {
  const r = parse(["-js", "vfs", "x"]);
  assert.equal(r.values.json, true);
  assert.equal(r.values.driver, "vfs");
  assert.deepEqual(r.rest, ["x"]);
});

Deno.test("boolean values: --json=false and Go's ParseBool spellings", () => {
  assert.equal(parse(["--json=false"]).values.json, false);
  assert.equal(parse(["-j=T"]).values.json, true);
  assert.equal(parse(["--json=False"]).values.json, false);
  assert.throws(() => parse(["--json=yes"]), FlagError);
});

Deno.test("parsing stops at the first operand and after --", () => {
  assert.deepEqual(parse(["base", "-n", "child"]).rest, ["base", "-n", "child"]);
  const r = parse(["-j", "--", "-t"]);
  assert.deepEqual(r.rest, ["-t"]);
  assert.equal(r.values.tree, false);
  assert.deepEqual(parse(["-", "-j"]).rest, ["-", "-j"]);
});

Deno.test("errors are reported as mflag prints them", () => {
  const cases: Array<[string[], string]> = [
    [["-q"], "flag provided but not defined: -q\nSee 'containers-storage layers --help'.\n"],
    [["--bogus"], "flag provided but not defined: --bogus\nSee 'containers-storage layers --help'.\n"],
    [["-n"], "flag needs an argument: -n\nSee 'containers-storage layers --help'.\n"],
    [
      ["--json=maybe"],
      'invalid boolean value "maybe" for  --json: strconv.ParseBool: parsing "maybe": invalid syntax\n' +
      "See 'containers-storage layers --help'.\n",
    ],
    // -json is -j -s -o -n: -s lacks its value, then the whole word is rejected.
    [
      ["-json"],
      "flag needs an argument: -s\nSee 'containers-storage layers --help'.\n" +
      "flag provided but not defined: -json\nSee 'containers-storage layers --help'.\n",
    ],
    [["-=x"], "bad flag syntax: -=x\nSee 'containers-storage layers --help'.\n"],
  ];
  for (const [args, text] of cases) {
    const { fs, report } = make();
    assert.throws(() => fs.parse(args), FlagError, args.join(" "));
    assert.equal(report(), text, args.join(" "));
  }
});

Deno.test("help requests call usage and raise HelpRequested", () => {
  for (const h of ["-h", "--help", "-help"]) {
    const { fs } = make();
    let called = 0;
    fs.usage = () => called++;
    assert.throws(() => fs.parse([h]), HelpRequested);
    assert.equal(called, 1);
  }
});

Deno.test("the global set names itself in the hint", () => {
  let report = "";
  const fs = new FlagSet("containers-storage", (t) => (report += t));
  assert.throws(() => fs.parse(["--nope"]), FlagError);
  assert.equal(report, "flag provided but not defined: --nope\nSee 'containers-storage --help'.\n");
});

Deno.test("onSet hooks see each assignment; actual records given flags", () => {
  const fs = new FlagSet("x", () => {});
  const seen: unknown[] = [];
  fs.define({ key: "o", names: ["-storage-opt"], kind: "list", usage: "o" }, ["a"], (v) => seen.push(v));
  fs.define({ key: "d", names: ["-debug", "D"], kind: "bool", usage: "d" }, false, (v) => seen.push(v));
  fs.parse(["--storage-opt", "b", "-D"]);
  assert.deepEqual(fs.values.o, ["a", "b"]);
  assert.deepEqual(seen, [["b"], true]);
  assert.deepEqual([...fs.actual].sort(), ["d", "o"]);
});
