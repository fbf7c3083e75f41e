import assert from "node:assert/strict";
import { errno, lazySymbols, S } from "./libc.ts";

Deno.test("lazySymbols binds a symbol on its first call and then calls it directly", () => {
  const syms = lazySymbols({
    getpid: { parameters: [], result: "i32" },
    getppid: { parameters: [], result: "i32" },
  });
  const stub = syms.getpid;
  assert.equal(syms.getpid(), Deno.pid);
  assert.notEqual(syms.getpid, stub, "the stub replaced itself with the bound symbol");
  assert.equal(syms.getpid(), Deno.pid);
  // A stub taken before the first call keeps working.
  const early = syms.getppid;
  assert.equal(early(), Deno.ppid);
  assert.equal(early(), Deno.ppid);
});

Deno.test("lazySymbols honours renamed and nonblocking symbols", async () => {
  const syms = lazySymbols({
    my_getuid: { name: "getuid", parameters: [], result: "u32" },
    slow_getgid: { name: "getgid", parameters: [], result: "u32", nonblocking: true },
  });
  assert.equal(syms.my_getuid(), Deno.uid());
  const p = syms.slow_getgid();
  assert.ok(p instanceof Promise);
  assert.equal(await p, Deno.gid());
});

Deno.test("S reports errno of a failed call", () => {
  assert.equal(S.close(-1), -1);
  assert.equal(errno(), 9); // EBADF
});
