/**
 * The overlay driver's on-disk layout, byte-compatible with Go's: per-layer `diff/`,
 * `work/`, `merged/`, `empty/`, `link`, `lower`, the `l/` short-link directory and the
 * repair of lost links.
 *
 * @module
 */
import { lchown, lexists, lstatNs, statNs } from "../../sys/fs.ts";
import { isErrno } from "../../sys/errno.ts";
import { StorageError } from "../../store/errors.ts";

/** Name of the short-link directory inside the home. */
export const LINK_DIR = "l";
/** Go 1.43 refuses chains deeper than this (HEAD: 500); we accept HEAD's limit. */
export const MAX_DEPTH = 500;
/** Names in the home that are never layers. */
export const NOT_LAYERS = new Set([
  LINK_DIR,
  "staging",
  "tempdirs",
  "backingFsBlockDev",
  ".has-mount-program",
]);

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** A fresh link ID: standard base32 of 17 random bytes, cut to 26 characters (no padding). */
export function generateLinkID(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(17));
  let out = "";
  let acc = 0, bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out.slice(0, 26);
}

/** Reads a small text file, or null when it does not exist. */
export function readOptional(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return null;
    throw err;
  }
}

/** Plain (non-atomic) write with an exact mode, as Go writes `link` and `lower`. */
export function writePlain(path: string, text: string, mode = 0o644): void {
  Deno.writeFileSync(path, new TextEncoder().encode(text), { mode });
  Deno.chmodSync(path, mode);
}

/** mkdir with an exact mode (umask ignored) and owner; an existing dir is left alone when `mayExist`. */
export function mkdirAs(path: string, mode: number, uid: number, gid: number, mayExist = false): void {
  try {
    Deno.mkdirSync(path, { mode });
  } catch (err) {
    if (mayExist && err instanceof Deno.errors.AlreadyExists) return;
    throw err;
  }
  Deno.chmodSync(path, mode);
  const st = lstatNs(path);
  if (st.uid !== uid || st.gid !== gid) lchown(path, uid, gid);
}

/** `mkdir -p` creating missing components with `mode` (existing ones untouched). */
export function mkdirAllAs(path: string, mode: number, uid = 0, gid = 0): void {
  if (lexists(path)) return;
  const parent = path.slice(0, path.lastIndexOf("/")) || "/";
  if (parent !== path) mkdirAllAs(parent, mode, uid, gid);
  mkdirAs(path, mode, uid, gid, true);
}

/** True when `path` exists (following symlinks), false on ENOENT/ENOTDIR. */
export function exists(path: string): boolean {
  try {
    statNs(path);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return false;
    throw err;
  }
}

/** Splits a `lower` file's content into its `l/LINK` entries (empty entries dropped). */
export function splitLowers(text: string | null): string[] {
  if (!text) return [];
  return text.split(":").filter((s) => s !== "");
}

/** `diff`, `diff1`, `diff2`... */
export function diffName(n: number): string {
  return n === 0 ? "diff" : `diff${n}`;
}

/**
 * Repairs lost links the way Go's recreateSymlinks does: every layer directory's `link`
 * file gets its `l/` symlink back, `l/` entries whose target is not `../<id>/diff` are
 * dropped, and a layer's `link` file is rewritten from an `l/` entry that points at it.
 * Beyond Go, a layer that has neither gets a fresh link so that it can be used again.
 * Returns the problems found that could not be fixed (for the caller's error).
 */
export function recreateSymlinks(home: string): string[] {
  const linkDir = `${home}/${LINK_DIR}`;
  mkdirAllAs(linkDir, 0o755);
  const layerDirs: string[] = [];
  for (const e of Deno.readDirSync(home)) {
    if (!e.isDirectory || NOT_LAYERS.has(e.name)) continue;
    layerDirs.push(e.name);
  }
  let problems: string[] = [];
  for (let iteration = 0; iteration < 10; iteration++) {
    problems = [];
    let progress = false;
    // Each layer's link file → symlink.
    const linked = new Map<string, string>();
    for (const id of layerDirs) {
      if (!lexists(`${home}/${id}/diff`)) continue; // not a layer (e.g. a probe's scratch dir)
      const link = readOptional(`${home}/${id}/link`)?.trim();
      if (!link) {
        problems.push(`reading name of symlink for "${id}": missing link file`);
        continue;
      }
      linked.set(id, link);
      const lp = `${linkDir}/${link}`;
      if (!lexists(lp)) {
        Deno.symlinkSync(`../${id}/diff`, lp);
        progress = true;
      }
    }
    // Each symlink → its target layer's link file.
    const pointedAt = new Set<string>();
    for (const e of Deno.readDirSync(linkDir)) {
      let target: string;
      try {
        target = Deno.readLinkSync(`${linkDir}/${e.name}`);
      } catch (err) {
        problems.push(`readlink ${linkDir}/${e.name}: ${(err as Error).message}`);
        continue;
      }
      const parts = target.split("/");
      if (parts.length !== 3 || parts[0] !== ".." || parts[2] !== "diff") {
        problems.push(`link target of "${e.name}" looks weird: "${target}"`);
        Deno.removeSync(`${linkDir}/${e.name}`);
        progress = true;
        continue;
      }
      const targetID = parts[1];
      if (!lexists(`${home}/${targetID}`)) continue; // dangling: the layer is gone
      pointedAt.add(targetID);
      if (linked.get(targetID) !== e.name) {
        writePlain(`${home}/${targetID}/link`, e.name);
        linked.set(targetID, e.name);
        progress = true;
      }
    }
    // A layer with neither a link file nor a symlink gets a new link.
    for (const id of layerDirs) {
      if (!lexists(`${home}/${id}/diff`) || linked.has(id) || pointedAt.has(id)) continue;
      const link = generateLinkID();
      Deno.symlinkSync(`../${id}/diff`, `${linkDir}/${link}`);
      writePlain(`${home}/${id}/link`, link);
      progress = true;
    }
    if (!progress) return problems.filter((p) => !p.startsWith("reading name of symlink"));
  }
  throw new StorageError(`reached 10 iterations in overlay graph driver's recreateSymlink, giving up`);
}
