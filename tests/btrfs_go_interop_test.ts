/**
 * The Go CLI and ours on one btrfs store (a loop-mounted scratch filesystem): each
 * creates layers on the other's (snapshots of the other's subvolumes), mounts and
 * deletes the other's layers, and both print the same status, the same errors and the
 * same change lists.
 */
import assert from "node:assert/strict";
import { openScratchBtrfs, type ScratchBtrfs, sh, subvolumes } from "../drivers/btrfs/testutil.ts";
import { HAVE_GO, ok, runGo, runOurs } from "./cli_helpers.ts";

const L1 = "1".repeat(64), L2 = "2".repeat(64), L3 = "3".repeat(64), L4 = "4".repeat(64);
const L5 = "5".repeat(64), L6 = "6".repeat(64);

async function withStore(
  fn: (flags: string[], graph: string, fs: ScratchBtrfs) => Promise<void>,
): Promise<void> {
  const fs = openScratchBtrfs();
  try {
    const graph = `${fs.mnt}/graph`;
    await fn(["--graph", graph, "--run", `${fs.dir}/run`, "--storage-driver", "btrfs"], graph, fs);
  } finally {
    fs.closeSync();
  }
}

/** name → { uuid, parentUuid } of the subvolumes under `mnt`. */
async function subvolumesByName(mnt: string): Promise<Map<string, { uuid: string; parent: string }>> {
  const map = new Map<string, { uuid: string; parent: string }>();
  for (const s of await subvolumes(mnt)) {
    map.set(s.path.slice(s.path.lastIndexOf("/") + 1), { uuid: s.uuid, parent: s.parentUuid });
  }
  return map;
}

async function tarOf(dir: string, files: Record<string, string>): Promise<Uint8Array> {
  for (const [name, data] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, data);
  }
  const out = await new Deno.Command("tar", {
    args: ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", dir, "-cf", "-", "."],
    stdout: "piped",
  }).output();
  return out.stdout;
}

const sorted = (s: string) => s.split("\n").filter(Boolean).sort().join("\n");

Deno.test({
  name: "btrfs: Go and ours snapshot, mount and delete each other's layers on one store",
  ignore: !HAVE_GO,
  fn: () =>
    withStore(async (flags, graph, fs) => {
      const subdir = `${graph}/btrfs/subvolumes`;
      const go = (...a: string[]) => runGo([...flags, ...a]);
      const ours = (...a: string[]) => runOurs([...flags, ...a]);
      const t1 = await tarOf(`${fs.dir}/t1`, { "etc/hostname": "go\n", "usr/bin/tool": "tool\n" });
      const t2 = await tarOf(`${fs.dir}/t2`, { "etc/hostname": "ours\n", "new.txt": "n\n" });

      ok(await go("create-layer", "-i", L1, "-n", "base"), "go create-layer");
      assert.equal(Deno.statSync(`${subdir}/${L1}`).mode! & 0o7777, 0o555);
      ok(await runGo([...flags, "applydiff", L1], { stdin: t1 }), "go applydiff");
      ok(
        await runOurs([...flags, "import-layer", "-i", L2, "-n", "ours-child", L1], { stdin: t2 }),
        "ours import",
      );
      ok(await go("create-layer", "-i", L3, L2), "go create-layer on ours");
      ok(await ours("create-layer", "-i", L4, L3), "ours create-layer on go's");

      let subs = await subvolumesByName(fs.mnt);
      assert.equal(subs.get(L1)!.parent, "-", "a base layer is a new subvolume");
      assert.equal(subs.get(L2)!.parent, subs.get(L1)!.uuid, "ours snapshots Go's layer");
      assert.equal(subs.get(L3)!.parent, subs.get(L2)!.uuid, "Go snapshots ours");
      assert.equal(subs.get(L4)!.parent, subs.get(L3)!.uuid);

      // Mounting is the subvolume's path for both; either sees the other's content.
      const mo = ok(await ours("mount", L3), "ours mount").stdout.trim();
      const mg = ok(await go("mount", L4), "go mount").stdout.trim();
      assert.equal(mo, `${subdir}/${L3}`);
      assert.equal(mg, `${subdir}/${L4}`);
      assert.equal(await Deno.readTextFile(`${mo}/etc/hostname`), "ours\n");
      assert.equal(await Deno.readTextFile(`${mg}/usr/bin/tool`), "tool\n");
      assert.equal(ok(await go("mounted", L3), "go mounted").stdout, `${L3} mounted\n`);
      assert.equal(ok(await ours("mounted", L4), "ours mounted").stdout, `${L4} mounted\n`);
      ok(await go("unmount", L3), "go unmount ours");
      ok(await ours("unmount", L4), "ours unmount go's");

      // Same change lists, sizes and diffs from both on both kinds of layer.
      for (const [id, label] of [[L1, "go's"], [L2, "ours"]]) {
        for (const cmd of [["changes", id], ["diffsize", id]]) {
          const [g, o] = [await go(...cmd), await ours(...cmd)];
          assert.deepEqual(
            [o.code, sorted(o.stdout), o.stderr],
            [g.code, sorted(g.stdout), g.stderr],
            `${cmd} ${label}`,
          );
        }
        const [g, o] = [await go("diff", "-u", id), await ours("diff", "-u", id)];
        assert.deepEqual(o.stdoutBytes, g.stdoutBytes, `diff of ${label} layer`);
      }
      for (const cmd of [["layers", "-j"], ["layer", L2], ["status"]]) {
        const [g, o] = [await go(...cmd), await ours(...cmd)];
        assert.deepEqual([o.code, o.stdout, o.stderr], [g.code, g.stdout, g.stderr], cmd.join(" "));
      }

      // Nested subvolumes are deleted with their layer, by either side.
      ok(await ours("create-layer", "-i", L5), "ours base");
      ok(await go("create-layer", "-i", L6), "go base");
      for (const id of [L5, L6]) {
        await Deno.chmod(`${subdir}/${id}`, 0o755);
        await sh("btrfs", "subvolume", "create", `${subdir}/${id}/nested`);
        await Deno.mkdir(`${subdir}/${id}/d`);
        await sh("btrfs", "subvolume", "create", `${subdir}/${id}/d/deeper`);
      }
      ok(await go("delete-layer", L5), "go deletes ours");
      ok(await ours("delete-layer", L6), "ours deletes go's");
      ok(await ours("delete-layer", L4), "ours deletes its own");
      ok(await go("delete-layer", L3), "go deletes its own");
      ok(await ours("delete-layer", L2), "ours deletes ours");
      ok(await go("delete-layer", L1), "go deletes go's");
      subs = await subvolumesByName(fs.mnt);
      assert.deepEqual([...subs.keys()], [], "no subvolume left");
      assert.deepEqual([...Deno.readDirSync(subdir)], []);
      assert.equal(ok(await go("layers"), "go layers").stdout, "");

      // Both keep a private bind mount of the home; shutdown removes it.
      const isMounted = async () =>
        (await Deno.readTextFile("/proc/self/mountinfo")).includes(` ${graph}/btrfs `);
      assert.ok(await isMounted());
      ok(await ours("shutdown"), "ours shutdown");
      assert.equal(await isMounted(), false);
      ok(await ours("layers"), "ours layers");
      assert.ok(await isMounted());
      ok(await go("shutdown"), "go shutdown");
      assert.equal(await isMounted(), false);
    }),
});

Deno.test({
  name: "btrfs: errors and status as Go's (not btrfs, options, quotas, mapped roots)",
  ignore: !HAVE_GO,
  fn: () =>
    withStore(async (flags, graph, fs) => {
      const both = async (args: string[], label: string, graphDir = graph) => {
        const f = [...flags];
        f[1] = graphDir;
        const [g, o] = [await runGo([...f, ...args]), await runOurs([...f, ...args])];
        const fix = (s: string) => s.replaceAll(graphDir, "GRAPH");
        assert.deepEqual(
          [o.code, fix(o.stdout), fix(o.stderr)],
          [g.code, fix(g.stdout), fix(g.stderr)],
          label,
        );
        return g;
      };
      // Not on btrfs: the graph lives beside the filesystem image, on the host's filesystem.
      const ext = await both(["layers"], "not btrfs", `${fs.dir}/ext`);
      assert.match(ext.stdout, /is not on a btrfs filesystem: prerequisites for driver not satisfied/);
      for (
        const opt of ["foo=1", "btrfs.size=1G", "btrfs.mountopt=nodev", "btrfs.min_space=lots", "MIN_SPACE=1"]
      ) {
        await both(["--storage-opt", opt, "layers"], opt);
      }
      await both(["status"], "status");
      await both(["--storage-opt", "BTRFS.MIN_SPACE=16M", "status"], "status with min_space");
      // min_space turned quota groups on (the qgroup listing works only then).
      assert.match(await sh("btrfs", "qgroup", "show", fs.mnt), /0\/5/);

      // A layer with its own ID maps: same owners and modes on the subvolume roots.
      const mapped = ["--uidmap", "0:100000:65536", "--gidmap", "0:200000:65536"];
      const g = (await runGo([...flags, "create-layer", ...mapped])).stdout.trim();
      const o = (await runOurs([...flags, "create-layer", ...mapped])).stdout.trim();
      const st = (id: string) => Deno.lstatSync(`${graph}/btrfs/subvolumes/${id}`);
      assert.deepEqual([st(o).uid, st(o).gid, st(o).mode], [st(g).uid, st(g).gid, st(g).mode]);
      const gc = (await runGo([...flags, "create-layer", ...mapped, g])).stdout.trim();
      const oc = (await runOurs([...flags, "create-layer", ...mapped, o])).stdout.trim();
      assert.deepEqual([st(oc).uid, st(oc).gid, st(oc).mode], [st(gc).uid, st(gc).gid, st(gc).mode]);
      await runOurs([...flags, "shutdown"]);
    }),
});
