/**
 * The driver-independent CLI tests (tests/cli_objects_test.ts, cli_content_test.ts and the
 * Go-differential cli_go_diff_test.ts) run again with `--storage-driver btrfs`, their temp
 * stores on a loop-mounted btrfs: TMPDIR points into it until the last test. `rerunOn`
 * registers only their per-driver tests, for btrfs (the others run from their own files).
 * The last test tears the filesystem down; an unload handler does it too if loading
 * failed halfway.
 */
import { openScratchBtrfs } from "../drivers/btrfs/testutil.ts";
import { rerunOn } from "./cli_helpers.ts";

const scratch = openScratchBtrfs(1024);
globalThis.addEventListener("unload", () => scratch.closeSync());

const oldTmp = Deno.env.get("TMPDIR");
Deno.env.set("TMPDIR", scratch.mnt);
await rerunOn("btrfs", async () => {
  await import("./cli_objects_test.ts");
  await import("./cli_content_test.ts");
  await import("./cli_go_diff_test.ts");
});

Deno.test("btrfs CLI tests: the scratch filesystem is torn down (no mount, no loop device left)", async () => {
  const { mnt, device } = scratch;
  // The tests above made their temp stores under TMPDIR when they ran: restore it only now.
  if (oldTmp === undefined) Deno.env.delete("TMPDIR");
  else Deno.env.set("TMPDIR", oldTmp);
  await scratch.close();
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  if (mounts.includes(` ${mnt} `) || mounts.includes(` ${mnt}/`)) throw new Error(`${mnt} still mounted`);
  const loops = new TextDecoder().decode(
    (await new Deno.Command("losetup", { args: ["-a"], stdout: "piped" }).output()).stdout,
  );
  if (loops.split("\n").some((l) => l.startsWith(`${device}:`) && l.includes(scratch.dir))) {
    throw new Error(`${device} still attached`);
  }
});
