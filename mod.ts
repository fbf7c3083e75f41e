/**
 * containers-storage for Deno: the store of layers, images and containers used by
 * podman, buildah, skopeo and CRI-O, reimplemented in TypeScript with the same
 * files on disk and the same locks, so that Go and Deno processes share one store.
 *
 * @module
 */
export * from "./store/errors.ts";
export * from "./store/types.ts";
export type { Driver, DriverFactory, DriverInit } from "./drivers/driver.ts";
export { loadStoreOptions } from "./store/config.ts";
export type { ConfigLogEntry, LoadedConfig, LoadOptions } from "./store/config.ts";
export { parseIDMap, subIDMappings, toContainer, toHost } from "./store/idmap.ts";
export { encodeContainer, encodeImage, encodeLayer } from "./store/json.ts";
export { tarDirectory } from "./archive/tar_dir.ts";
export type { TarDirOptions } from "./archive/tar_dir.ts";
export type { ExtractOptions } from "./archive/extract.ts";
export { TarWriter } from "./archive/tar_writer.ts";
export { fileSource, readerStream } from "./archive/source.ts";
export type { AsyncByteReader } from "./archive/source.ts";
export { openStore } from "./store/store.ts";
export { isValidDigest, validateDigest } from "./store/digest.ts";
export type { ImportOptions, ImportResult, LayerProgress } from "./image/import.ts";
export type { ExportOptions, ExportResult } from "./image/export.ts";
export { normalizeName } from "./image/names.ts";
export {
  BlobSizeMismatchError,
  BlobUnknownError,
  DigestMismatchError,
  ImageChoiceError,
  ImageReferenceError,
  ManifestError,
} from "./image/errors.ts";
export type { ExtraFields } from "./store/json.ts";

// The image and extraction code is loaded when first used, not with this module: every CLI
// call imports mod.ts, and most never touch an image archive or extract a tar here.

type ExtractModule = typeof import("./archive/extract.ts");
type ImportModule = typeof import("./image/import.ts");
type ExportModule = typeof import("./image/export.ts");

/** Extracts a tar stream under `root` (see archive/extract.ts `extractTar`). */
export async function extractTar(
  ...args: Parameters<ExtractModule["extractTar"]>
): ReturnType<ExtractModule["extractTar"]> {
  return await (await import("./archive/extract.ts")).extractTar(...args);
}

/** Imports an image from an OCI layout or archive, or a docker archive (see image/import.ts). */
export async function importImage(
  ...args: Parameters<ImportModule["importImage"]>
): ReturnType<ImportModule["importImage"]> {
  return await (await import("./image/import.ts")).importImage(...args);
}

/** Exports an image to an OCI layout or archive (see image/export.ts). */
export async function exportImage(
  ...args: Parameters<ExportModule["exportImage"]>
): ReturnType<ExportModule["exportImage"]> {
  return await (await import("./image/export.ts")).exportImage(...args);
}
