/**
 * Importing this module registers every driver with drivers/driver.ts, so that the store
 * can look drivers up by name (`driverFactory("vfs")`).
 *
 * @module
 */
import { registerDriver } from "./driver.ts";
import { createVfsDriver } from "./vfs.ts";

registerDriver("vfs", createVfsDriver);
import "./overlay/overlay.ts"; // registers "overlay"
import "./btrfs/btrfs.ts"; // registers "btrfs"
