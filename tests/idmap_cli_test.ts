/**
 * ID mappings through the CLI, side by side with the Go CLI on stores of their own: mapped
 * imports (ownership on disk, `diff` giving the original tar back), maps inherited by child
 * layers, containers with maps (the image's mapped copy, made once and reused, with
 * overlay's `diff1` layout when the kernel cannot shift — forced with the probe marker both
 * implementations trust), parent owners, `copy` with and without `--chown`, store-wide maps
 * from storage.conf and /etc/subuid (bind-mounted in a private mount namespace), bad maps.
 */
import assert from "node:assert/strict";
import { HAVE_GO, ok, runGo, runOurs, tempStore } from "./cli_helpers.ts";
import type { RunOptions, RunResult, TempStore } from "./cli_helpers.ts";
import { makeTar } from "../store/testdata/tar.ts";

const TAR = makeTar([
  { name: "./" },
  { name: "d/" },
  { name: "d/f", data: "abc", uid: 5, gid: 6 },
  { name: "g", data: "xyz", uid: 1000, gid: 1000 },
]);
const M1 = ["--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536"];
const M2 = ["--uidmap", "0:400000:65536", "--gidmap", "0:400000:65536"];

/** `path uid:gid` of every entry below `root` (regular files and directories apart). */
async function owners(root: string): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [], dirs: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(`${root}${rel}`)) {
      const p = `${rel}/${e.name}`;
      const st = await Deno.lstat(`${root}${p}`);
      (e.isDirectory ? dirs : files).push(`${p} ${st.uid}:${st.gid}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk("");
  return { files: files.sort(), dirs: dirs.sort() };
}

interface Variant {
  label: string;
  driver: string;
  /** Overlay told that idmapped lowers do not work: mapped copies instead of shifting. */
  noShift?: boolean;
}

const VARIANTS: Variant[] = [
  { label: "vfs", driver: "vfs" },
  { label: "overlay (idmapped mounts)", driver: "overlay" },
  { label: "overlay (no shifting: mapped copies with diff1)", driver: "overlay", noShift: true },
];

/** What one implementation did with one sequence of mapped operations. */
interface Outcome {
  mapl: { uidmap?: unknown; gidmap?: unknown };
  maplFiles: string[];
  diffIsInput: boolean;
  mappedLayers: number[];
  sameBase: boolean;
  c1Files: string[];
  c1Dirs: string[];
  parentOwners: string;
  layerOwners: string[];
  childMaps: unknown;
  copied: string[];
  mappedDir?: string[];
}

async function runSequence(who: "ours" | "go", s: TempStore, v: Variant): Promise<Outcome> {
  const run = who === "ours" ? runOurs : runGo;
  const cs = (args: string[], opts?: RunOptions) => run([...s.flags, ...args], opts);
  if (v.noShift) {
    await Deno.mkdir(`${s.run}/overlay`, { recursive: true });
    await Deno.writeFile(`${s.run}/overlay/idmapped-lower-dir-false`, new Uint8Array());
  }
  const tarPath = `${s.root}/l.tar`;
  await Deno.writeFile(tarPath, TAR);
  const files = (id: string) =>
    v.driver === "vfs" ? `${s.graph}/vfs/dir/${id}` : `${s.graph}/overlay/${id}/diff`;

  const maplID = ok(
    await cs(["import-layer", "--uidmap", "0:100000:65536", "--gidmap", "0:200000:65536", "-f", tarPath]),
    "import mapped",
  ).stdout.slice(0, 64);
  const mapl = JSON.parse(ok(await cs(["layer", "-j", maplID]), "layer").stdout)[0];
  const maplFiles = (await owners(files(maplID))).files;
  const diff = ok(await cs(["diff", maplID]), "diff").stdoutBytes;
  const diffIsInput = diff.length === TAR.length && diff.every((b, i) => b === TAR[i]);
  const child = ok(await cs(["create-layer", "-j", maplID]), "child").stdout;
  const childMaps = JSON.parse(child).uidmap ?? null;

  ok(await cs(["import-layer", "-n", "base", "-f", tarPath]), "import base");
  ok(await cs(["create-image", "-n", "img", "base"]), "image");
  const mappedLayers: number[] = [];
  const ctrLayer = async (name: string) =>
    JSON.parse(ok(await cs(["container", "-j", name]), name).stdout)[0].layer;
  const parentOf = async (layer: string) =>
    JSON.parse(ok(await cs(["layer", "-j", layer]), "layer").stdout)[0].parent;
  const count = async () =>
    mappedLayers.push(
      (JSON.parse(ok(await cs(["image", "-j", "img"]), "image").stdout)[0]["mapped-layers"] ?? []).length,
    );
  ok(await cs(["create-container", ...M1, "-n", "c1", "img"]), "c1");
  await count();
  ok(await cs(["create-container", ...M1, "-n", "c2", "img"]), "c2");
  await count();
  ok(await cs(["create-container", ...M2, "-n", "c3", "img"]), "c3");
  await count();
  const sameBase = (await parentOf(await ctrLayer("c1"))) === (await parentOf(await ctrLayer("c2")));

  const mnt = ok(await cs(["mount", "c1"]), "mount c1").stdout.trim();
  const c1 = await owners(mnt);
  const parentOwners = ok(await cs(["container-parent-owners", "c1"]), "parent owners").stdout
    .replace(/[0-9a-f]{64}/g, "ID");
  const norm = (r: RunResult) =>
    [r.code, r.stdout, r.stderr].map((x) => String(x).replace(/[0-9a-f]{64}/g, "ID"));
  const layerOwners = [
    ...norm(await cs(["layer-parent-owners", await ctrLayer("c1")])),
    ...norm(await cs(["layer-parent-owners", maplID])),
  ];
  ok(await cs(["unmount", "c1"]), "unmount");

  let mappedDir: string[] | undefined;
  if (v.noShift) {
    const img = JSON.parse(ok(await cs(["image", "-j", "img"]), "image").stdout)[0];
    const entries = [...Deno.readDirSync(`${s.graph}/overlay/${img["mapped-layers"][0]}`)].map((e) => e.name);
    mappedDir = entries.sort();
  }

  // copy into a mapped layer: translated through its maps, or owned as --chown says.
  const target = ok(await cs(["create-layer", ...M1]), "target").stdout.slice(0, 64);
  ok(await cs(["copy", `${s.root}/l.tar`, `${target}:/plain`]), "copy");
  ok(await cs(["copy", "--chown", "7:8", `${s.root}/l.tar`, `${target}:/chowned`]), "copy --chown");
  const copied = (await owners(files(target))).files;
  return {
    mapl: { uidmap: mapl.uidmap, gidmap: mapl.gidmap },
    maplFiles,
    diffIsInput,
    mappedLayers,
    sameBase,
    c1Files: c1.files,
    c1Dirs: c1.dirs,
    parentOwners,
    layerOwners,
    childMaps,
    copied,
    mappedDir,
  };
}

for (const v of VARIANTS) {
  Deno.test({
    name: `ID maps on ${v.label}: ours as the Go CLI`,
    ignore: !HAVE_GO,
    fn: async () => {
      const a = await tempStore(v.driver, "cs-idmap-");
      const b = await tempStore(v.driver, "cs-idmap-go-");
      try {
        const ours = await runSequence("ours", a, v);
        const go = await runSequence("go", b, v);
        const shifts = v.driver === "overlay" && !v.noShift;
        // What the layers and images record, and what the files on disk carry.
        assert.deepEqual(ours.mapl, go.mapl);
        assert.deepEqual(
          ours.mapl.uidmap,
          shifts ? undefined : [{ container_id: 0, host_id: 100000, size: 65536 }],
        );
        assert.deepEqual(ours.maplFiles, go.maplFiles);
        assert.deepEqual(
          ours.maplFiles,
          shifts ? ["/d/f 5:6", "/g 1000:1000"] : ["/d/f 100005:200006", "/g 101000:201000"],
        );
        assert.equal(ours.diffIsInput, true);
        assert.equal(go.diffIsInput, true);
        assert.deepEqual(ours.childMaps, go.childMaps);
        // One mapped copy per distinct map, reused by the next container with the same maps.
        assert.deepEqual(ours.mappedLayers, go.mappedLayers);
        assert.deepEqual(ours.mappedLayers, shifts ? [0, 0, 0] : [1, 1, 2]);
        assert.equal(ours.sameBase, true);
        assert.equal(go.sameBase, true);
        // The container sees its files owned through its maps.
        assert.deepEqual(ours.c1Files, go.c1Files);
        assert.deepEqual(ours.c1Files, ["/d/f 300005:300006", "/g 301000:301000"]);
        // Go 1.43 leaves some directories of a mapped copy unchanged (cli/DEVIATIONS.md): ours maps them all.
        assert.deepEqual(ours.c1Dirs, ["/d 300000:300000"]);
        assert.equal(ours.parentOwners, go.parentOwners);
        assert.deepEqual(ours.layerOwners, go.layerOwners);
        if (!shifts) assert.equal(ours.layerOwners[5], "LayerParentOwner: layer is not mounted\n");
        assert.deepEqual(ours.copied, go.copied);
        assert.deepEqual(
          ours.copied,
          shifts ? ["/chowned 7:8", "/plain 0:0"] : ["/chowned 300007:300008", "/plain 300000:300000"],
        );
        if (v.noShift) {
          assert.deepEqual(ours.mappedDir, ["diff", "diff1", "link", "lower", "work"]);
          assert.deepEqual(ours.mappedDir, go.mappedDir);
        }
      } finally {
        for (const s of [a, b]) {
          if (s.driver === "overlay") {
            await (s === a ? runOurs : runGo)([...s.flags, "shutdown", "-f"]).catch(() => {});
          }
          await s.dispose();
        }
      }
    },
  });
}

Deno.test({
  name: "ID maps: storage.conf remap-user/remap-uids and --subuidmap read /etc/subuid as the Go CLI does",
  ignore: !HAVE_GO,
  fn: async () => {
    const a = await tempStore("vfs", "cs-idmap-conf-");
    const b = await tempStore("vfs", "cs-idmap-conf-go-");
    try {
      const dir = a.root;
      await Deno.writeTextFile(`${dir}/subuid`, "csuser:500000:1000\ncsuser:600000:2000\nother:1:2\n");
      await Deno.writeTextFile(`${dir}/subgid`, "csuser:700000:3000\n");
      const conf = (s: TempStore, opts: string) =>
        `[storage]\ndriver = "vfs"\nrunroot = "${s.run}"\ngraphroot = "${s.graph}"\n[storage.options]\n${opts}\n`;
      const script = 'mount --bind "$SUBUID" /etc/subuid && mount --bind "$SUBGID" /etc/subgid && exec "$@"';
      const inNs = async (who: "ours" | "go", s: TempStore, confText: string, args: string[]) => {
        const confPath = `${s.root}/storage.conf`;
        await Deno.writeTextFile(confPath, confText);
        const cmd = who === "ours"
          ? [Deno.execPath(), "run", "-A", "--no-lock", new URL("../cli.ts", import.meta.url).pathname]
          : ["containers-storage"];
        const out = await new Deno.Command("unshare", {
          args: ["-m", "sh", "-c", script, "sh", ...cmd, ...args],
          env: { CONTAINERS_STORAGE_CONF: confPath, SUBUID: `${dir}/subuid`, SUBGID: `${dir}/subgid` },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      };
      const both = async (confText: (s: TempStore) => string, args: string[]) => {
        const x = await inNs("ours", a, confText(a), args);
        const y = await inNs("go", b, confText(b), args);
        return [x, y];
      };
      const maps = (r: { stdout: string }) => {
        const l = JSON.parse(r.stdout);
        return [l.uidmap, l.gidmap];
      };
      // Store-wide maps from remap-user/remap-group: ranges sorted, container IDs consecutive.
      // (Go 1.43 parses these and then overwrites them with remap-uids, empty or not: see DEVIATIONS.)
      let [x, y] = await both((s) => conf(s, 'remap-user = "csuser"\nremap-group = "csuser"'), [
        "create-layer",
        "-j",
      ]);
      assert.deepEqual(maps(x), [
        [{ container_id: 0, host_id: 500000, size: 1000 }, {
          container_id: 1000,
          host_id: 600000,
          size: 2000,
        }],
        [{ container_id: 0, host_id: 700000, size: 3000 }],
      ]);
      assert.deepEqual(maps(y), [undefined, undefined]);
      // remap-uids/remap-gids; a child inherits its parent's maps.
      const remap = (s: TempStore) => conf(s, 'remap-uids = "0:100000:65536"\nremap-gids = "0:200000:65536"');
      [x, y] = await both(remap, ["create-layer", "-j"]);
      assert.deepEqual(maps(x), maps(y));
      assert.deepEqual(maps(x)[1], [{ container_id: 0, host_id: 200000, size: 65536 }]);
      // --subuidmap alone names the group too.
      [x, y] = await both((s) => conf(s, ""), ["create-layer", "-j", "--subuidmap", "csuser"]);
      assert.deepEqual(maps(x), maps(y));
      assert.deepEqual(maps(x)[1], [{ container_id: 0, host_id: 700000, size: 3000 }]);
      // A user without ranges, and a conflict with --hostuidmap: the same messages.
      for (
        const args of [
          ["create-layer", "--subuidmap", "nobody-here"],
          ["create-layer", "--hostuidmap", "--uidmap", "0:1:1"],
          ["create-layer", "--uidmap", "0:1:x"],
        ]
      ) {
        [x, y] = await both((s) => conf(s, ""), args);
        assert.deepEqual([x.code, x.stderr], [1, y.stderr], args.join(" "));
      }
    } finally {
      await a.dispose();
      await b.dispose();
    }
  },
});

Deno.test("ID maps: overlapping maps and maps reaching 2^32-1 are refused, in flags and in storage.conf", async () => {
  const s = await tempStore("vfs", "cs-idmap-bad-");
  const cs = (args: string[], env?: Record<string, string>) => runOurs([...s.flags, ...args], { env });
  try {
    const cases: Array<[string[], string]> = [
      [
        ["create-layer", "--uidmap", "0:1:4294967295"],
        "invalid uid mapping 0:1:4294967295: range goes beyond 4294967294",
      ],
      [
        ["create-layer", "--uidmap", "0:100:10:5:200:10"],
        "invalid uid mapping: container ranges 0:100:10 and 5:200:10 overlap",
      ],
      [
        ["import-layer", "--gidmap", "0:100:10:20:105:10"],
        "invalid gid mapping: host ranges 0:100:10 and 20:105:10 overlap",
      ],
      [["create-container", "--uidmap", "0:100:0", ""], "invalid uid mapping 0:100:0: empty range"],
    ];
    for (const [args, message] of cases) {
      assert.deepEqual(await cs(args).then((r) => [r.code, r.stderr]), [1, message + "\n"], args.join(" "));
    }
    assert.equal(ok(await cs(["layers"]), "layers").stdout, "");
    // Store options from the config file only (global flags would replace it).
    const conf = `${s.root}/bad.conf`;
    await Deno.writeTextFile(
      conf,
      `[storage]\ndriver = "vfs"\nrunroot = "${s.run}"\ngraphroot = "${s.graph}"\n` +
        `[storage.options]\nremap-uids = "0:1:5:2:10:4"\n`,
    );
    const r = await runOurs(["layers"], { env: { CONTAINERS_STORAGE_CONF: conf } });
    assert.deepEqual([r.code, r.stdout], [
      1,
      "error initializing: invalid uid mapping: container ranges 0:1:5 and 2:10:4 overlap\n",
    ]);
  } finally {
    await s.dispose();
  }
});
