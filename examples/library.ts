/**
 * The library in a few lines: a layer from a tar stream, an image on it, a container on
 * the image, mounted and read. Run: `deno run -A examples/library.ts [GRAPH RUN]`.
 *
 * @module
 */
import { openStore, tarDirectory } from "../mod.ts";

const tmp = await Deno.makeTempDir({ prefix: "cs-library-" });
const [graphRoot = `${tmp}/graph`, runRoot = `${tmp}/run`] = Deno.args;

// Some content to put in the layer: a directory packed as a tar stream.
await Deno.mkdir(`${tmp}/content/etc`, { recursive: true });
await Deno.writeTextFile(`${tmp}/content/etc/greeting`, "hello from a layer\n");

const store = await openStore({ graphRoot, runRoot, driverName: "vfs" });
try {
  const layer = await store.createLayer({ names: ["example-base"], diff: tarDirectory(`${tmp}/content`) });
  const image = await store.createImage({ layer: layer.id, names: ["example:latest"] });
  await store.setImageBigData(image.id, "manifest", new TextEncoder().encode('{"schemaVersion":2}'));
  const container = await store.createContainer({ image: image.id, names: ["example-ctr"] });

  const root = await store.mount(container.id);
  console.log(`layer ${layer.id} diff ${layer.uncompressedDigest} (${layer.uncompressedSize} bytes)`);
  console.log(`image ${image.id} digests ${(await store.image(image.id)).digests.join(" ")}`);
  console.log(`container ${container.id} mounted at ${root}`);
  console.log(`greeting: ${await Deno.readTextFile(`${root}/etc/greeting`)}`.trimEnd());
  await store.unmount(container.id);
} finally {
  await store.close();
  if (Deno.args.length === 0) await Deno.remove(tmp, { recursive: true });
}
