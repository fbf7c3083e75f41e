import assert from "node:assert/strict";
import { changes, changesSize, exportChanges } from "./changes.ts";
import { extractTar } from "./extract.ts";
import { TarReader } from "./tar_reader.ts";
import { type Change, ChangeKind } from "../store/types.ts";
import { rm, run, sh, snapshot, tmp } from "./test_util.ts";

const KIND = ["Modify", "Add", "Delete"];
const fmt = (cs: Change[]) => cs.map((c) => `${KIND[c.kind]} ${JSON.stringify(c.path)}`).sort();

/** Two Go vfs layers: base, and a child with modifications, additions and whiteouts. */
function goLayers(d: string): { l1: string; l2: string; cs: (a: string[]) => string } {
  const cs = (args: string[]) =>
    new TextDecoder().decode(
      run("containers-storage", ["--graph", `${d}/g`, "--run", `${d}/r`, "--storage-driver", "vfs", ...args]),
    );
  sh(
    `mkdir -p b/etc b/gone/sub b/keep b/same && cd b
     echo host > etc/hostname; echo 1 > etc/modme; echo 2 > etc/chmodme; echo 3 > etc/del; echo x > gone/sub/f
     echo k > keep/k; echo s > same/s; ln -s hostname etc/lnk; echo h > etc/hl1; ln etc/hl1 etc/hl2
     touch -d 2020-01-01 etc/* gone/sub/f keep/k same/s; touch -h -d 2020-01-01 etc/lnk
     tar -cf ../l1.tar .
     cd .. && mkdir -p c/etc c/newdir && cd c
     echo changed > etc/modme; echo 2 > etc/chmodme; chmod 600 etc/chmodme; touch -d 2020-01-01 etc/chmodme
     : > etc/.wh.del; : > .wh.gone; echo n > newdir/n; echo new > etc/new; ln -s other etc/lnk
     echo big > etc/hl1; ln etc/hl1 etc/hl3
     tar -cf ../l2.tar .`,
    d,
  );
  const id = (out: string) => out.trim().split("\n").pop()!.trim();
  const l1 = id(cs(["import-layer", "--file", `${d}/l1.tar`]));
  const l2 = id(cs(["import-layer", "--file", `${d}/l2.tar`, l1]));
  return { l1, l2, cs };
}

Deno.test("changes, changesSize and exportChanges agree with the Go CLI on real vfs layers", async () => {
  const d = tmp();
  try {
    const { l1, l2, cs } = goLayers(d);
    const dir = (id: string) => `${d}/g/vfs/dir/${id}`;
    const ours = await changes(dir(l2), dir(l1));
    const goLines = cs(["changes", l2]).trim().split("\n").sort();
    assert.deepEqual(fmt(ours), goLines);
    // The Go CLI's JSON agrees too (kinds as numbers).
    const goJson = JSON.parse(cs(["changes", "-j", l2])) as Array<{ Path: string; Kind: number }>;
    assert.deepEqual(goJson.map((c) => `${KIND[c.Kind]} ${JSON.stringify(c.Path)}`).sort(), goLines);
    assert.ok(ours.some((c) => c.path === "/gone" && c.kind === ChangeKind.Delete));
    assert.ok(!ours.some((c) => c.path.startsWith("/gone/")));
    assert.equal(await changesSize(dir(l2), ours), Number(cs(["diffsize", l2]).trim()));
    // A base layer: everything is added.
    const all = await changes(dir(l1), null);
    assert.deepEqual(fmt(all), cs(["changes", l1]).trim().split("\n").sort());

    // exportChanges: sorted entries, whiteouts for deletions, hard links kept; applying it
    // to a copy of the parent reproduces the child.
    const names: string[] = [];
    const r = new TarReader(exportChanges(dir(l2), ours));
    for (let h = await r.next(); h; h = await r.next()) {
      names.push(`${h.name}${h.type === 0x31 ? `=>${h.linkname}` : ""}`);
    }
    // Sorted by the changed path (Go), so a whiteout sits where the deleted name would.
    assert.deepEqual(names.slice(0, 4), ["etc/", "etc/chmodme", "etc/.wh.del", "etc/hl1"]);
    assert.ok(names.indexOf(".wh.gone") > names.indexOf("etc/new"));
    assert.ok(names.includes(".wh.gone") && names.includes("etc/.wh.del"));
    assert.ok(names.some((n) => /^etc\/hl[13]=>etc\/hl[13]$/.test(n)));
    sh(`cp -a ${dir(l1)} ${d}/apply`);
    await extractTar(exportChanges(dir(l2), ours), `${d}/apply`, { whiteoutFormat: "delete" });
    const o = { seconds: true, noDirTimes: true, noRoot: true };
    assert.deepEqual(snapshot(`${d}/apply`, o), snapshot(dir(l2), o));
  } finally {
    rm(d);
  }
});

Deno.test("changes compare owners through the maps and see user.* xattrs and capabilities", async () => {
  const d = tmp();
  try {
    sh(
      `mkdir -p old new && echo a > old/f && echo a > new/f && touch -d 2021-01-01 old/f new/f
       chown 100000:100000 old/f; chown 200000:200000 new/f
       echo c > old/cap && cp -a old/cap new/cap && setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 new/cap
       echo u > old/u && cp -a old/u new/u && setfattr -n user.k -v v new/u`,
      d,
    );
    const m = (host: number) => [{ containerId: 0, hostId: host, size: 65536 }];
    const cs = await changes(`${d}/new`, `${d}/old`, {
      uidMap: m(200000),
      gidMap: m(200000),
      oldUidMap: m(100000),
      oldGidMap: m(100000),
    });
    assert.deepEqual(fmt(cs), ['Modify "/cap"', 'Modify "/u"']);
    const unmapped = await changes(`${d}/new`, `${d}/old`);
    assert.deepEqual(fmt(unmapped), ['Modify "/cap"', 'Modify "/f"', 'Modify "/u"']);
  } finally {
    rm(d);
  }
});
