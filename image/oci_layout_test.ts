import assert from "node:assert/strict";
import { BlobUnknownError, ImageChoiceError, ImageReferenceError } from "./errors.ts";
import { MediaType, parseIndex } from "./manifest.ts";
import { blobPath, OciLayoutWriter, openOciLayout, REF_NAME_ANNOTATION } from "./oci_layout.ts";
import { serializeOciManifest } from "./manifest.ts";
import { withTempDir } from "../store/testdata/harness.ts";

const enc = new TextEncoder();

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("cs-oci-layout-", fn);
}

/** Writes a one-layer image through the writer and returns its manifest descriptor. */
async function putImage(w: OciLayoutWriter, tag: string, ref?: string) {
  const layer = await w.putBlob(enc.encode(`layer ${tag}`));
  const config = await w.putBlob(
    enc.encode(JSON.stringify({ rootfs: { type: "layers", diff_ids: [layer.digest] } })),
  );
  const m = await w.putBlob(serializeOciManifest({
    config: { mediaType: MediaType.OciConfig, ...config },
    layers: [{ mediaType: MediaType.OciLayer, ...layer }],
  }));
  const d = {
    mediaType: MediaType.OciManifest,
    ...m,
    annotations: ref ? { [REF_NAME_ANNOTATION]: ref } : undefined,
  };
  w.addManifest(d);
  return d;
}

Deno.test("OciLayoutWriter: blobs under their digest, index.json merged by ref name", async () => {
  await withDir(async (dir) => {
    const w1 = await OciLayoutWriter.create(dir);
    const a = await putImage(w1, "a", "one");
    const b = await putImage(w1, "b", "two");
    await w1.commit();
    assert.equal(await Deno.readTextFile(`${dir}/oci-layout`), '{"imageLayoutVersion": "1.0.0"}');
    const blob = await Deno.readFile(blobPath(dir, a.digest));
    assert.equal(blob.length, a.size);

    // A second writer replacing ref "one" keeps "two".
    const w2 = await OciLayoutWriter.create(dir);
    const c = await putImage(w2, "c", "one");
    await w2.commit();
    const index = parseIndex(await Deno.readFile(`${dir}/index.json`));
    assert.deepEqual(index.manifests.map((d) => d.digest), [b.digest, c.digest]);
    // No temp files are left behind.
    const names: string[] = [];
    for await (const e of Deno.readDir(`${dir}/blobs/sha256`)) names.push(e.name);
    assert.ok(names.every((n) => /^[0-9a-f]{64}$/.test(n)), names.join(","));
  });
});

Deno.test("openOciLayout: choose by ref, refuse ambiguity, unknown refs and non-layouts", async () => {
  await withDir(async (dir) => {
    const w = await OciLayoutWriter.create(dir);
    const a = await putImage(w, "a", "one");
    const b = await putImage(w, "b", "two");
    await w.commit();
    const one = await openOciLayout(dir, "one");
    assert.equal(one.manifestDigest, a.digest);
    assert.deepEqual(one.names, ["localhost/one:latest"]);
    assert.equal((await openOciLayout(dir, "two")).manifestDigest, b.digest);
    await assert.rejects(openOciLayout(dir, ""), ImageChoiceError);
    await assert.rejects(openOciLayout(dir, "three"), /no descriptor found for reference "three"/);
    await assert.rejects(openOciLayout(`${dir}/blobs`, ""), ImageReferenceError);
    await assert.rejects(one.blobs.open("sha256:" + "0".repeat(64)), BlobUnknownError);
    assert.equal(await one.blobs.stat("sha256:" + "0".repeat(64)), null);
    assert.throws(() => blobPath(dir, "sha256:../../etc/passwd"), /invalid blob digest/);
  });
});

Deno.test("openOciLayout: a manifest blob that does not match its descriptor is refused", async () => {
  await withDir(async (dir) => {
    const w = await OciLayoutWriter.create(dir);
    const a = await putImage(w, "a", "one");
    await w.commit();
    const path = blobPath(dir, a.digest);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 2] ^= 1;
    await Deno.writeFile(path, bytes);
    await assert.rejects(openOciLayout(dir, "one"), /Digest did not match/);
  });
});
