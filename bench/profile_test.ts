import assert from "node:assert/strict";
import { type CpuProfile, summarize } from "./profile.ts";

const frame = (functionName: string, url = "", lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

Deno.test("summarize: self time at the leaf, total once per sample even when recursive", () => {
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 5] },
      { id: 2, callFrame: frame("main", "file:///r/a.ts", 9), children: [3] },
      { id: 3, callFrame: frame("walk", "file:///r/b.ts", 0), children: [4] },
      { id: 4, callFrame: frame("walk", "file:///r/b.ts", 0) },
      { id: 5, callFrame: frame("(idle)") },
    ],
    startTime: 0,
    endTime: 4000,
    samples: [4, 3, 2, 5],
    // sample i costs timeDeltas[i + 1]; the last costs the mean delta (1000 us)
    timeDeltas: [1000, 1000, 1000, 1000],
  };
  const s = summarize(p, "/r/");
  assert.equal(s.totalMs, 4);
  const fn = new Map(s.byFunction.map((c) => [c.name, c]));
  assert.deepEqual(fn.get("walk b.ts:1"), { name: "walk b.ts:1", selfMs: 2, totalMs: 2 });
  assert.deepEqual(fn.get("main a.ts:10"), { name: "main a.ts:10", selfMs: 1, totalMs: 3 });
  assert.deepEqual(fn.get("(idle)"), { name: "(idle)", selfMs: 1, totalMs: 1 });
  const file = new Map(s.byFile.map((c) => [c.name, c]));
  assert.equal(file.get("b.ts")?.totalMs, 2);
  assert.equal(file.get("a.ts")?.totalMs, 3);
});

Deno.test("summarize: reads a real profile written by deno --cpu-prof", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cs-prof-test-" });
  try {
    const script = `${dir}/burn.ts`;
    await Deno.writeTextFile(
      script,
      "function burnCycles(n: number) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) | 0; return x; }\n" +
        "let t = 0; for (let k = 0; k < 40; k++) t += burnCycles(2_000_000); console.log(t);\n",
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--cpu-prof", `--cpu-prof-dir=${dir}`, script],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
    assert.ok(file, "no .cpuprofile written");
    const s = summarize(JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)), `${dir}/`);
    const burn = s.byFunction.find((c) => c.name.startsWith("burnCycles burn.ts:1"));
    assert.ok(burn, `burnCycles missing from ${s.byFunction.slice(0, 5).map((c) => c.name)}`);
    assert.ok(burn.selfMs > 0 && burn.totalMs >= burn.selfMs);
    assert.ok(s.totalMs >= burn.totalMs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
