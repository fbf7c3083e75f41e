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
export { extractTar } from "./archive/extract.ts";
export type { ExtractOptions } from "./archive/extract.ts";
export { TarWriter } from "./archive/tar_writer.ts";
export { openStore } from "./store/store.ts";
export { isValidDigest, validateDigest } from "./store/digest.ts";
export { importImage } from "./image/import.ts";
export type { ImportOptions, ImportResult, LayerProgress } from "./image/import.ts";
export { exportImage } from "./image/export.ts";
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
