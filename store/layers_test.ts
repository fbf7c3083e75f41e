import assert from "node:assert/strict";
import { LayerStore } from "./layers.ts";
import { createVfsDriver } from "../drivers/vfs.ts";
import type { Driver } from "../drivers/driver.ts";
import { DuplicateNameError, LayerNotMountedError, LayerUnknownError } from "./errors.ts";
import { EMPTY_SHA256, sha256Digest } from "./digest.ts";
import { Compression } from "./types.ts";
import { collect, gzip, makeTar } from "./testdata/tar.ts";

interface Env {
  root: string;
  driver: Driver;
  store: LayerStore;
  newStore(): LayerStore;
}

async function withEnv(fn: (env: Env) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "cs-layers-" });
  try {
    const driver = await createVfsDriver({
      graphRoot: `${root}/g`,
      runRoot: `${root}/r`,
      options: [],
      uidMap: [],
      gidMap: [],
    });
    const newStore = () => new LayerStore(`${root}/g/vfs-layers`, `${root}/r/vfs-layers`, driver, false);
    await fn({ root, driver, store: newStore(), newStore });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function writing<T>(s: LayerStore, fn: () => Promise<T>): Promise<T> {
  await s.startWriting();
  try {
    return await fn();
  } finally {
    s.stop();
  }
}

const readJSON = async (p: string) => JSON.parse(await Deno.readTextFile(p));

Deno.test("layers: the record is saved incomplete before the driver runs, then completed", () =>
  withEnv(async ({ root, driver, store }) => {
    const seen: unknown[] = [];
    const create = driver.create.bind(driver);
    driver.create = async (id, parent, opts) => {
      seen.push(await readJSON(`${root}/g/vfs-layers/layers.json`));
      return create(id, parent, opts);
    };
    const l = await writing(store, () => store.create({ id: "l1", names: ["n"], parent: null }));
    assert.deepEqual(seen, [[{ id: "l1", names: ["n"], created: l.created, flags: { incomplete: true } }]]);
    assert.deepEqual(await readJSON(`${root}/g/vfs-layers/layers.json`), [{
      id: "l1",
      names: ["n"],
      created: l.created,
    }]);
    assert.equal(Deno.statSync(`${root}/g/vfs/dir/l1`).isDirectory, true);
    assert.equal(await Deno.readTextFile(`${root}/r/vfs-layers/mountpoints.json`), "[]");
    await assert.rejects(
      () => writing(store, () => store.create({ names: ["n"], parent: null })),
      DuplicateNameError,
    );
  }));

Deno.test("layers: applying a gzip tar records digests, sizes, ID sets and a replayable tar-split", () =>
  withEnv(async ({ root, store }) => {
    const tar = makeTar([{ name: "d/" }, { name: "d/f", data: "hello\n", uid: 1000, gid: 42 }, {
      name: ".wh.gone",
      uid: 7,
    }]);
    const gz = await gzip(tar);
    const l = await writing(store, () => store.create({ id: "l1", parent: null, diff: gz }));
    assert.equal(l.compressedDigest, sha256Digest(gz));
    assert.equal(l.compressedSize, gz.length);
    assert.equal(l.uncompressedDigest, sha256Digest(tar));
    assert.equal(l.uncompressedSize, tar.length);
    assert.equal(l.compression, Compression.Gzip);
    assert.deepEqual(l.uidSet, [0, 1000]);
    assert.deepEqual(l.gidSet, [0, 42]);
    assert.equal(await Deno.readTextFile(`${root}/g/vfs/dir/l1/d/f`), "hello\n");
    assert.equal(Deno.statSync(`${root}/g/vfs-layers/l1.tar-split.gz`).mode! & 0o777, 0o600);
    await store.startReading();
    try {
      assert.deepEqual(store.listByUncompressedDigest(sha256Digest(tar)).map((x) => x.id), ["l1"]);
      // Diff against the parent replays the original tar byte for byte, recompressed as given.
      const raw = await collect(await store.diff(null, "l1", Compression.None));
      assert.deepEqual(raw, tar);
      const again = await collect(await store.diff(null, "l1"));
      assert.deepEqual([again[0], again[1]], [0x1f, 0x8b]);
      await assert.rejects(
        () => store.diff(null, "l1", Compression.Xz),
        /unsupported compression format tar.xz/,
      );
    } finally {
      store.stop();
    }
  }));

Deno.test("layers: empty input records the digests of empty input and no sizes", () =>
  withEnv(async ({ root, store }) => {
    const l = await writing(store, () => store.create({ id: "e", parent: null, diff: new Uint8Array() }));
    assert.equal(l.compressedDigest, EMPTY_SHA256);
    assert.equal(l.uncompressedDigest, EMPTY_SHA256);
    const rec = (await readJSON(`${root}/g/vfs-layers/layers.json`))[0];
    assert.equal(rec["compressed-size"], undefined);
    assert.equal(rec["diff-size"], undefined);
    await store.startReading();
    try {
      assert.equal((await collect(await store.diff(null, "e", Compression.None))).length, 0);
    } finally {
      store.stop();
    }
  }));

Deno.test("layers: a failing diff removes the half-made layer and publishes nothing", () =>
  withEnv(async ({ root, store }) => {
    const tar = makeTar([{ name: "a", data: "x".repeat(2000) }]);
    const truncated = tar.slice(0, 1024);
    await assert.rejects(() =>
      writing(store, () => store.create({ id: "bad", names: ["b"], parent: null, diff: truncated }))
    );
    assert.deepEqual(await readJSON(`${root}/g/vfs-layers/layers.json`), []);
    assert.deepEqual([...Deno.readDirSync(`${root}/g/vfs/dir`)], []);
    assert.deepEqual([...Deno.readDirSync(`${root}/g/vfs-layers`)].map((e) => e.name).sort(), [
      "layers.json",
      "layers.lock",
    ]);
    // The name is free again.
    await writing(store, () => store.create({ names: ["b"], parent: null }));
  }));

Deno.test("layers: incomplete records left by a crash are removed by the next loader", () =>
  withEnv(async ({ root, store, newStore }) => {
    await writing(store, () => store.create({ id: "ok", parent: null }));
    await writing(store, () => store.create({ id: "half", parent: null }));
    // Simulate a crash: the record is flagged incomplete on disk and the token changes.
    const recs = await readJSON(`${root}/g/vfs-layers/layers.json`);
    recs[1].flags = { incomplete: true };
    await Deno.writeTextFile(`${root}/g/vfs-layers/layers.json`, JSON.stringify(recs));
    await Deno.writeTextFile(`${root}/g/vfs-layers/layers.lock`, "x".repeat(64));
    const other = newStore();
    await other.startReading();
    try {
      assert.deepEqual(other.list().map((l) => l.id), ["ok"]);
    } finally {
      other.stop();
    }
    assert.deepEqual((await readJSON(`${root}/g/vfs-layers/layers.json`)).map((l: { id: string }) => l.id), [
      "ok",
    ]);
    assert.deepEqual([...Deno.readDirSync(`${root}/g/vfs/dir`)].map((e) => e.name), ["ok"]);
  }));

Deno.test("layers: mount counts live in mountpoints.json", () =>
  withEnv(async ({ root, store, newStore }) => {
    const mp = `${root}/r/vfs-layers/mountpoints.json`;
    await writing(store, async () => {
      await store.create({ id: "l1", parent: null });
      assert.equal(await store.mount("l1", {}), `${root}/g/vfs/dir/l1`);
      assert.equal(await store.mount("l1", {}), `${root}/g/vfs/dir/l1`);
    });
    assert.deepEqual(await readJSON(mp), [{ id: "l1", path: `${root}/g/vfs/dir/l1`, count: 2 }]);
    const other = newStore();
    await other.startReading();
    try {
      assert.equal(await other.mounted("l1"), 2);
      assert.equal(other.get("l1").mountPoint, `${root}/g/vfs/dir/l1`);
    } finally {
      other.stop();
    }
    await writing(store, async () => {
      assert.equal(await store.unmount("l1", false), true);
      assert.deepEqual(await readJSON(mp), [{ id: "l1", path: `${root}/g/vfs/dir/l1`, count: 1 }]);
      assert.equal(await store.unmount("l1", false), false);
      await assert.rejects(() => store.unmount("l1", false, true), LayerNotMountedError);
      await store.mount("l1", {});
      await store.mount("l1", {});
      assert.equal(await store.unmount("l1", true), false);
      assert.equal(await Deno.readTextFile(mp), "[]");
      await assert.rejects(() => store.unmount("nope", false), LayerUnknownError);
      // Deleting a mounted layer unmounts it first.
      await store.mount("l1", {});
      await store.delete("l1");
    });
    assert.equal(await Deno.readTextFile(mp), "[]");
    assert.deepEqual(await readJSON(`${root}/g/vfs-layers/layers.json`), []);
  }));

Deno.test("layers: names, metadata and big data", () =>
  withEnv(async ({ root, store }) => {
    await writing(store, async () => {
      await store.create({ id: "a", names: ["x"], parent: null });
      await store.create({ id: "b", parent: null });
      assert.deepEqual(await store.updateNames("b", ["x", "y"], "set"), ["x", "y"]);
      assert.deepEqual(store.get("a").names, []);
      await store.setMetadata("a", "meta");
      await store.setBigData("a", "Layer Key!", new TextEncoder().encode("v"));
      await store.setBigData("a", "Layer Key!", ReadableStream.from([new TextEncoder().encode("v2")]));
      assert.deepEqual(store.get("a").bigDataNames, ["Layer Key!"]);
      assert.equal(new TextDecoder().decode(await store.bigData("a", "Layer Key!")), "v2");
      await assert.rejects(
        () => store.bigData("a", "nokey"),
        /locating item named "nokey" for layer with ID "a": file does not exist/,
      );
      // A key that cannot name a file is missing too.
      await assert.rejects(
        () => store.bigData("a", ".."),
        /locating item named "\.\." for layer with ID "a": file does not exist/,
      );
    });
    assert.equal(await Deno.readTextFile(`${root}/g/vfs-layers/a/=TGF5ZXIgS2V5IQ==`), "v2");
    const recs = await readJSON(`${root}/g/vfs-layers/layers.json`);
    assert.deepEqual(recs[0], {
      id: "a",
      metadata: "meta",
      created: recs[0].created,
      "big-data-names": ["Layer Key!"],
    });
    assert.deepEqual(recs[1].names, ["x", "y"]);
  }));

Deno.test("layers: an uncompressed tar has equal compressed and uncompressed digests and sizes", () =>
  withEnv(async ({ store }) => {
    const tar = makeTar([{ name: "a", data: "x" }]);
    const l = await writing(store, () => store.create({ id: "p", parent: null, diff: tar }));
    assert.deepEqual(
      [l.compressedDigest, l.uncompressedDigest, l.compressedSize, l.uncompressedSize, l.compression],
      [sha256Digest(tar), sha256Digest(tar), tar.length, tar.length, Compression.None],
    );
  }));

Deno.test("layers: a large file input is hashed by the tar-split worker, with the same digests", () =>
  withEnv(async ({ root, store }) => {
    const { fileSource } = await import("../archive/source.ts");
    const big = new Uint8Array(65 << 20);
    for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
    const { makeTar: makeBinaryTar } = await import("../archive/test_util.ts");
    const tar = makeBinaryTar([{ name: "big", data: big }, { name: "small", data: "x" }]);
    const gz = await gzip(tar);
    await Deno.writeFile(`${root}/t.tar`, tar);
    await Deno.writeFile(`${root}/t.tar.gz`, gz);
    // The plain file is hashed on the worker; the gzip one (under 64 MiB) in-process.
    const plain = await writing(
      store,
      async () => store.create({ id: "p", parent: null, diff: await fileSource(`${root}/t.tar`) }),
    );
    assert.deepEqual(
      [plain.compressedDigest, plain.uncompressedDigest, plain.compressedSize, plain.uncompressedSize],
      [sha256Digest(tar), sha256Digest(tar), tar.length, tar.length],
    );
    const zipped = await writing(
      store,
      async () => store.create({ id: "z", parent: null, diff: await fileSource(`${root}/t.tar.gz`) }),
    );
    assert.deepEqual(
      [zipped.compressedDigest, zipped.uncompressedDigest, zipped.compressedSize, zipped.uncompressedSize],
      [sha256Digest(gz), sha256Digest(tar), gz.length, tar.length],
    );
    assert.deepEqual(await collect(await store.diff(null, "p", Compression.None)), tar);
  }));
