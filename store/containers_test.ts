import assert from "node:assert/strict";
import { ContainerStore } from "./containers.ts";
import {
  ContainerUnknownError,
  DuplicateIDError,
  DuplicateNameError,
  SizeUnknownError,
  SystemError,
} from "./errors.ts";
import { GO_CONTAINERS_JSON } from "./testdata/go_files.ts";

const enc = new TextEncoder();

async function withStore(fn: (s: ContainerStore, dir: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "cs-ctrs-" });
  const dir = `${root}/vfs-containers`;
  try {
    await fn(new ContainerStore(dir), dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("containers: a Go file is read; lookup by ID, name, layer ID and prefix", () =>
  withStore(async (s, dir) => {
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/containers.json`, GO_CONTAINERS_JSON);
    await s.startReading();
    try {
      const layer = "0580f670426630e086865710a05c10891fb4b9717447ffeb30e1c584ad663850";
      for (const ref of ["c1", "ctr1", layer, "c"]) assert.equal(s.get(ref).id, "c1", ref);
      assert.throws(() => s.get(layer.slice(0, 10)), ContainerUnknownError);
      const c = s.get("c1");
      assert.deepEqual(c.flags, { MountLabel: "", ProcessLabel: "" });
      assert.equal(s.bigDataSize("c1", "config.json"), 1);
    } finally {
      s.stop();
    }
  }));

Deno.test("containers: create with Go's messages, flags, maps; big data; delete", () =>
  withStore(async (s, dir) => {
    await s.startWriting();
    try {
      const c = s.create({
        id: "c1",
        names: ["n1"],
        imageId: "",
        layerId: "L",
        flags: { MountLabel: "", ProcessLabel: "" },
        volatile: true,
        uidMap: [{ containerId: 0, hostId: 1000, size: 10 }],
      });
      assert.deepEqual(c.flags, { MountLabel: "", ProcessLabel: "", Volatile: true });
      assert.throws(() => s.create({ id: "c1", imageId: "", layerId: "M" }), DuplicateIDError);
      assert.throws(
        () => s.create({ id: "c2", names: ["n1"], imageId: "", layerId: "M" }),
        (e) =>
          e instanceof DuplicateNameError &&
          e.message ===
            'the container name "n1" is already in use by c1. You have to remove that container to be able to reuse that name: that name is already in use',
      );
      await s.setBigData("c1", "config.json", enc.encode("x"));
      assert.equal(
        s.bigDataDigest("c1", "config.json"),
        "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
      );
      assert.throws(() => s.bigDataSize("c1", "nokey"), SizeUnknownError);
      await assert.rejects(
        () => s.bigData("c1", "nosuch"),
        (e) => e instanceof SystemError && e.message === `open ${dir}/c1/nosuch: no such file or directory`,
      );
    } finally {
      s.stop();
    }
    // A volatile container's record goes to the volatile file (HEAD); containers.json stays empty.
    assert.equal(await Deno.readTextFile(`${dir}/containers.json`).catch(() => "[]"), "[]");
    const text = await Deno.readTextFile(`${dir}/volatile-containers.json`);
    assert.match(
      text,
      /^\[\{"id":"c1","names":\["n1"\],"image":"","layer":"L","big-data-names":\["config.json"\],"big-data-sizes":\{"config.json":1\},"big-data-digests":\{"config.json":"sha256:2d71[0-9a-f]+"\},"created":"[^"]+","uidmap":\[\{"container_id":0,"host_id":1000,"size":10\}\],"flags":\{"MountLabel":"","ProcessLabel":"","Volatile":true\}\}\]$/,
    );
    await s.startWriting();
    try {
      await s.delete("n1");
      assert.equal(s.lookup("L"), undefined);
    } finally {
      s.stop();
    }
    assert.equal(await Deno.readTextFile(`${dir}/volatile-containers.json`), "[]");
    await assert.rejects(() => Deno.stat(`${dir}/c1`), Deno.errors.NotFound);
  }));

Deno.test("containers: records from volatile-containers.json are read and written back there", () =>
  withStore(async (s, dir) => {
    await Deno.mkdir(dir);
    await Deno.writeTextFile(
      `${dir}/volatile-containers.json`,
      '[{"id":"v","image":"","layer":"VL","created":"2024-01-01T00:00:00Z"}]',
    );
    await s.startWriting();
    try {
      assert.equal(s.get("VL").id, "v");
      s.setMetadata("v", "m");
      s.create({ id: "c", imageId: "", layerId: "CL" });
    } finally {
      s.stop();
    }
    assert.equal(
      await Deno.readTextFile(`${dir}/volatile-containers.json`),
      '[{"id":"v","image":"","layer":"VL","metadata":"m","created":"2024-01-01T00:00:00Z"}]',
    );
    assert.match(await Deno.readTextFile(`${dir}/containers.json`), /^\[\{"id":"c","image":"","layer":"CL",/);
  }));
