import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import { extractTar } from "./extract.ts";
import { scanTar } from "./tar_reader.ts";
import {
  cleanPath,
  dirFileGetter,
  DuplicatePathError,
  goJsonString,
  readTarSplit,
  replayTarSplit,
  TarSplitRecorder,
} from "./tarsplit.ts";
import { TypeFlag } from "./types.ts";
import { crc64 } from "./crc64.ts";
import { IDSetCollector } from "./idset.ts";
import { ArchiveError, IntegrityError } from "../store/errors.ts";
import type { FileGetter } from "../drivers/driver.ts";
import {
  buildRichTree,
  collect,
  fileStream,
  makeTar,
  rm,
  run,
  sh,
  sha256,
  streamOf,
  tmp,
} from "./test_util.ts";

const crcOf = (s: string) => crc64(new TextEncoder().encode(s));

/** The getter without its raw-descriptor fast path. */
function withoutFd(g: FileGetter): FileGetter {
  return { open: (p) => g.open(p), close: () => g.close() };
}

/** Extracts `tarPath` into `dir` while recording, then replays; returns the replayed bytes. */
async function roundTrip(
  tarPath: string,
  dir: string,
  mode: "auto" | "local" | "remote" = "auto",
): Promise<Uint8Array> {
  Deno.mkdirSync(dir);
  const rec = TarSplitRecorder.create(`${dir}.tar-split.gz`, { mode });
  try {
    await extractTar(await fileStream(tarPath), dir, { observers: [rec] });
    await rec.settle();
    await rec.commit();
  } catch (e) {
    rec.abort();
    throw e;
  }
  assert.equal(Deno.statSync(`${dir}.tar-split.gz`).mode! & 0o777, 0o600);
  return await collect(replayTarSplit(`${dir}.tar-split.gz`, dirFileGetter([dir])));
}

Deno.test("record while extracting and replay: byte-identical for GNU pax/gnu/ustar and python tars with trailing data", async () => {
  const d = tmp();
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    sh(
      `tar --xattrs --xattrs-include='*' --format=pax -cf pax.tar -C src .
       tar --format=gnu -cf gnu.tar -C src .
       tar --format=ustar -cf ustar.tar -C src sub/file.txt suid owned sticky
       python3 - <<'PY'
import tarfile, io, os
with tarfile.open("py.tar", "w", format=tarfile.PAX_FORMAT) as t:
    for i in range(3):
        ti = tarfile.TarInfo("d/f%d" % i); ti.size = 700 * i; ti.mtime = 1.5e9
        t.addfile(ti, io.BytesIO(os.urandom(700 * i)))
with open("py.tar", "ab") as f:
    f.write(os.urandom(5000))   # trailing garbage after the record padding
PY`,
      d,
    );
    for (const t of ["pax", "gnu", "ustar", "py"]) {
      const original = Deno.readFileSync(`${d}/${t}.tar`);
      // Recorded in-process and on the worker: the same tar-split text either way.
      const replayed = await roundTrip(`${d}/${t}.tar`, `${d}/x-${t}`, "local");
      assert.equal(replayed.length, original.length, t);
      assert.equal(sha256(replayed), sha256(original), t);
      assert.equal(sha256(await roundTrip(`${d}/${t}.tar`, `${d}/y-${t}`, "remote")), sha256(original), t);
      const text = (f: string) => new TextDecoder().decode(gunzipSync(Deno.readFileSync(f)));
      assert.equal(text(`${d}/y-${t}.tar-split.gz`), text(`${d}/x-${t}.tar-split.gz`), t);
    }
  } finally {
    rm(d);
  }
});

Deno.test("JSON lines follow Go's field order, CRC payloads, null for empty files, segments in base64", async () => {
  const tar = makeTar([
    { name: "etc/hostname", data: "base\n" },
    { name: "empty", data: "" },
    { name: "a<b>&c", data: "x\n" },
    { name: "dir/", type: TypeFlag.Dir },
  ]);
  const chunks: Uint8Array[] = [];
  const rec = new TarSplitRecorder((gz) => chunks.push(gz.slice()));
  await scanTar(streamOf(tar), [rec]);
  await rec.settle();
  const text = new TextDecoder().decode(gunzipSync(Buffer.concat(chunks)));
  const lines = text.trimEnd().split("\n");
  assert.match(lines[0], /^\{"type":2,"payload":"[A-Za-z0-9+/=]+","position":0\}$/);
  assert.equal(lines[1], '{"type":1,"name":"etc/hostname","size":5,"payload":"YULMdBbwAAA=","position":1}');
  assert.equal(lines[3], '{"type":1,"name":"empty","payload":null,"position":3}');
  assert.equal(
    lines[5],
    '{"type":1,"name":"a\\u003cb\\u003e\\u0026c","size":2,"payload":"YVMQAAAAAAA=","position":5}',
  );
  assert.equal(lines[7], '{"type":1,"name":"dir/","payload":null,"position":7}');
  // The trailer (two zero blocks) ends the file as a segment.
  assert.match(lines[lines.length - 1], /^\{"type":2,"payload":"A{1366}==","position":8\}$/);
  assert.equal(goJsonString("\u2028\b"), '"\\u2028\\u0008"');
});

Deno.test("duplicate cleaned names are rejected with Go's error", async () => {
  const tar = makeTar([{ name: "a/b", data: "1" }, { name: "./a//b", data: "2" }]);
  for (const mode of ["local", "remote"] as const) {
    const rec = new TarSplitRecorder(() => {}, { mode });
    await assert.rejects(
      scanTar(streamOf(tar), [rec]),
      (e) => e instanceof DuplicatePathError && e.message === "duplicates of file paths not supported",
    );
    rec.abort();
  }
  assert.equal(cleanPath("./a//b/"), "a/b");
});

Deno.test("replay detects modified, truncated, extended and missing files (IntegrityError)", async () => {
  const d = tmp();
  try {
    const tar = makeTar([{ name: "f", data: "content" }, { name: "g", data: "other" }]);
    Deno.writeFileSync(`${d}/t.tar`, tar);
    const good = await roundTrip(`${d}/t.tar`, `${d}/x`);
    assert.equal(sha256(good), sha256(tar));
    const ts = `${d}/x.tar-split.gz`;
    // Both ways of reading files: raw descriptors (openFd) and FsFile (open only).
    for (const getter of [() => dirFileGetter([`${d}/x`]), () => withoutFd(dirFileGetter([`${d}/x`]))]) {
      for (const change of ["tontent", "conten", "content!"]) {
        Deno.writeTextFileSync(`${d}/x/f`, change);
        await assert.rejects(
          collect(replayTarSplit(ts, getter())),
          (e) => e instanceof IntegrityError && /"f"/.test(e.message),
        );
      }
      Deno.removeSync(`${d}/x/f`);
      await assert.rejects(collect(replayTarSplit(ts, getter())), IntegrityError);
      Deno.writeTextFileSync(`${d}/x/f`, "content");
    }
  } finally {
    rm(d);
  }
});

Deno.test("interop with the Go CLI: replay Go's tar-split files, and Go replays ours", async () => {
  const d = tmp();
  const cs = (args: string[]) =>
    run("containers-storage", ["--graph", `${d}/g`, "--run", `${d}/r`, "--storage-driver", "vfs", ...args]);
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    // More entries than are recorded in-process (2000): the worker takes over midway.
    sh(`mkdir src/many && for i in $(seq 1 2100); do echo $i > src/many/f$i; done`, d);
    sh(`tar --xattrs --xattrs-include='*' --format=pax -cf t.tar -C src . && printf 'junk' >> t.tar`, d);
    const original = Deno.readFileSync(`${d}/t.tar`);
    const id = new TextDecoder().decode(cs(["import-layer", "--file", `${d}/t.tar`])).trim().split("\n")
      .pop()!.trim();
    const goTs = `${d}/g/vfs-layers/${id}.tar-split.gz`;
    const layerDir = `${d}/g/vfs/dir/${id}`;
    // Go's file, our replay
    const ours = await collect(replayTarSplit(goTs, dirFileGetter([layerDir])));
    assert.equal(sha256(ours), sha256(original));
    let files = 0;
    for await (const e of readTarSplit(goTs)) if (e.type === 1 && e.size > 0) files++;
    assert.ok(files >= 8);
    // our file, Go's replay: one gzip member, as Go writes (the worker's, begun with
    // the text recorded in-process before it started)
    const rec = TarSplitRecorder.create(goTs);
    await scanTar(streamOf(original), [rec]);
    await rec.settle();
    await rec.commit();
    const members = (f: string) =>
      Number(
        sh(
          `python3 -c "import sys; print(open(sys.argv[1], 'rb').read().count(bytes([0x1f, 0x8b, 8, 0])))" ${f}`,
        ),
      );
    assert.equal(members(goTs), 1);
    assert.equal(sha256(cs(["diff", "-u", id])), sha256(original));
    // Files of several members (earlier versions wrote them): both read them.
    const text = gunzipSync(Deno.readFileSync(goTs));
    const cut = text.indexOf(0x0a, text.length >> 1) + 1;
    Deno.writeFileSync(goTs, Buffer.concat([gzipSync(text.subarray(0, cut)), gzipSync(text.subarray(cut))]));
    assert.equal(members(goTs), 2);
    assert.equal(sha256(await collect(replayTarSplit(goTs, dirFileGetter([layerDir])))), sha256(original));
    assert.equal(sha256(cs(["diff", "-u", id])), sha256(original));
  } finally {
    rm(d);
  }
});

Deno.test("dirFileGetter searches layers in order and never follows symlinks", async () => {
  const d = tmp();
  try {
    sh(
      `mkdir -p up/etc low/etc out && echo up > up/etc/a && echo low > low/etc/b && echo secret > out/s
        ln -s ../out up/link && ln -s ../../out/s low/etc/c`,
      d,
    );
    const g = dirFileGetter([`${d}/up`, `${d}/low`]);
    const read = async (p: string) => {
      const f = await g.open(p);
      if (!f) return null;
      const t = new TextDecoder().decode(await collect(f.readable));
      return t.trim();
    };
    assert.equal(await read("etc/a"), "up");
    assert.equal(await read("./etc/b"), "low");
    assert.equal(await read("link/s"), null);
    assert.equal(await read("etc/c"), null);
    assert.equal(await read("../out/s"), null);
    assert.equal(await read("etc"), null);
  } finally {
    rm(d);
  }
});

Deno.test("PAX global headers: recorded as a file entry and counted in the ID sets, as Go does", async () => {
  const d = tmp();
  try {
    sh(
      `python3 -c "
import tarfile, io
with tarfile.open('g.tar', 'w', format=tarfile.PAX_FORMAT, pax_headers={'comment': 'hello'}) as t:
    ti = tarfile.TarInfo('f'); ti.size = 1; ti.uid = 1000; ti.gid = 1000
    t.addfile(ti, io.BytesIO(b'x'))
"`,
      d,
    );
    Deno.mkdirSync(`${d}/x`);
    const chunks: Uint8Array[] = [];
    const rec = new TarSplitRecorder((gz) => chunks.push(gz.slice()));
    const ids = new IDSetCollector();
    await extractTar(await fileStream(`${d}/g.tar`), `${d}/x`, { observers: [rec, ids] });
    await rec.settle();
    const lines = new TextDecoder().decode(gunzipSync(Buffer.concat(chunks))).split("\n");
    assert.equal(lines[1], '{"type":1,"name":"././@PaxHeader","payload":null,"position":1}');
    assert.deepEqual(ids.uidSet(), [0, 1000]);
    assert.deepEqual([...Deno.readDirSync(`${d}/x`)].map((e) => e.name), ["f"]);
  } finally {
    rm(d);
  }
});

Deno.test("replay: files and segments larger than an output chunk, through both getter paths", async () => {
  const d = tmp();
  try {
    const big = new Uint8Array(2_500_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) >>> 3;
    const tail = new Uint8Array(2_300_000).fill(0x5a); // trailing data: segments of up to 1 MiB
    const body = makeTar([
      { name: "small", data: "s" },
      { name: "big", data: big },
      { name: "d/after", data: "after" },
    ]);
    const tar = new Uint8Array(body.length + tail.length);
    tar.set(body);
    tar.set(tail, body.length);
    Deno.writeFileSync(`${d}/t.tar`, tar);
    const first = await roundTrip(`${d}/t.tar`, `${d}/x`);
    assert.equal(sha256(first), sha256(tar));
    const again = await collect(replayTarSplit(`${d}/x.tar-split.gz`, withoutFd(dirFileGetter([`${d}/x`]))));
    assert.equal(sha256(again), sha256(tar));
  } finally {
    rm(d);
  }
});

Deno.test("replay: lines in other shapes (plain file, key order, null and empty payloads, blank lines)", async () => {
  const d = tmp();
  try {
    Deno.mkdirSync(`${d}/x`);
    Deno.writeTextFileSync(`${d}/x/f`, "hello");
    const b64 = (s: string) => btoa(s);
    const lines = [
      `{"type":2,"payload":"${b64("HEAD1")}","position":0}`,
      `{"position":1,"type":2,"payload":"${b64("HEAD2")}"}`,
      `{"type":2,"payload":null,"position":2}`,
      `{"type":2,"payload":"","position":3}`,
      "",
      `  `,
      `{"type":1,"name":"f","size":5,"payload":"${
        b64(String.fromCharCode(...crcOf("hello")))
      }","position":4}`,
      `{"type":1,"name":"empty","payload":null,"position":5}`,
      `{"type":2,"payload":"${b64("END")}","position":6}`,
    ];
    Deno.writeTextFileSync(`${d}/ts.json`, lines.join("\n")); // no final newline
    const out = await collect(replayTarSplit(`${d}/ts.json`, dirFileGetter([`${d}/x`])));
    assert.equal(new TextDecoder().decode(out), "HEAD1HEAD2helloEND");
    Deno.writeTextFileSync(`${d}/bad.json`, `{"type":2,"payload":"abc","position":0}\n`);
    await assert.rejects(collect(replayTarSplit(`${d}/bad.json`, dirFileGetter([`${d}/x`]))), ArchiveError);
    Deno.writeTextFileSync(`${d}/bad2.json`, `{"type":3,"position":0}\n`);
    await assert.rejects(
      collect(replayTarSplit(`${d}/bad2.json`, dirFileGetter([`${d}/x`]))),
      /unknown tar-split entry type 3/,
    );
  } finally {
    rm(d);
  }
});

Deno.test("replay: large files checksummed on the worker; a changed byte still fails the stream", async () => {
  const d = tmp();
  try {
    const big = new Uint8Array(9 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i >>> 12;
    const tar = makeTar([
      { name: "big", data: big }, // starts the worker
      { name: "small", data: "s" },
      { name: "big2", data: big.subarray(0, 3 << 20) },
    ]);
    Deno.writeFileSync(`${d}/t.tar`, tar);
    assert.equal(sha256(await roundTrip(`${d}/t.tar`, `${d}/x`)), sha256(tar));
    const replay = () =>
      collect(replayTarSplit(`${d}/x.tar-split.gz`, dirFileGetter([`${d}/x`]), { offloadStart: 8 << 20 }));
    assert.equal(sha256(await replay()), sha256(tar));
    const f = Deno.openSync(`${d}/x/big2`, { write: true });
    f.seekSync((3 << 20) - 5, Deno.SeekMode.Start);
    f.writeSync(new Uint8Array([0xee]));
    f.close();
    await assert.rejects(replay(), (e) => e instanceof IntegrityError && /"big2"/.test(e.message));
  } finally {
    rm(d);
  }
});

Deno.test("recorder digest: sha256 and size of the whole stream, on the worker or in-process", async () => {
  const tar = makeTar([{ name: "a", data: "x".repeat(3000) }, { name: "d/", type: TypeFlag.Dir }]);
  const withTail = new Uint8Array(tar.length + 100).fill(1);
  withTail.set(tar);
  for (const mode of ["auto", "local"] as const) {
    const chunks: Uint8Array[] = [];
    const rec = new TarSplitRecorder((gz) => chunks.push(gz.slice()), { digest: true, mode });
    await scanTar(streamOf(withTail, 1000), [rec]);
    await rec.settle();
    assert.equal(rec.digest, `sha256:${sha256(withTail)}`, mode);
    assert.equal(rec.size, withTail.length, mode);
    const text = new TextDecoder().decode(gunzipSync(Buffer.concat(chunks)));
    assert.match(text, /"name":"a","size":3000/, mode);
  }
});
