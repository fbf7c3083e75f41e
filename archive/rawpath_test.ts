import assert from "node:assert/strict";
import { decodeName, encodeName, hasRawBytes } from "./rawpath.ts";
import { extractTar } from "./extract.ts";
import { dirFileGetter, replayTarSplit, TarSplitRecorder } from "./tarsplit.ts";
import { collect, fileStream, rm, run, sh, sha256, tmp } from "./test_util.ts";

Deno.test("decodeName/encodeName round-trip any bytes; valid UTF-8 stays a normal string", () => {
  const cases = [
    [0x61, 0x62],
    [0x63, 0x61, 0x66, 0xe9],
    [0xff, 0xfe, 0x2f, 0xc3, 0xa9],
    [0xed, 0xa0, 0x80],
    [0xf0, 0x9f, 0x98, 0x80],
    [0xc3],
    [0xe2, 0x82],
  ];
  for (const c of cases) {
    const b = new Uint8Array(c);
    assert.deepEqual([...encodeName(decodeName(b))], c);
  }
  assert.equal(decodeName(new Uint8Array([0xc3, 0xa9])), "é");
  assert.equal(hasRawBytes("é😀"), false);
  assert.equal(hasRawBytes(decodeName(new Uint8Array([0xe9]))), true);
});

Deno.test("non-UTF-8 names extract byte-exactly (as Go's vfs), replay byte-identically, whiteouts find them", async () => {
  const d = tmp();
  const store = ["--graph", `${d}/g`, "--run", `${d}/r`, "--storage-driver", "vfs"];
  try {
    sh(
      `python3 - <<'PY'
import tarfile, io
def add(t, name, data=None, **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(ti, k, v)
    if data is not None: ti.size = len(data)
    t.addfile(ti, io.BytesIO(data) if data is not None else None)
for fmt, out in ((tarfile.GNU_FORMAT, "gnu.tar"), (tarfile.PAX_FORMAT, "pax.tar")):
    with tarfile.open(out, "w", format=fmt, encoding="utf-8", errors="surrogateescape") as t:
        add(t, "caf\\udce9", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "caf\\udce9/\\udcff\\udcfe.txt", b"latin", mode=0o644)
        add(t, "caf\\udce9/" + "\\udce0" * 120, b"long", mode=0o644)
        add(t, "link", type=tarfile.SYMTYPE, linkname="caf\\udce9/\\udcff\\udcfe.txt")
        add(t, "hard", type=tarfile.LNKTYPE, linkname="caf\\udce9/\\udcff\\udcfe.txt")
with tarfile.open("wh.tar", "w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
    add(t, "caf\\udce9/.wh.\\udcff\\udcfe.txt", b"")
PY`,
      d,
    );
    const names = (dir: string) =>
      sh(
        `python3 -c "import os,sys; print(chr(10).join(sorted(repr(p) for r,ds,fs in os.walk(sys.argv[1].encode()) for p in [os.path.relpath(os.path.join(r,x), sys.argv[1].encode()) for x in ds+fs])))" ${dir}`,
      );
    for (const f of ["gnu", "pax"]) {
      const out = `${d}/${f}`;
      Deno.mkdirSync(out);
      // pax through the recording worker: raw names cross the thread boundary intact.
      const rec = TarSplitRecorder.create(`${out}.ts.gz`, { mode: f === "pax" ? "remote" : "local" });
      await extractTar(await fileStream(`${d}/${f}.tar`), out, { observers: [rec] });
      await rec.settle();
      await rec.commit();
      const id = new TextDecoder().decode(
        run("containers-storage", [...store, "import-layer", "--file", `${d}/${f}.tar`]),
      )
        .trim().split("\n").pop()!;
      assert.equal(names(out), names(`${d}/g/vfs/dir/${id}`));
      assert.match(names(out), /caf\\xe9\/\\xff\\xfe\.txt/);
      assert.equal(
        sh(`readlink ${out}/link | od -An -c | tr -d ' \\n'`),
        sh(`readlink ${d}/g/vfs/dir/${id}/link | od -An -c | tr -d ' \\n'`),
      );
      const replay = await collect(replayTarSplit(`${out}.ts.gz`, dirFileGetter([out])));
      assert.equal(sha256(replay), sha256(Deno.readFileSync(`${d}/${f}.tar`)), f);
    }
    await extractTar(await fileStream(`${d}/wh.tar`), `${d}/pax`, { whiteoutFormat: "delete" });
    assert.doesNotMatch(names(`${d}/pax`), /\\xff\\xfe/);
  } finally {
    rm(d);
  }
});

Deno.test("tarDirectory, changes and exportChanges keep non-UTF-8 names", async () => {
  const d = tmp();
  try {
    sh(
      `python3 -c "
import os
os.makedirs(b'old/d\\xe9', exist_ok=True); os.makedirs(b'new/d\\xe9', exist_ok=True)
open(b'old/d\\xe9/gone\\xff', 'w').write('x'); open(b'new/d\\xe9/n\\xfe', 'w').write('y')
os.symlink(b'd\\xe9/n\\xfe', b'new/l\\xfd')
os.setxattr(b'new/d\\xe9/n\\xfe', 'user.k', b'v')
"`,
      d,
    );
    const { changes, exportChanges } = await import("./changes.ts");
    const { tarDirectory } = await import("./tar_dir.ts");
    const { TarReader } = await import("./tar_reader.ts");
    const cs = await changes(`${d}/new`, `${d}/old`);
    const enc = (s: string) => [...encodeName(s)].map((b) => b.toString(16)).join(" ");
    assert.deepEqual(cs.map((c) => `${c.kind} ${enc(c.path)}`).sort(), [
      `0 ${enc(decodeName(new Uint8Array([0x2f, 0x64, 0xe9])))}`,
      `1 ${enc(decodeName(new Uint8Array([0x2f, 0x64, 0xe9, 0x2f, 0x6e, 0xfe])))}`,
      `1 ${enc(decodeName(new Uint8Array([0x2f, 0x6c, 0xfd])))}`,
      `2 ${enc(decodeName(new Uint8Array([0x2f, 0x64, 0xe9, 0x2f, 0x67, 0x6f, 0x6e, 0x65, 0xff])))}`,
    ]);
    Deno.mkdirSync(`${d}/copy`);
    await extractTar(tarDirectory(`${d}/new`), `${d}/copy`);
    assert.equal(
      sh(`cd copy && find . | LC_ALL=C sort | od -c | md5sum`, d),
      sh(`cd new && find . | LC_ALL=C sort | od -c | md5sum`, d),
    );
    assert.equal(sh(`getfattr --only-values -n user.k copy/d$'\\xe9'/n$'\\xfe'`, d), "v");
    const names: string[] = [];
    const r = new TarReader(exportChanges(`${d}/new`, cs));
    for (let h = await r.next(); h; h = await r.next()) names.push(enc(h.name));
    assert.ok(
      names.includes(
        enc(
          decodeName(
            new Uint8Array([0x64, 0xe9, 0x2f, 0x2e, 0x77, 0x68, 0x2e, 0x67, 0x6f, 0x6e, 0x65, 0xff]),
          ),
        ),
      ),
    );
  } finally {
    rm(d);
  }
});
