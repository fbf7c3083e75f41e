/**
 * ID-mapped mounts of lower layers (on-disk.md 6.3), so that a container with a user
 * namespace can use the image's layers without an ID-mapped copy: a user namespace
 * carrying the container's maps is made by a short-lived `unshare -U` child, and a
 * clone of the directory holding the lowers is mounted with MOUNT_ATTR_IDMAP.
 *
 * @module
 */
import {
  closeQuiet,
  MOUNT_ATTR_IDMAP,
  mountSetattrFd,
  moveMountFd,
  OPEN_TREE_CLOEXEC,
  OPEN_TREE_CLONE,
  openTree,
} from "../../sys/newmount_overlay.ts";
import { closeFd, O_CLOEXEC, O_RDONLY, openFd } from "../../sys/fs.ts";
import { StorageError } from "../../store/errors.ts";
import type { IDMap } from "../../store/types.ts";

/** A process living in a user namespace with given maps; `close()` ends it. */
export interface UsernsProcess {
  /** Its PID (`/proc/PID/ns/user` names the namespace). */
  pid: number;
  /** Ends the process. */
  close(): Promise<void>;
}

function mapText(maps: IDMap[]): string {
  return maps.map((m) => `${m.containerId} ${m.hostId} ${m.size}\n`).join("");
}

/**
 * Starts `unshare -U` waiting on its stdin, writes the maps into its `uid_map` and
 * `gid_map` (as root, from outside the namespace) and returns it (Go's
 * CreateUsernsProcess).
 */
export async function createUsernsProcess(uidMap: IDMap[], gidMap: IDMap[]): Promise<UsernsProcess> {
  const child = new Deno.Command("unshare", {
    args: ["--user", "--", "/bin/sh", "-c", "echo ready; read x"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const close = async () => {
    try {
      await stdin.close();
    } catch { /* gone */ }
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await child.stdout.cancel().catch(() => {});
  };
  try {
    // The namespace exists once the shell runs.
    const reader = child.stdout.getReader();
    const first = await reader.read();
    reader.releaseLock();
    if (first.done) throw new StorageError("unshare --user exited before creating the user namespace");
    Deno.writeTextFileSync(`/proc/${child.pid}/uid_map`, mapText(uidMap));
    Deno.writeTextFileSync(`/proc/${child.pid}/gid_map`, mapText(gidMap));
  } catch (err) {
    await close();
    throw err;
  }
  return { pid: child.pid, close };
}

/** Mounts a clone of `source` at `target` (created 0700) with the user namespace of `pid`'s mapping. */
export function createIDMappedMount(source: string, target: string, pid: number): void {
  const ns = openFd(`/proc/${pid}/ns/user`, O_RDONLY | O_CLOEXEC);
  try {
    const tree = openTree(source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    try {
      mountSetattrFd(tree, MOUNT_ATTR_IDMAP, 0, ns, true);
      try {
        Deno.mkdirSync(target, { mode: 0o700 });
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
      moveMountFd(tree, target);
    } finally {
      closeQuiet(tree);
    }
  } finally {
    closeFd(ns);
  }
}

/**
 * The directory whose idmapped clone serves `lower` (Go's getMappedMountRoot): the
 * driver home for `HOME/l/LINK`, else the lower's parent directory.
 */
export function mappedMountRoot(lower: string): string {
  const dir = lower.slice(0, lower.lastIndexOf("/"));
  if (dir.endsWith("/l")) return dir.slice(0, -2);
  return dir;
}
