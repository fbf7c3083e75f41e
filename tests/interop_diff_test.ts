/**
 * Issue 3's differential test through both CLIs, on vfs and overlay: diffs exported by one
 * tool are applied by the other and the trees are identical (contents, modes, owners,
 * xattrs incl. security.capability and user.*, times with ns where tar keeps them,
 * symlinks, hard links, devices, fifos, whiteouts and opaque directories through a chain
 * of three layers). Once for tar-split replays (imported layers, re-exported byte for
 * byte by both tools) and once for generated diffs (a container layer changed through its
 * mount point by each tool).
 */
import assert from "node:assert/strict";
import { buildRichTree, sh, type SnapOptions, snapshot } from "../archive/test_util.ts";
import { firstLine, go, goBytes, ours, oursBytes, type Store, T, withStore } from "./interop_helpers.ts";
import { createHash } from "node:crypto";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const TAR = "tar --xattrs --xattrs-include='*' --numeric-owner --format=pax --sort=name";

/**
 * The three layer tars: a tree with every entry kind and attribute; a child with
 * whiteouts (of a file, a hard-linked file, a missing name: in a
 * directory of the base, as overlay lists whiteouts of upper-only directories), an opaque directory and
 * replaced entries; a top that re-adds a deleted name, makes the child's new directory
 * opaque and whites out a directory and a file of the base.
 */
function chainTars(dir: string): Uint8Array[] {
  Deno.mkdirSync(`${dir}/t1`);
  buildRichTree(`${dir}/t1`);
  sh(
    `${TAR} -cf t1.tar -C t1 .
     mkdir -p t2/sub t2/sticky t2/newdir/keep t2/deep/a && cd t2
     : > .wh.suid; : > sub/.wh.file.txt; : > sticky/.wh..wh..opq; echo fresh > sticky/only
     echo replaced > owned; chown 77:88 owned; setfattr -n user.r -v 1 owned
     echo n > newdir/n; echo k > newdir/keep/k; : > sub/.wh.ghost; : > deep/a/.keep
     touch -d '2015-05-05 05:05:05.5' owned newdir/n newdir/keep/k sticky/only
     touch -d '2016-06-06 06:06:06.25' sub sticky newdir newdir/keep deep deep/a .
     ${TAR} -cf ../t2.tar . && cd .. && mkdir -p t3/newdir t3/sub && cd t3
     echo again > suid; chmod 4711 suid; : > newdir/.wh..wh..opq; echo only > newdir/only
     : > sub/.wh.deep; : > .wh.sgidf; mkfifo newfifo
     touch -d '2017-07-07 07:07:07.125' suid newdir/only newfifo
     touch -d '2018-08-08 08:08:08.75' newdir sub .
     ${TAR} -cf ../t3.tar .`,
    dir,
  );
  return ["t1", "t2", "t3"].map((t) => Deno.readFileSync(`${dir}/${t}.tar`));
}

/**
 * Changes made through a container's mount point: new entries of every kind with
 * xattrs and owners, a changed file, changed attributes, a deleted file, a deleted
 * directory and (with `replaceDir`) a directory replaced by a new one (opaque on overlay);
 * times are set on everything touched so that two runs give equal trees.
 */
const containerChanges = (replaceDir: boolean) => `
  echo new > added; chown 1001:1002 added; chmod 4751 added
  setfattr -n user.k -v 0xff00 added
  setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 added
  ln added added-hard; ln -s added added-sym; ln -s /nowhere/at/all dangling-abs
  mkdir -p newdir2/sub; echo n > newdir2/sub/f; chmod 0750 newdir2/sub; setfattr -n user.d -v 1 newdir2/sub
  long=newdir2/$(printf 'N%.0s' $(seq 120)); mkdir -p "$long" "newdir2/dïr ü"
  echo l > "$long/f"; setfattr -n user.l -v 1 "$long/f"; ln -s "$long/f" newdir2/to-long
  echo u > "newdir2/dïr ü/naïve"; setfattr -n user.n -v 1 "newdir2/dïr ü/naïve"
  touch -d '2020-02-02 02:02:02' "$long/f" "newdir2/dïr ü/naïve" "$long" "newdir2/dïr ü"
  touch -h -d '2020-02-02 02:02:02' newdir2/to-long
  mknod newchr c 1 5; mknod newblk b 7 1; mkfifo newpipe2
  echo mod >> suid; chmod 0640 caps; setfattr -n user.x -v changed caps
  rm owned; rm -r sgid
  ${replaceDir ? "rm -r newdir; mkdir newdir;" : ""} echo o > newdir/o2; chmod 1777 newdir
  touch -d '2020-02-02 02:02:02.123456789' added newdir2/sub/f newchr newblk newpipe2 suid caps newdir/o2
  touch -h -d '2020-02-02 02:02:02.123456789' added-sym dangling-abs
  touch -d '2021-01-01 01:01:01.987654321' newdir2/sub newdir2 newdir .
`;

/** The tree of a layer or container mounted by `who` (then unmounted), as `snapshot` lines. */
async function treeOf(s: Store, who: "ours" | "go", id: string, o: SnapOptions): Promise<string[]> {
  const cli = who === "go" ? go : ours;
  const p = firstLine(await cli(s, ["mount", id]));
  try {
    // The root without its time (see EXACT), then the rest.
    return [snapshot(p, { noTimes: true })[0], ...snapshot(p, o)];
  } finally {
    await cli(s, ["unmount", id]);
  }
}

/** Imports `tars` as a chain with `who`'s CLI; resolves to the layer IDs. */
async function importChain(
  s: Store,
  who: "ours" | "go",
  tars: Uint8Array[],
  parent?: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (const t of tars) {
    const p = parent ?? ids.at(-1);
    ids.push(
      firstLine(await (who === "go" ? go : ours)(s, ["import-layer", ...(p ? [p] : [])], { stdin: t })),
    );
  }
  return ids;
}

// A vfs layer's root takes "now" as its mtime in Go (its extraction makes a temp dir
// there), so roots are left out; every other entry, directory times included, must match.
const EXACT: SnapOptions = { noRoot: true };

for (const driver of ["vfs", "overlay"]) {
  Deno.test(
    `interop diff on ${driver}: tar-split replays cross over (chain of three layers)`,
    T,
    async () => {
      const work = await Deno.makeTempDir({ prefix: "cs-interop-tars-" });
      try {
        const tars = chainTars(work);
        await withStore(driver, (a) =>
          withStore(driver, async (b) => {
            const A = await importChain(a, "ours", tars);
            const exported: Uint8Array[] = [];
            for (const [i, id] of A.entries()) {
              const mine = await oursBytes(a, ["diff", id]);
              assert.equal(sha(mine), sha(tars[i]), `ours re-exports t${i + 1} byte for byte`);
              assert.equal(sha(await goBytes(a, ["diff", id])), sha(tars[i]), `Go re-exports our t${i + 1}`);
              exported.push(mine);
            }
            const B = await importChain(b, "go", exported);
            for (const [i, id] of B.entries()) {
              // Go's export of what it applied is what we imported first (A), so applying it
              // with ours gives A again.
              assert.equal(sha(await goBytes(b, ["diff", id])), sha(tars[i]), `Go re-exports t${i + 1}`);
              assert.equal(
                sha(await oursBytes(b, ["diff", id])),
                sha(tars[i]),
                `ours re-exports Go's t${i + 1}`,
              );
              const ta = await treeOf(a, "ours", A[i], EXACT), tb = await treeOf(b, "go", id, EXACT);
              assert.deepEqual(ta, tb, `layer ${i + 1}`);
            }
          }));
      } finally {
        await Deno.remove(work, { recursive: true });
      }
    },
  );
}

// Generated diffs also through fuse-overlayfs, but without a directory replaced by a new
// one: there Go 1.43 reads the upper directory for changes (no deletions below an opaque
// directory) yet exports a naive diff without the opaque marker, so its diff loses the
// deletions (Go's tar of `rm -r d; mkdir d` keeps the old contents of d when applied).
const FUSE = ["overlay.mount_program=/usr/bin/fuse-overlayfs"];
const GENERATED: Array<[driver: string, label: string, opts: string[]]> = [
  ["vfs", "vfs", []],
  ["overlay", "overlay", []],
  ["overlay", "fuse-overlayfs", FUSE],
];
for (const [driver, label, opts] of GENERATED) {
  Deno.test(`interop diff on ${label}: generated diffs of changed containers cross over`, T, async () => {
    const work = await Deno.makeTempDir({ prefix: "cs-interop-tars-" });
    try {
      const tars = chainTars(work);
      await withStore(driver, (a) =>
        withStore(driver, async (b) => {
          const A = await importChain(a, "ours", tars);
          const B = await importChain(b, "go", tars);
          await ours(a, ["create-image", "-n", "img", A[2]]);
          await go(b, ["create-image", "-n", "img", B[2]]);
          await ours(a, ["create-container", "-n", "ctr", "img"]);
          await go(b, ["create-container", "-n", "ctr", "img"]);
          for (const [s, cli] of [[a, ours], [b, go]] as const) {
            const p = firstLine(await cli(s, ["mount", "ctr"]));
            try {
              sh(containerChanges(opts !== FUSE), p);
            } finally {
              await cli(s, ["unmount", "ctr"]);
            }
          }
          const ctrA = await treeOf(a, "ours", "ctr", EXACT);
          assert.deepEqual(await treeOf(b, "go", "ctr", EXACT), ctrA, "the same changes in both");

          const [cA, cB] = [await containerLayer(a), await containerLayer(b)];
          // changes and diffsize of the changed layers: each tool on its own store and on the other's.
          const sorted = (t: string) => t.split("\n").sort().join("\n");
          const changes = sorted(await go(b, ["changes", cB]));
          assert.equal(sorted(await ours(a, ["changes", cA])), changes, "ours changes");
          assert.equal(sorted(await go(a, ["changes", cA])), changes, "Go's changes of our layer");
          assert.equal(sorted(await ours(b, ["changes", cB])), changes, "our changes of Go's layer");
          const size = await go(b, ["diffsize", cB]);
          assert.equal(await ours(a, ["diffsize", cA]), size, "ours diffsize");
          assert.equal(await go(a, ["diffsize", cA]), size, "Go's diffsize of our layer");

          const fromOurs = await oursBytes(a, ["diff", cA]);
          const fromGo = await goBytes(b, ["diff", cB]);
          const xB = (await importChain(b, "go", [fromOurs], B[2]))[0];
          const xA = (await importChain(a, "ours", [fromGo], A[2]))[0];
          const treeXB = await treeOf(b, "go", xB, EXACT);
          assert.deepEqual(
            await treeOf(a, "ours", xA, EXACT),
            treeXB,
            "ours applied Go's diff as Go applied ours",
          );
          // Generated diffs keep whole seconds (as Go's do): against the container itself.
          const sec = { ...EXACT, seconds: true };
          assert.deepEqual(await treeOf(b, "go", xB, sec), await treeOf(a, "ours", "ctr", sec));
          // And ours exports the same entries as Go, in the very same bytes but for the
          // export times of vfs deletions.
          assert.deepEqual(listing(work, fromOurs), listing(work, fromGo));
          assert.equal(
            sha(maskDeletionTimes(fromOurs)),
            sha(maskDeletionTimes(fromGo)),
            "same bytes as Go's diff",
          );
        }, opts), opts);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  });
}

/** The layer of container `ctr` (`diff` takes layers only). */
async function containerLayer(s: Store): Promise<string> {
  const list: Array<{ names?: string[]; layer: string }> = JSON.parse(await go(s, ["containers", "-j"]));
  return list.find((c) => c.names?.includes("ctr"))!.layer;
}

/**
 * A copy of `tar` whose `.wh.NAME` headers (not opaque markers) have mtime and checksum
 * blanked: Go stamps vfs deletions with the time of export.
 */
function maskDeletionTimes(tar: Uint8Array): Uint8Array {
  const out = tar.slice();
  const latin1 = new TextDecoder("latin1");
  for (let o = 0; o + 512 <= out.length;) {
    const h = out.subarray(o, o + 512);
    if (h.every((b) => b === 0)) break;
    const name = latin1.decode(h.subarray(0, 100)).replace(/\0.*$/s, "");
    const size = parseInt(latin1.decode(h.subarray(124, 136)).replace(/\0.*$/s, "").trim() || "0", 8);
    if (/(^|\/)\.wh\.(?!\.wh\.\.opq$)/.test(name)) h.fill(0x20, 136, 156);
    o += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/**
 * GNU tar's listing of a tar (modes, owners, sizes, full times, link targets, xattr
 * names), one line per entry, sorted (the order of generated diffs is not defined).
 */
function listing(dir: string, tar: Uint8Array): string[] {
  Deno.writeFileSync(`${dir}/x.tar`, tar);
  const out = sh(`tar --xattrs --xattrs-include='*' --full-time --numeric-owner -tvvf x.tar`, dir);
  // Deletions are stamped with the time of export (Go's time.Now()).
  const now = /^(\S+ +\S+ +\d+ )\S+ \S+( (.*\/)?\.wh\.(?!\.wh\.\.opq$)[^/]+)$/;
  return out.replace(/\n {2}x: /g, " x: ").trim().split("\n").map((l) => l.replace(now, "$1NOW$2")).sort();
}
