import assert from "node:assert/strict";
import { ImageStore } from "./images.ts";
import {
  CorruptFileError,
  DigestUnknownError,
  DuplicateIDError,
  DuplicateNameError,
  ImageUnknownError,
  InvalidDigestFormatError,
  NotExistError,
} from "./errors.ts";
import { sha256Digest } from "./digest.ts";
import { withTempDir } from "./testdata/harness.ts";

const enc = new TextEncoder();
const D0 = "sha256:" + "0".repeat(64);

function withDir(fn: (dir: string) => Promise<void>) {
  return withTempDir("cs-images-", (dir) => fn(`${dir}/vfs-images`));
}

async function writing<T>(s: ImageStore, fn: () => T | Promise<T>): Promise<T> {
  await s.startWriting();
  try {
    return await fn();
  } finally {
    s.stop();
  }
}

Deno.test("images: create, Go's duplicate messages, digest validation", () =>
  withDir(async (dir) => {
    const s = new ImageStore(dir, false);
    await writing(s, () => {
      const img = s.create({
        id: "i1",
        names: ["img1", "img1", "alias"],
        topLayer: "l1",
        digest: D0,
        metadata: "m",
      });
      assert.deepEqual(img.names, ["img1", "alias"]);
      assert.deepEqual(img.digests, [D0]);
      assert.deepEqual(img.namesHistory, []);
      assert.throws(() => s.create({ id: "i1", topLayer: "" }), (e) =>
        e instanceof DuplicateIDError &&
        e.message === 'an image with ID "i1" already exists: that ID is already in use');
      assert.throws(() => s.create({ names: ["alias"], topLayer: "" }), (e) =>
        e instanceof DuplicateNameError &&
        e.message ===
          'image name "alias" is already associated with image "i1": that name is already in use');
      assert.throws(() =>
        s.create({ digest: "bogus", topLayer: "" }), (e) =>
        e instanceof InvalidDigestFormatError &&
        e.message ===
          'validating digests for new image: validating image digest "bogus": invalid checksum digest format');
    });
    const text = await Deno.readTextFile(`${dir}/images.json`);
    assert.match(
      text,
      /^\[\{"id":"i1","digest":"sha256:0{64}","names":\["img1","alias"\],"layer":"l1","metadata":"m","created":"[^"]+Z"\}\]$/,
    );
    assert.equal((await Deno.stat(`${dir}/images.json`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/images.lock`)).size, 64);
  }));

Deno.test("images: big data records size, digest, order; manifest digests join the list", () =>
  withDir(async (dir) => {
    const s = new ImageStore(dir, false);
    await writing(s, async () => {
      s.create({ id: "i1", topLayer: "" });
      await s.setBigData("i1", "sha256:cfg", enc.encode("cfg"));
      await s.setBigData("i1", "manifest", enc.encode("m1"));
      let img = s.get("i1");
      assert.deepEqual(img.bigDataNames, ["sha256:cfg", "manifest"]);
      assert.equal(img.bigDataSizes["sha256:cfg"], 3);
      assert.equal(img.bigDataDigests["sha256:cfg"], sha256Digest("cfg"));
      // The first manifest digest becomes the image's digest and stays after a change.
      assert.equal(img.digest, sha256Digest("m1"));
      await s.setBigData("i1", "manifest", enc.encode("m2"));
      img = s.get("i1");
      assert.deepEqual(img.digests, [sha256Digest("m1"), sha256Digest("m2")]);
      assert.deepEqual(s.listByDigest(sha256Digest("m1")).map((i) => i.id), ["i1"]);
      assert.deepEqual(s.listByDigest(sha256Digest("m2")).map((i) => i.id), ["i1"]);
      // A caller-given manifest digest wins over sha256 (c/image's manifest digest).
      await s.setBigData("i1", "manifest-x", enc.encode("m3"), D0);
      assert.equal(s.bigDataDigest("i1", "manifest-x"), D0);
      assert.deepEqual(s.listByDigest(D0).map((i) => i.id), ["i1"]);
      assert.equal(new TextDecoder().decode(await s.bigData("i1", "manifest")), "m2");
      assert.equal(await s.bigDataSize("i1", "manifest"), 2);
      await assert.rejects(() => s.bigData("i1", "nokey"), (e) =>
        e instanceof NotExistError &&
        e.message ===
          'locating item named "nokey" for image with ID "i1" (consider removing the image to resolve the issue): file does not exist');
      // A key that cannot name a file (Go cannot store "..") is missing as well.
      await assert.rejects(
        () => s.bigData("i1", ".."),
        (e) =>
          e instanceof NotExistError &&
          e.message.startsWith('locating item named ".." for image with ID "i1"'),
      );
      assert.throws(() => s.bigDataDigest("i1", "nokey"), DigestUnknownError);
      await assert.rejects(
        () => s.setBigData("i1", "", enc.encode("x")),
        /can't set empty name for image big data item/,
      );
    });
    assert.equal(await Deno.readTextFile(`${dir}/i1/=c2hhMjU2OmNmZw==`), "cfg");
  }));

Deno.test("images: names move between images and are kept in names-history", () =>
  withDir(async (dir) => {
    const s = new ImageStore(dir, false);
    await writing(s, () => {
      s.create({ id: "a", names: ["x"], topLayer: "" });
      s.create({ id: "b", names: ["y"], topLayer: "" });
      assert.deepEqual(s.updateNames("b", ["x"], "add"), ["x", "y"]);
      assert.deepEqual(s.get("a").names, []);
      assert.equal(s.lookup("x")!.id, "b");
      assert.deepEqual(s.get("b").namesHistory, ["y", "x"]);
      assert.deepEqual(s.updateNames("b", ["y"], "remove"), ["x"]);
      assert.deepEqual(s.get("b").namesHistory, ["x", "y"]);
      assert.throws(() => s.get("nope"), (e) =>
        e instanceof ImageUnknownError && e.message === 'locating image with ID "nope": image not known');
    });
  }));

Deno.test("images: other writers' changes are reloaded; unknown fields survive", () =>
  withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/images.json`,
      '[{"id":"i1","names":["n"],"created":"2023-11-14T22:13:20Z","future-field":{"k":1}}]',
    );
    const a = new ImageStore(dir, false);
    const b = new ImageStore(`${dir}/`.slice(0, -1), false);
    await writing(a, () => a.setMetadata("i1", "meta"));
    assert.equal(
      await Deno.readTextFile(`${dir}/images.json`),
      '[{"id":"i1","names":["n"],"metadata":"meta","created":"2023-11-14T22:13:20Z","future-field":{"k":1}}]',
    );
    await b.startReading();
    try {
      assert.equal(b.get("i1").metadata, "meta");
    } finally {
      b.stop();
    }
    await writing(b, () => b.setMetadata("i1", "again"));
    await a.startReading();
    try {
      assert.equal(a.get("i1").metadata, "again");
    } finally {
      a.stop();
    }
  }));

Deno.test("images: duplicate names in the file are fixed as Go does (later image keeps it)", () =>
  withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/images.json`,
      '[{"id":"a","names":["dup","a1"],"created":"2023-11-14T22:13:20Z"},{"id":"b","names":["dup"],"created":"2023-11-14T22:13:20Z"}]',
    );
    const s = new ImageStore(dir, false);
    await s.startReading();
    try {
      assert.equal(s.lookup("dup")!.id, "b");
      assert.deepEqual(s.get("a").names, ["a1"]);
    } finally {
      s.stop();
    }
    assert.match(await Deno.readTextFile(`${dir}/images.json`), /"id":"a","names":\["a1"\]/);
  }));

Deno.test("images: a corrupt file fails with an error naming it and is left untouched", () =>
  withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    const bad = '[{"id":"i1","names":["n"],"created":"2023-11-14T22:13:20Z"},{"id":';
    await Deno.writeTextFile(`${dir}/images.json`, bad);
    const s = new ImageStore(dir, false);
    await assert.rejects(
      () => s.startWriting(),
      (e) =>
        e instanceof CorruptFileError && e.path === `${dir}/images.json` &&
        e.message.includes(`${dir}/images.json`),
    );
    assert.equal(s.writing, false);
    assert.equal(await Deno.readTextFile(`${dir}/images.json`), bad);
    // An invalid manifest digest makes the whole file fail to load, as in Go.
    await Deno.writeTextFile(
      `${dir}/images.json`,
      '[{"id":"i1","big-data-digests":{"manifest":"nope"},"created":"2023-11-14T22:13:20Z"}]',
    );
    await assert.rejects(
      () => s.startReading(),
      /computing digests for image with ID "i1" \(\[\]\): validating digest/,
    );
  }));
