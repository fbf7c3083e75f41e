/**
 * Where the store options come from (cli.md 1.3): config loading suppressed by
 * global flags before the command, env overrides, store-initialisation errors,
 * `--debug` lines — compared with the Go reference CLI on throwaway stores.
 */
import assert from "node:assert/strict";
import { HAVE_GO, normalizeTimes, runGo, runOurs } from "./cli_helpers.ts";
import type { RunResult } from "./cli_helpers.ts";

function norm(r: RunResult, root: string): [number, string, string] {
  const fix = (t: string) => normalizeTimes(t.replaceAll(root, "ROOT"));
  return [r.code, fix(r.stdout), fix(r.stderr)];
}

Deno.test({
  name: "config loading rules and store-initialisation errors match the Go CLI",
  ignore: !HAVE_GO,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "cs-cli-conf-" });
    try {
      const g = `${root}/g`, r = `${root}/r`;
      const vfsConf = `${root}/vfs.conf`;
      await Deno.writeTextFile(
        vfsConf,
        `[storage]\ndriver = "vfs"\ngraphroot = "${g}"\nrunroot = "${r}"\nbogus_key = 1\n[storage.options.vfs]\nignore_chown_errors = "true"\n`,
      );
      const noDriver = `${root}/nodriver.conf`;
      await Deno.writeTextFile(noDriver, `[storage]\ndriver = ""\ngraphroot = "${g}"\nrunroot = "${r}"\n`);
      const cases: Array<[Record<string, string>, string[]]> = [
        // Config loaded: driver, roots and driver options from the file, with the unknown-key warning.
        [{ CONTAINERS_STORAGE_CONF: vfsConf }, ["status"]],
        // Global flags after the command override single fields only.
        [{ CONTAINERS_STORAGE_CONF: vfsConf }, ["status", "--storage-opt", "vfs.ignore_chown_errors=false"]],
        [{ CONTAINERS_STORAGE_CONF: vfsConf, STORAGE_DRIVER: "vfs", STORAGE_OPTS: "" }, ["-D", "status"]],
        // Flags before the command: no config, so a driver without roots is an error.
        [{ CONTAINERS_STORAGE_CONF: vfsConf }, ["-s", "vfs", "status"]],
        [{ CONTAINERS_STORAGE_CONF: `${root}/missing.conf` }, ["status"]],
        [{ CONTAINERS_STORAGE_CONF: `${root}/missing.conf` }, ["bogus"]],
        [{ CONTAINERS_STORAGE_CONF: vfsConf }, ["-g", g, "-R", r, "-s", "bogus", "status"]],
        [{ CONTAINERS_STORAGE_CONF: vfsConf }, [
          "-g",
          g,
          "-R",
          r,
          "-s",
          "vfs",
          "--storage-opt",
          "vfs.bogus=1",
          "status",
        ]],
        [{ CONTAINERS_STORAGE_CONF: noDriver }, ["-D", "status", "-s", "vfs"]],
        [{ CONTAINERS_STORAGE_CONF: vfsConf }, ["-D", "-g", g, "-R", r, "-s", "vfs", "layers"]],
      ];
      const failures: string[] = [];
      for (const [env, args] of cases) {
        const [go, ours] = await Promise.all([runGo(args, { env }), runOurs(args, { env })]);
        const a = norm(go, root), b = norm(ours, root);
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          failures.push(
            `${JSON.stringify(env)} ${args.join(" ")}\n  go:   ${JSON.stringify(a)}\n  ours: ${
              JSON.stringify(b)
            }`,
          );
        }
      }
      assert.deepEqual(failures, []);

      // A TOML syntax error: Go's and our parsers word the detail differently; the frame is the same.
      const bad = `${root}/bad.conf`;
      await Deno.writeTextFile(bad, "[storage\n");
      const ours = await runOurs(["status"], { env: { CONTAINERS_STORAGE_CONF: bad } });
      assert.equal(ours.code, 1);
      assert.match(
        ours.stdout,
        new RegExp(`^Failed to read ${bad} toml: .+\nerror initializing: toml: .+\n$`),
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "a config without roots falls back to the default roots only when it names no driver and no options",
  ignore: !HAVE_GO,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "cs-cli-conf-defaults-" });
    try {
      const confs: Record<string, string> = {
        empty: "",
        storageOnly: "[storage]\n",
        emptyDriver: '[storage]\ndriver = ""\n',
        perDriverOnly: '[storage.options.overlay]\nmountopt = "nodev"\n',
        driverOnly: '[storage]\ndriver = "vfs"\n',
        optionsOnly: '[storage]\n[storage.options]\nmountopt = "nodev"\n',
        runRootOnly: `[storage]\ndriver = "vfs"\nrunroot = "${root}/run"\n`,
      };
      // The default roots are the host's: run both CLIs in a private mount namespace with
      // tmpfs over them, so nothing of the host's default store is touched.
      await Deno.mkdir("/var/lib/containers", { recursive: true });
      await Deno.mkdir("/run/containers", { recursive: true });
      const script = [
        "set -e",
        "mount -t tmpfs none /var/lib/containers",
        "mount -t tmpfs none /run/containers",
        ...Object.keys(confs).flatMap((name) => [
          `echo "== ${name} go"`,
          `CONTAINERS_STORAGE_CONF=${root}/${name}.conf containers-storage status 2>&1 | grep -v level= || true`,
          `echo "== ${name} ours"`,
          `CONTAINERS_STORAGE_CONF=${root}/${name}.conf ${Deno.execPath()} run -A ${
            new URL("../cli.ts", import.meta.url).pathname
          } status 2>&1 | grep -v level= || true`,
        ]),
      ].join("\n");
      for (const [name, text] of Object.entries(confs)) {
        await Deno.writeTextFile(`${root}/${name}.conf`, text);
      }
      const out = await new Deno.Command("unshare", {
        args: ["-m", "--propagation", "private", "sh", "-c", script],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const sections = new Map<string, string>();
      for (const part of new TextDecoder().decode(out.stdout).split(/^== /m).filter(Boolean)) {
        const nl = part.indexOf("\n");
        // HEAD's two extra overlay status lines are not in 1.43's output.
        const body = part.slice(nl + 1).replaceAll(root, "ROOT").replace(
          /^Supports (shifting|volatile): .*\n/gm,
          "",
        );
        sections.set(part.slice(0, nl), body);
      }
      for (const name of Object.keys(confs)) {
        assert.equal(sections.get(`${name} ours`), sections.get(`${name} go`), name);
      }
      // The cases really differ: defaults for some, the missing-options error for others.
      assert.match(sections.get("storageOnly go")!, /^Root: \/var\/lib\/containers\/storage$/m);
      assert.match(sections.get("driverOnly go")!, /no storage runroot or graphroot specified/);
      assert.match(sections.get("runRootOnly go")!, /^Run Root: ROOT\/run$/m);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
