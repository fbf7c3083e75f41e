import assert from "node:assert/strict";
import { closeFd, O_CLOEXEC, O_CREAT, O_RDWR, openFd } from "./fs.ts";
import {
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  ofdGetLock,
  ofdLock,
  ofdTryLock,
  ofdUnlock,
  posixGetLock,
} from "./lock.ts";

Deno.test("OFD locks: two descriptions conflict even in one process; waiting does not block the loop", async () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-ofd-" });
  const p = `${d}/lock`;
  const a = openFd(p, O_RDWR | O_CREAT | O_CLOEXEC, 0o644);
  const b = openFd(p, O_RDWR | O_CLOEXEC);
  try {
    assert.equal(ofdTryLock(a, F_WRLCK), true);
    assert.equal(ofdTryLock(b, F_RDLCK), false);
    assert.equal(ofdTryLock(b, F_WRLCK), false);
    assert.deepEqual(ofdGetLock(b, F_RDLCK), { type: F_WRLCK, pid: -1 });
    // A classic POSIX probe sees the OFD holder too (pid -1): this is what Go's tools observe.
    assert.equal(posixGetLock(b, F_RDLCK).type, F_WRLCK);

    const order: string[] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const waiting = ofdLock(b, F_WRLCK).then(() => order.push("b locked"));
    // Let the loop spin a few times while b waits on the blocking pool.
    while (ticks < 5) await new Promise((r) => setTimeout(r, 1));
    clearInterval(ticker);
    order.push("a unlocking");
    ofdUnlock(a);
    await waiting;
    assert.deepEqual(order, ["a unlocking", "b locked"]);
    assert.equal(ofdGetLock(a, F_RDLCK).type, F_WRLCK);
    ofdUnlock(b);

    // Shared read locks.
    assert.equal(ofdTryLock(a, F_RDLCK), true);
    assert.equal(ofdTryLock(b, F_RDLCK), true);
    assert.equal(ofdGetLock(a, F_RDLCK).type, F_UNLCK);
    assert.equal(ofdGetLock(a, F_WRLCK).type, F_RDLCK);
    ofdUnlock(a);
    ofdUnlock(b);
    // Closing an fd drops its lock.
    assert.equal(ofdTryLock(a, F_WRLCK), true);
  } finally {
    closeFd(a);
    assert.equal(ofdTryLock(b, F_WRLCK), true);
    closeFd(b);
    Deno.removeSync(d, { recursive: true });
  }
  assert.throws(() => ofdTryLock(99999, F_WRLCK), { code: "EBADF" });
});
