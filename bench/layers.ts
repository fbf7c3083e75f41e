/**
 * Workloads on layer and container records rather than on content: process startup
 * (`version`), creating layers on a chain, mount plus unmount of a layer 50 parents deep on
 * overlay, and creating a container from an image (overlay and vfs).
 *
 * @module
 */
import {
  type BenchContext,
  errText,
  finish,
  newStore,
  order,
  record,
  type Row,
  type Sample,
  sample,
  type Workload,
} from "./context.ts";
import { type BenchStore, mountsBelow, runTimed, type ToolName } from "./exec.ts";

const TOOLS: ToolName[] = ["ours", "go"];

/** Repetitions for the sub-second commands: more of them, they are cheap. */
function quickReps(ctx: BenchContext): number {
  return Math.max(ctx.reps, ctx.quick ? 5 : 20);
}

/** `version`: the cost of starting the program, paid by every command. */
export const startupWorkload: Workload = {
  key: "startup",
  groups: [],
  describe: "`version`: process startup and opening the store (deno run vs a Go binary)",
  unavailable: () => undefined,
  async run(ctx) {
    const s: Record<ToolName, Sample> = { ours: sample(), go: sample() };
    const n = quickReps(ctx);
    ctx.log(`startup x${n}`);
    for (const tool of TOOLS) await runTimed([...ctx.tools[tool].argv, "version"], { env: ctx.env });
    for (let rep = 0; rep < n; rep++) {
      for (const tool of order(TOOLS, rep)) {
        if (s[tool].error) continue;
        try {
          record(s[tool], await runTimed([...ctx.tools[tool].argv, "version"], { env: ctx.env }));
        } catch (e) {
          s[tool].error = errText(e);
        }
      }
    }
    return [{
      key: "startup",
      workload: "version (startup + store open)",
      ours: finish(s.ours),
      go: finish(s.go),
    }];
  },
};

const DEPTH = 50;

/** Builds a chain of `DEPTH` empty layers, timing each create-layer; returns the top ID. */
async function chain(store: BenchStore, s: Sample): Promise<string> {
  let parent: string[] = [];
  let id = "";
  for (let i = 0; i < DEPTH; i++) {
    const r = await store.id(["create-layer", ...parent]);
    record(s, r.t);
    id = r.id;
    parent = [id];
  }
  return id;
}

/** mount + unmount of the top of a 50-layer chain on overlay. */
export const overlayMountWorkload: Workload = {
  key: "overlay-mount",
  groups: ["overlay"],
  describe: `overlay: create-layer x${DEPTH} (a chain), then mount + unmount of its top layer`,
  unavailable: () => undefined,
  async run(ctx) {
    const create = { ours: sample(), go: sample() };
    const mount = { ours: sample(), go: sample() };
    const unmount = { ours: sample(), go: sample() };
    const both = { ours: sample(), go: sample() };
    const stores: Partial<Record<ToolName, { store: BenchStore; top: string }>> = {};
    const notes: string[] = [];
    try {
      for (const tool of TOOLS) {
        ctx.log(`overlay-mount: ${tool} builds a ${DEPTH}-layer chain`);
        try {
          const store = await newStore(ctx, tool, "mount50", "overlay");
          stores[tool] = { store, top: "" };
          stores[tool]!.top = await chain(store, create[tool]);
          // Warm-up, untimed, for both tools alike.
          await store.cmd(["mount", stores[tool]!.top]);
          await store.cmd(["unmount", stores[tool]!.top]);
        } catch (e) {
          create[tool].error = mount[tool].error = errText(e);
          delete stores[tool];
        }
      }
      const n = quickReps(ctx);
      for (let rep = 0; rep < n; rep++) {
        for (const tool of order(TOOLS, rep)) {
          const st = stores[tool];
          if (!st || mount[tool].error) continue;
          try {
            const m = await st.store.cmd(["mount", st.top]);
            const mp = m.stdout.trim();
            if (!mountsBelow(mp).includes(mp)) {
              throw new Error(`${tool}: ${mp} is not a mount point after mount`);
            }
            const u = await st.store.cmd(["unmount", st.top]);
            if (mountsBelow(mp).includes(mp)) notes.push(`${tool}: still mounted after unmount`);
            record(mount[tool], m);
            record(unmount[tool], u);
            record(both[tool], m.ms + u.ms);
          } catch (e) {
            mount[tool].error = errText(e);
          }
        }
      }
    } finally {
      for (const st of Object.values(stores)) await st.store.destroy();
    }
    const row = (workload: string, s: typeof mount, target?: number): Row => ({
      key: "overlay-mount",
      workload,
      driver: "overlay",
      ours: finish(s.ours),
      go: finish(s.go),
      targetGo: target,
      notes: notes.length ? [...new Set(notes)] : undefined,
    });
    return [
      row(`create-layer on a chain (median of ${DEPTH})`, create),
      row(`mount, ${DEPTH} parents deep`, mount),
      row(`unmount, ${DEPTH} parents deep`, unmount),
      row(`mount + unmount, ${DEPTH} deep`, both, 1.0),
    ];
  },
};

function containerWorkload(driver: "overlay" | "vfs"): Workload {
  return {
    key: `${driver}-container`,
    groups: [driver],
    describe: `${driver}: create-container from an image of rootfs.tar (small.tar without a rootfs)`,
    unavailable: (ctx) => ctx.data.rootfs || ctx.data.small ? undefined : "no rootfs.tar nor small.tar",
    async run(ctx) {
      const file = ctx.data.rootfs ?? ctx.data.small!;
      const name = file.slice(file.lastIndexOf("/") + 1);
      const s = { ours: sample(), go: sample() };
      const stores: Partial<Record<ToolName, { store: BenchStore; image: string }>> = {};
      try {
        for (const tool of TOOLS) {
          ctx.log(`${driver}-container: ${tool} imports ${name} and makes an image`);
          try {
            const store = await newStore(ctx, tool, `${driver}-ctr`, driver);
            stores[tool] = { store, image: "" };
            const layer = (await store.id(["import-layer", "-f", file])).id;
            stores[tool]!.image = (await store.id(["create-image", layer])).id;
            await store.cmd(["create-container", stores[tool]!.image]); // warm-up
          } catch (e) {
            s[tool].error = errText(e);
            delete stores[tool];
          }
        }
        // vfs copies the whole image per container: fewer repetitions.
        const n = driver === "vfs" ? ctx.reps : quickReps(ctx);
        for (let rep = 0; rep < n; rep++) {
          for (const tool of order(TOOLS, rep)) {
            const st = stores[tool];
            if (!st || s[tool].error) continue;
            try {
              record(s[tool], (await st.store.id(["create-container", st.image])).t);
            } catch (e) {
              s[tool].error = errText(e);
            }
          }
        }
      } finally {
        for (const st of Object.values(stores)) await st.store.destroy();
      }
      return [{
        key: `${driver}-container`,
        workload: `create-container (image of ${name})`,
        driver,
        ours: finish(s.ours),
        go: finish(s.go),
        targetGo: driver === "overlay" ? 1.0 : undefined,
      }];
    },
  };
}

/** create-container on overlay (target ≤ 1.0) and on vfs (a full copy of the image). */
export const containerWorkloads: Workload[] = [containerWorkload("overlay"), containerWorkload("vfs")];
