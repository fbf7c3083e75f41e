/**
 * Issue 2, "both writing one store from several processes at once loses nothing": three
 * streams of Go CLI commands and three of ours write one vfs store at the same time
 * (layers, chains, images, containers, names, one name they all fight over). Afterwards
 * both CLIs list everything, every JSON file parses, and no item or name is lost.
 */
import assert from "node:assert/strict";
import { TEST_CONF } from "./cli_helpers.ts";
import { go, ours, T, withStore } from "./interop_helpers.ts";

const EACH = 15;
const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** One writer: EACH layers (every second one a child of the one before), 3 images, a container, names. */
const SCRIPT = `
set -eo pipefail
CMD=("$@")
cs() { "\${CMD[@]}" "$@"; }
prev=""; first=""
for i in $(seq 1 ${EACH}); do
  id=$(cs create-layer -n "$P-$i" $prev | sed -n 1p)
  [ -n "$first" ] || first=$id
  if [ $((i % 2)) = 1 ]; then prev=$id; else prev=""; fi
  case $i in 5|10|15) cs create-image -n "img-$P-$i" "$id" >/dev/null;; esac
  [ $i != 7 ] || cs add-names -n "extra-$P" "$id" >/dev/null
done
cs create-container -n "ctr-$P" "img-$P-5" >/dev/null
cs add-names -n shared "$first" >/dev/null
`;

/** Runs SCRIPT as writer `who` with `cli` (the command and the store's flags) as its CLI. */
function spawnWriter(who: string, cli: string[]): Deno.ChildProcess {
  return new Deno.Command("bash", {
    args: ["-c", SCRIPT, "writer", ...cli],
    env: { P: who, CONTAINERS_STORAGE_CONF: TEST_CONF },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Every `*.json` file below `dir`, parsed (a torn or half-written file fails here). */
function parseAllJSON(dir: string, seen: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) parseAllJSON(p, seen);
    else if (e.isFile && e.name.endsWith(".json")) {
      assert.doesNotThrow(() => JSON.parse(Deno.readTextFileSync(p)), p);
      seen.push(p.slice(dir.length));
    }
  }
  return seen;
}

type Item = {
  id: string;
  names?: string[];
  parent?: string;
  layer?: string;
  flags?: Record<string, unknown>;
};

Deno.test(
  "interop concurrency: 3 Go and 3 of our writers on one vfs store lose nothing",
  T,
  () =>
    withStore("vfs", async (s) => {
      const writers = ["go0", "go1", "go2", "ds0", "ds1", "ds2"];
      const children = writers.map((w) =>
        spawnWriter(
          w,
          w.startsWith("go")
            ? ["containers-storage", ...s.all]
            : [Deno.execPath(), "run", "-A", "--no-lock", CLI, ...s.all],
        )
      );
      const outs = await Promise.all(children.map((c) => c.output()));
      outs.forEach((o, i) =>
        assert.equal(
          o.code,
          0,
          `${writers[i]}: ${new TextDecoder().decode(o.stderr)}${new TextDecoder().decode(o.stdout)}`,
        )
      );

      const files = [...parseAllJSON(s.graph), ...parseAllJSON(s.run)];
      for (const f of ["layers.json", "images.json", "containers.json", "mountpoints.json"]) {
        assert.ok(files.some((p) => p.endsWith(`/${f}`)), `${f} in ${files}`);
      }
      for (
        const lock of ["vfs-layers/layers.lock", "vfs-images/images.lock", "vfs-containers/containers.lock"]
      ) {
        assert.equal(Deno.readFileSync(`${s.graph}/${lock}`).length, 64, lock);
      }

      const list = async (kind: string) => {
        const g: Item[] = JSON.parse(await go(s, [kind, "-j"]));
        const o: Item[] = JSON.parse(await ours(s, [kind, "-j"]));
        const key = (xs: Item[]) => xs.map((x) => `${x.id} ${[...x.names ?? []].sort()}`).sort();
        assert.deepEqual(key(o), key(g), `${kind}: both CLIs list the same`);
        return g;
      };
      const layers = await list("layers");
      const images = await list("images");
      const containers = await list("containers");
      assert.equal(layers.length, writers.length * (EACH + 1), "EACH layers + a container layer per writer");
      assert.equal(images.length, writers.length * 3);
      assert.equal(containers.length, writers.length);
      assert.equal(
        [...Deno.readDirSync(`${s.graph}/vfs/dir`)].length,
        layers.length,
        "one driver dir per layer",
      );

      const ids = new Set(layers.map((l) => l.id));
      const names = (xs: Item[]) => new Set(xs.flatMap((x) => x.names ?? []));
      const layerNames = names(layers), imageNames = names(images), ctrNames = names(containers);
      for (const w of writers) {
        for (let i = 1; i <= EACH; i++) assert.ok(layerNames.has(`${w}-${i}`), `${w}-${i}`);
        for (const i of [5, 10, 15]) assert.ok(imageNames.has(`img-${w}-${i}`), `img-${w}-${i}`);
        assert.ok(layerNames.has(`extra-${w}`), `extra-${w}`);
        assert.ok(ctrNames.has(`ctr-${w}`), `ctr-${w}`);
      }
      assert.equal(layers.filter((l) => l.names?.includes("shared")).length, 1, "a name has one owner");
      for (const l of layers) {
        assert.equal(l.flags?.incomplete, undefined, l.id);
        if (l.parent) assert.ok(ids.has(l.parent), `parent of ${l.id}`);
      }
      // Each writer's chains: layer 2k is a child of layer 2k-1.
      const byName = new Map(layers.flatMap((l) => (l.names ?? []).map((n) => [n, l] as const)));
      for (const w of writers) {
        for (let i = 2; i <= EACH; i += 2) {
          assert.equal(byName.get(`${w}-${i}`)?.parent, byName.get(`${w}-${i - 1}`)?.id, `${w}-${i}`);
        }
      }
      for (const c of containers) assert.ok(ids.has(c.layer!), `layer of container ${c.id}`);
    }),
);
