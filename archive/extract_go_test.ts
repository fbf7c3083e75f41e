/**
 * Differential tests: the same tars imported by the Go CLI (vfs and overlay stores) and
 * extracted by extractTar must give identical trees (modes, owners, times, xattrs,
 * devices, links, whiteouts).
 */
import assert from "node:assert/strict";
import { extractTar } from "./extract.ts";
import { fileSource } from "./source.ts";
import { buildRichTree, rm, run, sh, snapshot, tmp } from "./test_util.ts";

function goStore(d: string, driver: string) {
  const args = ["--graph", `${d}/g`, "--run", `${d}/r`, "--storage-driver", driver];
  return {
    cs: (a: string[]) => new TextDecoder().decode(run("containers-storage", [...args, ...a])).trim(),
    shutdown: () => {
      try {
        run("containers-storage", [...args, "shutdown"]);
      } catch { /* nothing mounted */ }
    },
  };
}
const lastLine = (s: string) => s.split("\n").pop()!.trim();

/** A child layer tar with whiteouts, an opaque directory and replaced entries. */
function childTar(d: string): void {
  sh(
    `mkdir -p c/sub c/sticky c/newdir && cd c
     : > .wh.suid; : > sub/.wh.file.txt; : > sticky/.wh..wh..opq; echo fresh > sticky/only
     echo replaced > owned; chown 77:88 owned; echo n > newdir/n; mkdir -p deep/a && : > deep/a/.wh.ghost
     touch -d '2015-05-05 05:05:05.5' owned newdir/n sticky/only
     tar --xattrs --xattrs-include='*' --numeric-owner --format=pax -cf ../child.tar .`,
    d,
  );
}

Deno.test("vfs: same tree as Go's import-layer (base and child with whiteouts)", async () => {
  const d = tmp();
  const go = goStore(d, "vfs");
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    sh(`tar --xattrs --xattrs-include='*' --numeric-owner --format=pax -cf base.tar -C src .`, d);
    childTar(d);
    const l1 = lastLine(go.cs(["import-layer", "--file", `${d}/base.tar`]));
    const l2 = lastLine(go.cs(["import-layer", "--file", `${d}/child.tar`, l1]));
    // ours: base into an empty 0555 dir, child over a copy of it (as vfs does)
    Deno.mkdirSync(`${d}/ours1`, { mode: 0o555 });
    Deno.chmodSync(`${d}/ours1`, 0o555);
    await extractTar(await fileSource(`${d}/base.tar`), `${d}/ours1`, { whiteoutFormat: "delete" });
    sh(`cp -a ours1 ours2`, d);
    await extractTar(await fileSource(`${d}/child.tar`), `${d}/ours2`, { whiteoutFormat: "delete" });
    // Roots: Go's end with mtime "now" (its chrooted child makes a temp dir there); ours too.
    const noRoot = { noRoot: true };
    assert.deepEqual(snapshot(`${d}/ours1`, noRoot), snapshot(`${d}/g/vfs/dir/${l1}`, noRoot));
    const rootOf = (p: string) => snapshot(p, { noTimes: true })[0];
    assert.equal(rootOf(`${d}/ours1`), rootOf(`${d}/g/vfs/dir/${l1}`));
    for (const p of [`${d}/ours1`, `${d}/g/vfs/dir/${l1}`]) {
      assert.ok(Date.now() - Deno.statSync(p).mtime!.getTime() < 600_000, p);
    }
    // Whiteout deletions touch directory mtimes at "now" in both: compare those without
    // times. Go's vfs copies a parent without trusted.* xattrs (cp -a keeps them).
    const o = { noDirTimes: true, ignoreXattrs: ["trusted.note"] };
    assert.deepEqual(snapshot(`${d}/ours2`, o), snapshot(`${d}/g/vfs/dir/${l2}`, o));
  } finally {
    go.shutdown();
    rm(d);
  }
});

Deno.test("overlay: same diff directories as Go's overlay driver (whiteout devices, opaque xattr)", async () => {
  const d = tmp();
  const go = goStore(d, "overlay");
  try {
    Deno.mkdirSync(`${d}/src`);
    buildRichTree(`${d}/src`);
    sh(`tar --xattrs --xattrs-include='*' --numeric-owner --format=pax -cf base.tar -C src .`, d);
    childTar(d);
    const l1 = lastLine(go.cs(["import-layer", "--file", `${d}/base.tar`]));
    const l2 = lastLine(go.cs(["import-layer", "--file", `${d}/child.tar`, l1]));
    for (const [n, t] of [["o1", "base"], ["o2", "child"]]) {
      Deno.mkdirSync(`${d}/${n}`, { mode: 0o555 });
      Deno.chmodSync(`${d}/${n}`, 0o555);
      await extractTar(await fileSource(`${d}/${t}.tar`), `${d}/${n}`, {
        whiteoutFormat: "overlay",
        skipRootEntry: true,
      });
    }
    // The diff roots are created by the driver (not by extraction): compare their contents.
    const o = { noRoot: true };
    assert.deepEqual(snapshot(`${d}/o1`, o), snapshot(`${d}/g/overlay/${l1}/diff`, o));
    // Whiteout devices get "now" as their times in both implementations.
    const o2 = { noRoot: true, noTimes: true };
    assert.deepEqual(snapshot(`${d}/o2`, o2), snapshot(`${d}/g/overlay/${l2}/diff`, o2));
  } finally {
    go.shutdown();
    rm(d);
  }
});
