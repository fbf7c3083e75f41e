import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { TarWriter } from "../archive/tar_writer.ts";
import { TypeFlag } from "../archive/types.ts";
import { openDockerArchive, TarIndex } from "./archive.ts";
import { ImageChoiceError } from "./errors.ts";
import { parseManifest } from "./manifest.ts";
import { readVerified } from "./verify.ts";
import { withTempDir } from "../store/testdata/harness.ts";

const enc = new TextEncoder();
const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

type Member = { name: string; data?: Uint8Array; link?: string; dir?: boolean };

async function writeTar(path: string, members: Member[], gzip = false): Promise<void> {
  const w = new TarWriter();
  const done = (async () => {
    for (const m of members) {
      if (m.dir) await w.add({ name: m.name, type: TypeFlag.Dir, mode: 0o755 });
      else if (m.link) await w.add({ name: m.name, type: TypeFlag.Symlink, linkname: m.link });
      else await w.add({ name: m.name, mode: 0o644, size: m.data!.length }, m.data);
    }
    await w.close();
  })();
  const bytes = new Uint8Array(await new Response(w.readable).arrayBuffer());
  await done;
  await Deno.writeFile(path, gzip ? gzipSync(bytes) : bytes);
}

/** A `docker save`-style archive with the given images (one layer each, symlinked like skopeo's). */
async function dockerArchive(path: string, images: Array<{ tags: string[]; text: string }>, gzip = false) {
  const members: Member[] = [];
  const items = [];
  const configs = [];
  for (const [i, img] of images.entries()) {
    const layer = enc.encode(img.text.repeat(100));
    const diffId = sha(layer);
    const config = enc.encode(
      JSON.stringify({ os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } }),
    );
    members.push({ name: `${diffId.slice(7)}.tar`, data: layer });
    members.push({ name: `l${i}/`, dir: true }, {
      name: `l${i}/layer.tar`,
      link: `../${diffId.slice(7)}.tar`,
    });
    members.push({ name: `${sha(config).slice(7)}.json`, data: config });
    items.push({ Config: `${sha(config).slice(7)}.json`, RepoTags: img.tags, Layers: [`l${i}/layer.tar`] });
    configs.push({ config, layer, diffId });
  }
  members.push({ name: "manifest.json", data: enc.encode(JSON.stringify(items)) });
  await writeTar(path, members, gzip);
  return configs;
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("cs-img-archive-", fn);
}

Deno.test("TarIndex: members by byte range, links resolved, compressed archives too", async () => {
  await withDir(async (dir) => {
    const data = enc.encode("payload ".repeat(300));
    const members: Member[] = [
      { name: "./a/", dir: true },
      { name: "./a/file", data },
      { name: "a/link", link: "file" },
      { name: "top", link: "a/link" },
      { name: "escape", link: "../../etc/passwd" },
    ];
    for (const gzip of [false, true]) {
      const path = `${dir}/t${gzip}.tar`;
      await writeTar(path, members, gzip);
      const t = await TarIndex.open(path);
      try {
        const m = t.resolve("top");
        assert.ok(m);
        assert.deepEqual(await t.read(m), data);
        assert.equal(t.resolve("escape"), null);
        assert.equal(t.resolve("missing"), null);
        assert.equal(t.resolve("a"), null, "a directory is not a blob");
      } finally {
        await t.close();
      }
    }
    // Cut inside the file's payload: indexing (which skips payloads) must still notice.
    const plain = await Deno.readFile(`${dir}/tfalse.tar`);
    await Deno.writeFile(`${dir}/cut.tar`, plain.subarray(0, 512 * 3 + 100));
    await assert.rejects(TarIndex.open(`${dir}/cut.tar`), /unexpected EOF/);
  });
});

Deno.test("openDockerArchive: the manifest c/image synthesises, tags, and the choice among several images", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/two.tar`;
    const made = await dockerArchive(path, [{ tags: ["localhost/a:1"], text: "A" }, {
      tags: ["b"],
      text: "B",
    }]);
    await assert.rejects(openDockerArchive(path, ""), ImageChoiceError);
    const b = await openDockerArchive(path, "docker.io/library/b:latest");
    try {
      assert.deepEqual(b.names, ["docker.io/library/b:latest"]);
      const m = parseManifest(b.manifest, b.mediaType);
      assert.equal(m.config.digest, sha(made[1].config));
      assert.deepEqual(m.layers.map((l) => [l.digest, l.size]), [[made[1].diffId, made[1].layer.length]]);
      assert.equal(b.manifestDigest, sha(b.manifest));
      const layer = await readVerified(
        await b.blobs.open(made[1].diffId),
        made[1].diffId,
        made[1].layer.length,
      );
      assert.deepEqual(layer, made[1].layer);
    } finally {
      await b.blobs.close();
    }
    const a = await openDockerArchive(path, "@0");
    await a.blobs.close();
    assert.deepEqual(a.names, ["localhost/a:1"]);
    await assert.rejects(openDockerArchive(path, "@2"), /invalid index @2/);
    await assert.rejects(openDockerArchive(path, "c"), /no image tagged "c"/);
  });
});

Deno.test("openDockerArchive: gzip-compressed archive and layers missing from it", async () => {
  await withDir(async (dir) => {
    const gz = `${dir}/one.tar.gz`;
    const [made] = await dockerArchive(gz, [{ tags: [], text: "Z" }], true);
    const src = await openDockerArchive(gz, "");
    try {
      assert.deepEqual(src.names, []);
      assert.equal(await src.blobs.stat(made.diffId), made.layer.length);
    } finally {
      await src.blobs.close();
    }
    const broken = `${dir}/broken.tar`;
    await writeTar(broken, [{
      name: "manifest.json",
      data: enc.encode(JSON.stringify([{ Config: "c.json", RepoTags: [], Layers: [] }])),
    }]);
    await assert.rejects(openDockerArchive(broken, ""), /c\.json not found/);
  });
});
