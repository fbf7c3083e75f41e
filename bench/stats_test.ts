import assert from "node:assert/strict";
import { fmtBytes, fmtMs, fmtRatio, median, mibPerSec, ratio } from "./stats.ts";

Deno.test("median of odd, even and empty lists, input left unsorted", () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("ratio refuses missing and non-positive denominators", () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(undefined, 2), undefined);
  assert.equal(ratio(1, 0), undefined);
  assert.equal(ratio(1, NaN), undefined);
});

Deno.test("formatting of times, ratios, sizes and throughput", () => {
  assert.equal(fmtMs(undefined), "-");
  assert.equal(fmtMs(8.084), "8.08 ms");
  assert.equal(fmtMs(13.94), "13.9 ms");
  assert.equal(fmtMs(652.4), "652 ms");
  assert.equal(fmtMs(1094), "1.09 s");
  assert.equal(fmtMs(61_234), "61.2 s");
  assert.equal(fmtRatio(1.234), "1.23x");
  assert.equal(fmtRatio(undefined), "-");
  assert.equal(fmtBytes(512), "512 B");
  assert.equal(fmtBytes(10240), "10 KiB");
  assert.equal(fmtBytes(1073745920), "1.0 GiB");
  assert.equal(fmtBytes(167188480), "159 MiB");
  assert.equal(mibPerSec(2 ** 30, 2000), 512);
  assert.equal(mibPerSec(undefined, 2000), undefined);
});
