/**
 * Overlay driver measurements against the Go CLI (not a test; run by hand):
 *
 *   deno run -A drivers/overlay/bench.ts [LAYER.tar]
 *
 * Prints wall-clock times of: driver init (cold, then with cached probes), applying a
 * layer tar (ours: driver.applyDiff; Go: `containers-storage import-layer`, which also
 * digests and records tar-split), mount+unmount by method, native changes/diffsize on
 * the imported layer (ours vs Go), and the native diff tar of a container layer.
 *
 * @module
 */
import { OverlayDriver } from "./overlay.ts";
import { detachAll } from "../../sys/testutil.ts";
import { goOk, tarStream } from "./testutil.ts";

const tarPath = Deno.args[0] ?? "/tmp/ovb/inc.tar";
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`;
const base = await Deno.makeTempDir({ prefix: "ovl-bench-" });
const ours = { base, graph: `${base}/ours/g`, run: `${base}/ours/r` };
const go = { base, graph: `${base}/go/g`, run: `${base}/go/r` };
try {
  let t0 = performance.now();
  const init = { graphRoot: ours.graph, runRoot: ours.run, options: [], uidMap: [], gidMap: [] };
  const d = await OverlayDriver.init(init);
  console.log(`init, cold (probes run):           ${ms(t0)}`);
  t0 = performance.now();
  await OverlayDriver.init(init);
  console.log(`init, probes cached:               ${ms(t0)}`);

  const size = Deno.statSync(tarPath).size;
  await d.create("big", null, {});
  t0 = performance.now();
  const f = await Deno.open(tarPath);
  await d.applyDiff("big", null, f.readable, {});
  console.log(`applyDiff ${(size / 2 ** 20).toFixed(0)} MiB (ours):          ${ms(t0)}`);
  t0 = performance.now();
  await goOk(go, ["import-layer", "--id", "big", "-f", tarPath]);
  console.log(`import-layer (Go CLI, whole):      ${ms(t0)}`);

  await d.create("ctr", "big", {});
  for (const method of ["fsmount", "mount", "relative", "mount", "fsmount"] as const) {
    d.forceMountMethod = method;
    t0 = performance.now();
    const n = 20;
    for (let i = 0; i < n; i++) {
      await d.get("ctr", {});
      await d.put("ctr");
    }
    console.log(
      `mount+unmount via ${method.padEnd(9)} (avg):  ${((performance.now() - t0) / n).toFixed(2)} ms`,
    );
  }
  d.forceMountMethod = undefined;

  // Make a container layer with changes: delete a subtree, modify and add files.
  const m = await d.get("ctr", {});
  Deno.removeSync(`${m}/include/linux`, { recursive: true });
  for (let i = 0; i < 2000; i++) Deno.writeTextFileSync(`${m}/include/new${i}.h`, `// ${i}\n`);
  Deno.writeTextFileSync(`${m}/include/stdio.h`, "changed");
  await d.put("ctr");

  t0 = performance.now();
  const ch = await d.changes("big", null, {});
  console.log(`changes of the big layer (ours):   ${ms(t0)} (${ch.length} entries)`);
  t0 = performance.now();
  await goOk(go, ["changes", "big"]);
  console.log(`changes of the big layer (Go CLI): ${ms(t0)}`);
  t0 = performance.now();
  const sz = await d.diffSize("big", null, {});
  console.log(`diffsize (ours):                   ${ms(t0)} (${sz} bytes)`);
  t0 = performance.now();
  await goOk(go, ["diffsize", "big"]);
  console.log(`diffsize (Go CLI):                 ${ms(t0)}`);
  t0 = performance.now();
  const cch = await d.changes("ctr", "big", {});
  console.log(`changes of a container layer:      ${ms(t0)} (${cch.length} entries)`);
  t0 = performance.now();
  let bytes = 0;
  for await (const c of await d.diff("ctr", "big", {})) bytes += c.length;
  console.log(`native diff tar of it:             ${ms(t0)} (${bytes} bytes)`);
  t0 = performance.now();
  await d.create("small", null, {});
  await d.applyDiff("small", null, tarStream([{ name: "a", data: "a" }]), {});
  console.log(`create + applyDiff of a tiny layer: ${ms(t0)}`);
  await d.cleanup();
} finally {
  await goOk(go, ["shutdown"]).catch(() => {});
  detachAll(base);
  await Deno.remove(base, { recursive: true });
}
