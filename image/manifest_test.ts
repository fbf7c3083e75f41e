import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ImageChoiceError, ManifestError } from "./errors.ts";
import {
  choosePlatform,
  encodeOrdered,
  guessMediaType,
  manifestMediaType,
  MediaType,
  parseConfig,
  parseIndex,
  parseManifest,
  parsePlatform,
  serializeDockerManifest,
  serializeOciIndex,
  serializeOciManifest,
} from "./manifest.ts";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dig = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex");

const CONFIG = { mediaType: MediaType.OciConfig, digest: dig("config"), size: 6 };
const LAYER = { mediaType: MediaType.OciLayerGzip, digest: dig("layer"), size: 5 };

Deno.test("parseManifest: OCI and Docker schema 2, round trip through the serialisers", () => {
  const oci = serializeOciManifest({ config: CONFIG, layers: [LAYER], annotations: { b: "2", a: "1" } });
  const m = parseManifest(oci);
  assert.equal(m.mediaType, MediaType.OciManifest);
  assert.deepEqual(m.config, CONFIG);
  assert.deepEqual(m.layers, [LAYER]);
  // Annotations are a Go map: keys sorted.
  assert.match(new TextDecoder().decode(oci), /"annotations":\{"a":"1","b":"2"\}\}$/);

  const docker = serializeDockerManifest(
    { mediaType: MediaType.DockerConfig, size: 6, digest: CONFIG.digest },
    [{ mediaType: MediaType.DockerLayerGzip, size: 5, digest: LAYER.digest }],
  );
  // Docker descriptors put size before digest (containers/image's Schema2Descriptor order).
  assert.match(
    new TextDecoder().decode(docker),
    /^\{"schemaVersion":2,"mediaType":"[^"]+","config":\{"mediaType":"[^"]+","size":6,"digest"/,
  );
  const d = parseManifest(docker);
  assert.equal(d.mediaType, MediaType.DockerManifest);
  assert.equal(d.layers[0].digest, LAYER.digest);
});

Deno.test("parseManifest: unknown media types, schema 1, bad digests and unknown layer types fail", () => {
  assert.throws(
    () =>
      parseManifest(enc({ schemaVersion: 2, mediaType: "application/x-thing", config: CONFIG, layers: [] })),
    ManifestError,
  );
  assert.throws(
    () => parseManifest(enc({ schemaVersion: 1, name: "x", fsLayers: [] })),
    /unsupported manifest media type/,
  );
  assert.throws(
    () => parseManifest(enc({ schemaVersion: 2, config: { ...CONFIG, digest: "sha256:zz" }, layers: [] })),
    /invalid digest/,
  );
  assert.throws(
    () =>
      parseManifest(
        enc({ schemaVersion: 2, config: CONFIG, layers: [{ ...LAYER, mediaType: "application/x-blob" }] }),
      ),
    /unsupported layer media type/,
  );
  assert.throws(() => parseManifest(new TextEncoder().encode("{not json")), ManifestError);
});

Deno.test("media type: explicit, from the descriptor, guessed, and conflicting", () => {
  const noType = enc({ schemaVersion: 2, config: CONFIG, layers: [] });
  assert.equal(guessMediaType(noType), MediaType.OciManifest);
  assert.equal(manifestMediaType(noType, MediaType.DockerManifest), MediaType.DockerManifest);
  assert.equal(guessMediaType(enc({ schemaVersion: 2, manifests: [] })), MediaType.OciIndex);
  const typed = enc({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: CONFIG, layers: [] });
  assert.throws(() => manifestMediaType(typed, MediaType.DockerManifest), /does not match/);
});

Deno.test("choosePlatform: one image, a named platform, several without a choice", () => {
  const entry = (os: string, architecture: string, variant?: string) => ({
    mediaType: MediaType.OciManifest,
    digest: dig(os + architecture + (variant ?? "")),
    size: 1,
    platform: variant ? { os, architecture, variant } : { os, architecture },
  });
  const index = parseIndex(serializeOciIndex([entry("linux", "amd64"), entry("linux", "arm64", "v8")]));
  assert.throws(() => choosePlatform(index), ImageChoiceError);
  assert.throws(() => choosePlatform(index), /linux\/amd64, linux\/arm64\/v8/);
  assert.equal(choosePlatform(index, parsePlatform("linux/arm64")).digest, dig("linuxarm64v8"));
  assert.equal(choosePlatform(index, parsePlatform("linux/amd64")).digest, dig("linuxamd64"));
  assert.throws(() => choosePlatform(index, parsePlatform("linux/s390x")), /no image found/);
  // Attestations (platform unknown/unknown) do not count as a second image.
  const single = parseIndex(serializeOciIndex([entry("linux", "amd64"), entry("unknown", "unknown")]));
  assert.equal(choosePlatform(single).digest, dig("linuxamd64"));
  assert.throws(() => parsePlatform("linux"), ImageChoiceError);
});

Deno.test("parseConfig: diff IDs and created; rootfs is required", () => {
  const c = parseConfig(
    enc({
      created: "2024-01-02T03:04:05Z",
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [LAYER.digest] },
    }),
  );
  assert.deepEqual(c.diffIds, [LAYER.digest]);
  assert.equal(c.created, "2024-01-02T03:04:05Z");
  assert.throws(() => parseConfig(enc({ os: "linux" })), /rootfs/);
  assert.throws(
    () => parseConfig(enc({ rootfs: { type: "layers", diff_ids: ["md5:1"] } })),
    /invalid diff ID/,
  );
});

Deno.test("encodeOrdered: Go escaping and omitted members", () => {
  assert.equal(
    encodeOrdered({ b: "<&>", a: undefined, c: [1, true, null] }),
    '{"b":"\\u003c\\u0026\\u003e","c":[1,true,null]}',
  );
});
