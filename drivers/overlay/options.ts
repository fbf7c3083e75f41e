/**
 * Parsing of the overlay driver options (`overlay.mountopt=nodev`, ...), with the Go
 * 1.43 driver's key handling and error texts.
 *
 * @module
 */
import { DriverOptionError } from "../../store/errors.ts";
import { cleanPath } from "../../store/paths.ts";
import { goQuote } from "../../store/quote.ts";
import { parseBoolOption, ramInBytes } from "../options.ts";

/** The overlay driver's configuration after parsing. */
export interface OverlayOptions {
  /** `mountopt`: extra mount options, comma-separated (e.g. `nodev`). */
  mountOptions: string;
  /** `mount_program`: e.g. `/usr/bin/fuse-overlayfs`; empty for kernel overlay. */
  mountProgram: string;
  /** `skip_mount_home`: do not bind-mount the home onto itself. */
  skipMountHome: boolean;
  /** `ignore_chown_errors`: lchown failures during extraction are not fatal. */
  ignoreChownErrors: boolean;
  /** `force_mask`: permission mask for mount-program stores (null when unset). */
  forceMask: number | null;
  /** `imagestore` / `additionalimagestore`: additional read-only stores (graph roots). */
  imageStores: string[];
  /** `size`: project quota in bytes (0 = none). */
  quotaSize: number;
  /** `inodes`: project inode quota (0 = none). */
  quotaInodes: number;
}

/**
 * Parses driver options given as `[key, value]` pairs. Keys may carry the `overlay.`,
 * `overlay2.` or `.` prefix (Go strips it) and are case-insensitive; the store usually
 * passes them without the prefix. Unknown keys fail with Go's
 * `overlay: Unknown option overlay.KEY`.
 */
export function parseOverlayOptions(options: Array<[string, string]>): OverlayOptions {
  const o: OverlayOptions = {
    mountOptions: "",
    mountProgram: "",
    skipMountHome: false,
    ignoreChownErrors: false,
    forceMask: null,
    imageStores: [],
    quotaSize: 0,
    quotaInodes: 0,
  };
  for (const [key, val] of options) {
    let k = key.toLowerCase();
    for (const p of ["overlay.", "overlay2.", "."]) if (k.startsWith(p)) k = k.slice(p.length);
    switch (k) {
      case "override_kernel_check":
        // Accepted and ignored, as by Go.
        break;
      case "mountopt":
        o.mountOptions = val;
        break;
      case "size":
        o.quotaSize = ramInBytes(val);
        break;
      case "inodes": {
        const n = Number(val);
        if (!/^\d+$/.test(val) || !Number.isSafeInteger(n)) {
          throw new DriverOptionError(`strconv.ParseUint: parsing ${goQuote(val)}: invalid syntax`);
        }
        o.quotaInodes = n;
        break;
      }
      case "imagestore":
      case "additionalimagestore":
        if (val === "") break;
        for (let store of val.split(",")) {
          store = cleanPath(store);
          if (!store.startsWith("/")) {
            throw new DriverOptionError(
              `overlay: image path ${goQuote(store)} is not absolute.  Can not be relative`,
            );
          }
          o.imageStores.push(store);
        }
        break;
      case "mount_program":
        o.mountProgram = val;
        break;
      case "skip_mount_home":
        o.skipMountHome = parseBoolOption(val);
        break;
      case "ignore_chown_errors":
        o.ignoreChownErrors = parseBoolOption(val);
        break;
      case "force_mask": {
        let mask: number;
        if (val === "shared") mask = 0o755;
        else if (val === "private") mask = 0o700;
        else if (/^[+-]?[0-7]+$/.test(val) && Math.abs(parseInt(val, 8)) < 2 ** 31) mask = parseInt(val, 8);
        else if (/^[+-]?[0-7]+$/.test(val)) {
          throw new DriverOptionError(`strconv.ParseInt: parsing ${goQuote(val)}: value out of range`);
        } else throw new DriverOptionError(`strconv.ParseInt: parsing ${goQuote(val)}: invalid syntax`);
        o.forceMask = mask;
        break;
      }
      default:
        throw new DriverOptionError(`overlay: Unknown option ${key.includes(".") ? key : `overlay.${key}`}`);
    }
  }
  return o;
}
