import assert from "node:assert/strict";
import { tarDirectory } from "./tar_dir.ts";
import { TarReader } from "./tar_reader.ts";
import { TypeFlag } from "./types.ts";
import { rm, sh, tmp } from "./test_util.ts";

async function list(s: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  const r = new TarReader(s);
  for (let h = await r.next(); h; h = await r.next()) {
    out.push(h.type === TypeFlag.Link ? `${h.name}=>${h.linkname}` : h.name);
  }
  return out;
}

Deno.test("tarDirectory: lexical order, dirs end in /, hard links, sockets skipped, include/exclude/rename/rebase", async () => {
  const d = tmp();
  try {
    sh(
      `mkdir -p t/b t/a/x t/c && echo 1 > t/a/x/f && ln t/a/x/f t/c/h && echo 2 > t/b/g
       python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('t/sock')"`,
      d,
    );
    assert.deepEqual(await list(tarDirectory(`${d}/t`)), [
      "./",
      "a/",
      "a/x/",
      "a/x/f",
      "b/",
      "b/g",
      "c/",
      "c/h=>a/x/f",
    ]);
    assert.deepEqual(await list(tarDirectory(`${d}/t`, { include: ["a", "b/g"], includeRoot: false })), [
      "a/",
      "a/x/",
      "a/x/f",
      "b/g",
    ]);
    assert.deepEqual(await list(tarDirectory(`${d}/t`, { exclude: ["a/x"], rename: "root" })), [
      "root/",
      "root/a/",
      "root/b/",
      "root/b/g",
      "root/c/",
      "root/c/h",
    ]);
    assert.deepEqual(await list(tarDirectory(`${d}/t`, { include: ["b/g"], rebase: { "b/g": "renamed" } })), [
      "renamed",
    ]);
    const owned = new TarReader(tarDirectory(`${d}/t`, { include: ["b/g"], chownTo: { uid: 5, gid: 6 } }));
    const h = (await owned.next())!;
    assert.deepEqual([h.uid, h.gid, h.uname], [5, 6, "root"]);
  } finally {
    rm(d);
  }
});

Deno.test("tarDirectory maps owners host → container and fails on unmappable owners", async () => {
  const d = tmp();
  try {
    sh(`mkdir t && echo 1 > t/f && chown 100005:100007 t/f && chown 100000:100000 t`, d);
    const map = [{ containerId: 0, hostId: 100000, size: 1000 }];
    const r = new TarReader(tarDirectory(`${d}/t`, { uidMap: map, gidMap: map }));
    const ids: string[] = [];
    for (let h = await r.next(); h; h = await r.next()) ids.push(`${h.name}:${h.uid}:${h.gid}`);
    assert.deepEqual(ids, ["./:0:0", "f:5:7"]);
    sh(`chown 5:5 t/f`, d);
    await assert.rejects(list(tarDirectory(`${d}/t`, { uidMap: map, gidMap: map })), /cannot be mapped/);
  } finally {
    rm(d);
  }
});
