/**
 * ID mappings: parsing `C:H:N[:C:H:N...]` specs, `/etc/subuid`/`/etc/subgid` ranges,
 * translating IDs between container and host, and validation. Pure helpers, cheap
 * enough to call per tar entry. An empty map list means "no mapping" (identity), as in Go.
 *
 * @module
 */
import { IDMapError } from "./errors.ts";
import { goQuote, goQuoteList } from "./quote.ts";
import { osErrorText } from "../sys/errno.ts";
import type { IDMap } from "./types.ts";

/** Largest valid ID (uint32). */
export const MAX_ID = 0xffffffff;
/** The overflow ID the kernel shows for unmappable IDs (`nobody`/`nogroup`). */
export const OVERFLOW_ID = 65534;

const UINT = /^[0-9]+$/;
function parseUint32(s: string): number | null {
  if (!UINT.test(s)) return null;
  const n = Number(s);
  return n <= MAX_ID ? n : null;
}

/**
 * Parses `C:H:N` triples chained with `:` (`0:100000:65536:65536:200000:10`). Several
 * specs may be given (empty ones are skipped). `kind` names the setting in errors (`uid`,
 * `gid`, or a config key such as `remap-uids`). Malformed input throws IDMapError with
 * Go's text: `initializing ID mappings: uid setting is malformed expected
 * ["uint32:uint32:uint32"]: ["bogus"]`. Overlaps are not checked here (Go does not);
 * see `validateIDMap`.
 */
export function parseIDMap(spec: string | string[], kind: string): IDMap[] {
  const specs = typeof spec === "string" ? [spec] : spec;
  const out: IDMap[] = [];
  const fail = () =>
    new IDMapError(
      `initializing ID mappings: ${kind} setting is malformed expected ["uint32:uint32:uint32"]: ${
        goQuoteList(specs)
      }`,
    );
  for (const one of specs) {
    if (one === "") continue;
    const parts = one.split(":");
    if (parts.length % 3 !== 0) throw fail();
    for (let i = 0; i < parts.length; i += 3) {
      const c = parseUint32(parts[i]), h = parseUint32(parts[i + 1]), n = parseUint32(parts[i + 2]);
      if (c === null || h === null || n === null) throw fail();
      out.push({ containerId: c, hostId: h, size: n });
    }
  }
  return out;
}

/** Renders maps back to `C:H:N[:C:H:N...]`. */
export function formatIDMap(maps: readonly IDMap[]): string {
  return maps.map((m) => `${m.containerId}:${m.hostId}:${m.size}`).join(":");
}

/**
 * Checks that every range is non-empty and stays below 2^32-1 on both sides and that no
 * two ranges overlap on the container side or on the host side. Throws IDMapError.
 */
export function validateIDMap(maps: readonly IDMap[], kind: "uid" | "gid"): void {
  for (const m of maps) {
    for (const [k, v] of [["container", m.containerId], ["host", m.hostId], ["size", m.size]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > MAX_ID) {
        throw new IDMapError(`invalid ${kind} mapping ${formatIDMap([m])}: ${k} ID ${v} is not a uint32`);
      }
    }
    if (m.size === 0) throw new IDMapError(`invalid ${kind} mapping ${formatIDMap([m])}: empty range`);
    // 2^32-1 is (uid_t)-1, never a valid ID: the kernel refuses ranges reaching it.
    if (m.containerId + m.size > MAX_ID || m.hostId + m.size > MAX_ID) {
      throw new IDMapError(`invalid ${kind} mapping ${formatIDMap([m])}: range goes beyond ${MAX_ID - 1}`);
    }
  }
  for (const side of ["containerId", "hostId"] as const) {
    const sorted = [...maps].sort((a, b) => a[side] - b[side]);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (prev[side] + prev.size > sorted[i][side]) {
        const where = side === "containerId" ? "container" : "host";
        throw new IDMapError(
          `invalid ${kind} mapping: ${where} ranges ${formatIDMap([prev])} and ${
            formatIDMap([sorted[i]])
          } overlap`,
        );
      }
    }
  }
}

/** Host ID for a container ID; identity when `maps` is empty. Throws IDMapError when unmappable. */
export function toHost(maps: readonly IDMap[] | null | undefined, id: number): number {
  const host = tryToHost(maps, id, NaN);
  if (Number.isNaN(host)) throw new IDMapError(`container ID ${id} cannot be mapped to a host ID`);
  return host;
}

/** Container ID for a host ID; identity when `maps` is empty. Throws IDMapError when unmappable. */
export function toContainer(maps: readonly IDMap[] | null | undefined, id: number): number {
  const container = tryToContainer(maps, id, NaN);
  if (Number.isNaN(container)) throw new IDMapError(`host ID ${id} cannot be mapped to a container ID`);
  return container;
}

/** Like toHost but returns `fallback` (default: -1) instead of throwing. */
export function tryToHost(maps: readonly IDMap[] | null | undefined, id: number, fallback = -1): number {
  if (!maps || maps.length === 0) return id;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    const d = id - m.containerId;
    if (d >= 0 && d < m.size) return m.hostId + d;
  }
  return fallback;
}

/** Like toContainer but returns `fallback` (default: -1) instead of throwing. */
export function tryToContainer(maps: readonly IDMap[] | null | undefined, id: number, fallback = -1): number {
  if (!maps || maps.length === 0) return id;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    const d = id - m.hostId;
    if (d >= 0 && d < m.size) return m.containerId + d;
  }
  return fallback;
}

/**
 * The host UID/GID owning a layer's root: for a single map of size 1 its host ID,
 * otherwise the host ID of container ID 0 (Go's GetRootUIDGID). Throws IDMapError.
 */
export function rootPair(
  uidMap: readonly IDMap[] | null | undefined,
  gidMap: readonly IDMap[] | null | undefined,
): { uid: number; gid: number } {
  const root = (maps: readonly IDMap[] | null | undefined) =>
    maps && maps.length === 1 && maps[0].size === 1 ? maps[0].hostId : toHost(maps, 0);
  return { uid: root(uidMap), gid: root(gidMap) };
}

/** Exact equality of two map lists, order included (decides reuse of mapped layers). */
export function mapsEqual(
  a: readonly IDMap[] | null | undefined,
  b: readonly IDMap[] | null | undefined,
): boolean {
  const x = a ?? [], y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    if (x[i].containerId !== y[i].containerId || x[i].hostId !== y[i].hostId || x[i].size !== y[i].size) {
      return false;
    }
  }
  return true;
}

/** Deep copy (records must not share map arrays). */
export function copyIDMap(maps: readonly IDMap[] | null | undefined): IDMap[] {
  return (maps ?? []).map((m) => ({ containerId: m.containerId, hostId: m.hostId, size: m.size }));
}

/** One line of /etc/subuid or /etc/subgid. */
export interface SubIDRange {
  /** User/group name or numeric ID the range belongs to. */
  owner: string;
  /** First subordinate ID. */
  start: number;
  /** Number of IDs. */
  length: number;
}

/** Parses subuid/subgid text; `path` only words errors. */
export function parseSubIDFile(text: string, path: string): SubIDRange[] {
  const out: SubIDRange[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(":");
    if (parts.length !== 3) {
      throw new IDMapError(`cannot parse subuid/gid information: Format not correct for ${path} file`);
    }
    const start = Number(parts[1]), length = Number(parts[2]);
    if (!/^-?[0-9]+$/.test(parts[1]) || !/^-?[0-9]+$/.test(parts[2])) {
      throw new IDMapError(
        `string to int conversion failed during subuid/gid parsing of ${path}: ${
          !/^-?[0-9]+$/.test(parts[1]) ? parts[1] : parts[2]
        }`,
      );
    }
    out.push({ owner: parts[0], start, length });
  }
  return out;
}

/** Looks a name up in a passwd/group style file; returns [name, id] pairs matching either. */
function aliases(file: string, who: string): string[] {
  const names = [who];
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return names;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3) continue;
    if (f[0] === who && !names.includes(f[2])) names.push(f[2]);
    else if (f[2] === who && !names.includes(f[0])) names.push(f[0]);
  }
  return names;
}

/** Where subordinate IDs and account names are read from (overridable for tests). */
export interface SubIDFiles {
  /** Default `/etc/subuid`. */
  subuid?: string;
  /** Default `/etc/subgid`. */
  subgid?: string;
  /** Default `/etc/passwd` (name ↔ UID). */
  passwd?: string;
  /** Default `/etc/group` (name ↔ GID). */
  group?: string;
}

/**
 * The map for `who` (name or numeric ID) built from /etc/subuid (kind "uid") or
 * /etc/subgid (kind "gid"): ranges sorted by host start, container IDs from 0 up, as Go's
 * createIDMap. Throws IDMapError `no subuid ranges found for user "X" in /etc/subuid`.
 */
export function subIDMap(who: string, kind: "uid" | "gid", files: SubIDFiles = {}): IDMap[] {
  const path = kind === "uid" ? files.subuid ?? "/etc/subuid" : files.subgid ?? "/etc/subgid";
  const names = aliases(kind === "uid" ? files.passwd ?? "/etc/passwd" : files.group ?? "/etc/group", who);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    // Go returns the *os.PathError of the open.
    throw new IDMapError(`open ${path}: ${osErrorText(e)}`, undefined, { cause: e });
  }
  const ranges = parseSubIDFile(text, path).filter((r) => names.includes(r.owner) || r.owner === "ALL");
  if (ranges.length === 0) {
    const what = kind === "uid" ? "user" : "group";
    throw new IDMapError(`no sub${kind} ranges found for ${what} ${goQuote(who)} in ${path}`);
  }
  ranges.sort((a, b) => a.start - b.start);
  const out: IDMap[] = [];
  let next = 0;
  for (const r of ranges) {
    out.push({ containerId: next, hostId: r.start, size: r.length });
    next += r.length;
  }
  return out;
}

/** Both maps for a user and a group name (`--subuidmap`/`--subgidmap`). */
export function subIDMappings(
  user: string,
  group: string,
  files: SubIDFiles = {},
): { uidMap: IDMap[]; gidMap: IDMap[] } {
  return { uidMap: subIDMap(user, "uid", files), gidMap: subIDMap(group, "gid", files) };
}
