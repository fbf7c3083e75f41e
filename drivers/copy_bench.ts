/**
 * Benchmark of copyTree (vfs child-layer creation) against `cp -a` on a tree of many
 * small files. Run: `deno bench -A drivers/copy_bench.ts`. The tree lives in
 * $COPY_BENCH_DIR (default /dev/shm, so that disk writeback noise stays out) and has
 * $COPY_BENCH_FILES files (default 50,000) of 2 KiB in directories of 100.
 */
import { copyTree } from "./copy.ts";

const base = Deno.env.get("COPY_BENCH_DIR") ?? "/dev/shm";
const count = Number(Deno.env.get("COPY_BENCH_FILES") ?? 50_000);
const root = Deno.makeTempDirSync({ dir: base, prefix: "copy-bench-" });
const src = `${root}/src`;

const data = new Uint8Array(2048).map((_, i) => i & 0xff);
Deno.mkdirSync(src);
for (let i = 0; i < count; i++) {
  const dir = `${src}/d${Math.floor(i / 100)}`;
  if (i % 100 === 0) Deno.mkdirSync(dir);
  Deno.writeFileSync(`${dir}/f${i % 100}`, data);
  if (i % 1000 === 0) Deno.symlinkSync(`f${i % 100}`, `${dir}/link`);
}

let n = 0;
function fresh(): string {
  return `${root}/dst${n++}`;
}

Deno.bench({ name: `copyTree ${count} files`, n: 3, warmup: 1, baseline: true }, (b) => {
  const dst = fresh();
  b.start();
  copyTree(src, dst);
  b.end();
  Deno.removeSync(dst, { recursive: true });
});

Deno.bench({ name: `cp -a ${count} files`, n: 3, warmup: 1 }, (b) => {
  const dst = fresh();
  b.start();
  new Deno.Command("cp", { args: ["-a", src, dst] }).outputSync();
  b.end();
  Deno.removeSync(dst, { recursive: true });
});

globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
