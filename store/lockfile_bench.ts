/** Cost of an uncontended lock cycle (`deno bench -A store/lockfile_bench.ts`). */
import { LockFile } from "./lockfile.ts";

const dir = Deno.makeTempDirSync({ prefix: "cs-bench-lock-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const lf = LockFile.get(`${dir}/layers.lock`);

Deno.bench("lock + recordWrite + unlock", { group: "lock" }, async () => {
  await lf.lock();
  lf.recordWrite();
  lf.unlock();
});
Deno.bench("rLock + modifiedSince + unlock", { group: "lock" }, async () => {
  await lf.rLock();
  lf.modifiedSince(null);
  lf.unlock();
});
Deno.bench("tryLock + unlock", { group: "lock" }, () => {
  lf.tryLock();
  lf.unlock();
});
