/**
 * Child-process half of the relative-path overlay mount (Go's `mountfrom` re-exec):
 * started with its working directory set to the driver home, it calls mount(2) with
 * paths relative to it, so that deep layer chains fit in one page of mount options.
 *
 * Usage: `deno run -A mount_helper.ts TARGET FLAGS DATA`.
 *
 * @module
 */
import { mount } from "../../sys/mount.ts";

if (import.meta.main) {
  const [target, flags, data] = Deno.args;
  try {
    mount("overlay", target, "overlay", Number(flags), data);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(1);
  }
}
