/**
 * Importing this module registers every driver with drivers/driver.ts, so that the store
 * can look drivers up by name (`driverFactory("vfs")`). Each driver's module is loaded
 * only when its factory is first called: a command pays the load of the driver it uses,
 * not of all of them (~15 ms at startup otherwise). A driver module that registers itself
 * when loaded replaces its lazy entry with the real factory.
 *
 * @module
 */
import { type DriverFactory, driverFactory, registerDriver } from "./driver.ts";

function registerLazy(name: string, load: () => Promise<DriverFactory>): void {
  if (driverFactory(name)) return; // already loaded (and registered) by an import elsewhere
  registerDriver(name, async (init) => (await load())(init));
}

registerLazy("vfs", async () => (await import("./vfs.ts")).createVfsDriver);
registerLazy("overlay", async () => (await import("./overlay/overlay.ts")).createOverlayDriver);
registerLazy("btrfs", async () => (await import("./btrfs/btrfs.ts")).createBtrfsDriver);
