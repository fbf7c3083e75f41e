/**
 * Differential tests against the Go reference CLI: one command sequence runs on
 * two temp stores, one driven by Go and one by us, and every output (exit code,
 * stdout, stderr) must match once store paths, IDs and times are normalised.
 * Then each side lists the other's store: the JSON of layers, images and
 * containers must be byte-identical.
 */
import assert from "node:assert/strict";
import {
  forEachCliDriver,
  HAVE_GO,
  IdNormalizer,
  normalizeTimes,
  runGo,
  runOurs,
  tempStore,
} from "./cli_helpers.ts";
import type { RunResult, TempStore } from "./cli_helpers.ts";

const L1 = "1".repeat(64), L2 = "2".repeat(64), L3 = "3".repeat(64), L4 = "4".repeat(64);
const I1 = "a".repeat(64), C1 = "c".repeat(64);

/** One step: arguments after the global flags, optional stdin, optional output post-processing. */
interface Step {
  args: string[];
  stdin?: Uint8Array | string;
  /** Sort output lines (where Go's order is not defined, e.g. vfs change lists). */
  sortLines?: boolean;
}

async function makeTar(dir: string): Promise<Uint8Array> {
  await Deno.mkdir(`${dir}/src/d`, { recursive: true });
  await Deno.writeTextFile(`${dir}/src/d/f.txt`, "file\n");
  await Deno.writeTextFile(`${dir}/src/a b`, "x");
  const out = await new Deno.Command("tar", {
    args: ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", `${dir}/src`, "-cf", "-", "."],
    stdout: "piped",
  }).output();
  return out.stdout;
}

function steps(tar: Uint8Array): Step[] {
  return [
    { args: ["create-layer", "-i", L1, "-n", "base"] },
    { args: ["create-layer", "-j", "-i", L2, "-n", "mid", "--label", "lbl", "base"] },
    { args: ["create-layer", "-n", "base"] },
    { args: ["create-layer", "-i", L1] },
    { args: ["create-layer", "nosuch"] },
    { args: ["create-layer", "--uidmap", "bogus"] },
    { args: ["create-layer", "--uidmap", "0:1000:10", "--hostuidmap"] },
    { args: ["create-layer", "--uidmap", "0:1000:10", "--gidmap", "0:2000:10", "-i", L3, "-n", "mapped"] },
    { args: ["layer", "mapped", "mid", "nosuch"] },
    { args: ["layer", "-j", "mapped"] },
    { args: ["create-image", "-i", I1, "-n", "img", "-m", "meta", "mid"] },
    { args: ["create-image", "-n", "img", "mid"] },
    { args: ["create-image", "-i", I1] },
    { args: ["create-image", "-d", "bogus"] },
    { args: ["set-image-data", "img", "manifest"], stdin: '{"a":1}' },
    { args: ["set-image-data", "img", "Other"], stdin: "<&>" },
    { args: ["image", "img"] },
    { args: ["images"] },
    { args: ["images", "-j"] },
    { args: ["images-by-digest", "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"] },
    { args: ["images-by-digest", "sha256:zz"] },
    { args: ["list-image-data", "-j", "img"] },
    { args: ["get-image-data", "img", "Other"] },
    { args: ["get-image-data-size", "img", "manifest"] },
    { args: ["get-image-data-digest", "img", "manifest"] },
    { args: ["get-image-data", "img", "nosuch"] },
    { args: ["get-image-data-size", "img", "nosuch"] },
    { args: ["list-image-data", "nosuch"] },
    { args: ["create-container", "-j", "-i", C1, "-n", "ctr", "-m", "cm", "img"] },
    { args: ["create-container", "-n", "ctr", "img"] },
    { args: ["create-container", "nosuch"] },
    { args: ["container", "ctr", "nosuch"] },
    { args: ["containers"] },
    { args: ["containers", "-j"] },
    { args: ["get-container-dir", "ctr"] },
    { args: ["set-container-data", "ctr", "k"], stdin: "v" },
    { args: ["get-container-data", "ctr", "k"] },
    { args: ["get-container-data-size", "ctr", "k"] },
    { args: ["list-container-data", "-j", "ctr"] },
    { args: ["get-container-data-digest", "ctr", "nosuch"] },
    { args: ["set-layer-data", "base", "ld"], stdin: "layerdata" },
    { args: ["list-layer-data", "base"] },
    { args: ["get-layer-data", "base", "ld"] },
    { args: ["get-layer-data", "base", "nosuch"] },
    { args: ["layers"] },
    { args: ["layers", "-t"] },
    { args: ["layers", "-j"] },
    { args: ["exists", "-j", "base", "img", "ctr", "nosuch"] },
    { args: ["exists", "-l", "img"] },
    { args: ["metadata", "img", "ctr", "nosuch"] },
    { args: ["set-metadata", "-m", "m2\n", "mid"] },
    { args: ["metadata", "-j", "mid"] },
    { args: ["set-metadata", "-m", "x", "nosuch"] },
    { args: ["get-names", "-j", "mid"] },
    { args: ["get-names", "nosuch"] },
    { args: ["set-names", "-j", "-n", "x", "-n", "y", "mapped"] },
    { args: ["get-names", "x"] },
    { args: ["delete-layer", L1] },
    { args: ["delete-layer", "-j", L2] },
    { args: ["delete-image", "img"] },
    { args: ["delete-container", "-j", "ctr", "nosuch"] },
    { args: ["delete-image", "-t", "-j", "img"] },
    { args: ["delete-image", "-j", "img"] },
    { args: ["delete", "-j", "x", "nosuch"] },
    { args: ["layers", "-j"] },
    { args: ["import-layer", "-j", "-i", L4, "-n", "imp"], stdin: tar },
    { args: ["diff", "imp"] },
    { args: ["diff", "-u", "-x", "imp"] },
    { args: ["changes", "imp"], sortLines: true },
    { args: ["diffsize", "imp"] },
    { args: ["layer", "imp"] },
    { args: ["mount", L4] },
    { args: ["mounted", "imp"] },
    { args: ["unmount", "-j", "imp"] },
    { args: ["status"] },
    { args: ["shutdown", "-j"] },
  ];
}

function normalize(
  r: RunResult,
  s: TempStore,
  ids: IdNormalizer,
  sortLines: boolean,
): [number, string, string] {
  const fix = (t: string) => {
    let out = normalizeTimes(ids.apply(t.replaceAll(s.root, "ROOT")));
    // HEAD's two extra overlay status lines (cli.md 3.3), absent from 1.43.
    out = out.replace(/^Supports (shifting|volatile): \w+\n/gm, "");
    if (sortLines) out = out.split("\n").sort().join("\n");
    return out;
  };
  return [r.code, fix(r.stdout), fix(r.stderr)];
}

forEachCliDriver((driver) => {
  Deno.test({
    name: `the same command sequence gives the same outputs on the Go CLI and ours (${driver})`,
    ignore: !HAVE_GO,
    async fn() {
      const goStore = await tempStore(driver, "cs-go-");
      const ourStore = await tempStore(driver, "cs-ours-");
      try {
        const tar = await makeTar(goStore.root);
        const goIds = new IdNormalizer(), ourIds = new IdNormalizer();
        const failures: string[] = [];
        for (const step of steps(tar)) {
          const [go, ours] = await Promise.all([
            runGo([...goStore.flags, ...step.args], { stdin: step.stdin }),
            runOurs([...ourStore.flags, ...step.args], { stdin: step.stdin }),
          ]);
          const g = normalize(go, goStore, goIds, !!step.sortLines);
          const o = normalize(ours, ourStore, ourIds, !!step.sortLines);
          if (JSON.stringify(g) !== JSON.stringify(o)) {
            failures.push(
              `${step.args.join(" ")}\n  go:   ${JSON.stringify(g)}\n  ours: ${JSON.stringify(o)}`,
            );
          }
        }
        assert.deepEqual(failures, []);
      } finally {
        await goStore.dispose();
        await ourStore.dispose();
      }
    },
  });

  Deno.test({
    name: `stores written by either CLI are listed identically by both (${driver})`,
    ignore: !HAVE_GO,
    async fn() {
      const stores = [await tempStore(driver, "cs-x-go-"), await tempStore(driver, "cs-x-ours-")];
      try {
        const tar = await makeTar(stores[0].root);
        const writers = [runGo, runOurs];
        const build: Step[] = [
          { args: ["create-layer", "-n", "base"] },
          {
            args: ["import-layer", "-n", "imp", "--uidmap", "0:100:1000", "--gidmap", "0:100:1000", "base"],
            stdin: tar,
          },
          {
            args: ["create-image", "-n", "img", "-n", "alias", "--digest", `sha256:${"5".repeat(64)}`, "imp"],
          },
          { args: ["set-image-data", "img", "manifest-x"], stdin: "{}" },
          // Not --volatile: ours keeps volatile records in HEAD's volatile files, unseen by 1.43.
          { args: ["create-container", "-n", "ctr", "img"] },
          { args: ["set-container-data", "ctr", "config.json"], stdin: "{}" },
          { args: ["add-names", "-n", "more", "img"] },
          { args: ["set-metadata", "-m", "<meta & data>", "base"] },
        ];
        for (let i = 0; i < 2; i++) {
          for (const step of build) {
            const r = await writers[i]([...stores[i].flags, ...step.args], { stdin: step.stdin });
            assert.equal(r.code, 0, `${i ? "ours" : "go"} ${step.args.join(" ")}: ${r.stderr}`);
          }
        }
        for (const s of stores) {
          for (
            const list of [["layers", "-j"], ["images", "-j"], ["containers", "-j"], ["layers", "-t"], [
              "images",
            ]]
          ) {
            const [go, ours] = [await runGo([...s.flags, ...list]), await runOurs([...s.flags, ...list])];
            assert.equal(ours.stdout, go.stdout, `${s.root} ${list.join(" ")}`);
            assert.equal(ours.code, go.code);
          }
          // Content written by one side is read back byte for byte by the other.
          const [go, ours] = [
            await runGo([...s.flags, "diff", "imp"]),
            await runOurs([...s.flags, "diff", "imp"]),
          ];
          assert.deepEqual(ours.stdoutBytes, go.stdoutBytes);
          assert.deepEqual(ours.stdoutBytes, tar);
        }
      } finally {
        for (const s of stores) await s.dispose();
      }
    },
  });
});
