import assert from "node:assert/strict";
import { ConfigError, StoreOptionsMissingError } from "./errors.ts";
import {
  completeStoreOptions,
  DEFAULT_GRAPH_ROOT,
  DEFAULT_RUN_ROOT,
  defaultGraphRoot,
  defaultRunRoot,
  expandEnv,
  expandEnvPath,
  type LoadedConfig,
  type LoadOptions,
  loadStoreOptions,
} from "./config.ts";

function tmp(): string {
  return Deno.makeTempDirSync({ prefix: "cs-config-" });
}

/** A loader whose system paths point into `d` (never the machine's real files). */
function loader(d: string, base: Partial<LoadOptions> = {}) {
  return (env: Record<string, string | undefined>, extra: Partial<LoadOptions> = {}): Promise<LoadedConfig> =>
    loadStoreOptions({
      uid: 0,
      overrideConfigFile: `${d}/etc/storage.conf`,
      defaultConfigFile: `${d}/usr/storage.conf`,
      ...base,
      ...extra,
      env,
    });
}

Deno.test("search order for root: env file, XDG_CONFIG_HOME, /etc, /usr/share, none", async () => {
  const d = tmp();
  try {
    const load = loader(d);
    // Nothing anywhere: defaults, no file, no messages.
    let r = await load({});
    assert.equal(r.file, null);
    assert.equal(r.options.graphRoot, DEFAULT_GRAPH_ROOT);
    assert.equal(r.options.runRoot, DEFAULT_RUN_ROOT);
    assert.equal(r.options.driverName, "");
    assert.deepEqual(r.warnings, []);

    Deno.mkdirSync(`${d}/usr`);
    Deno.writeTextFileSync(`${d}/usr/storage.conf`, '[storage]\ndriver = "vfs"\ngraphroot = "/usr-g"\n');
    r = await load({});
    assert.equal(r.file, `${d}/usr/storage.conf`);
    assert.equal(r.options.driverName, "vfs");
    assert.equal(r.options.graphRoot, "/usr-g");
    assert.equal(r.options.runRoot, ""); // the file omitted it (Go clears previous options)

    Deno.mkdirSync(`${d}/etc`);
    Deno.writeTextFileSync(`${d}/etc/storage.conf`, '[storage]\ndriver = "overlay"\nrunroot = "/etc-r"\n');
    r = await load({});
    assert.equal(r.file, `${d}/etc/storage.conf`);
    assert.equal(r.options.driverName, "overlay");

    // XDG_CONFIG_HOME only counts when the file exists there.
    r = await load({ XDG_CONFIG_HOME: `${d}/xdg` });
    assert.equal(r.file, `${d}/etc/storage.conf`);
    Deno.mkdirSync(`${d}/xdg/containers`, { recursive: true });
    Deno.writeTextFileSync(`${d}/xdg/containers/storage.conf`, '[storage]\ndriver = "btrfs"\n');
    r = await load({ XDG_CONFIG_HOME: `${d}/xdg` });
    assert.equal(r.file, `${d}/xdg/containers/storage.conf`);
    assert.equal(r.options.driverName, "btrfs");

    // CONTAINERS_STORAGE_CONF wins, and must exist.
    Deno.writeTextFileSync(`${d}/mine.conf`, '[storage]\ndriver = "vfs"\n');
    r = await load({ XDG_CONFIG_HOME: `${d}/xdg`, CONTAINERS_STORAGE_CONF: `${d}/mine.conf` });
    assert.equal(r.file, `${d}/mine.conf`);
    assert.equal(r.options.driverName, "vfs");
    await assert.rejects(() => load({ CONTAINERS_STORAGE_CONF: `${d}/missing.conf` }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `stat ${d}/missing.conf: no such file or directory`);
      return true;
    });
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("keys: driver options synthesized in Go's order; overlay2; env overrides; messages", async () => {
  const d = tmp();
  try {
    const load = loader(d);
    const f = `${d}/c.conf`;
    Deno.writeTextFileSync(
      f,
      `[storage]
driver = "overlay2"
graphroot = "/g"
runroot = "/r"
bogus = 1
[storage.options]
additionalimagestores = ["/a", "/b"]
size = "10G"
mountopt = "nodev"
force_mask = 0o750
pull_options = {enable_partial_images = "true"}
disable-volatile = true
[storage.options.overlay]
mountopt = "nosuid"
inodes = "5"
force_mask = "shared"
[storage.options.vfs]
ignore_chown_errors = "true"
`,
    );
    let r = await load({ CONTAINERS_STORAGE_CONF: f });
    assert.equal(r.options.driverName, "overlay");
    assert.deepEqual(r.options.driverOptions, [
      "overlay2.imagestore=/a",
      "overlay2.imagestore=/b",
      "overlay2.size=10G",
      "overlay2.force_mask=750",
      "overlay2.mountopt=nodev",
      "overlay.mountopt=nosuid",
      "overlay.size=10G",
      "overlay.inodes=5",
      "overlay.force_mask=shared",
    ]);
    assert.deepEqual(r.options.pullOptions, { enable_partial_images: "true" });
    assert.equal(r.options.disableVolatile, true);
    assert.deepEqual(r.log, [
      { level: "warning", msg: `Failed to decode the keys ["storage.bogus"] from "${f}"` },
      { level: "warning", msg: "Switching default driver from overlay2 to the equivalent overlay driver" },
    ]);
    assert.deepEqual(r.warnings, r.log.map((l) => l.msg));

    r = await load({ CONTAINERS_STORAGE_CONF: f, STORAGE_DRIVER: "vfs" });
    assert.equal(r.options.driverName, "vfs");
    assert.deepEqual(r.options.driverOptions, [
      "vfs.imagestore=/a",
      "vfs.imagestore=/b",
      "vfs.size=10G",
      "vfs.force_mask=750",
      "vfs.mountopt=nodev",
      "vfs.ignore_chown_errors=true",
    ]);
    r = await load({ CONTAINERS_STORAGE_CONF: f, STORAGE_OPTS: "x=1,,y=2" });
    assert.deepEqual(r.options.driverOptions, ["x=1", "", "y=2"]);
    r = await load({ CONTAINERS_STORAGE_CONF: f, STORAGE_OPTS: "" });
    assert.deepEqual(r.options.driverOptions, []);

    // Empty driver: logrus error text; empty file is fine otherwise.
    Deno.writeTextFileSync(f, "[storage]\n");
    r = await load({ CONTAINERS_STORAGE_CONF: f });
    assert.deepEqual(r.log, [{
      level: "error",
      msg: `The storage 'driver' option must be set in ${f} to guarantee proper operation`,
    }]);
    Deno.writeTextFileSync(
      f,
      '[storage]\ndriver_priority = ["vfs"]\ntransient_store = true\nimagestore = "/i"\n',
    );
    r = await load({ CONTAINERS_STORAGE_CONF: f });
    assert.deepEqual(r.log, []);
    assert.deepEqual(r.options.driverPriority, ["vfs"]);
    assert.equal(r.options.transientStore, true);
    assert.equal(r.options.imageStore, "/i");
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("errors: TOML syntax and type errors start with `toml: `; ID maps; remap-user via subuid", async () => {
  const d = tmp();
  try {
    const load = loader(d, {
      subIDFiles: { subuid: `${d}/subuid`, subgid: `${d}/subgid`, passwd: `${d}/p`, group: `${d}/gr` },
    });
    const f = `${d}/c.conf`;
    Deno.writeTextFileSync(f, '[storage]\ndriver = "vfs\n');
    await assert.rejects(() => load({ CONTAINERS_STORAGE_CONF: f }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^toml: line 2: /);
      assert.equal(e.preface, `Failed to read ${f} ${e.message}`);
      return true;
    });
    Deno.writeTextFileSync(f, "[storage]\n\n[storage.options]\nsize = 5\n");
    await assert.rejects(() => load({ CONTAINERS_STORAGE_CONF: f }), {
      message:
        'toml: line 4 (last key "storage.options.size"): incompatible types: TOML value has type int64; destination has type string',
    });
    Deno.writeTextFileSync(f, '[storage.options]\nadditionalimagestores = ["/a", 1]\n');
    await assert.rejects(() => load({ CONTAINERS_STORAGE_CONF: f }), {
      message: /has type int64; destination has type string$/,
    });
    Deno.writeTextFileSync(f, '[storage.options]\nremap-uids = "0:1"\n');
    await assert.rejects(() => load({ CONTAINERS_STORAGE_CONF: f }), {
      message:
        'initializing ID mappings: remap-uids setting is malformed expected ["uint32:uint32:uint32"]: ["0:1"]',
    });
    Deno.writeTextFileSync(
      f,
      '[storage.options]\nremap-uids = "0:100000:65536"\nremap-gids = "0:200000:1:1:5:2"\n',
    );
    let r = await load({ CONTAINERS_STORAGE_CONF: f });
    assert.deepEqual(r.options.uidMap, [{ containerId: 0, hostId: 100000, size: 65536 }]);
    assert.deepEqual(r.options.gidMap, [{ containerId: 0, hostId: 200000, size: 1 }, {
      containerId: 1,
      hostId: 5,
      size: 2,
    }]);
    Deno.writeTextFileSync(`${d}/subuid`, "builder:300000:65536\n");
    Deno.writeTextFileSync(`${d}/subgid`, "builder:400000:1000\n");
    Deno.writeTextFileSync(f, '[storage.options]\nremap-uids = "0:1:1"\nremap-group = "builder"\n');
    r = await load({ CONTAINERS_STORAGE_CONF: f });
    assert.deepEqual(r.options.uidMap, [{ containerId: 0, hostId: 300000, size: 65536 }]);
    assert.deepEqual(r.options.gidMap, [{ containerId: 0, hostId: 400000, size: 1000 }]);
    Deno.writeTextFileSync(f, '[storage.options]\nremap-user = "nobody-here"\n');
    await assert.rejects(() => load({ CONTAINERS_STORAGE_CONF: f }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `no subuid ranges found for user "nobody-here" in ${d}/subuid`);
      assert.equal(e.preface, `Error initializing ID mappings for nobody-here:nobody-here ${e.message}`);
      return true;
    });
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("paths: $UID and env references expanded, symlinks resolved, cleaned otherwise", async () => {
  const d = tmp();
  try {
    assert.equal(expandEnv("a/$X/${Y}b/$Z", { X: "1", Y: "2" }), "a/1/2b/");
    Deno.mkdirSync(`${d}/real`);
    Deno.symlinkSync(`${d}/real`, `${d}/link`);
    assert.equal(expandEnvPath(`${d}/link`, 0, {}), `${d}/real`);
    assert.equal(expandEnvPath("/x/$UID//y/../z/", 1000, {}), "/x/1000/z");
    const f = `${d}/c.conf`;
    Deno.writeTextFileSync(
      f,
      `[storage]\ndriver = "vfs"\ngraphroot = "$HOME/g-$UID"\nrunroot = "\${BASE}/link"\nimagestore = "$BASE/i"\n`,
    );
    const r = await loader(d)({ CONTAINERS_STORAGE_CONF: f, HOME: "/home/me", BASE: d });
    assert.equal(r.options.graphRoot, "/home/me/g-0");
    assert.equal(r.options.runRoot, `${d}/real`);
    assert.equal(r.options.imageStore, `${d}/i`);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("rootless: XDG defaults, rootless_storage_path, driver filter, user file replaces", async () => {
  const d = tmp();
  try {
    const env = {
      HOME: `${d}/home`,
      XDG_RUNTIME_DIR: `${d}/run`,
      XDG_DATA_HOME: `${d}/data`,
      XDG_CONFIG_HOME: `${d}/cfg`,
    };
    Deno.mkdirSync(`${d}/run`);
    const load = loader(d, { uid: 1000 });
    assert.equal(defaultGraphRoot(1000, env), `${d}/data/containers/storage`);
    assert.equal(defaultRunRoot(1000, env), `${d}/run/containers`);
    assert.equal(defaultGraphRoot(1000, { HOME: `${d}/home` }), `${d}/home/.local/share/containers/storage`);
    assert.equal(defaultGraphRoot(0, env), DEFAULT_GRAPH_ROOT);

    // No files: rootless defaults, vfs.
    let r = await load(env);
    assert.equal(r.options.graphRoot, `${d}/data/containers/storage`);
    assert.equal(r.options.runRoot, `${d}/run/containers`);
    assert.equal(r.options.driverName, "vfs");

    // System file: its roots are root's, not ours; driver kept only if rootless-capable.
    Deno.mkdirSync(`${d}/etc`);
    Deno.writeTextFileSync(
      `${d}/etc/storage.conf`,
      `[storage]\ndriver = "overlay"\ngraphroot = "/var/lib/x"\nrootless_storage_path = "$HOME/rl-$UID"\n` +
        `[storage.options.overlay]\nmountopt = "nodev"\nignore_chown_errors = "true"\n`,
    );
    r = await load(env);
    assert.equal(r.options.graphRoot, `${d}/home/rl-1000`);
    assert.equal(r.options.runRoot, `${d}/run/containers`);
    assert.equal(r.options.driverName, "overlay");
    assert.deepEqual(r.options.driverOptions, ["overlay.ignore_chown_errors=true"]);
    assert.equal(r.file, `${d}/etc/storage.conf`);
    Deno.writeTextFileSync(`${d}/etc/storage.conf`, `[storage]\ndriver = "zfs"\n`);
    r = await load({ ...env, STORAGE_OPTS: "vfs.x=1" });
    assert.equal(r.options.driverName, "vfs");
    assert.deepEqual(r.options.driverOptions, ["vfs.x=1"]);

    // The user's own file replaces the system settings; missing roots get rootless defaults.
    Deno.mkdirSync(`${d}/cfg/containers`, { recursive: true });
    Deno.writeTextFileSync(
      `${d}/cfg/containers/storage.conf`,
      `[storage]\ndriver = "vfs"\nrunroot = "/tmp/rr"\n`,
    );
    r = await load(env);
    assert.equal(r.file, `${d}/cfg/containers/storage.conf`);
    assert.equal(r.options.runRoot, "/tmp/rr");
    assert.equal(r.options.graphRoot, `${d}/data/containers/storage`);
    assert.equal(r.options.driverName, "vfs");

    // Without XDG_RUNTIME_DIR: $TMPDIR/containers-user-UID when we create it, and when it
    // exists but is not ours, $HOME/rundir.
    const noXdg = { HOME: `${d}/home`, TMPDIR: d };
    assert.equal(defaultRunRoot(4242, noXdg), `${d}/containers-user-4242/containers`);
    assert.equal(Deno.statSync(`${d}/containers-user-4242`).mode! & 0o777, 0o700);
    Deno.mkdirSync(`${d}/home`, { recursive: true });
    assert.equal(defaultRunRoot(4242, noXdg), `${d}/home/rundir/containers`);
    Deno.chownSync(`${d}/containers-user-4242`, 4242, 4242);
    assert.equal(defaultRunRoot(4242, noXdg), `${d}/containers-user-4242/containers`);
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("completeStoreOptions follows GetStore: all empty → defaults; driver only → error; one → default", () => {
  const env = { HOME: "/home/u", XDG_RUNTIME_DIR: "/run/user/5", XDG_DATA_HOME: "/d" };
  assert.deepEqual(completeStoreOptions({}, { uid: 0, env }), {
    graphRoot: DEFAULT_GRAPH_ROOT,
    runRoot: DEFAULT_RUN_ROOT,
    driverOptions: [],
  });
  assert.throws(() => completeStoreOptions({ driverName: "vfs" }, { uid: 0, env }), StoreOptionsMissingError);
  assert.throws(
    () => completeStoreOptions({ graphRoot: "", runRoot: "", driverOptions: ["x=y"] }, { uid: 0, env }),
    { message: "no storage runroot or graphroot specified: missing necessary StoreOptions" },
  );
  const one = completeStoreOptions({ graphRoot: "rel/g", driverName: "vfs" }, { uid: 0, env });
  assert.equal(one.graphRoot, `${Deno.cwd()}/rel/g`);
  assert.equal(one.runRoot, DEFAULT_RUN_ROOT);
  const rootless = completeStoreOptions({ runRoot: "/rr" }, { uid: 5, env });
  assert.equal(rootless.graphRoot, "/d/containers/storage");
});

// ---- differential against the Go CLI (1.43) ----

interface GoView {
  root: string;
  runRoot: string;
  driver: string;
  options: string;
  log: Array<{ level: string; msg: string }>;
  stdout: string[];
}

/** Runs `containers-storage --debug layers` on `conf` in a private mount namespace with empty /var/lib and /run. */
async function goReads(conf: string, env: Record<string, string> = {}): Promise<GoView> {
  const script =
    'mount --make-rprivate / && mount -t tmpfs none /var/lib && mount -t tmpfs none /run && exec "$@"';
  const out = await new Deno.Command("unshare", {
    args: ["-m", "sh", "-c", script, "sh", "containers-storage", "--debug", "layers"],
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", CONTAINERS_STORAGE_CONF: conf, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const view: GoView = { root: "", runRoot: "", driver: "", options: "", log: [], stdout: [] };
  for (const line of new TextDecoder().decode(out.stderr).split("\n")) {
    const m = /level=(\w+) msg=("(?:[^"\\]|\\.)*")/.exec(line);
    if (!m) continue;
    const msg = JSON.parse(m[2]) as string;
    if (m[1] === "debug") {
      if (msg.startsWith("Root: ")) view.root = msg.slice(6);
      else if (msg.startsWith("Run Root: ")) view.runRoot = msg.slice(10);
      else if (msg.startsWith("Driver Name: ")) view.driver = msg.slice(13);
      else if (msg.startsWith("Driver Options: ")) view.options = msg.slice(16);
    } else view.log.push({ level: m[1], msg });
  }
  view.stdout = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  return view;
}

Deno.test("differential: Go 1.43 and we read the same storage.conf files the same way", async () => {
  const d = tmp();
  try {
    const cases: Array<{ name: string; text: string; env?: Record<string, string> }> = [
      { name: "debian", text: Deno.readTextFileSync(new URL("../storage.conf", import.meta.url)) },
      {
        name: "many",
        text: `[storage]
driver = "overlay2"
graphroot = "/run/cs/g"
runroot = "/run/cs/r"
bogus = 1
[storage.options]
additionalimagestores = ["/a/b", "/c"]
size = "10G"
mount_program = "/usr/bin/fuse-overlayfs"
mountopt = "nodev"
skip_mount_home = "true"
ignore_chown_errors = "true"
alsobogus = "x"
[storage.options.overlay]
mountopt = "nosuid"
size = "5G"
inodes = "7"
force_mask = "private"
weird = 2
[storage.options.vfs]
ignore_chown_errors = "false"
[storage.options.thinpool]
basesize = "10G"
`,
      },
      { name: "many-vfs-env", text: "", env: { STORAGE_DRIVER: "vfs" } },
      { name: "many-opts-env", text: "", env: { STORAGE_OPTS: "a=b,,c=d" } },
      {
        name: "vfs-forcemask",
        text: '[storage]\ndriver = "vfs"\ngraphroot = "/run/cs/g"\n[storage.options]\nforce_mask = 0o700\n',
      },
      {
        name: "unknown-tables",
        text:
          'top = 1\n[foo]\nx = 1\n[foo.bar]\ny = 2\n[storage]\ndriver = "vfs"\nrunroot = "/run/cs/r"\n[storage.options.nope]\na = 1\n[[storage.arr]]\nb = 1\n',
      },
      { name: "no-roots-driver", text: '[storage]\ndriver = "vfs"\n' },
      { name: "empty", text: "[storage]\n" },
      {
        name: "btrfs",
        text:
          '[storage]\ndriver = "btrfs"\ngraphroot = "/run/cs/g"\n[storage.options]\nsize = "1G"\n[storage.options.btrfs]\nmin_space = "2G"\n',
      },
      {
        name: "zfs",
        text:
          '[storage]\ndriver = "zfs"\ngraphroot = "/run/cs/g"\n[storage.options]\nmountopt = "m"\n[storage.options.zfs]\nfsname = "pool/x"\nsize = "3G"\n',
      },
      {
        name: "expand",
        text:
          '[storage]\ndriver = "vfs"\ngraphroot = "/run/cs/$UID/${FOO}/x/../g/"\nrunroot = "/run/cs/$BAR"\n',
        env: { FOO: "foo", BAR: "bar" },
      },
      { name: "type-error", text: '[storage]\ndriver = "vfs"\n\n[storage.options]\nforce_mask = "0755"\n' },
      { name: "type-error-2", text: "[storage]\ndriver = 5\n" },
      { name: "bad-remap", text: '[storage]\ndriver = "vfs"\n[storage.options]\nremap-uids = "bogus"\n' },
      {
        name: "bad-remap-user",
        text: '[storage]\ndriver = "vfs"\n[storage.options]\nremap-user = "nosuchuser-cs"\n',
      },
    ];
    let manyText = "";
    for (const c of cases) {
      if (c.name === "many") manyText = c.text;
      const f = `${d}/${c.name}.conf`;
      Deno.writeTextFileSync(f, c.text || manyText);
      const env = { CONTAINERS_STORAGE_CONF: f, ...c.env };
      const go = await goReads(f, c.env);
      let mine: LoadedConfig;
      try {
        mine = await loadStoreOptions({ uid: 0, env });
      } catch (e) {
        assert.ok(e instanceof ConfigError, `${c.name}: ${e}`);
        const goErr = go.stdout.find((l) => l.startsWith("error initializing: "));
        assert.ok(goErr, `${c.name}: Go accepted what we rejected (${e.message})`);
        assert.equal(e.message, goErr.slice("error initializing: ".length), c.name);
        if (e.preface) assert.equal(e.preface, go.stdout[0], c.name);
        continue;
      }
      const o = mine.options;
      assert.equal(o.graphRoot, go.root, `${c.name}: graph root`);
      assert.equal(o.runRoot, go.runRoot, `${c.name}: run root`);
      assert.equal(o.driverName, go.driver, `${c.name}: driver`);
      assert.equal(`[${o.driverOptions!.join(" ")}]`, go.options, `${c.name}: driver options`);
      const goLog = go.log.filter((l) =>
        l.level === "warning" || (l.level === "error" && l.msg.startsWith("The storage"))
      );
      assert.deepEqual(mine.log, goLog, `${c.name}: log`);
    }
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

/** Runs `containers-storage --debug layers` as uid 1000 with exactly `env` (plus PATH). */
async function goReadsRootless(env: Record<string, string>): Promise<GoView> {
  const out = await new Deno.Command("setpriv", {
    args: ["--reuid=1000", "--regid=1000", "--clear-groups", "containers-storage", "--debug", "layers"],
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    cwd: "/",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const view: GoView = { root: "", runRoot: "", driver: "", options: "", log: [], stdout: [] };
  for (const line of new TextDecoder().decode(out.stderr).split("\n")) {
    const m = /level=(\w+) msg=("(?:[^"\\]|\\.)*")/.exec(line);
    if (!m) continue;
    const msg = JSON.parse(m[2]) as string;
    if (msg.startsWith("Root: ")) view.root = msg.slice(6);
    else if (msg.startsWith("Run Root: ")) view.runRoot = msg.slice(10);
    else if (msg.startsWith("Driver Name: ")) view.driver = msg.slice(13);
    else if (msg.startsWith("Driver Options: ")) view.options = msg.slice(16);
    else if (m[1] !== "debug") view.log.push({ level: m[1], msg });
  }
  return view;
}

Deno.test("differential (rootless, uid 1000): Go 1.43 and we pick the same roots, driver and options", async () => {
  const d = tmp();
  try {
    Deno.chmodSync(d, 0o755);
    for (const sub of ["home", "run", "cfg/containers", "tmp", "data"]) {
      Deno.mkdirSync(`${d}/${sub}`, { recursive: true });
    }
    Deno.chmodSync(`${d}/tmp`, 0o1777);
    for (const sub of ["home", "run", "cfg", "cfg/containers", "data"]) {
      Deno.chownSync(`${d}/${sub}`, 1000, 1000);
    }
    Deno.writeTextFileSync(
      `${d}/sys.conf`,
      '[storage]\ndriver = "zfs"\nrootless_storage_path = "$HOME/rl-$UID"\n[storage.options.zfs]\nmountopt = "x"\n',
    );
    Deno.writeTextFileSync(
      `${d}/ovl.conf`,
      '[storage]\ndriver = "overlay2"\n[storage.options]\nmountopt = "nodev"\n[storage.options.overlay]\nignore_chown_errors = "true"\n',
    );
    const cases: Array<{ name: string; env: Record<string, string>; userFile?: string }> = [
      { name: "xdg runtime, system file", env: { HOME: `${d}/home`, XDG_RUNTIME_DIR: `${d}/run` } },
      { name: "tmp per-user dir", env: { HOME: `${d}/home`, TMPDIR: `${d}/tmp` } },
      {
        name: "data home, env conf, driver filtered",
        env: {
          HOME: `${d}/home`,
          XDG_RUNTIME_DIR: `${d}/run`,
          XDG_DATA_HOME: `${d}/data`,
          CONTAINERS_STORAGE_CONF: `${d}/sys.conf`,
        },
      },
      {
        name: "overlay2 keeps ignore_chown_errors only, STORAGE_OPTS appended",
        env: {
          HOME: `${d}/home`,
          XDG_RUNTIME_DIR: `${d}/run`,
          CONTAINERS_STORAGE_CONF: `${d}/ovl.conf`,
          STORAGE_OPTS: "overlay.a=b",
        },
      },
      {
        name: "user file replaces",
        env: { HOME: `${d}/home`, XDG_RUNTIME_DIR: `${d}/run`, XDG_CONFIG_HOME: `${d}/cfg` },
        userFile:
          '[storage]\ndriver = "vfs"\nrunroot = "/tmp/cs-rl-run-$UID"\n[storage.options.vfs]\nignore_chown_errors = "true"\n',
      },
    ];
    for (const c of cases) {
      if (c.userFile) Deno.writeTextFileSync(`${d}/cfg/containers/storage.conf`, c.userFile);
      const go = await goReadsRootless(c.env);
      // Go created its run dir as uid 1000 where it had to; we then find and reuse it.
      const mine = await loadStoreOptions({ uid: 1000, env: c.env });
      assert.equal(mine.options.graphRoot, go.root, `${c.name}: graph root`);
      assert.equal(mine.options.runRoot, go.runRoot, `${c.name}: run root`);
      assert.equal(mine.options.driverName, go.driver, `${c.name}: driver`);
      assert.equal(`[${mine.options.driverOptions!.join(" ")}]`, go.options, `${c.name}: options`);
      assert.deepEqual(
        mine.log,
        go.log.filter((l) => l.level === "warning" || l.msg.startsWith("The storage")),
        `${c.name}: log`,
      );
    }
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});
