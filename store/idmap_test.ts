import assert from "node:assert/strict";
import { IDMapError } from "./errors.ts";
import {
  copyIDMap,
  formatIDMap,
  mapsEqual,
  parseIDMap,
  parseSubIDFile,
  rootPair,
  subIDMap,
  subIDMappings,
  toContainer,
  toHost,
  tryToContainer,
  tryToHost,
  validateIDMap,
} from "./idmap.ts";

const M = (containerId: number, hostId: number, size: number) => ({ containerId, hostId, size });

Deno.test("parseIDMap: single, chained, several specs, empty skipped", () => {
  assert.deepEqual(parseIDMap("0:100000:65536", "uid"), [M(0, 100000, 65536)]);
  assert.deepEqual(parseIDMap("0:100000:65536:65536:200000:10", "uid"), [
    M(0, 100000, 65536),
    M(65536, 200000, 10),
  ]);
  assert.deepEqual(parseIDMap(["", "1:2:3", "4:5:6"], "gid"), [M(1, 2, 3), M(4, 5, 6)]);
  assert.deepEqual(parseIDMap("", "uid"), []);
  assert.deepEqual(parseIDMap("0:4294967295:0", "uid"), [M(0, 4294967295, 0)]);
  assert.deepEqual(parseIDMap("007:08:9", "uid"), [M(7, 8, 9)]);
});

Deno.test("parseIDMap: malformed input gives Go's exact message", () => {
  // Texts verified against containers-storage 1.43 (create-layer --uidmap/--gidmap).
  const cases: Array<[string, "uid" | "gid", string]> = [
    ["bogus", "uid", '["bogus"]'],
    ["0:1:2:3", "uid", '["0:1:2:3"]'],
    ["0:1:4294967296", "uid", '["0:1:4294967296"]'],
    ["0:1:5,2:100:5", "uid", '["0:1:5,2:100:5"]'],
    ["0:1:5::2:100:5", "uid", '["0:1:5::2:100:5"]'],
    [" 0:1:5", "uid", '[" 0:1:5"]'],
    ["x", "gid", '["x"]'],
    ["-1:0:1", "uid", '["-1:0:1"]'],
    ["+1:0:1", "uid", '["+1:0:1"]'],
    ['a"b\t', "uid", '["a\\"b\\t"]'],
  ];
  for (const [spec, kind, shown] of cases) {
    assert.throws(() => parseIDMap(spec, kind), (e: unknown) => {
      assert.ok(e instanceof IDMapError);
      assert.equal(
        e.message,
        `initializing ID mappings: ${kind} setting is malformed expected ["uint32:uint32:uint32"]: ${shown}`,
      );
      return true;
    }, spec);
  }
  assert.throws(() => parseIDMap(["1:2:3", "bad"], "uid"), { message: /: \["1:2:3" "bad"\]$/ });
});

Deno.test("toHost/toContainer translate through several ranges and reject the unmappable", () => {
  const maps = [M(0, 100000, 1000), M(1000, 5000, 10)];
  assert.equal(toHost(maps, 0), 100000);
  assert.equal(toHost(maps, 999), 100999);
  assert.equal(toHost(maps, 1000), 5000);
  assert.equal(toHost(maps, 1009), 5009);
  assert.throws(() => toHost(maps, 1010), { message: "container ID 1010 cannot be mapped to a host ID" });
  assert.equal(toContainer(maps, 100000), 0);
  assert.equal(toContainer(maps, 5005), 1005);
  assert.throws(() => toContainer(maps, 99999), {
    message: "host ID 99999 cannot be mapped to a container ID",
  });
  assert.throws(() => toContainer(maps, 99999), IDMapError);
  assert.equal(tryToHost(maps, 5000), -1);
  assert.equal(tryToHost(maps, 5000, 65534), 65534);
  assert.equal(tryToContainer(maps, 100001), 1);
  assert.equal(tryToContainer(maps, 1, 65534), 65534);
  // No maps: identity.
  assert.equal(toHost([], 12345), 12345);
  assert.equal(toHost(null, 7), 7);
  assert.equal(toContainer(undefined, 7), 7);
  // Size 0 maps nothing.
  assert.throws(() => toHost([M(0, 1, 0)], 0), IDMapError);
});

Deno.test("rootPair: host ID of container 0, or the single size-1 map's host ID", () => {
  assert.deepEqual(rootPair([M(0, 100000, 65536)], [M(0, 200000, 65536)]), { uid: 100000, gid: 200000 });
  assert.deepEqual(rootPair([M(5, 1234, 1)], []), { uid: 1234, gid: 0 });
  assert.deepEqual(rootPair(null, undefined), { uid: 0, gid: 0 });
  assert.throws(() => rootPair([M(1, 100, 10)], []), {
    message: "container ID 0 cannot be mapped to a host ID",
  });
});

Deno.test("mapsEqual is order-sensitive; copyIDMap is deep; formatIDMap round-trips", () => {
  const a = [M(0, 1, 2), M(2, 10, 3)];
  assert.ok(mapsEqual(a, [M(0, 1, 2), M(2, 10, 3)]));
  assert.ok(!mapsEqual(a, [M(2, 10, 3), M(0, 1, 2)]));
  assert.ok(!mapsEqual(a, [M(0, 1, 2)]));
  assert.ok(mapsEqual([], null));
  const c = copyIDMap(a);
  assert.deepEqual(c, a);
  assert.notEqual(c[0], a[0]);
  assert.equal(formatIDMap(a), "0:1:2:2:10:3");
  assert.deepEqual(parseIDMap(formatIDMap(a), "uid"), a);
});

Deno.test("validateIDMap rejects overlaps, empty ranges and ranges reaching 2^32-1", () => {
  validateIDMap([M(0, 100000, 65536), M(65536, 200000, 10)], "uid");
  validateIDMap([M(0, 4294967294, 1), M(1, 0, 4294967294)], "uid");
  assert.throws(() => validateIDMap([M(0, 4294967295, 1)], "uid"), {
    message: /range goes beyond 4294967294/,
  });
  assert.throws(() => validateIDMap([M(0, 1, 5), M(2, 100, 5)], "uid"), {
    message: "invalid uid mapping: container ranges 0:1:5 and 2:100:5 overlap",
  });
  assert.throws(() => validateIDMap([M(0, 100, 5), M(10, 102, 5)], "gid"), {
    message: "invalid gid mapping: host ranges 0:100:5 and 10:102:5 overlap",
  });
  assert.throws(() => validateIDMap([M(0, 4294967295, 2)], "uid"), {
    message: /range goes beyond 4294967294/,
  });
  assert.throws(() => validateIDMap([M(0, 1, 0)], "uid"), { message: /empty range/ });
  assert.throws(() => validateIDMap([M(-1, 1, 1)], "uid"), IDMapError);
});

Deno.test("subuid/subgid lookup by name or numeric id, sorted, consecutive container IDs", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-subid-" });
  try {
    const files = {
      subuid: `${d}/subuid`,
      subgid: `${d}/subgid`,
      passwd: `${d}/passwd`,
      group: `${d}/group`,
    };
    Deno.writeTextFileSync(
      files.passwd,
      "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
    );
    Deno.writeTextFileSync(files.group, "root:x:0:\nstaff:x:50:\n");
    Deno.writeTextFileSync(files.subuid, "# comment\n\nalice:300000:10\nbob:100000:65536\n1000:200000:5\n");
    Deno.writeTextFileSync(files.subgid, "staff:400000:100\n");
    assert.deepEqual(subIDMap("alice", "uid", files), [M(0, 200000, 5), M(5, 300000, 10)]);
    assert.deepEqual(subIDMap("1000", "uid", files), [M(0, 200000, 5), M(5, 300000, 10)]);
    assert.deepEqual(subIDMap("50", "gid", files), [M(0, 400000, 100)]);
    assert.deepEqual(subIDMappings("bob", "staff", files), {
      uidMap: [M(0, 100000, 65536)],
      gidMap: [M(0, 400000, 100)],
    });
    assert.throws(() => subIDMap("carol", "uid", files), {
      message: `no subuid ranges found for user "carol" in ${files.subuid}`,
    });
    assert.throws(() => subIDMappings("bob", "nogroup", files), {
      message: `no subgid ranges found for group "nogroup" in ${files.subgid}`,
    });
    assert.throws(() => subIDMap("x", "uid", { ...files, subuid: `${d}/missing` }), {
      message: `open ${d}/missing: no such file or directory`,
    });
    assert.throws(() => parseSubIDFile("a:1\n", "/f"), {
      message: "cannot parse subuid/gid information: Format not correct for /f file",
    });
    assert.throws(() => parseSubIDFile("a:x:1\n", "/f"), { message: /string to int conversion failed/ });
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("differential: malformed maps and unknown subuid users read exactly as the Go CLI says", async () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-idmap-go-" });
  try {
    const go = async (...args: string[]) => {
      const out = await new Deno.Command("containers-storage", {
        args: ["--graph", `${d}/g`, "--run", `${d}/r`, "--storage-driver", "vfs", "create-layer", ...args],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 1);
      return new TextDecoder().decode(out.stderr).trim();
    };
    const mine = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    assert.equal(mine(() => parseIDMap("1:2", "uid")), await go("--uidmap", "1:2"));
    assert.equal(mine(() => parseIDMap("0:0:1:x", "gid")), await go("--gidmap", "0:0:1:x"));
    assert.equal(mine(() => subIDMap("nosuchuser-cs", "uid")), await go("--subuidmap", "nosuchuser-cs"));
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});
