/**
 * Collects the sorted unique UIDs and GIDs of a tar's headers (layers.json `uidset` /
 * `gidset`), skipping entries whose base name starts with `.wh.` as Go does.
 *
 * @module
 */
import type { TarHeader, TarObserver } from "./types.ts";

/** A TarObserver gathering owner IDs. */
export class IDSetCollector implements TarObserver {
  private readonly uids = new Set<number>();
  private readonly gids = new Set<number>();

  entry(h: TarHeader): void {
    const n = h.name;
    const end = n.endsWith("/") ? n.length - 1 : n.length;
    const slash = n.lastIndexOf("/", end - 1);
    if (n.startsWith(".wh.", slash + 1)) return;
    this.uids.add(h.uid);
    this.gids.add(h.gid);
  }

  /** Sorted unique UIDs seen. */
  uidSet(): number[] {
    return [...this.uids].sort((a, b) => a - b);
  }

  /** Sorted unique GIDs seen. */
  gidSet(): number[] {
    return [...this.gids].sort((a, b) => a - b);
  }
}
