/**
 * All system-call wrappers of the project (the only FFI). Import from here or from the
 * individual modules.
 *
 * @module
 */
export * from "./errno.ts";
export * from "./fs.ts";
export * from "./xattr.ts";
export * from "./mount.ts";
export * from "./statfs.ts";
export * from "./copy.ts";
export * from "./lock.ts";
