/**
 * Extraction benchmarks: `deno bench -A archive/extract_bench.ts`.
 *
 * A synthetic layer (3,000 files of 1–4 KiB in 60 dirs, plus a 16 MiB file) is extracted
 * into tmpfs (/dev/shm when present) by our extractor (alone and with the store's
 * observers: tar-split recorder and ID collector) and by GNU tar for comparison.
 */
import { extractTar } from "./extract.ts";
import { scanTar } from "./tar_reader.ts";
import { dirFileGetter, replayTarSplit, TarSplitRecorder } from "./tarsplit.ts";
import { tarDirectory } from "./tar_dir.ts";
import { IDSetCollector } from "./idset.ts";
import { Crc64 } from "./crc64.ts";
import { TypeFlag } from "./types.ts";
import { makeTar, rm, streamOf } from "./test_util.ts";

const base = (() => {
  try {
    if (Deno.statSync("/dev/shm").isDirectory) return "/dev/shm";
  } catch { /* none */ }
  return undefined;
})();
const work = Deno.makeTempDirSync({ dir: base, prefix: "archive-bench-" });
globalThis.addEventListener("unload", () => rm(work));

let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
const entries: Parameters<typeof makeTar>[0] = [];
for (let d = 0; d < 60; d++) {
  entries.push({ name: `d${d}/`, type: TypeFlag.Dir, mode: 0o755, mtimeNs: 1_700_000_000_000_000_000n });
  for (let f = 0; f < 50; f++) {
    const data = new Uint8Array(1024 + (rnd() % 3072));
    for (let i = 0; i < data.length; i += 4) data[i] = rnd() & 0xff;
    entries.push({
      name: `d${d}/f${f}.dat`,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtimeNs: 1_700_000_000_000_000_000n,
      data,
    });
  }
}
entries.push({ name: "big.bin", data: new Uint8Array(16 << 20).fill(7), mode: 0o644 });
const tar = makeTar(entries);
Deno.writeFileSync(`${work}/layer.tar`, tar);
let n = 0;
const fresh = () => {
  const dir = `${work}/x${n++}`;
  Deno.mkdirSync(dir);
  return dir;
};

Deno.bench("parse only (TarParser)", { group: "extract", n: 20 }, async () => {
  await scanTar(streamOf(tar, 1 << 20), [{}]);
});

Deno.bench("extractTar", { group: "extract", baseline: true, n: 20 }, async (b) => {
  const dir = fresh();
  b.start();
  await extractTar(streamOf(tar, 1 << 20), dir);
  b.end();
  rm(dir);
});

Deno.bench("extractTar + tar-split + idset", { group: "extract", n: 20 }, async (b) => {
  const dir = fresh();
  b.start();
  const rec = TarSplitRecorder.create(`${dir}.tar-split.gz`);
  await extractTar(streamOf(tar, 1 << 20), dir, { observers: [rec, new IDSetCollector()] });
  await rec.settle();
  await rec.commit();
  b.end();
  rm(dir);
  rm(`${dir}.tar-split.gz`);
});

Deno.bench("GNU tar -xpf (process incl. startup)", { group: "extract", n: 20 }, async (b) => {
  const dir = fresh();
  b.start();
  const r = await new Deno.Command("tar", {
    args: ["--numeric-owner", "-xpf", `${work}/layer.tar`, "-C", dir],
  }).output();
  b.end();
  if (!r.success) throw new Error("tar failed");
  rm(dir);
});

const big = new Uint8Array(16 << 20).fill(3);
Deno.bench("crc64 16 MiB", { group: "crc" }, () => {
  new Crc64().update(big);
});

// ---- the other direction: tar-split replay and archiving a tree ----
const layerDir = fresh();
const tsPath = `${layerDir}.tar-split.gz`;
{
  const rec = TarSplitRecorder.create(tsPath);
  await extractTar(streamOf(tar, 1 << 20), layerDir, { observers: [rec] });
  await rec.settle();
  await rec.commit();
}

Deno.bench("replayTarSplit", { group: "diff", baseline: true, n: 20 }, async () => {
  for await (const _ of replayTarSplit(tsPath, dirFileGetter([layerDir]))) { /* drain */ }
});

Deno.bench("tarDirectory", { group: "diff", n: 20 }, async () => {
  for await (const _ of tarDirectory(layerDir)) { /* drain */ }
});

Deno.bench("GNU tar -cf - (process incl. startup)", { group: "diff", n: 20 }, async () => {
  // stdout must be read: GNU tar skips file contents when writing to /dev/null.
  const r = await new Deno.Command("tar", { args: ["-cf", "-", "-C", layerDir, "."], stdout: "piped" })
    .output();
  if (!r.success) throw new Error("tar failed");
});
