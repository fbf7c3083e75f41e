/**
 * Test helper over sys/: the end of every mount a test left below its temp directory
 * (overlay merges, Go's private bind mount of a driver home, bind mounts of a test).
 * Not part of the library.
 *
 * @module
 */
import { MNT_DETACH, mountsUnder, umount2 } from "./mount.ts";

/** Lazily unmounts every mount at or below `dir`, latest first; mounts already gone are skipped. */
export function detachAll(dir: string): void {
  for (const m of mountsUnder(dir)) {
    try {
      umount2(m.mountPoint, MNT_DETACH);
    } catch { /* already gone (a parent's lazy unmount took it) */ }
  }
}
