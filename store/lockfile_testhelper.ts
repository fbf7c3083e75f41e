/**
 * Child process for the lock tests: `deno run -A lockfile_testhelper.ts LOCKPATH MODE LOG`.
 * MODE: `lock` (write), `rlock`, or `wait` (tryLock first, then lock). Appends events to LOG
 * (O_APPEND, so the file order across processes is the real order), prints `ready` on
 * stdout once it holds the lock, then waits for stdin to close, logs `releasing`, unlocks.
 */
import { LockFile } from "./lockfile.ts";

const [path, mode, log] = Deno.args;
const note = (ev: string) => Deno.writeTextFileSync(log, `child ${ev}\n`, { append: true });
const lf = LockFile.get(path);
if (mode === "rlock") await lf.rLock();
else if (mode === "wait") {
  note(`trylock=${lf.tryLock()}`);
  if (!lf.locked()) {
    note("waiting");
    await lf.lock();
  }
} else await lf.lock();
note("locked");
if (mode !== "rlock") lf.recordWrite();
console.log("ready");
// Hold until the parent closes our stdin.
for await (const _ of Deno.stdin.readable) { /* drain */ }
note("releasing");
lf.unlock();
