/**
 * `deno task demo`: a walk-through of the CLI's main job on a store of its own.
 *
 * It (re)creates a store under `$TMPDIR/containers-storage-demo` (or `--graph/--run` given
 * here), imports a layer from a tar it builds, stacks a second layer, makes an image and a
 * container, lists them, mounts the container, writes into it, shows its changes and the
 * JSON records. The store is left in place for inspection; the last lines say how to remove it.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    graph: { type: "string" },
    run: { type: "string" },
    driver: { type: "string", short: "s" },
  },
});
const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
const base = `${tmp}/containers-storage-demo`;
const graph = values.graph ?? `${base}/graph`;
const run = values.run ?? `${base}/run`;
const cli = new URL("../cli.ts", import.meta.url).pathname;

/** Overlay when it can mount here (root and kernel support), else vfs. */
async function pickDriver(): Promise<string> {
  if (values.driver) return values.driver;
  if (Deno.uid() !== 0) return "vfs";
  const fs = await Deno.readTextFile("/proc/filesystems").catch(() => "");
  return /\boverlay\b/.test(fs) ? "overlay" : "vfs";
}
const driver = await pickDriver();
const global = ["--graph", graph, "--run", run, "--storage-driver", driver];

const bold = (s: string) => Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s;

/** Runs one CLI command, echoing it unless `quiet`, and returns its stdout. Stops the demo on failure. */
async function cs(args: string[], input?: Uint8Array, quiet = false): Promise<string> {
  if (!quiet) console.log(bold(`\n$ containers-storage ${args.join(" ")}`));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...global, ...args],
    stdin: input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input) {
    const w = child.stdin.getWriter();
    await w.write(input);
    await w.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!quiet) Deno.stdout.writeSync(out.stdout);
  if (stderr) Deno.stderr.writeSync(out.stderr);
  if (!out.success) {
    console.error(`command failed with exit code ${out.code}`);
    Deno.exit(1);
  }
  return stdout;
}

/** A small tar made with the system tar from a temporary directory tree. */
async function makeTar(files: Record<string, string>): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "cs-demo-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, text);
    }
    const out = await new Deno.Command("tar", {
      args: ["-C", dir, "--numeric-owner", "--owner=0", "--group=0", "-cf", "-", "."],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error("tar failed");
    return out.stdout;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

console.log(`Store: graph root ${graph}, run root ${run}, driver ${driver}`);
// Start from a clean store: unmount what an earlier run left, then remove it.
await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", cli, ...global, "shutdown", "-f"],
  stdout: "null",
  stderr: "null",
}).output().catch(() => {});
for (const dir of [graph, run]) await Deno.remove(dir, { recursive: true }).catch(() => {});

const baseTar = await makeTar({
  "etc/os-release": 'NAME="demo"\n',
  "etc/hostname": "demo\n",
  "usr/bin/hello": "#!/bin/sh\necho hello\n",
});
const baseLayer = (await cs(["import-layer", "--name", "demo-base"], baseTar)).split("\n")[0];
const appTar = await makeTar({ "app/main.txt": "the application\n", "etc/hostname": "app\n" });
await cs(["import-layer", "--name", "demo-app", "demo-base"], appTar);
await cs(["create-image", "--name", "demo-image", "--metadata", "made by the demo", "demo-app"]);
await cs(
  ["set-image-data", "-f", "/dev/stdin", "demo-image", "manifest"],
  new TextEncoder().encode('{"schemaVersion":2}'),
);
await cs(["create-container", "--name", "demo-container", "demo-image"]);
await cs(["layers", "--tree"]);
await cs(["images"]);
await cs(["containers"]);

const mountpoint = (await cs(["mount", "demo-container"])).trim();
console.log(bold(`\n# files seen through the mount point`));
for await (const e of Deno.readDir(mountpoint)) console.log(`  ${e.isDirectory ? "d" : "-"} ${e.name}`);
await Deno.writeTextFile(`${mountpoint}/app/output.txt`, "written inside the container\n");
await Deno.remove(`${mountpoint}/usr/bin/hello`);
console.log(`  wrote app/output.txt, removed usr/bin/hello`);
const containerLayer = JSON.parse(await cs(["container", "-j", "demo-container"], undefined, true))[0].layer;
await cs(["changes", containerLayer]);
await cs(["unmount", "demo-container"]);

await cs(["layer", "-j", baseLayer]);
await cs(["image", "demo-image"]);
await cs(["container", "-j", "demo-container"]);
await cs(["status"]);

console.log(`\nThe store stays in ${graph} and ${run} for inspection. To remove it:`);
console.log(`  deno run -A cli.ts ${global.join(" ")} shutdown -f && rm -rf ${graph} ${run}`);
