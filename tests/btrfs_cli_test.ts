/**
 * The driver-independent CLI tests (tests/cli_objects_test.ts, cli_content_test.ts and the
 * Go-differential cli_go_diff_test.ts) run again with `--storage-driver btrfs`, their temp
 * stores on a loop-mounted btrfs: TMPDIR points into it until the last test, and
 * CLI_TEST_DRIVERS is `btrfs` while those modules load. Only their btrfs tests are registered here (the others run
 * from their own files). The last test tears the filesystem down; an unload handler does
 * it too if loading failed halfway.
 */
import { openScratchBtrfs } from "../drivers/btrfs/testutil.ts";

const scratch = openScratchBtrfs(1024);
globalThis.addEventListener("unload", () => scratch.closeSync());

const realTest = Deno.test;
const oldTmp = Deno.env.get("TMPDIR");
const oldDrivers = Deno.env.get("CLI_TEST_DRIVERS");
try {
  Deno.env.set("TMPDIR", scratch.mnt);
  Deno.env.set("CLI_TEST_DRIVERS", "btrfs");
  // Keep only the tests these modules register for btrfs.
  const filtered = (...args: unknown[]) => {
    const a0 = args[0] as string | { name?: string; fn?: { name?: string } } | ((...x: unknown[]) => unknown);
    const name = typeof a0 === "string"
      ? a0
      : typeof a0 === "function"
      ? a0.name
      : a0.name ?? a0.fn?.name ?? "";
    if (/btrfs/.test(name)) (realTest as (...x: unknown[]) => void)(...args);
  };
  Object.defineProperty(Deno, "test", { value: Object.assign(filtered, realTest), configurable: true });
  await import("./cli_objects_test.ts");
  await import("./cli_content_test.ts");
  await import("./cli_go_diff_test.ts");
} finally {
  Object.defineProperty(Deno, "test", { value: realTest, configurable: true });
  if (oldDrivers === undefined) Deno.env.delete("CLI_TEST_DRIVERS");
  else Deno.env.set("CLI_TEST_DRIVERS", oldDrivers);
}

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
