/**
 * What layers, images and containers have in common: IDs (generation, validation,
 * lookup by ID, name or unique prefix), names (deduplication, moving), creation
 * timestamps with nanoseconds, and big-data files (key → file name, atomic storage).
 *
 * @module
 */
import { InvalidBigDataNameError, InvalidIDError } from "./errors.ts";
import { writeFileAtomic } from "./atomic.ts";

// ---------------------------------------------------------------- IDs

const ALL_DIGITS_12 = /^[0-9]{12}/;

/**
 * A new random ID: 32 random bytes as 64 lowercase hex characters, drawn again while the
 * first 12 characters are all decimal digits (they would read as a number) or `taken`
 * says the ID is in use.
 */
export function generateId(taken: (id: string) => boolean = () => false): string {
  const bytes = new Uint8Array(32);
  for (;;) {
    crypto.getRandomValues(bytes);
    let id = "";
    for (const b of bytes) id += (b < 16 ? "0" : "") + b.toString(16);
    if (ALL_DIGITS_12.test(id) || taken(id)) continue;
    return id;
  }
}

/**
 * Checks a caller-given ID. Any string that is a valid single path component is accepted
 * (Go's tool accepts `abc`), but not one that is empty, `.`, `..`, contains `/`, NUL or
 * whitespace (such IDs break directory names and prefix lookups).
 */
export function validateId(id: string): void {
  let why = "";
  if (id === "") why = "empty ID";
  else if (id === "." || id === "..") why = `ID ${JSON.stringify(id)} is not a valid path component`;
  else if (id.includes("/")) why = `ID ${JSON.stringify(id)} contains "/"`;
  else if (/[\s\0]/.test(id)) why = `ID ${JSON.stringify(id)} contains whitespace or NUL`;
  else if (new TextEncoder().encode(id).length > 200) why = `ID ${JSON.stringify(id)} is too long`;
  if (why) throw new InvalidIDError(why);
}

// ---------------------------------------------------------------- names

/** Drops repeated names, keeping the first occurrence (Go's dedupeNames). */
export function dedupeNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of names) {
    if (!seen.has(n)) {
      seen.add(n);
      out.push(n);
    }
  }
  return out;
}

/** How a names request combines with the current names. */
export type NameOperation = "set" | "add" | "remove";

/**
 * The names an item ends up with (Go's applyNameOperation, HEAD semantics: `add` puts
 * the new names first, then the old ones).
 */
export function applyNameOperation(
  old: readonly string[],
  given: readonly string[],
  op: NameOperation,
): string[] {
  switch (op) {
    case "set":
      return dedupeNames(given);
    case "add":
      return dedupeNames([...given, ...old]);
    case "remove": {
      const drop = new Set(given);
      return dedupeNames(old.filter((n) => !drop.has(n)));
    }
  }
}

/** Something with an ID and names, indexable by RecordIndex. */
export interface Named {
  /** Unique ID. */
  id: string;
  /** Unique names. */
  names: string[];
}

/**
 * Lookup tables over a list of records in store order: by ID, by name, and by unique ID
 * prefix (the ID index of Go's truncindex). The list is the source of truth; the maps
 * are rebuilt by `rebuild()` or kept in step by the mutators.
 */
export class RecordIndex<T extends Named> {
  /** Records in store order (creation order). */
  list: T[] = [];
  /** ID → record. */
  readonly byId = new Map<string, T>();
  /** Name → record. */
  readonly byName = new Map<string, T>();

  /**
   * Replaces the content. When two records carry the same name, the later one keeps it
   * and the name is removed from the earlier one (as Go does at load). Returns whether
   * some name had to be removed (the caller then saves, if it may).
   */
  reset(records: T[]): boolean {
    this.list = records;
    this.byId.clear();
    this.byName.clear();
    let fixed = false;
    for (const r of records) {
      this.byId.set(r.id, r);
      for (const n of r.names) {
        const other = this.byName.get(n);
        if (other && other !== r) {
          other.names = other.names.filter((x) => x !== n);
          fixed = true;
        }
        this.byName.set(n, r);
      }
    }
    return fixed;
  }

  /** Appends a record whose ID and names were checked to be free. */
  add(r: T): void {
    this.list.push(r);
    this.byId.set(r.id, r);
    for (const n of r.names) this.byName.set(n, r);
  }

  /** Removes a record and its names. */
  remove(r: T): void {
    const i = this.list.indexOf(r);
    if (i >= 0) this.list.splice(i, 1);
    if (this.byId.get(r.id) === r) this.byId.delete(r.id);
    for (const n of r.names) if (this.byName.get(n) === r) this.byName.delete(n);
  }

  /** Gives `r` the names `names`, taking each one away from whichever other record holds it. */
  setNames(r: T, names: string[]): void {
    for (const n of r.names) if (this.byName.get(n) === r) this.byName.delete(n);
    for (const n of names) {
      const other = this.byName.get(n);
      if (other && other !== r) other.names = other.names.filter((x) => x !== n);
      this.byName.set(n, r);
    }
    r.names = names;
  }

  /** The record whose ID starts with `prefix`, when exactly one does. */
  byPrefix(prefix: string): T | undefined {
    if (prefix === "") return undefined;
    let found: T | undefined;
    for (const r of this.list) {
      if (r.id.startsWith(prefix)) {
        if (found) return undefined;
        found = r;
      }
    }
    return found;
  }

  /** Resolves exact ID, then name, then unique ID prefix. */
  lookup(ref: string): T | undefined {
    return this.byId.get(ref) ?? this.byName.get(ref) ?? this.byPrefix(ref);
  }
}

// ---------------------------------------------------------------- time

// Wall clock with sub-millisecond resolution: JS Date has milliseconds only, so anchor the
// monotonic clock (performance.now, ~100 ns steps) to the wall clock once and add the
// elapsed time. (Not process.hrtime: node:process would boot the Node layer at startup.)
const wallAnchorNs = BigInt(Date.now()) * 1_000_000n;
const hrAnchor = performance.now();
let lastNs = 0n;

/** Current Unix time in nanoseconds (strictly increasing within this process). */
export function nowNs(): bigint {
  let ns = wallAnchorNs + BigInt(Math.round((performance.now() - hrAnchor) * 1e6));
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

/** Formats Unix nanoseconds as Go's RFC 3339 with nanoseconds in UTC, trailing zeros trimmed. */
export function formatTimestamp(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const d = new Date(Number(ms));
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  let frac = String(ns % 1_000_000_000n).padStart(9, "0").replace(/0+$/, "");
  if (frac) frac = "." + frac;
  return base + frac + "Z";
}

/** The `created` value for a record made now. */
export function nowTimestamp(): string {
  return formatTimestamp(nowNs());
}

/** Parses an RFC 3339 timestamp into Unix nanoseconds (for ordering); NaN-safe: returns 0n on junk. */
export function parseTimestampNs(s: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|([+-])(\d{2}):(\d{2}))$/
    .exec(s);
  if (!m) return 0n;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  let ns = BigInt(ms) * 1_000_000n;
  if (m[7]) ns += BigInt(m[7].slice(0, 9).padEnd(9, "0"));
  if (m[9]) {
    const off = (BigInt(+m[10]) * 60n + BigInt(+m[11])) * 60_000_000_000n;
    ns += m[9] === "+" ? -off : off;
  }
  return ns;
}

// ---------------------------------------------------------------- big data

const PLAIN_KEY = /^[.0-9a-z]+$/;

/**
 * The file name of a big-data key: the key itself when made only of `.`, `0-9`, `a-z`,
 * else `=` + standard base64 of its UTF-8 bytes. Go joins the name with path cleaning,
 * which drops a trailing `/` of the encoding (key `???` → `=Pz8`); that is reproduced.
 * Keys Go cannot store (empty, `.`, `..`, an encoding with `/` inside) are refused.
 */
export function bigDataFileName(key: string, kind: "layer" | "image" | "container"): string {
  if (key === "") throw new InvalidBigDataNameError(`can't set empty name for ${kind} big data item`);
  if (PLAIN_KEY.test(key)) {
    if (key === "." || key === "..") {
      throw new InvalidBigDataNameError(
        `big data key ${JSON.stringify(key)} of ${kind} cannot be stored as a file`,
      );
    }
    return key;
  }
  let name = "=" + new TextEncoder().encode(key).toBase64();
  if (name.endsWith("/")) name = name.slice(0, -1);
  if (name.includes("/")) {
    throw new InvalidBigDataNameError(
      `big data key ${JSON.stringify(key)} of ${kind} cannot be stored: its file name ${
        JSON.stringify(name)
      } contains "/"`,
    );
  }
  return name;
}

/** Writes a big-data file atomically (0600) in `dir`, creating `dir` (0700) if needed. */
export async function writeBigDataFile(
  dir: string,
  key: string,
  kind: "layer" | "image" | "container",
  data: Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const name = bigDataFileName(key, kind);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(`${dir}/${name}`, data, { mode: 0o600 });
}

/** The big-data bookkeeping of images and containers. */
export interface BigDataRecord {
  /** Keys in first-set order. */
  bigDataNames: string[];
  /** Key → size in bytes. */
  bigDataSizes: Record<string, number>;
  /** Key → digest. */
  bigDataDigests: Record<string, string>;
}

/**
 * Records a stored item's size and digest on its record (new objects, so that copies
 * handed out earlier keep theirs); returns whether the record changed and needs saving.
 */
export function noteBigData(r: BigDataRecord, key: string, size: number, digest: string): boolean {
  let changed = r.bigDataSizes[key] !== size || r.bigDataDigests[key] !== digest;
  r.bigDataSizes = { ...r.bigDataSizes, [key]: size };
  r.bigDataDigests = { ...r.bigDataDigests, [key]: digest };
  if (!r.bigDataNames.includes(key)) {
    r.bigDataNames = [...r.bigDataNames, key];
    changed = true;
  }
  return changed;
}

/** Path of a big-data file; null when the key cannot name a file. */
export function bigDataPath(dir: string, key: string, kind: "layer" | "image" | "container"): string | null {
  try {
    return `${dir}/${bigDataFileName(key, kind)}`;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- misc

/**
 * Deep copy of plain JSON-like data (records handed to callers must not alias the store's).
 * Arrays and plain objects are copied here, which is faster than a structuredClone call
 * per record (an op that serializes and deserializes); anything else is structuredCloned.
 */
export function clone<T>(v: T): T {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clone(v[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) out[keys[i]] = clone((v as Record<string, unknown>)[keys[i]]);
  return out as T;
}

/** Reads a file, returning null when it does not exist. */
export async function readFileOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Synchronous readFileOrNull, for the small state files read at every command's start
 * (an async read is a round trip through Deno's thread pool).
 */
export function readFileOrNullSync(path: string): Uint8Array | null {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Removes a path recursively; a missing path is fine. */
export async function removeAll(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
