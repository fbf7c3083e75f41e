/**
 * The benchmark's input archives: found in the data directory, built there by
 * `bench/make-data.sh` when missing. Quick mode builds smaller synthetic archives in
 * `DATA/quick` and has no root filesystem (its workloads are skipped).
 *
 * @module
 */

/** The archives the workloads use (absent ones are undefined). */
export interface DataSet {
  dir: string;
  small?: string;
  large?: string;
  rootfs?: string;
  rootfsGz?: string;
  layer2?: string;
  tiny?: string;
}

/** Default data directory, outside the repository. */
export function defaultDataDir(): string {
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/containers-storage-bench-data`;
}

function nonEmpty(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}

function onPath(cmd: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  return dirs.some((d) => nonEmpty(`${d}/${cmd}`));
}

function pick(...paths: string[]): string | undefined {
  return paths.find(nonEmpty);
}

/**
 * Returns the data set in `dir`, running make-data.sh first when something is missing and
 * `build` is true. Progress of the build goes to stderr.
 */
export async function ensureData(dir: string, quick: boolean, build: boolean): Promise<DataSet> {
  const synth = quick ? `${dir}/quick` : dir;
  const want = quick ? ["small.tar", "large.tar", "tiny.tar"] : [
    "small.tar",
    "large.tar",
    "tiny.tar",
    "rootfs.tar",
    "rootfs.tar.gz",
    "layer2.tar",
  ];
  const missing = want.filter((f) => !nonEmpty(`${synth}/${f}`));
  if (missing.length && build) {
    const script = new URL("./make-data.sh", import.meta.url).pathname;
    console.error(`bench: building ${missing.join(", ")} in ${synth} (bench/make-data.sh)...`);
    const env: Record<string, string> = { BENCH_DATA: synth };
    if (quick) Object.assign(env, { SMALL_FANOUT: "4", LARGE_DIV: "16", SKIP_ROOTFS: "1" });
    else if (missing.includes("rootfs.tar") && !onPath("debootstrap")) {
      console.error(
        "bench: no debootstrap (apt-get install debootstrap): no rootfs.tar, rootfs.tar.gz, layer2.tar",
      );
      env.SKIP_ROOTFS = "1";
    }
    const st = await new Deno.Command("bash", { args: [script], env, stdout: "inherit", stderr: "inherit" })
      .output();
    if (!st.success) console.error("bench: make-data.sh failed; workloads without their data are skipped");
  }
  return {
    dir: synth,
    small: pick(`${synth}/small.tar`),
    large: pick(`${synth}/large.tar`),
    tiny: pick(`${synth}/tiny.tar`),
    rootfs: pick(`${synth}/rootfs.tar`),
    rootfsGz: pick(`${synth}/rootfs.tar.gz`),
    layer2: pick(`${synth}/layer2.tar`),
  };
}

/** Reads a file once so that every tool then reads it from the page cache. */
export async function warmFile(path: string): Promise<void> {
  using f = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  while ((await f.read(buf)) !== null) { /* read to the end */ }
}

/** Names of the entries of a tar archive, literally (for `tar -T`), and their count. */
export async function tarNames(path: string): Promise<string[]> {
  const args = ["--quoting-style=literal", "-tf", path];
  const out = await new Deno.Command("tar", { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
}
