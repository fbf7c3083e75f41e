/**
 * Helpers for the image import/export tests: running buildah, skopeo and podman on
 * throwaway stores, building the small busybox image the proofs use, and writing OCI
 * layouts by hand (for the bad-input cases).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { TarWriter } from "../archive/tar_writer.ts";
import { TypeFlag } from "../archive/types.ts";
import { MediaType, serializeOciIndex, serializeOciManifest } from "../image/manifest.ts";
import type { Descriptor, Platform } from "../image/manifest.ts";
import { runGoCli } from "../store/testdata/harness.ts";

/** Output of a finished program. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end. */
export async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<Ran> {
  const out = await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a program and fails with its stderr unless it exits 0; returns stdout. */
export async function must(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const r = await run(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The containers-storage transport string for a store. */
export function storageRef(driver: string, graph: string, runRoot: string, name = ""): string {
  return `containers-storage:[${driver}@${graph}+${runRoot}]${name}`;
}

/** Global flags of buildah and podman selecting a store. */
export function storeFlags(driver: string, graph: string, runRoot: string): string[] {
  return ["--root", graph, "--runroot", runRoot, "--storage-driver", driver];
}

/** Where the static busybox of Debian's busybox-static package is. */
export const BUSYBOX = "/bin/busybox";

/**
 * Builds `name` from scratch with buildah: the static busybox as `/bin/busybox`, a
 * `/hello.txt`, and the command `busybox echo <greeting>`. Returns the image ID.
 */
export async function buildBusybox(
  driver: string,
  graph: string,
  runRoot: string,
  name: string,
  greeting: string,
): Promise<string> {
  const b = storeFlags(driver, graph, runRoot);
  const c = (await must("buildah", [...b, "from", "scratch"])).trim();
  await must("buildah", [...b, "copy", c, BUSYBOX, "/bin/busybox"]);
  const hello = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(hello, `${greeting}\n`);
    await must("buildah", [...b, "copy", c, hello, "/hello.txt"]);
  } finally {
    await Deno.remove(hello);
  }
  await must("buildah", [...b, "config", "--cmd", JSON.stringify(["/bin/busybox", "echo", greeting]), c]);
  const id = (await must("buildah", [...b, "commit", "-q", c, name])).trim();
  await must("buildah", [...b, "rm", c]);
  return id;
}

/** Commits `name` as `base` plus one layer holding `/extra.txt`; returns the image ID. */
export async function addLayer(
  driver: string,
  graph: string,
  runRoot: string,
  base: string,
  name: string,
  text: string,
): Promise<string> {
  const b = storeFlags(driver, graph, runRoot);
  const c = (await must("buildah", [...b, "from", base])).trim();
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, text);
    await must("buildah", [...b, "copy", c, file, "/extra.txt"]);
  } finally {
    await Deno.remove(file);
  }
  const id = (await must("buildah", [...b, "commit", "-q", c, name])).trim();
  await must("buildah", [...b, "rm", c]);
  return id;
}

/** Shuts a store down with the Go CLI (drops overlay's private mounts) before it is removed. */
export async function shutdownGo(driver: string, graph: string, runRoot: string): Promise<void> {
  await runGoCli({ graph, run: runRoot }, driver, ["shutdown", "-f"]);
}

/** Reads a store's `images.json` or `layers.json` (empty list when absent). */
async function readStoreJson(graph: string, driver: string, kind: "images" | "layers") {
  try {
    const text = await Deno.readTextFile(`${graph}/${driver}-${kind}/${kind}.json`);
    return JSON.parse(text || "[]") as Record<string, unknown>[];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Reads a store's images.json (empty list when absent). */
export function readImagesJson(graph: string, driver: string): Promise<Record<string, unknown>[]> {
  return readStoreJson(graph, driver, "images");
}

/** Reads a store's layers.json (empty list when absent). */
export function readLayersJson(graph: string, driver: string): Promise<Record<string, unknown>[]> {
  return readStoreJson(graph, driver, "layers");
}

const enc = new TextEncoder();
const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

/** Makes an uncompressed tar holding the given regular files. */
export async function tarOf(files: Record<string, string>): Promise<Uint8Array> {
  const w = new TarWriter();
  const done = (async () => {
    for (const [name, text] of Object.entries(files)) {
      const data = enc.encode(text);
      await w.add({
        name,
        type: TypeFlag.Reg,
        mode: 0o644,
        size: data.length,
        mtimeNs: 1_700_000_000_000_000_000n,
      }, data);
    }
    await w.close();
  })();
  const bytes = new Uint8Array(await new Response(w.readable).arrayBuffer());
  await done;
  return bytes;
}

/** One image written by writeLayout. */
export interface HandImage {
  /** Files of each layer, base first. */
  layers: Record<string, string>[];
  /** Platform recorded in the config and in an index entry. */
  platform?: Platform;
}

/** What writeLayout wrote for one image. */
export interface HandWritten {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  diffIds: string[];
  /** Paths of the layer blobs. */
  layerPaths: string[];
}

async function putBlob(root: string, data: Uint8Array): Promise<string> {
  const d = sha(data);
  await Deno.mkdir(`${root}/blobs/sha256`, { recursive: true });
  await Deno.writeFile(`${root}/blobs/sha256/${d.slice(7)}`, data);
  return d;
}

/** Writes one image's blobs (gzip layers, config, manifest) into a layout root. */
export async function writeImageBlobs(root: string, image: HandImage): Promise<HandWritten> {
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  const layerPaths: string[] = [];
  for (const files of image.layers) {
    const tar = await tarOf(files);
    const gz = gzipSync(tar);
    diffIds.push(sha(tar));
    const digest = await putBlob(root, gz);
    layers.push({ mediaType: MediaType.OciLayerGzip, digest, size: gz.length });
    layerPaths.push(`${root}/blobs/sha256/${digest.slice(7)}`);
  }
  const p = image.platform ?? { os: "linux", architecture: "amd64" };
  const cfg = enc.encode(JSON.stringify({
    created: "2024-05-06T07:08:09.100Z",
    architecture: p.architecture,
    os: p.os,
    config: { Cmd: ["/bin/true"] },
    rootfs: { type: "layers", diff_ids: diffIds },
  }));
  const config = { mediaType: MediaType.OciConfig, digest: await putBlob(root, cfg), size: cfg.length };
  const mbytes = serializeOciManifest({ config, layers });
  const manifest = {
    mediaType: MediaType.OciManifest,
    digest: await putBlob(root, mbytes),
    size: mbytes.length,
  };
  return { manifest, config, layers, diffIds, layerPaths };
}

/** Writes `index.json` and `oci-layout` naming the given manifests. */
export async function writeIndex(root: string, manifests: Descriptor[]): Promise<void> {
  await Deno.writeFile(`${root}/index.json`, serializeOciIndex(manifests));
  await Deno.writeTextFile(`${root}/oci-layout`, '{"imageLayoutVersion": "1.0.0"}');
}

/** Writes a blob into a layout and returns its descriptor. */
export async function writeBlob(root: string, mediaType: string, data: Uint8Array): Promise<Descriptor> {
  return { mediaType, digest: await putBlob(root, data), size: data.length };
}
