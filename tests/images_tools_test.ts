/**
 * Proofs with the real tools (Debian's buildah, skopeo, podman and runc):
 * - buildah builds a busybox image into a store; our CLI lists it, reads its big data,
 *   mounts it, creates a container from it and exports it; skopeo accepts the export and
 *   its layer digests equal buildah's.
 * - our CLI imports an OCI archive; podman lists it with its name and ID and runs it, on
 *   vfs and on overlay.
 * - a podman container keeps working after our CLI wrote to the store (names added,
 *   another image imported), and a container of ours keeps working after podman did.
 */
import assert from "node:assert/strict";
import { runOurs } from "./cli_helpers.ts";
import { detachAll } from "../sys/testutil.ts";
import { addLayer, buildBusybox, must, shutdownGo, storageRef, storeFlags } from "./images_helpers.ts";

const GREETING = "hello from busybox";
const NAME = "localhost/tools:1";

/** Builds the image once per test: buildah store plus an OCI archive of it (and of a second image). */
async function fixture(
  root: string,
): Promise<{ graph: string; runRoot: string; id: string; archive: string; archive2: string }> {
  const graph = `${root}/build/g`, runRoot = `${root}/build/r`;
  const id = await buildBusybox("vfs", graph, runRoot, NAME, GREETING);
  await addLayer("vfs", graph, runRoot, NAME, "localhost/tools2:1", "second image\n");
  const archive = `${root}/tools.oci.tar`, archive2 = `${root}/tools2.oci.tar`;
  await must("skopeo", ["copy", "-q", storageRef("vfs", graph, runRoot, NAME), `oci-archive:${archive}`]);
  await must("skopeo", [
    "copy",
    "-q",
    storageRef("vfs", graph, runRoot, "localhost/tools2:1"),
    `oci-archive:${archive2}`,
  ]);
  return { graph, runRoot, id, archive, archive2 };
}

/** Removes a test root after shutting its stores down and dropping mounts left under it. */
async function cleanup(root: string, stores: Array<[string, string, string]>): Promise<void> {
  for (const [driver, g, r] of stores) await shutdownGo(driver, g, r);
  detachAll(root);
  await Deno.remove(root, { recursive: true });
}

async function ours(flags: string[], args: string[]): Promise<string> {
  const r = await runOurs([...flags, ...args]);
  if (r.code !== 0) {
    throw new Error(`containers-storage ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

function podmanFlags(driver: string, root: string, g: string, r: string): string[] {
  return [
    ...storeFlags(driver, g, r),
    "--tmpdir",
    `${root}/podman-tmp`,
    "--events-backend",
    "none",
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
  ];
}

const RUN_FLAGS = ["--net=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

Deno.test("buildah's image on our CLI: listed, big data read, mounted, container created, exported for skopeo", async () => {
  const root = await Deno.makeTempDir({ prefix: "cs-img-tools-" });
  const { graph, runRoot, id } = await fixture(root).catch(async (e) => {
    await cleanup(root, []);
    throw e;
  });
  const flags = ["--graph", graph, "--run", runRoot, "--storage-driver", "vfs"];
  try {
    const listed = await ours(flags, ["images"]);
    assert.match(listed, new RegExp(`^${id}\n(\t.*\n)*\tname: ${NAME}\n`, "m"));

    const manifest = await ours(flags, ["get-image-data", NAME, "manifest"]);
    const raw = await must("skopeo", ["inspect", "--raw", storageRef("vfs", graph, runRoot, NAME)]);
    assert.equal(manifest, raw);

    const image = JSON.parse(await ours(flags, ["image", "-j", NAME]))[0];
    const layerMount = (await ours(flags, ["mount", image.layer])).trim();
    assert.equal(await Deno.readTextFile(`${layerMount}/hello.txt`), `${GREETING}\n`);
    assert.ok((await Deno.stat(`${layerMount}/bin/busybox`)).isFile);
    await ours(flags, ["unmount", image.layer]);

    const ctr = (await ours(flags, ["create-container", "--name", "ours", NAME])).split("\n")[0].trim();
    const ctrMount = (await ours(flags, ["mount", ctr])).trim();
    assert.equal(await Deno.readTextFile(`${ctrMount}/hello.txt`), `${GREETING}\n`);
    await ours(flags, ["unmount", ctr]);
    // The Go CLI sees the container on the same store.
    assert.match(await must("containers-storage", [...flags, "containers"]), new RegExp(ctr));

    const digest = (await ours(flags, ["export-image", NAME, `oci:${root}/export:x`])).trim();
    const inspect = JSON.parse(await must("skopeo", ["inspect", `oci:${root}/export:x`]));
    const built = JSON.parse(await must("skopeo", ["inspect", storageRef("vfs", graph, runRoot, NAME)]));
    assert.equal(inspect.Digest, digest);
    assert.deepEqual(inspect.Layers, built.Layers);
  } finally {
    await cleanup(root, [["vfs", graph, runRoot]]);
  }
});

for (const driver of ["vfs", "overlay"]) {
  Deno.test(`import-image of an OCI archive runs under podman (${driver})`, async () => {
    const root = await Deno.makeTempDir({ prefix: "cs-img-podman-" });
    const g = `${root}/g`, r = `${root}/r`;
    const stores: Array<[string, string, string]> = [[driver, g, r]];
    try {
      const fx = await fixture(root);
      stores.push(["vfs", fx.graph, fx.runRoot]);
      const flags = ["--graph", g, "--run", r, "--storage-driver", driver];
      const out = await ours(flags, ["import-image", "--name", NAME, `oci-archive:${fx.archive}`]);
      assert.equal(out, `${fx.id}\n\t${NAME}\n`);
      const p = podmanFlags(driver, root, g, r);
      const images = await must("podman", [
        ...p,
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
      ]);
      assert.equal(images.trim(), `${NAME} sha256:${fx.id}`);
      assert.equal(await must("podman", [...p, "run", "--rm", ...RUN_FLAGS, NAME]), `${GREETING}\n`);
    } finally {
      await cleanup(root, stores);
    }
  });
}

Deno.test("podman and our CLI share an overlay store: each one's container survives the other's writes", async () => {
  const root = await Deno.makeTempDir({ prefix: "cs-img-share-" });
  const g = `${root}/g`, r = `${root}/r`;
  const stores: Array<[string, string, string]> = [["overlay", g, r]];
  try {
    const fx = await fixture(root);
    stores.push(["vfs", fx.graph, fx.runRoot]);
    const flags = ["--graph", g, "--run", r, "--storage-driver", "overlay"];
    const p = podmanFlags("overlay", root, g, r);
    await ours(flags, ["import-image", "--name", NAME, `oci-archive:${fx.archive}`]);
    await must("podman", [...p, "create", "--name", "pc", ...RUN_FLAGS, NAME]);

    // Our writes: a name added, another image imported (reusing the shared base layer).
    await ours(flags, ["add-names", "--name", "localhost/alias:2", fx.id]);
    await ours(flags, ["import-image", "--name", "localhost/tools2:1", `oci-archive:${fx.archive2}`]);
    assert.equal(await must("podman", [...p, "start", "-a", "pc"]), `${GREETING}\n`);
    const names = await must("podman", [...p, "images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert.deepEqual(
      names.trim().split("\n").sort(),
      ["localhost/alias:2", NAME, "localhost/tools2:1"].sort(),
    );

    // The reverse: our container, then podman writes (a tag, a container created and removed).
    const ctr = (await ours(flags, ["create-container", "--name", "oc", NAME])).split("\n")[0].trim();
    await must("podman", [...p, "tag", NAME, "localhost/tagged:3"]);
    await must("podman", [
      ...p,
      "run",
      "--rm",
      ...RUN_FLAGS,
      "localhost/tools2:1",
      "/bin/busybox",
      "cat",
      "/extra.txt",
    ]);
    const mnt = (await ours(flags, ["mount", "oc"])).trim();
    try {
      assert.equal(await Deno.readTextFile(`${mnt}/hello.txt`), `${GREETING}\n`);
    } finally {
      await ours(flags, ["unmount", "oc"]);
    }
    assert.equal(JSON.parse(await ours(flags, ["container", "-j", "oc"]))[0].id, ctr);
    assert.equal(await must("podman", [...p, "start", "-a", "pc"]), `${GREETING}\n`);
    await must("podman", [...p, "rm", "pc"]);
  } finally {
    await cleanup(root, stores);
  }
});
