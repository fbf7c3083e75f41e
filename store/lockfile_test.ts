import assert from "node:assert/strict";
import { LockError } from "./errors.ts";
import { LockFile, newToken, RWMutex, TOKEN_SIZE } from "./lockfile.ts";
import { F_RDLCK, F_WRLCK, ofdGetLock } from "../sys/lock.ts";
import { closeFd, O_CLOEXEC, O_RDONLY, openFd } from "../sys/fs.ts";

const HELPER = new URL("./lockfile_testhelper.ts", import.meta.url).pathname;

function tmp(): string {
  return Deno.makeTempDirSync({ prefix: "cs-lockfile-" });
}

/** Lines of /proc/locks about the inode of `path`: `{waiting, kind, type, pid}`. */
function procLocks(path: string): Array<{ waiting: boolean; kind: string; type: string; pid: number }> {
  const ino = Deno.statSync(path).ino!;
  const out = [];
  for (const line of Deno.readTextFileSync("/proc/locks").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const waiting = f[1] === "->";
    const g = waiting ? f.slice(2) : f.slice(1);
    // g: KIND ADVISORY TYPE PID MAJ:MIN:INODE START END
    if (Number(g[4].split(":")[2]) !== ino) continue;
    out.push({ waiting, kind: g[0], type: g[2], pid: Number(g[3]) });
  }
  return out;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  // Bounded polling: the condition is about other processes reaching a state.
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gave up waiting for: ${what}`);
}

function spawnHelper(lockPath: string, mode: string, log: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HELPER, lockPath, mode, log],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  return {
    child,
    async ready(): Promise<void> {
      let buf = "";
      while (!buf.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("helper exited before holding the lock");
        buf += value;
      }
    },
    async release(): Promise<void> {
      await child.stdin.close();
      await reader.cancel();
      const st = await child.status;
      assert.equal(st.code, 0);
    },
    async kill(): Promise<void> {
      try {
        child.kill();
      } catch { /* exited */ }
      await child.status;
    },
  };
}

Deno.test("newToken: 64 bytes = ns time, counter, pid, 44 random bytes", () => {
  const before = BigInt(Date.now()) * 1_000_000n;
  const a = newToken(), b = newToken();
  const after = BigInt(Date.now() + 1) * 1_000_000n;
  assert.equal(a.length, TOKEN_SIZE);
  const va = new DataView(a.buffer), vb = new DataView(b.buffer);
  const t = va.getBigUint64(0, true);
  assert.ok(t >= before && t <= after, `time ${t} not within [${before}, ${after}]`);
  assert.equal(vb.getBigUint64(8, true), va.getBigUint64(8, true) + 1n);
  assert.equal(va.getUint32(16, true), Deno.pid);
  assert.notDeepEqual(a.subarray(20), b.subarray(20));
});

Deno.test("LockFile: cache per path, token write/read, file never truncated, mode and parents", async () => {
  const d = tmp();
  try {
    const p = `${d}/a/b/layers.lock`;
    const lf = LockFile.get(p);
    assert.equal(LockFile.get(`${d}/a/b/../b/layers.lock`), lf);
    assert.equal(lf.path, p);
    assert.throws(() => LockFile.get(p, { readOnly: true }), LockError);
    // Nothing is created until the lock is taken.
    assert.equal(lf.locked(), false);
    await lf.lock();
    assert.equal(lf.locked(), true);
    assert.equal(lf.lockedForWriting(), true);
    assert.equal(Deno.statSync(`${d}/a`).mode! & 0o777, 0o700);
    assert.equal(Deno.statSync(p).size, 0);
    assert.deepEqual(lf.getLastWrite(), new Uint8Array(0));
    assert.equal(lf.modifiedSince(null), true);
    assert.equal(lf.modifiedSince(new Uint8Array(0)), false);
    const tok = lf.recordWrite();
    assert.equal(tok.length, 64);
    assert.deepEqual(Deno.readFileSync(p), tok);
    assert.deepEqual(lf.getLastWrite(), tok);
    assert.equal(lf.modifiedSince(tok), false);
    lf.unlock();
    assert.equal(lf.locked(), false);
    // Readable without holding the lock; another writer's token is seen as a change.
    assert.deepEqual(lf.getLastWrite(), tok);
    const other = newToken();
    const f = Deno.openSync(p, { write: true });
    f.writeSync(other);
    f.close();
    assert.equal(lf.modifiedSince(tok), true);
    // Longer file (e.g. trailing junk) is not truncated by a token write.
    Deno.writeFileSync(p, new Uint8Array(100).fill(7));
    await lf.lock();
    const t2 = lf.recordWrite();
    lf.unlock();
    const content = Deno.readFileSync(p);
    assert.equal(content.length, 100);
    assert.deepEqual(content.subarray(0, 64), t2);
    assert.throws(() => lf.recordWrite(), LockError);
    assert.throws(() => lf.unlock(), LockError);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("LockFile: in-process readers share, writers exclude, one fd, OS lock follows holders", async () => {
  const d = tmp();
  try {
    const p = `${d}/x.lock`;
    const lf = LockFile.get(p);
    await lf.rLock();
    await lf.rLock();
    assert.equal(lf.tryLock(), false);
    assert.equal(lf.tryRLock(), true);
    const probe = openFd(p, O_RDONLY | O_CLOEXEC);
    try {
      assert.equal(ofdGetLock(probe, F_WRLCK).type, F_RDLCK);
      const order: string[] = [];
      const w = lf.lock().then(() => order.push("writer"));
      // A reader arriving after a waiting writer queues behind it (no writer starvation).
      const r = lf.rLock().then(() => order.push("late reader"));
      assert.equal(lf.tryRLock(), false);
      await Promise.resolve();
      order.push("unlock 1");
      lf.unlock();
      order.push("unlock 2");
      lf.unlock();
      await new Promise((res) => setTimeout(res, 0));
      assert.deepEqual(order, ["unlock 1", "unlock 2"]);
      order.push("unlock 3");
      lf.unlock();
      await w;
      assert.equal(lf.lockedForWriting(), true);
      assert.equal(ofdGetLock(probe, F_RDLCK).type, F_WRLCK);
      assert.deepEqual(order, ["unlock 1", "unlock 2", "unlock 3", "writer"]);
      lf.unlock();
      await r;
      assert.deepEqual(order, ["unlock 1", "unlock 2", "unlock 3", "writer", "late reader"]);
      lf.unlock();
      assert.equal(lf.locked(), false);
      assert.equal(ofdGetLock(probe, F_WRLCK).type, 2);
      assert.equal(lf.tryLock(), true);
      assert.equal(lf.tryRLock(), false);
      lf.unlock();
    } finally {
      closeFd(probe);
    }
    // Read-only lock files take read locks only.
    Deno.writeFileSync(`${d}/ro.lock`, new Uint8Array(0));
    const ro = LockFile.get(`${d}/ro.lock`, { readOnly: true });
    await assert.rejects(() => ro.lock(), LockError);
    assert.throws(() => ro.tryLock(), LockError);
    await ro.rLock();
    assert.equal(ro.locked(), true);
    ro.unlock();
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("LockFile: survives stray open/close of the file and does not leak into child processes", async () => {
  const d = tmp();
  try {
    const p = `${d}/images.lock`;
    const lf = LockFile.get(p);
    await lf.lock();
    const probe = openFd(p, O_RDONLY | O_CLOEXEC);
    try {
      // Another open+close of the same file in this process (classic POSIX locks would drop here).
      Deno.readFileSync(p);
      closeFd(openFd(p, O_RDONLY | O_CLOEXEC));
      assert.equal(ofdGetLock(probe, F_RDLCK).type, F_WRLCK);
      // A child spawned while we hold the lock must not inherit the descriptor.
      const child = new Deno.Command("cat", { stdin: "piped", stdout: "null" }).spawn();
      try {
        // Wait for the exec (close-on-exec descriptors are closed at that point).
        await until(() => Deno.readTextFileSync(`/proc/${child.pid}/comm`).trim() === "cat", "child exec");
        const fds: string[] = [];
        for (const e of Deno.readDirSync(`/proc/${child.pid}/fd`)) {
          try {
            fds.push(Deno.readLinkSync(`/proc/${child.pid}/fd/${e.name}`));
          } catch { /* closed meanwhile */ }
        }
        assert.ok(fds.length >= 3, `saw ${fds}`);
        assert.ok(!fds.includes(p), `child inherited ${p}`);
        lf.unlock();
        assert.equal(ofdGetLock(probe, F_WRLCK).type, 2);
      } finally {
        await child.stdin.close();
        await child.status;
      }
    } finally {
      closeFd(probe);
      if (lf.locked()) lf.unlock();
    }
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("LockFile: an unopenable lock file raises LockError naming the path", async () => {
  const d = tmp();
  try {
    Deno.writeTextFileSync(`${d}/file`, "");
    const lf = LockFile.get(`${d}/file/sub.lock`);
    await assert.rejects(() => lf.lock(), (e: unknown) => {
      assert.ok(e instanceof LockError);
      assert.match(e.message, new RegExp(`${d}/file/sub.lock`));
      return true;
    });
    assert.equal(lf.locked(), false);
    assert.throws(() => lf.tryLock(), LockError);
    // The mutex was released: a later attempt fails the same way instead of hanging.
    await assert.rejects(() => lf.rLock(), LockError);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("RWMutex: misuse is an error", () => {
  const m = new RWMutex();
  assert.throws(() => m.unlock(), LockError);
  assert.throws(() => m.rUnlock(), LockError);
});

Deno.test("LockFile across processes: a child's write lock blocks us, and ours blocks it", async () => {
  const d = tmp();
  const p = `${d}/layers.lock`;
  const log = `${d}/events`;
  const note = (ev: string) => Deno.writeTextFileSync(log, `parent ${ev}\n`, { append: true });
  const lf = LockFile.get(p);
  let h = spawnHelper(p, "lock", log);
  try {
    await h.ready();
    assert.equal(lf.tryLock(), false);
    assert.equal(lf.tryRLock(), false);
    const before = lf.getLastWrite();
    const mine = lf.lock().then(() => note("locked"));
    await until(() => procLocks(p).some((l) => l.waiting && l.kind === "OFDLCK"), "our OFD waiter");
    await h.release();
    await mine;
    assert.equal(lf.modifiedSince(before), false); // child wrote its token before we looked
    assert.deepEqual(Deno.readTextFileSync(log).trim().split("\n"), [
      "child locked",
      "child releasing",
      "parent locked",
    ]);
    // Now we hold it; the child must wait.
    Deno.removeSync(log);
    h = spawnHelper(p, "wait", log);
    await until(() => procLocks(p).some((l) => l.waiting), "child waiting");
    note("unlocking");
    lf.unlock();
    await h.ready();
    await h.release();
    assert.deepEqual(Deno.readTextFileSync(log).trim().split("\n"), [
      "child trylock=false",
      "child waiting",
      "parent unlocking",
      "child locked",
      "child releasing",
    ]);
    // Read locks are shared across processes; a writer is excluded.
    Deno.removeSync(log);
    h = spawnHelper(p, "rlock", log);
    await h.ready();
    assert.equal(lf.tryLock(), false);
    assert.equal(lf.tryRLock(), true);
    lf.unlock();
    await h.release();
  } finally {
    await h.kill();
    if (lf.locked()) lf.unlock();
    Deno.removeSync(d, { recursive: true });
  }
});

// ---- interop with the Go containers-storage CLI ----

function goArgs(g: string, r: string, ...rest: string[]): string[] {
  return ["--graph", g, "--run", r, "--storage-driver", "vfs", ...rest];
}

async function tarOf(dir: string): Promise<Uint8Array> {
  const out = await new Deno.Command("tar", { args: ["-C", dir, "-cf", "-", "."], stdout: "piped" }).output();
  assert.ok(out.success);
  return out.stdout;
}

Deno.test("Go interop: our write lock on layers.lock holds `containers-storage layers` until released", async () => {
  const d = tmp();
  const g = `${d}/g`, r = `${d}/r`;
  try {
    const init = await new Deno.Command("containers-storage", {
      args: goArgs(g, r, "layers"),
      stdout: "null",
    })
      .output();
    assert.ok(init.success);
    const p = `${g}/vfs-layers/layers.lock`;
    const lf = LockFile.get(p);
    await lf.lock();
    const go = new Deno.Command("containers-storage", { args: goArgs(g, r, "layers"), stdout: "piped" })
      .spawn();
    let exited = false;
    const status = go.status.then((s) => {
      exited = true;
      return s;
    });
    try {
      await until(
        () => procLocks(p).some((l) => l.waiting && l.kind === "POSIX"),
        "Go waiting on layers.lock",
      );
      assert.equal(exited, false);
    } finally {
      lf.unlock();
    }
    const st = await status;
    await go.stdout.cancel();
    assert.equal(st.code, 0);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("Go interop: a running Go import-layer holds layers.lock and our lock() waits for it", async () => {
  const d = tmp();
  const g = `${d}/g`, r = `${d}/r`;
  try {
    Deno.mkdirSync(`${d}/content`);
    Deno.writeTextFileSync(`${d}/content/hello.txt`, "hello from the tar\n".repeat(200));
    const tar = await tarOf(`${d}/content`);
    const go = new Deno.Command("containers-storage", {
      args: goArgs(g, r, "import-layer"),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = go.stdin.getWriter();
    const p = `${g}/vfs-layers/layers.lock`;
    try {
      // Half of the tar: Go is now extracting, holding layers.lock for writing.
      await writer.write(tar.subarray(0, 1024));
      await until(() => {
        try {
          return procLocks(p).some((l) =>
            !l.waiting && l.kind === "POSIX" && l.type === "WRITE" && l.pid === go.pid
          );
        } catch {
          return false;
        }
      }, "Go holding layers.lock");
      const lf = LockFile.get(p);
      const before = lf.getLastWrite();
      let acquired = false;
      const mine = lf.lock().then(() => {
        acquired = true;
      });
      await until(() => procLocks(p).some((l) => l.waiting && l.kind === "OFDLCK"), "our waiter queued");
      assert.equal(acquired, false);
      await writer.write(tar.subarray(1024));
      await writer.close();
      await mine;
      try {
        // Under our lock, Go's finished layer and its new token are visible.
        assert.equal(lf.modifiedSince(before), true);
        const layers = JSON.parse(Deno.readTextFileSync(`${g}/vfs-layers/layers.json`));
        assert.equal(layers.length, 1);
        assert.equal(layers[0]["diff-size"], tar.length);
        assert.equal(layers[0].flags?.incomplete, undefined);
      } finally {
        lf.unlock();
      }
      const out = await go.output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    } finally {
      try {
        go.kill();
      } catch { /* exited */ }
    }
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});
