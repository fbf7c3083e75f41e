/**
 * Usage texts, flag errors, argument counts and unknown commands, compared
 * with the Go reference binary (paths that never open a store).
 */
import assert from "node:assert/strict";
import { HAVE_GO, runGo, runInProcess, runOurs } from "./cli_helpers.ts";
import { COMMANDS, HEAD_ONLY_COMMANDS } from "../cli/commands.ts";

const G = ["--graph", "/tmp/cs-cli-usage/root", "--run", "/tmp/cs-cli-usage/run", "-s", "vfs"];

/** Drops what only HEAD has (new commands, new global flags, new per-command flags) and column padding. */
function dropHead(text: string): string {
  return text
    .split("\n")
    .filter((l) => !HEAD_ONLY_COMMANDS.some((c) => l.startsWith(`  ${c} `)))
    .filter((l) => !/^ {2}--(image-store|transient-store)\b/.test(l))
    .filter((l) => !/^ {2}--quiet, -q +Only print IDs$/.test(l) || !text.includes("--tree, -t"))
    .map((l) => l.replace(", --read-only", ""))
    .map((l) => (l.startsWith("  --") ? l.replace(/ {2,}/g, "  ") : l))
    .join("\n");
}

const CASES: string[][] = [
  [],
  ["--help"],
  ["-h"],
  ["--bogus"],
  ["-D"],
  [...G],
  [...G, "--graph"],
  [...G, "bogus"],
  [...G, "layers", "-json"],
  [...G, "layers", "--json=maybe"],
  [...G, "create-layer", "-n"],
  [...G, "createlayer", "a", "b"],
  [...G, "create-layer", "base", "-n", "child"],
  [...G, "get-names"],
  [...G, "images-by-digest", "a", "b"],
  [...G, "diff", "--help"],
  [...G, "mount", "-h"],
  [...G, "layers", "-t", "-x"],
  ["-D", "--graph=/root/cs-x", "layers", "--help"],
  ["--storage-opt", "vfs.a=1", "--storage-opt=x=y", "layers", "--help"],
  // Every 1.43 command's help (copy's crashes in 1.43 and is checked separately).
  ...COMMANDS.filter((c) => !HEAD_ONLY_COMMANDS.includes(c.names[0]) && c.names[0] !== "copy")
    .map((c) => [...G, c.names[0], "--help"]),
];

Deno.test({
  name: "usage, flag errors and argument counts match the Go CLI",
  ignore: !HAVE_GO,
  async fn() {
    const failures: string[] = [];
    for (const args of CASES) {
      const [ours, go] = await Promise.all([runInProcess(args), runGo(args, { env: { HOME: "/root" } })]);
      const label = JSON.stringify(args);
      if (ours.code !== go.code) failures.push(`${label}: exit ${ours.code} != ${go.code}`);
      if (dropHead(ours.stdout) !== dropHead(go.stdout)) {
        failures.push(`${label}: stdout\n--- ours\n${ours.stdout}\n--- go\n${go.stdout}`);
      }
      if (dropHead(ours.stderr) !== dropHead(go.stderr)) {
        failures.push(`${label}: stderr\n--- ours\n${ours.stderr}\n--- go\n${go.stderr}`);
      }
    }
    assert.deepEqual(failures, []);
  },
});

Deno.test("HEAD: commands that take no operands reject them; copy --help works", async () => {
  const r = await runInProcess([...G, "layers", "x"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^layers: too many arguments \(\[x\]\)\.\nUsage: containers-storage layers/);
  const c = await runInProcess([...G, "copy", "--help"]);
  assert.equal(c.code, 125);
  assert.match(c.stdout, /^Usage: containers-storage copy \[options/);
  assert.match(c.stderr, /\n {2}--chown, -o +Set owner on new copies\n/);
});

Deno.test("the entry point runs as a subprocess with the same exit codes", async () => {
  const none = await runOurs([]);
  assert.equal(none.code, 1);
  assert.match(none.stdout, /^Usage: containers-storage command/);
  assert.match(none.stderr, /--storage-opt=\[\] +Set storage driver options/);
  const help = await runOurs([...G, "layers", "--help"]);
  assert.equal(help.code, 125);
  const unknown = await runOurs([...G, "frobnicate"]);
  assert.deepEqual([unknown.code, unknown.stdout, unknown.stderr], [
    1,
    "frobnicate: unrecognized command.\n",
    "",
  ]);
});
