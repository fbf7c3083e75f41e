/**
 * Issue 4 through both CLIs on one overlay store: a chain of layers and a container made
 * by one tool are mounted and read by the other; both tools mount the same layer at once
 * and the shared mount counts (mountpoints.json) and the kernel's mounts stay right, also
 * through `unmount --force`; the same through fuse-overlayfs as mount program. Stale
 * mounts and lost short links left by one tool are repaired by the other, and the same
 * commands leave the same store layout (overlay and vfs) with either tool.
 */
import assert from "node:assert/strict";
import { makeTar } from "./stores_helpers.ts";
import { runGo, runOurs } from "./cli_helpers.ts";
import { firstLine, fstypeAt, go, mountCount, ours, type Store, T, withStore } from "./interop_helpers.ts";

/** Every entry below `dir`: `path → content` for files, `path/` for dirs, `path -> target` for symlinks. */
function readTree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of [...Deno.readDirSync(`${dir}/${rel}`)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymlink) out.push(`${p} -> ${Deno.readLinkSync(`${dir}/${p}`)}`);
    else if (e.isDirectory) out.push(`${p}/`, ...readTree(dir, p));
    else out.push(`${p} = ${Deno.readTextFileSync(`${dir}/${p}`)}`);
  }
  return out;
}

/** Three layer tars: a base, a child with a whiteout, an opaque dir and a change, a top. */
async function chainTars(s: Store): Promise<Uint8Array[]> {
  return [
    await makeTar(s.root, { "etc/hostname": "base", "etc/shadow": "secret", "opq/old": "old", "keep": "k" }),
    await makeTar(s.root, {
      "etc/.wh.shadow": "",
      "opq/.wh..wh..opq": "",
      "opq/new": "new",
      "etc/hostname": "mid",
    }),
    await makeTar(s.root, { "top": "3" }),
  ];
}

/** What the three layers of `chainTars` look like mounted at each depth. */
const L2_TREE = ["etc/", "etc/hostname = mid", "keep = k", "opq/", "opq/new = new"];
const L3_TREE = [...L2_TREE, "top = 3"];

/** Both tools mount `layer` at once; counts and kernel mounts follow every step. */
async function mountTogether(s: Store, layer: string, fstype: string, expect: string[]): Promise<void> {
  const gp = firstLine(await go(s, ["mount", layer]));
  assert.equal(fstypeAt(gp), fstype);
  assert.equal(mountCount(s, layer), 1);
  const op = firstLine(await ours(s, ["mount", layer]));
  assert.equal(op, gp, "second mount returns the same path");
  assert.equal(mountCount(s, layer), 2);
  assert.deepEqual(readTree(op), expect);
  assert.equal(await ours(s, ["mounted", layer]), `${layer} mounted\n`);
  assert.equal(await go(s, ["mounted", layer]), `${layer} mounted\n`);
  await go(s, ["unmount", layer]);
  assert.equal(fstypeAt(gp), fstype, "still mounted after Go's unmount");
  assert.equal(mountCount(s, layer), 1);
  assert.equal(await go(s, ["mounted", layer]), `${layer} mounted\n`);
  await ours(s, ["unmount", layer]);
  assert.equal(fstypeAt(gp), null, "gone after the last unmount");
  assert.equal(mountCount(s, layer), 0);
  assert.equal(await ours(s, ["mounted", layer]), "");
  assert.equal(await go(s, ["mounted", layer]), "");
}

/** Both tools mount `layer`; `unmount --force` by `forcer` alone unmounts it for both. */
async function forceTogether(s: Store, layer: string, forcer: "ours" | "go"): Promise<void> {
  const p = firstLine(await ours(s, ["mount", layer]));
  assert.equal(firstLine(await go(s, ["mount", layer])), p);
  assert.equal(firstLine(await ours(s, ["mount", layer])), p);
  assert.equal(mountCount(s, layer), 3);
  await (forcer === "go" ? go : ours)(s, ["unmount", "--force", layer]);
  assert.equal(fstypeAt(p), null, "force unmounts at once");
  assert.equal(mountCount(s, layer), 0);
  assert.equal(await ours(s, ["mounted", layer]), "");
  assert.equal(await go(s, ["mounted", layer]), "");
}

Deno.test(
  "interop mount: our chain and container are mounted and read by Go; both mount at once",
  T,
  () =>
    withStore("overlay", async (s) => {
      const [t1, t2, t3] = await chainTars(s);
      const l1 = firstLine(await ours(s, ["import-layer", "-n", "l1"], { stdin: t1 }));
      const l2 = firstLine(await ours(s, ["import-layer", "-n", "l2", l1], { stdin: t2 }));
      const l3 = firstLine(await ours(s, ["import-layer", "-n", "l3", l2], { stdin: t3 }));
      await ours(s, ["create-image", "-n", "img", l3]);
      await ours(s, ["create-container", "-n", "ctr", "img"]);
      const p = firstLine(await ours(s, ["mount", "ctr"]));
      assert.equal(fstypeAt(p), "overlay");
      Deno.writeTextFileSync(`${p}/from-ours`, "hi");
      Deno.removeSync(`${p}/keep`);
      await ours(s, ["unmount", "ctr"]);
      assert.equal(fstypeAt(p), null);

      const gp = firstLine(await go(s, ["mount", "ctr"]));
      try {
        assert.equal(gp, p);
        assert.equal(fstypeAt(gp), "overlay");
        assert.deepEqual(readTree(gp), [...L3_TREE.filter((e) => e !== "keep = k"), "from-ours = hi"].sort());
      } finally {
        await go(s, ["unmount", "ctr"]);
      }
      assert.equal(fstypeAt(gp), null);
      // Go 1.43 mounts a layer by full ID only (cli.md: a name reaches its driver unresolved).
      const g2 = firstLine(await go(s, ["mount", l2]));
      try {
        assert.deepEqual(readTree(g2), L2_TREE);
      } finally {
        await go(s, ["unmount", l2]);
      }
      await mountTogether(s, l3, "overlay", L3_TREE);
      await forceTogether(s, l1, "ours");
    }),
);

Deno.test(
  "interop mount: Go's chain and container are mounted and read by our CLI",
  T,
  () =>
    withStore("overlay", async (s) => {
      const [t1, t2, t3] = await chainTars(s);
      const l1 = firstLine(await go(s, ["import-layer", "-n", "l1"], { stdin: t1 }));
      const l2 = firstLine(await go(s, ["import-layer", "-n", "l2", l1], { stdin: t2 }));
      const l3 = firstLine(await go(s, ["import-layer", "-n", "l3", l2], { stdin: t3 }));
      await go(s, ["create-image", "-n", "img", l3]);
      await go(s, ["create-container", "-n", "ctr", "img"]);
      const gp = firstLine(await go(s, ["mount", "ctr"]));
      Deno.writeTextFileSync(`${gp}/from-go`, "hi");
      Deno.removeSync(`${gp}/opq`, { recursive: true });
      await go(s, ["unmount", "ctr"]);
      assert.equal(fstypeAt(gp), null);

      const p = firstLine(await ours(s, ["mount", "ctr"]));
      try {
        assert.equal(p, gp);
        assert.equal(fstypeAt(p), "overlay");
        assert.deepEqual(
          readTree(p),
          ["etc/", "etc/hostname = mid", "from-go = hi", "keep = k", "top = 3"],
        );
      } finally {
        await ours(s, ["unmount", "ctr"]);
      }
      assert.equal(fstypeAt(p), null);
      for (
        const [layer, tree] of [["l2", L2_TREE], ["l1", [
          "etc/",
          "etc/hostname = base",
          "etc/shadow = secret",
          "keep = k",
          "opq/",
          "opq/old = old",
        ]]] as const
      ) {
        const lp = firstLine(await ours(s, ["mount", layer]));
        try {
          assert.deepEqual(readTree(lp), tree, layer);
        } finally {
          await ours(s, ["unmount", layer]);
        }
      }
      await mountTogether(s, l2, "overlay", L2_TREE);
      await forceTogether(s, l1, "go");
    }),
);

Deno.test(
  "interop mount: through fuse-overlayfs, a mixed chain is mounted by both at once",
  T,
  () =>
    withStore("overlay", async (s) => {
      const [t1, t2, t3] = await chainTars(s);
      const l1 = firstLine(await ours(s, ["import-layer", "-n", "l1"], { stdin: t1 }));
      const l2 = firstLine(await go(s, ["import-layer", "-n", "l2", l1], { stdin: t2 }));
      const l3 = firstLine(await ours(s, ["import-layer", "-n", "l3", l2], { stdin: t3 }));
      assert.equal(Deno.readTextFileSync(`${s.graph}/overlay/.has-mount-program`), "true");
      const c = firstLine(await go(s, ["create-layer", "-n", "c", l3]));
      const p = firstLine(await ours(s, ["mount", c]));
      try {
        assert.equal(fstypeAt(p), "fuse.fuse-overlayfs");
        Deno.writeTextFileSync(`${p}/etc/hostname`, "changed");
      } finally {
        await ours(s, ["unmount", c]);
      }
      assert.equal(fstypeAt(p), null);
      await mountTogether(
        s,
        c,
        "fuse.fuse-overlayfs",
        L3_TREE.map((e) => e === "etc/hostname = mid" ? "etc/hostname = changed" : e),
      );
    }, ["overlay.mount_program=/usr/bin/fuse-overlayfs"]),
);

Deno.test(
  "interop mount: a stale mount left by one CLI is remounted by the other; extra unmounts",
  T,
  () =>
    withStore("overlay", async (s) => {
      const id = firstLine(await ours(s, ["create-layer"]));
      for (const [first, second] of [[ours, go], [go, ours]]) {
        const p = firstLine(await first(s, ["mount", id]));
        // As if its process had been killed and the mount lost: the count stays 1.
        const r = await new Deno.Command("umount", { args: [p], stderr: "piped" }).output();
        assert.ok(r.success, new TextDecoder().decode(r.stderr));
        assert.equal(mountCount(s, id), 1);
        assert.equal(firstLine(await second(s, ["mount", id])), p);
        assert.equal(fstypeAt(p), "overlay", "remounted");
        assert.equal(mountCount(s, id), 2);
        await first(s, ["unmount", id]);
        assert.equal(fstypeAt(p), "overlay");
        assert.equal(mountCount(s, id), 1);
        await second(s, ["unmount", id]);
        assert.equal(fstypeAt(p), null);
        assert.equal(mountCount(s, id), 0);
        // Unmounting what is not mounted succeeds and leaves the count at 0.
        for (const cli of [first, second]) {
          assert.equal(await cli(s, ["unmount", id]), `${id} mountpoint unmounted\n`);
          assert.equal(mountCount(s, id), 0);
        }
      }
    }),
);

Deno.test(
  "interop mount: a lost short link of one CLI's layer is recreated by the other",
  T,
  () =>
    withStore("overlay", async (s) => {
      const a = firstLine(await go(s, ["create-layer"]));
      const b = firstLine(await ours(s, ["create-layer", a]));
      const c = firstLine(await go(s, ["create-layer", b]));
      for (const [cli, lost] of [[ours, a], [go, b]] as const) {
        const link = Deno.readTextFileSync(`${s.graph}/overlay/${lost}/link`);
        Deno.removeSync(`${s.graph}/overlay/l/${link}`);
        const p = firstLine(await cli(s, ["mount", c]));
        try {
          assert.equal(fstypeAt(p), "overlay");
          assert.equal(Deno.readLinkSync(`${s.graph}/overlay/l/${link}`), `../${lost}/diff`);
        } finally {
          await cli(s, ["unmount", c]);
        }
      }
    }),
);

Deno.test(
  "interop mount: mount_program from storage.conf is used by both CLIs",
  T,
  () =>
    withStore("overlay", async (s) => {
      const conf = `${s.root}/storage.conf`;
      // Both CLIs drop the file's driver options when a file names neither root, and
      // when --storage-driver is given: the store comes from the file alone here.
      Deno.writeTextFileSync(
        conf,
        `[storage]\ndriver = "overlay"\ngraphroot = "${s.graph}"\nrunroot = "${s.run}"\n` +
          '[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n',
      );
      const env = { env: { CONTAINERS_STORAGE_CONF: conf } };
      const cs = async (who: "ours" | "go", args: string[]) => {
        const r = await (who === "go" ? runGo : runOurs)(args, env);
        assert.equal(r.code, 0, `${who} ${args.join(" ")}: ${r.stderr}`);
        return firstLine(r.stdout);
      };
      const id = await cs("ours", ["create-layer"]);
      assert.equal(Deno.readTextFileSync(`${s.graph}/overlay/.has-mount-program`), "true");
      const p = await cs("ours", ["mount", id]);
      try {
        assert.equal(fstypeAt(p), "fuse.fuse-overlayfs");
        assert.equal(await cs("go", ["mount", id]), p);
        assert.equal(mountCount(s, id), 2);
        await cs("go", ["unmount", id]);
        assert.equal(fstypeAt(p), "fuse.fuse-overlayfs");
      } finally {
        await cs("ours", ["unmount", id]);
      }
      assert.equal(fstypeAt(p), null);
    }),
);

/**
 * Every entry below `root`: path, mode bits, type, symlink target, and the contents of
 * overlay `link`/`lower` files; short link names and the container layer's random ID are
 * replaced by stable tokens (`<link:ID>`, `CTR`).
 */
function layout(root: string, ctrLayer: string): string[] {
  const entries: Array<[string, Deno.FileInfo]> = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${root}/${rel}`)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      entries.push([p, Deno.lstatSync(`${root}/${p}`)]);
      if (e.isDirectory) walk(p);
    }
  };
  walk("");
  const links = new Map<string, string>();
  for (const [p, st] of entries) {
    const m = /^overlay\/l\/([A-Z0-9]+)$/.exec(p);
    if (m && st.isSymlink) links.set(m[1], Deno.readLinkSync(`${root}/${p}`).split("/")[1]);
  }
  const norm = (t: string) =>
    t.replace(/\b[A-Z0-9]{26}\b/g, (l) => `<link:${links.get(l) ?? "?"}>`).replaceAll(ctrLayer, "CTR");
  return entries.map(([p, st]) => {
    let d = `${p} ${(st.mode! & 0o7777).toString(8)} ${
      st.isDirectory ? "dir" : st.isSymlink ? "symlink" : "file"
    }`;
    if (st.isSymlink) d += ` -> ${Deno.readLinkSync(`${root}/${p}`)}`;
    if (/^overlay\/[^/]+\/(link|lower)$/.test(p)) d += ` = ${Deno.readTextFileSync(`${root}/${p}`)}`;
    return norm(d);
  }).sort();
}

for (const driver of ["overlay", "vfs"]) {
  Deno.test(
    `interop mount: the same commands give Go's ${driver} layout (dirs, files, modes, links)`,
    T,
    async () => {
      const trees: Record<string, string[]> = {};
      for (const who of ["go", "ours"] as const) {
        await withStore(driver, async (s) => {
          const run = who === "go" ? runGo : runOurs;
          const cs = async (args: string[], stdin?: Uint8Array) => {
            const r = await run([...s.all, ...args], { stdin });
            assert.equal(r.code, 0, `${who} ${args.join(" ")}: ${r.stderr}`);
          };
          const [L1, L2, I, C] = ["1", "2", "3", "4"].map((c) => c.repeat(64));
          await cs(["create-layer", "-i", L1]);
          await cs(["import-layer", "-i", L2, L1], await makeTar(s.root, { "a/b": "x" }));
          await cs(["create-image", "-i", I, L2]);
          await cs(["create-container", "-i", C, I]);
          await cs(["mount", C]);
          await cs(["unmount", C]);
          const ctrLayer =
            JSON.parse(Deno.readTextFileSync(`${s.graph}/${driver}-containers/containers.json`))[0].layer;
          trees[who] = [
            ...layout(s.graph, ctrLayer).map((l) => `GRAPH/${l}`),
            ...layout(s.run, ctrLayer).map((l) => `RUN/${l}`),
          ];
        });
      }
      // 1.43 also makes empty GRAPH/mounts and GRAPH/tmp; HEAD (which we follow) does not, and
      // HEAD probes volatile mounts (on-disk.md 1.2, 1.3).
      const only143 = new Set(["GRAPH/mounts 700 dir", "GRAPH/tmp 700 dir"]);
      assert.deepEqual(
        trees.ours.filter((l) => l !== "RUN/overlay/volatile-true 644 file"),
        trees.go.filter((l) => !only143.has(l)),
      );
    },
  );
}
