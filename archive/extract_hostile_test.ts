/**
 * Hostile archives: each must fail cleanly or stay confined in the root, and nothing
 * beside the root (a sentinel directory) may change.
 */
import assert from "node:assert/strict";
import { extractTar } from "./extract.ts";
import { decompress } from "./compression.ts";
import { TypeFlag } from "./types.ts";
import { ArchiveError, StorageError, UnsafeArchiveError } from "../store/errors.ts";
import { makeTar, rm, sh, snapshot, streamOf, tmp } from "./test_util.ts";

/** Runs `fn(root, sentinel)` and asserts the sentinel is untouched afterwards. */
async function confined(fn: (root: string, sentinel: string) => Promise<void>): Promise<void> {
  const d = tmp();
  try {
    const root = `${d}/root`, sentinel = `${d}/sentinel`;
    Deno.mkdirSync(root);
    Deno.mkdirSync(sentinel);
    Deno.writeTextFileSync(`${sentinel}/secret`, "do not touch");
    Deno.symlinkSync("/nonexistent-target", `${sentinel}/link`);
    const before = snapshot(sentinel);
    const beforeD = snapshot(d, { noTimes: true }).filter((l) => !l.startsWith("root"));
    await fn(root, sentinel);
    assert.deepEqual(snapshot(sentinel), before, "sentinel changed");
    assert.deepEqual(snapshot(d, { noTimes: true }).filter((l) => !l.startsWith("root")), beforeD);
  } finally {
    rm(d);
  }
}

Deno.test("'..' components and absolute names are cleaned into the root", async () => {
  await confined(async (root, sentinel) => {
    const tar = makeTar([
      { name: "../sentinel/secret", data: "pwned" },
      { name: "../../../../x", data: "up" },
      { name: `${sentinel}/abs`, data: "abs" },
      { name: "a/../../b", data: "b" },
    ]);
    await extractTar(streamOf(tar), root);
    assert.equal(Deno.readTextFileSync(`${root}/sentinel/secret`), "pwned");
    assert.equal(Deno.readTextFileSync(`${root}/x`), "up");
    assert.equal(Deno.readTextFileSync(`${root}${sentinel}/abs`), "abs");
    assert.equal(Deno.readTextFileSync(`${root}/b`), "b");
  });
});

Deno.test("symlinks pointing out are followed only within the root when written through", async () => {
  await confined(async (root, sentinel) => {
    const tar = makeTar([
      { name: "rel", type: TypeFlag.Symlink, linkname: "../sentinel" },
      { name: "rel/pwn", data: "1" },
      { name: "abs", type: TypeFlag.Symlink, linkname: sentinel },
      { name: "abs/pwn", data: "2" },
      { name: "abs/secret", data: "3" },
      { name: "dots", type: TypeFlag.Symlink, linkname: "../../../../../../../.." },
      { name: "dots/etc-pwn", data: "4" },
      { name: "chain", type: TypeFlag.Symlink, linkname: "rel/../abs" },
      { name: "chain/deeper/x", data: "5" },
    ]);
    await extractTar(streamOf(tar), root);
    // Symlinks are stored verbatim...
    assert.equal(Deno.readLinkSync(`${root}/abs`), sentinel);
    // ...and resolved inside the root when entries go through them.
    assert.equal(Deno.readTextFileSync(`${root}/sentinel/pwn`), "1");
    assert.equal(Deno.readTextFileSync(`${root}${sentinel}/pwn`), "2");
    assert.equal(Deno.readTextFileSync(`${root}${sentinel}/secret`), "3");
    assert.equal(Deno.readTextFileSync(`${root}/etc-pwn`), "4");
    assert.equal(Deno.readTextFileSync(`${root}${sentinel}/deeper/x`), "5");
  });
});

Deno.test("a final-component symlink is replaced, never written through", async () => {
  await confined(async (root, sentinel) => {
    const tar = makeTar([
      { name: "f", type: TypeFlag.Symlink, linkname: `${sentinel}/secret` },
      { name: "f", data: "replaced" },
      { name: "d", type: TypeFlag.Symlink, linkname: sentinel },
      { name: "d/", type: TypeFlag.Dir, mode: 0o700 },
      { name: "d/inner", data: "in the real dir" },
      { name: "m", type: TypeFlag.Symlink, linkname: sentinel },
      { name: "m", type: TypeFlag.Dir, mode: 0o777 },
    ]);
    await extractTar(streamOf(tar), root);
    assert.ok(Deno.lstatSync(`${root}/f`).isFile);
    assert.ok(Deno.lstatSync(`${root}/d`).isDirectory);
    assert.equal(Deno.readTextFileSync(`${root}/d/inner`), "in the real dir");
    assert.ok(Deno.lstatSync(`${root}/m`).isDirectory);
  });
});

Deno.test("hard links: targets outside the root are refused; through symlinks they stay inside", async () => {
  await confined(async (root, sentinel) => {
    await assert.rejects(
      extractTar(
        streamOf(makeTar([{ name: "h", type: TypeFlag.Link, linkname: "../sentinel/secret" }])),
        root,
      ),
      UnsafeArchiveError,
    );
    // Through a symlink the target is looked up inside the root, where it does not exist.
    const viaLink = makeTar([
      { name: "s", type: TypeFlag.Symlink, linkname: sentinel },
      { name: "h", type: TypeFlag.Link, linkname: "s/secret" },
    ]);
    await assert.rejects(extractTar(streamOf(viaLink), root), /no such file/);
    // A hard link to a symlink links the symlink itself; chmod/times do not reach its target.
    const toSymlink = makeTar([
      { name: "t", type: TypeFlag.Symlink, linkname: `${sentinel}/secret` },
      { name: "h2", type: TypeFlag.Link, linkname: "t", mode: 0o777 },
    ]);
    await extractTar(streamOf(toSymlink), root);
    assert.ok(Deno.lstatSync(`${root}/h2`).isSymlink);
  });
});

Deno.test("symlink loops fail with ELOOP instead of spinning", async () => {
  await confined(async (root) => {
    const tar = makeTar([
      { name: "a", type: TypeFlag.Symlink, linkname: "b" },
      { name: "b", type: TypeFlag.Symlink, linkname: "a" },
      { name: "a/x", data: "x" },
    ]);
    await assert.rejects(extractTar(streamOf(tar), root), /too many levels of symbolic links/);
  });
});

Deno.test("whiteouts cannot delete outside the root", async () => {
  await confined(async (root, sentinel) => {
    const tar = makeTar([
      { name: "../sentinel/.wh.secret" },
      { name: "l", type: TypeFlag.Symlink, linkname: sentinel },
      { name: "l/.wh.secret" },
      { name: "l/.wh..wh..opq" },
    ]);
    await extractTar(streamOf(tar), root, { whiteoutFormat: "delete" });
    const tar2 = makeTar([{ name: "l2", type: TypeFlag.Symlink, linkname: sentinel }, {
      name: "l2/.wh..wh..opq",
    }]);
    await extractTar(streamOf(tar2), `${root}`, { whiteoutFormat: "overlay" });
  });
});

Deno.test("malformed streams: truncation, bad checksum, absurd sizes, bad PAX", async () => {
  await confined(async (root) => {
    const good = makeTar([{ name: "f", data: "y".repeat(2000) }, { name: "g", data: "z" }]);
    // truncated inside a payload and inside a header
    await assert.rejects(extractTar(streamOf(good.slice(0, 1000)), root), /unexpected EOF/);
    await assert.rejects(extractTar(streamOf(good.slice(0, 2560 + 100)), root), /unexpected EOF/);
    // bad checksum
    const bad = good.slice();
    bad[10] ^= 1;
    await assert.rejects(
      extractTar(streamOf(bad), root),
      (e) => e instanceof ArchiveError && /invalid tar header/.test(e.message),
    );
    // a header claiming an 8 GiB payload, then EOF: fails without allocating it
    const huge = makeTar([{ name: "big", size: 8 * 2 ** 30 }]).slice(0, 512 + 4096);
    const rss = Deno.memoryUsage().rss;
    await assert.rejects(extractTar(streamOf(huge), root), /unexpected EOF/);
    assert.ok(Deno.memoryUsage().rss - rss < 256 * 2 ** 20);
    // a PAX record larger than the meta cap
    const pax = makeTar([{ name: "p", xattrs: { "user.big": new Uint8Array(2 << 20) } }]);
    await assert.rejects(extractTar(streamOf(pax), root), /header field too long/);
    // malformed PAX record
    const pr = makeTar([{ name: "q", xattrs: { "user.a": new Uint8Array([1]) } }]);
    pr[512] = 0x39; // corrupt the record length digit
    await assert.rejects(extractTar(streamOf(pr), root), ArchiveError);
    // zero block followed by a non-zero block
    const z = new Uint8Array(2048);
    z.set(good.subarray(0, 512), 512);
    await assert.rejects(extractTar(streamOf(z), root), /invalid tar header/);
  });
});

for (const [name, tool] of [["gzip", "gzip"], ["zstd", "zstd"], ["xz", "xz"], ["bzip2", "bzip2"]] as const) {
  Deno.test(`corrupt ${name} input fails with an ArchiveError and writes nothing outside`, async () => {
    await confined(async (root) => {
      const d = root + "/../work";
      Deno.mkdirSync(d);
      try {
        sh(`head -c 300000 /usr/bin/bash > big && tar -cf t.tar big && ${tool} -c t.tar > t.z`, d);
        const z = Deno.readFileSync(`${d}/t.z`);
        const cases = [z.slice(0, Math.floor(z.length / 2)), z.slice()];
        cases[1].fill(0x55, 40, 400); // garbage in the middle
        for (const c of cases) {
          const { stream } = await decompress(streamOf(c, 4096));
          await assert.rejects(extractTar(stream, root), (e) => e instanceof StorageError);
        }
      } finally {
        rm(d);
      }
    });
  });
}
