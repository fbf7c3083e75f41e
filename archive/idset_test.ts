import assert from "node:assert/strict";
import { IDSetCollector } from "./idset.ts";
import { scanTar } from "./tar_reader.ts";
import { TypeFlag } from "./types.ts";
import { makeTar, streamOf } from "./test_util.ts";

Deno.test("IDSetCollector: sorted unique IDs, whiteout entries skipped", async () => {
  const tar = makeTar([
    { name: "a/", type: TypeFlag.Dir, uid: 5, gid: 50 },
    { name: "a/f", uid: 0, gid: 0, data: "x" },
    { name: "a/g", uid: 5, gid: 7, data: "y" },
    { name: "a/.wh.gone", uid: 999, gid: 999 },
    { name: ".wh..wh..opq", uid: 998, gid: 998 },
    { name: "b/.wh.dir/", type: TypeFlag.Dir, uid: 997, gid: 997 },
    { name: "c.wh.not", uid: 1000, gid: 1000 },
  ]);
  const ids = new IDSetCollector();
  await scanTar(streamOf(tar), [ids]);
  assert.deepEqual(ids.uidSet(), [0, 5, 1000]);
  assert.deepEqual(ids.gidSet(), [0, 7, 50, 1000]);
});
