/**
 * Options of the btrfs driver as Go's driver accepts them: the driver option
 * `btrfs.min_space` (turns quota groups on, and is the least per-layer `size`) and the
 * per-layer storage option `size` (a qgroup limit on the layer's subvolume).
 *
 * @module
 */
import { DriverOptionError } from "../../store/errors.ts";
import { ramInBytes } from "../options.ts";

/** Parsed btrfs driver options. */
export interface BtrfsOptions {
  /** Least per-layer `size` in bytes (`btrfs.min_space`); 0 when unset. */
  minSpace: number;
  /** Whether `btrfs.min_space` was given: quotas are enabled when the driver starts. */
  userDiskQuota: boolean;
}

/**
 * Parses driver options as Go's btrfs driver does: keys are case-insensitive and must
 * carry the `btrfs.` prefix (Go gets them verbatim from storage.conf and --storage-opt).
 */
export function parseBtrfsOptions(options: Array<[string, string]>): BtrfsOptions {
  const out: BtrfsOptions = { minSpace: 0, userDiskQuota: false };
  for (const [rawKey, value] of options) {
    const key = rawKey.toLowerCase();
    switch (key) {
      case "btrfs.min_space":
        out.minSpace = ramInBytes(value);
        out.userDiskQuota = true;
        break;
      case "btrfs.mountopt":
        throw new DriverOptionError("btrfs driver does not support mount options");
      default:
        throw new DriverOptionError(`unknown option ${key}`);
    }
  }
  return out;
}

/**
 * The per-layer quota from a layer's storage options, or null when there is no `size`
 * key (Go looks at the others only when `size` is present, and then rejects them).
 */
export function parseLayerSize(storageOpt: Record<string, string> | undefined): number | null {
  if (!storageOpt || !Object.hasOwn(storageOpt, "size")) return null;
  let size = 0;
  for (const [rawKey, value] of Object.entries(storageOpt)) {
    const key = rawKey.toLowerCase();
    if (key !== "size") throw new DriverOptionError(`unknown option ${key}`);
    size = ramInBytes(value);
  }
  return size;
}

/** docker/go-units HumanSize: decimal units, 4 significant digits (`10.49MB`, `0B`). */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(4))}${units[i]}`;
}
