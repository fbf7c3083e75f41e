import assert from "node:assert/strict";
import { dirFileGetter, resolveInRoot } from "./naive_getter.ts";
import { S } from "../sys/libc.ts";
import { readInto } from "../sys/fs.ts";
import { encodeName } from "../archive/rawpath.ts";

/** Content of a raw descriptor (closed afterwards), or null for -1. */
function readFd(fd: number): string | null {
  if (fd < 0) return null;
  try {
    const buf = new Uint8Array(256);
    const n = readInto(fd, buf);
    return new TextDecoder().decode(buf.subarray(0, n)).trim();
  } finally {
    S.close(fd);
  }
}

Deno.test("naive getter: openFd and open resolve names inside each directory, in order", async () => {
  const d = Deno.makeTempDirSync({ prefix: "naive-getter-" });
  try {
    const up = `${d}/up`, low = `${d}/low`;
    for (const p of [`${up}/etc`, `${up}/usr/lib`, `${low}/etc/sub`, `${d}/outside`]) {
      Deno.mkdirSync(p, { recursive: true });
    }
    Deno.writeTextFileSync(`${up}/etc/a`, "up-a");
    Deno.writeTextFileSync(`${low}/etc/a`, "low-a");
    Deno.writeTextFileSync(`${low}/etc/sub/b`, "low-b");
    Deno.writeTextFileSync(`${up}/usr/lib/libx`, "libx");
    Deno.writeTextFileSync(`${d}/outside/secret`, "secret");
    Deno.writeTextFileSync(`${up}/usr/lib/target`, "via-link");
    Deno.symlinkSync("/usr/lib", `${up}/lib`); // absolute: inside the layer
    Deno.symlinkSync("../../outside", `${up}/up`); // climbs: stays inside the layer
    Deno.symlinkSync("/usr/lib/target", `${up}/etc/last`); // last component a symlink
    Deno.symlinkSync("../outside/secret", `${up}/escape`);
    // A name with a byte that is not UTF-8.
    const raw = new TextDecoder("latin1").decode(new Uint8Array([0x66, 0xe9]));
    const rawName = String.fromCharCode(0x66, 0xdce9);
    assert.deepEqual([...encodeName(rawName)], [0x66, 0xe9]);
    Deno.writeTextFileSync(`${up}/etc/${raw}-unused`, "x");
    const fdRaw = S.open(
      new Uint8Array([...new TextEncoder().encode(`${up}/etc/`), 0x66, 0xe9, 0]),
      0o101,
      0o644,
    );
    S.close(fdRaw);

    const g = dirFileGetter([up, low]);
    assert.ok(g.openFd);
    const cases: Array<[string, string | null]> = [
      ["etc/a", "up-a"],
      ["./etc/a", "up-a"],
      ["/etc/a", "up-a"],
      ["etc/sub/b", "low-b"], // missing parent in the first directory
      ["etc//sub/./b", "low-b"],
      ["lib/libx", "libx"],
      ["lib/../etc/a", "low-a"], // lib/.. is /usr in "up": no etc/a there
      ["etc/last", "via-link"],
      ["up/secret", null],
      ["../outside/secret", null],
      ["escape", null],
      ["nosuch", null],
      ["etc/a/below-a-file", null],
      [`etc/${rawName}`, ""],
    ];
    for (const [name, want] of cases) {
      assert.equal(readFd(g.openFd!(name)), want, name);
      // The cached parents give the same answers the second time, and open() agrees.
      assert.equal(readFd(g.openFd!(name)), want, `${name} (again)`);
      const f = await g.open(name);
      if (want === null) assert.equal(f, null, name);
      else {
        assert.ok(f, name);
        const buf = new Uint8Array(64);
        const n = f.readSync(buf) ?? 0;
        f.close();
        assert.equal(new TextDecoder().decode(buf.subarray(0, n)).trim(), want, name);
      }
    }
    assert.equal(resolveInRoot(up, "lib/libx"), `${up}/usr/lib/libx`);
    assert.equal(resolveInRoot(up, "up/x"), `${up}/outside/x`);
    let closed = 0;
    const g2 = dirFileGetter([up], () => Promise.resolve(void closed++));
    await g2.close();
    await g2.close();
    assert.equal(closed, 1);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});
