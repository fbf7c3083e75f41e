import assert from "node:assert/strict";
import { encodeHeader, TarWriter } from "./tar_writer.ts";
import { scanTar } from "./tar_reader.ts";
import { type TarHeader, TypeFlag } from "./types.ts";
import { collect, makeTar, rm, sh, streamOf, tmp } from "./test_util.ts";

const latin1 = new TextDecoder("latin1");

Deno.test("USTAR header layout as Go writes it: mode with type bits, seconds, no PAX when not needed", () => {
  const h = encodeHeader({
    name: "etc/",
    type: TypeFlag.Dir,
    mode: 0o755,
    mtimeNs: 1_700_000_000_999_000_000n,
    uname: "root",
    gname: "root",
  });
  assert.equal(h.length, 512);
  const s = latin1.decode(h);
  assert.equal(s.slice(0, 4), "etc/");
  assert.equal(s.slice(100, 107), "0040755");
  assert.equal(s.slice(136, 147), (1_700_000_000).toString(8).padStart(11, "0"));
  assert.equal(s.slice(257, 265), "ustar\x0000");
  assert.equal(latin1.decode(encodeHeader({ name: "f", mode: 0o4755 })).slice(100, 107), "0104755");
});

Deno.test("PAX records for long/non-ASCII names, long links, big ids, xattrs; read back by us, GNU tar and python", async () => {
  const d = tmp();
  try {
    const xattr = new Uint8Array([0xff, 0x00, 0xfe, 0x01]);
    const entries = [
      { name: `${"d".repeat(99)}/`, type: TypeFlag.Dir, mode: 0o755 },
      { name: `${"d".repeat(99)}/${"f".repeat(120)}`, mode: 0o640, uid: 3_000_000, gid: 70000, data: "long" },
      { name: "ünïcode.txt", mode: 0o644, data: "u", xattrs: { "user.bin": xattr } },
      { name: "link", type: TypeFlag.Symlink, linkname: "t/".repeat(80) + "x" },
      { name: "dev", type: TypeFlag.Char, devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "precise", mtimeNs: 1_600_000_000_123_456_789n, preciseTimes: true, data: "p" },
    ];
    const tar = makeTar(entries);
    const hs: TarHeader[] = [];
    await scanTar(streamOf(tar), [{ entry: (h) => hs.push(h) }]);
    assert.deepEqual(hs.map((h) => h.name), entries.map((e) => e.name));
    assert.deepEqual([hs[1].uid, hs[1].gid, hs[1].mode], [3_000_000, 70000, 0o640]);
    assert.deepEqual([...hs[2].xattrs.get("user.bin")!], [...xattr]);
    assert.equal(hs[3].linkname, entries[3].linkname);
    assert.equal(hs[5].mtimeNs, 1_600_000_000_123_456_789n);
    Deno.writeFileSync(`${d}/t.tar`, tar);
    const tv = sh(`tar --numeric-owner -tvf t.tar`, d);
    assert.match(tv, /3000000\/70000/);
    assert.match(tv, /ünïcode\.txt/);
    sh(
      `mkdir x && tar --xattrs --xattrs-include='*' -xpf t.tar -C x && getfattr --only-values -n user.bin x/ünïcode.txt | od -An -tx1 > attr`,
      d,
    );
    assert.equal(Deno.readTextFileSync(`${d}/attr`).trim(), "ff 00 fe 01");
    const py = sh(
      `python3 -c "import tarfile; print([(m.name[-3:], m.uid) for m in tarfile.open('t.tar')])"`,
      d,
    );
    assert.match(py, /\('fff', 3000000\)/);
  } finally {
    rm(d);
  }
});

Deno.test("TarWriter streams entries with backpressure and checks payload sizes", async () => {
  const w = new TarWriter(1024);
  const out = collect(w.readable);
  await w.add({ name: "a", size: 5 }, new TextEncoder().encode("hello"));
  await w.add({ name: "b", size: 3000 }, streamOf(new Uint8Array(3000).fill(1), 700));
  await w.add({ name: "c/", type: TypeFlag.Dir });
  await assert.rejects(w.add({ name: "bad", size: 10 }, new Uint8Array(3)), /write too long or short/);
  await w.close();
  const bytes = await out;
  const names: string[] = [];
  await scanTar(streamOf(bytes), [{ entry: (h) => names.push(`${h.name}:${h.size}`) }]);
  // The failed entry's header was written; the stream is still well-formed up to it.
  assert.deepEqual(names.slice(0, 3), ["a:5", "b:3000", "c/:0"]);
});
