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
