import assert from "node:assert/strict";
import { parseNumeric, parsePaxTime, scanTar, TarParser, TarReader } from "./tar_reader.ts";
import { type TarHeader, TypeFlag } from "./types.ts";
import { ArchiveError } from "../store/errors.ts";
import { buildRichTree, makeTar, rm, sh, sha256, streamOf, tmp } from "./test_util.ts";

async function headers(bytes: Uint8Array, chunk = 65536): Promise<TarHeader[]> {
  const out: TarHeader[] = [];
  await scanTar(streamOf(bytes, chunk), [{ entry: (h) => out.push(h) }]);
  return out;
}

Deno.test("reads GNU tar's pax and gnu formats: names, types, links, xattrs as raw bytes, ns times", async () => {
  const d = tmp();
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    sh(
      `tar --xattrs --xattrs-include='*' --format=pax -cf pax.tar -C src . && tar --format=gnu -cf gnu.tar -C src .`,
      d,
    );
    const listed = sh(`tar -tf pax.tar`, d).trim().split("\n");
    for (const f of ["pax", "gnu"]) {
      const bytes = Deno.readFileSync(`${d}/${f}.tar`);
      const hs = await headers(bytes, 777);
      assert.deepEqual(hs.map((h) => h.name), listed, f);
      const by = new Map(hs.map((h) => [h.name, h]));
      assert.equal(by.get("./rel-link")!.type, TypeFlag.Symlink);
      assert.equal(by.get("./rel-link")!.linkname, "sub/file.txt");
      assert.equal(by.get("./cdev")!.type, TypeFlag.Char);
      assert.deepEqual([by.get("./cdev")!.devmajor, by.get("./cdev")!.devminor], [1, 3]);
      assert.equal(by.get("./bdev")!.type, TypeFlag.Block);
      assert.equal(by.get("./fifo")!.type, TypeFlag.Fifo);
      assert.equal(by.get("./suid")!.mode, 0o4755);
      assert.equal(by.get("./sticky/")!.mode, 0o1777);
      assert.equal(by.get("./sub/deep/er/bin")!.uid, 4000000);
      const links = hs.filter((h) => h.type === TypeFlag.Link);
      assert.equal(links.length, 2);
      for (const l of links) assert.equal(l.size, 0);
      const long = hs.find((h) => h.name.length > 300)!;
      assert.ok(long.name.endsWith("L".repeat(120)));
      if (f === "pax") {
        // The first name of the hard-link group carries content and xattrs.
        const first = hs.find((h) => h.type === TypeFlag.Reg && h.size === 6 && h.xattrs.has("user.bin"))!;
        assert.deepEqual([...first.xattrs.get("user.bin")!], [0xff, 0x00, 0xfe, 0x01]);
        assert.equal(first.mtimeNs, 946684798_987654321n);
        assert.equal(new TextDecoder().decode(by.get("./owned")!.xattrs.get("user.text")), "héllo");
        assert.ok(by.get("./caps")!.xattrs.has("security.capability"));
        assert.equal(by.get("./ünï çødé")!.type, TypeFlag.Reg);
      }
    }
  } finally {
    rm(d);
  }
});

Deno.test("observers see each byte exactly once; 1-byte chunks parse like whole buffers", () => {
  const tar = makeTar([
    { name: "a".repeat(150), data: "x".repeat(513) },
    { name: "b", xattrs: { "user.k": new Uint8Array([0, 1, 2]) }, data: "" },
    { name: "l", type: TypeFlag.Symlink, linkname: "t".repeat(200) },
  ]);
  const padded = new Uint8Array(tar.length + 10240 - (tar.length % 10240));
  padded.set(tar);
  for (const chunk of [1, 511, 512, 100000]) {
    const seen: Uint8Array[] = [];
    const events: string[] = [];
    const p = new TarParser([{
      segment: (b) => (seen.push(b.slice()), events.push("s")),
      payload: (b) => (seen.push(b.slice()), events.push("p")),
      entry: (h) => events.push(`e:${h.name.slice(0, 3)}:${h.size}`),
      entryEnd: () => events.push("end"),
      end: () => events.push("EOF"),
    }]);
    for (let i = 0; i < padded.length; i += chunk) p.push(padded.subarray(i, i + chunk));
    p.finish();
    const all = new Uint8Array(padded.length);
    let o = 0;
    for (const s of seen) (all.set(s, o), o += s.length);
    assert.equal(o, padded.length);
    assert.equal(sha256(all), sha256(padded));
    const compact = events.filter((e, i) => !(e === events[i - 1] && (e === "s" || e === "p")));
    assert.deepEqual(compact, [
      "s",
      "e:aaa:513",
      "p",
      "end",
      "s",
      "e:b:0",
      "end",
      "s",
      "e:l:0",
      "end",
      "s",
      "EOF",
    ]);
  }
});

Deno.test("pull reader: next() skips unread payloads, read() streams them", async () => {
  const tar = makeTar([{ name: "one", data: "1".repeat(3000) }, { name: "two", data: "22" }, {
    name: "three",
    data: "333",
  }]);
  const r = new TarReader(streamOf(tar, 1000));
  assert.equal((await r.next())!.name, "one");
  assert.equal((await r.next())!.name, "two");
  assert.equal(new TextDecoder().decode(await r.readAll()), "22");
  const h = await r.next();
  assert.equal(h!.name, "three");
  assert.equal(new TextDecoder().decode((await r.read())!), "333");
  assert.equal(await r.read(), null);
  assert.equal(await r.next(), null);
  const names: string[] = [];
  for await (const e of new TarReader(streamOf(tar))) names.push(e.name);
  assert.deepEqual(names, ["one", "two", "three"]);
});

Deno.test("numeric fields: octal with spaces/NULs, base-256 positive and negative; PAX times", () => {
  const f = (s: number[]) => new Uint8Array(s);
  const oct = new TextEncoder().encode(" 0000755\0");
  assert.equal(parseNumeric(oct, 0, oct.length), 0o755);
  assert.equal(parseNumeric(f([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]), 0, 12), 256);
  assert.equal(parseNumeric(f([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), 0, 8), -2);
  assert.throws(() => parseNumeric(new TextEncoder().encode("12x4"), 0, 4), ArchiveError);
  assert.equal(parsePaxTime("1700000000.5"), 1700000000_500000000n);
  assert.equal(parsePaxTime("-1.25"), -1_250000000n);
  assert.equal(parsePaxTime("12.1234567891"), 12_123456789n);
  assert.throws(() => parsePaxTime("abc"), ArchiveError);
});

Deno.test("errors: bad checksum, truncation, zero-then-data, oversized meta, empty stream is fine", async () => {
  const tar = makeTar([{ name: "f", data: "hello" }]);
  const bad = tar.slice();
  bad[148] = 0x37;
  await assert.rejects(headers(bad), /invalid tar header/);
  await assert.rejects(headers(tar.slice(0, 600)), /unexpected EOF/);
  await assert.rejects(headers(tar.slice(0, 100)), /unexpected EOF/);
  assert.deepEqual(await headers(new Uint8Array(0)), []);
  assert.deepEqual((await headers(tar.slice(0, 1024))).map((h) => h.name), ["f"]); // no trailer at all
  const big = makeTar([{ name: "g", xattrs: { "user.x": new Uint8Array(1_100_000) } }]);
  await assert.rejects(headers(big), /header field too long/);
  // PAX size override with garbage
  const pax = makeTar([{ name: "p".repeat(120), data: "z" }]);
  const s = new TextDecoder("latin1").decode(pax.subarray(512, 1024));
  assert.match(s, /path=/);
});
