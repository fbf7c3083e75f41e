import assert from "node:assert/strict";
import { errno, lazySymbols, S } from "./libc.ts";

Deno.test("lazySymbols calls through the generic path first, then binds a hot symbol", () => {
  const syms = lazySymbols({
    getpid: { parameters: [], result: "i32" },
    getppid: { parameters: [], result: "i32" },
  });
  const stub = syms.getpid;
  assert.equal(syms.getpid(), Deno.pid);
  assert.equal(syms.getpid, stub, "a few calls do not compile a trampoline");
  for (let i = 0; i < 1000; i++) assert.equal(syms.getpid(), Deno.pid);
  assert.notEqual(syms.getpid, stub, "a hot symbol replaced its stub with the bound function");
  // A stub taken early keeps working through both phases.
  const early = syms.getppid;
  for (let i = 0; i < 1000; i++) assert.equal(early(), Deno.ppid);
});

Deno.test("lazySymbols keeps types, renamed symbols and nonblocking calls", async () => {
  const syms = lazySymbols({
    my_getuid: { name: "getuid", parameters: [], result: "u32" },
    lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
    slow_getgid: { name: "getgid", parameters: [], result: "u32", nonblocking: true },
  });
  assert.equal(syms.my_getuid(), Deno.uid());
  // The same result types on the generic and the compiled path (i64 results are bigint).
  for (let i = 0; i < 300; i++) assert.equal(syms.lseek(-1, 0n, 0), -1n);
  const p = syms.slow_getgid();
  assert.ok(p instanceof Promise);
  assert.equal(await p, Deno.gid());
});

Deno.test("S reports errno of a failed call on both paths", () => {
  for (let i = 0; i < 300; i++) {
    assert.equal(S.close(-1), -1);
    assert.equal(errno(), 9); // EBADF
  }
});
