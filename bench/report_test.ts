import assert from "node:assert/strict";
import type { Row } from "./context.ts";
import { derive, formatTable } from "./report.ts";

const s = (medianMs: number) => ({ runsMs: [medianMs], medianMs });

Deno.test("derive: ratios, ratio without startup, throughput and verdicts", () => {
  const rows: Row[] = [
    { key: "startup", workload: "version", ours: s(50), go: s(10) },
    {
      key: "small",
      workload: "import-layer small.tar",
      bytes: 2 ** 30,
      ours: s(1050),
      go: s(2010),
      tar: s(1000),
      targetGo: 1,
      targetTar: 1.3,
    },
    { key: "m", workload: "mount", ours: s(90), go: s(30), targetGo: 1 },
  ];
  const [st, imp, m] = derive(rows);
  assert.equal(st.ratioGo, 5);
  assert.equal(st.ratioGoNoStartup, undefined);
  assert.equal(imp.ratioGo, 1050 / 2010);
  assert.equal(imp.ratioTar, 1.05);
  assert.equal(imp.ratioGoNoStartup, 1000 / 2000);
  assert.equal(imp.oursMiBps, 1024 / 1.05);
  assert.equal(imp.verdict, "ok");
  assert.equal(m.ratioGo, 3);
  assert.equal(m.ratioGoNoStartup, 2);
  assert.equal(m.verdict, "over");
});

Deno.test("derive: a failed side gives no ratio and no verdict", () => {
  const [r] = derive([{
    key: "x",
    workload: "x",
    ours: { runsMs: [], error: "boom" },
    go: s(5),
    targetGo: 1,
  }]);
  assert.equal(r.ratioGo, undefined);
  assert.equal(r.verdict, undefined);
});

Deno.test("formatTable: aligned columns, ERR cells, errors and notes listed once", () => {
  const rows = derive([
    { key: "startup", workload: "version", ours: s(50), go: s(10) },
    {
      key: "x",
      workload: "import-layer x.tar",
      driver: "vfs",
      ours: { runsMs: [], error: "exited 1: layer not known" },
      go: s(20),
      tar: s(10),
      notes: ["note A", "note A"],
    },
  ]);
  const text = formatTable(rows);
  const lines = text.split("\n");
  assert.match(lines[0], /^workload\s+driver\s+input\s+ours\s+Go\s+tar\s+ours\/Go/);
  assert.match(lines[1], /^-+ {2}-+/);
  assert.match(lines[2], /^version\s.*50\.0 ms\s+10\.0 ms\s+5\.00x/);
  assert.match(lines[3], /^import-layer x\.tar\s+vfs\s+ERR\s+20\.0 ms\s+10\.0 ms/);
  assert.equal(text.match(/note A/g)?.length, 1);
  assert.match(text, /import-layer x\.tar: ours failed: exited 1: layer not known/);
});

Deno.test("derive: no startup-free ratio when a side is not slower than its startup", () => {
  const [, r] = derive([
    { key: "startup", workload: "version", ours: s(100), go: s(10) },
    { key: "u", workload: "unmount", ours: s(93), go: s(11) },
  ]);
  assert.equal(r.ratioGo, 93 / 11);
  assert.equal(r.ratioGoNoStartup, undefined);
});
