/**
 * Rootless behaviour, checked for real inside a user namespace (`unshare --user
 * --map-root-user`): only our own ID is mapped, chown to other IDs fails with EINVAL,
 * device nodes and trusted.* xattrs are refused with EPERM.
 */
import assert from "node:assert/strict";
import { rm, runAsync, tmp } from "./test_util.ts";

const child = (dir: string) => `
import { extractTar } from ${JSON.stringify(import.meta.resolve("./extract.ts"))};
import { makeTar, streamOf } from ${JSON.stringify(import.meta.resolve("./test_util.ts"))};
import { TypeFlag } from ${JSON.stringify(import.meta.resolve("./types.ts"))};
import { lgetxattr } from ${JSON.stringify(import.meta.resolve("../sys/xattr.ts"))};
const d = ${JSON.stringify(dir)};
const tar = makeTar([
  { name: "f", uid: 5, gid: 5, data: "x", xattrs: { "trusted.t": new Uint8Array([1]), "user.u": new Uint8Array([2]) } },
  { name: "c", type: TypeFlag.Char, devmajor: 1, devminor: 3 },
  { name: "p", type: TypeFlag.Fifo },
]);
const out: Record<string, unknown> = {};
Deno.mkdirSync(d + "/strict");
try { await extractTar(streamOf(tar), d + "/strict"); out.strict = "ok"; } catch (e) { out.strict = (e as Error).message; }
Deno.mkdirSync(d + "/lenient");
await extractTar(streamOf(tar), d + "/lenient", { rootless: true, ignoreChownErrors: true });
out.names = [...Deno.readDirSync(d + "/lenient")].map((e) => e.name).sort();
out.user = [...(lgetxattr(d + "/lenient/f", "user.u") ?? [])];
out.trusted = lgetxattr(d + "/lenient/f", "trusted.t");
console.log(JSON.stringify(out));
`;

Deno.test("in a user namespace: chown failures reported or ignored, devices and trusted xattrs skipped", async () => {
  const d = tmp();
  try {
    Deno.writeTextFileSync(`${d}/child.ts`, child(d));
    const r = await runAsync("unshare", [
      "--user",
      "--map-root-user",
      Deno.execPath(),
      "run",
      "-A",
      `${d}/child.ts`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(new TextDecoder().decode(r.stdout));
    assert.match(
      out.strict,
      /potentially insufficient UIDs or GIDs available in user namespace \(requested 5:5 for .*\/f\)/,
    );
    assert.deepEqual(out.names, ["f", "p"]);
    assert.deepEqual(out.user, [2]);
    assert.equal(out.trusted, null);
  } finally {
    rm(d);
  }
});
