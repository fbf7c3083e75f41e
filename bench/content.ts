/**
 * Layer content workloads: `import-layer -f X.tar` (applydiff) and `diff -f OUT LAYER`, ours
 * vs the Go CLI, with GNU tar doing the same job on the same data as a yardstick
 * (`tar -xf X -C DIR` for the import; for the diff, `tar -cf OUT` of the same entries, in the
 * archive's order, from the tree tar extracted).
 *
 * Each repetition uses fresh stores; a parent layer (layer2 sits on rootfs) is imported
 * untimed first. The diff output is checked against the input: an imported layer's diff is
 * the original tar byte for byte (tar-split), so size and, once, sha256 must match.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  type BenchContext,
  errText,
  finish,
  newStore,
  order,
  record,
  type Row,
  sample,
  type Workload,
} from "./context.ts";
import { type DataSet, tarNames, warmFile } from "./data.ts";
import { runTimed, type ToolName } from "./exec.ts";

/** One archive imported on one driver. */
export interface ContentSpec {
  key: string;
  file: keyof Omit<DataSet, "dir">;
  driver: "vfs" | "overlay";
  /** Imported untimed first; the timed layer is its child. */
  parent?: keyof Omit<DataSet, "dir">;
  /** Measure `diff` too (not for compressed input: diff would recompress). */
  diff: boolean;
  /** Targets apply (the issue names small-file and large-file archives). */
  targets: boolean;
  describe: string;
}

/** The content workloads, in report order. */
export const CONTENT_SPECS: ContentSpec[] = [
  { key: "small", file: "small", driver: "vfs", diff: true, targets: true, describe: "50,000 small files" },
  { key: "large", file: "large", driver: "vfs", diff: true, targets: true, describe: "4 files, 1 GiB" },
  { key: "rootfs", file: "rootfs", driver: "vfs", diff: true, targets: false, describe: "Debian minbase" },
  {
    key: "rootfs-gz",
    file: "rootfsGz",
    driver: "vfs",
    diff: false,
    targets: false,
    describe: "Debian minbase, gzip input",
  },
  {
    key: "layer2",
    file: "layer2",
    parent: "rootfs",
    driver: "vfs",
    diff: true,
    targets: false,
    describe: "child of rootfs: changes, whiteouts, opaque dirs",
  },
  {
    key: "rootfs-overlay",
    file: "rootfs",
    driver: "overlay",
    diff: true,
    targets: false,
    describe: "Debian minbase on overlay",
  },
  {
    key: "layer2-overlay",
    file: "layer2",
    parent: "rootfs",
    driver: "overlay",
    diff: true,
    targets: false,
    describe: "whiteouts as overlay char devices",
  },
];

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  for (let n; (n = await f.read(buf)) !== null;) h.update(buf.subarray(0, n));
  return h.digest("hex");
}

function base(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Measures one content spec; returns the import row and (if measured) the diff row. */
async function runContent(ctx: BenchContext, spec: ContentSpec): Promise<Row[]> {
  const file = ctx.data[spec.file]!;
  const parentFile = spec.parent ? ctx.data[spec.parent]! : undefined;
  const gz = file.endsWith(".gz");
  const name = base(file);
  const size = Deno.statSync(file).size;
  const names = await tarNames(file);
  // The uncompressed size is what diff reproduces.
  const rawSize = gz ? undefined : size;
  await warmFile(file);
  if (parentFile) await warmFile(parentFile);

  const imp = { ours: sample(), go: sample(), tar: sample() };
  const dif = { ours: sample(), go: sample(), tar: sample() };
  const notes: string[] = [];
  const listFile = `${ctx.scratch.dir}/${spec.key}.names`;
  await Deno.writeTextFile(listFile, names.join("\n") + "\n");
  let inputSha: string | undefined;

  const oneTool = async (tool: ToolName, rep: number) => {
    const s = imp[tool];
    if (s.error) return;
    const store = await newStore(ctx, tool, `${spec.key}-${rep}`, spec.driver);
    try {
      const parentArgs: string[] = [];
      if (parentFile) parentArgs.push((await store.id(["import-layer", "-f", parentFile])).id);
      const { id, t } = await store.id(["import-layer", "-f", file, ...parentArgs]);
      record(s, t);
      if (!spec.diff || dif[tool].error) return;
      const out = `${store.root}/diff.tar`;
      try {
        record(dif[tool], await store.cmd(["diff", "-f", out, id]));
        const got = Deno.statSync(out).size;
        if (rawSize !== undefined && got !== rawSize) {
          notes.push(`${tool}: diff output is ${got} bytes, input ${rawSize}`);
        } else if (rep === 0 && !ctx.quick && rawSize !== undefined) {
          inputSha ??= await sha256File(file);
          if ((await sha256File(out)) !== inputSha) notes.push(`${tool}: diff output differs from the input`);
        }
      } catch (e) {
        dif[tool].error = errText(e);
      }
    } catch (e) {
      s.error = errText(e);
    } finally {
      await store.destroy();
    }
  };

  const tarRep = async (rep: number) => {
    if (imp.tar.error) return;
    const dir = `${ctx.scratch.dir}/${spec.key}-${rep}-tar`;
    const root = `${dir}/root`;
    await Deno.mkdir(root, { recursive: true });
    try {
      if (parentFile) await runTimed(["tar", "-xf", parentFile, "-C", root]);
      record(imp.tar, await runTimed(["tar", gz ? "-xzf" : "-xf", file, "-C", root]));
      if (spec.diff) {
        const args = ["-cf", `${dir}/out.tar`, "--no-recursion", "--verbatim-files-from", "-C", root];
        record(dif.tar, await runTimed(["tar", ...args, "-T", listFile]));
      }
    } catch (e) {
      imp.tar.error = errText(e);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  };

  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`${spec.key} (${spec.driver}) rep ${rep + 1}/${ctx.reps}`);
    for (const who of order(["ours", "go", "tar"] as const, rep)) {
      if (who === "tar") await tarRep(rep);
      else await oneTool(who, rep);
    }
  }
  await Deno.remove(listFile).catch(() => {});

  const common = { driver: spec.driver, entries: names.length };
  const targets = spec.targets ? { targetGo: 1.0, targetTar: 1.3 } : {};
  const rows: Row[] = [{
    key: spec.key,
    workload: `import-layer ${name}${parentFile ? ` on ${base(parentFile)}` : ""}`,
    ...common,
    bytes: size,
    ours: finish(imp.ours),
    go: finish(imp.go),
    tar: finish(imp.tar),
    ...targets,
    notes: gz ? ["tar: -xzf (gzip runs in a second process)"] : undefined,
  }];
  if (spec.diff) {
    rows.push({
      key: spec.key,
      workload: `diff ${name}`,
      ...common,
      bytes: size,
      ours: finish(dif.ours),
      go: finish(dif.go),
      tar: finish(dif.tar),
      ...targets,
      notes: notes.length ? notes : [ctx.quick ? "output size = input size" : "output = input (sha256)"],
    });
  }
  return rows;
}

/** The content workloads as selectable workloads. */
export const contentWorkloads: Workload[] = CONTENT_SPECS.map((spec) => ({
  key: spec.key,
  groups: ["content", spec.driver],
  describe: `import-layer${
    spec.diff ? " + diff" : ""
  } of ${spec.file}.tar on ${spec.driver}: ${spec.describe}`,
  unavailable(ctx) {
    if (!ctx.data[spec.file]) return `no ${spec.file} archive in ${ctx.data.dir}`;
    if (spec.parent && !ctx.data[spec.parent]) return `no ${spec.parent} archive in ${ctx.data.dir}`;
    return undefined;
  },
  run: (ctx) => runContent(ctx, spec),
}));
