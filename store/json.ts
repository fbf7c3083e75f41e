/**
 * A JSON codec matching Go's `encoding/json` byte for byte for what the store writes:
 * struct fields in declaration order with `omitempty`, map keys sorted, compact output,
 * HTML-safe escaping (`<`, `>`, `&`), U+2028/U+2029 escaped, control characters as
 * `\u00XX` except `\n`, `\r`, `\t`. Records read from disk keep the fields this library
 * does not know, and those are written back after the known ones.
 *
 * @module
 */
import type { Compression, Container, IDMap, Image, Layer } from "./types.ts";

const HEX = "0123456789abcdef";
// Strings Go writes unchanged (IDs, digests, dates, most names): one native regexp test
// instead of the character loop, which is slow in the cold code of a short CLI run.
// deno-lint-ignore no-control-regex
const PLAIN = /^[^\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]*$/;

/** Encodes a string as Go's encoding/json does (with HTML escaping on). */
export function goQuote(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c < 0x20) {
      if (c === 0x0a) esc = "\\n";
      else if (c === 0x0d) esc = "\\r";
      else if (c === 0x09) esc = "\\t";
      else esc = "\\u00" + HEX[c >> 4] + HEX[c & 15];
    } else if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = "\\\\";
    else if (c === 0x3c) esc = "\\u003c";
    else if (c === 0x3e) esc = "\\u003e";
    else if (c === 0x26) esc = "\\u0026";
    else if (c === 0x2028) esc = "\\u2028";
    else if (c === 0x2029) esc = "\\u2029";
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A valid pair passes through; a lone surrogate is invalid UTF-8, which Go writes as U+FFFD.
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      esc = "\ufffd";
    }
    if (esc !== null) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Formats a number as Go formats a float64 (or an integer) in JSON. */
function goNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`json: unsupported value: ${n}`);
  // Go switches to exponent form below 1e-6 and from 1e21 on, as JavaScript does, and both
  // print the shortest representation that round-trips; only the exponent sign of small
  // numbers differs in padding ("1e-07" in Go is cleaned to "1e-7" as in JavaScript).
  if (Object.is(n, -0)) return "-0";
  return String(n);
}

/**
 * Encodes any JSON-compatible value as Go does for `interface{}` data: objects as maps
 * with sorted keys, compact, HTML-safe strings.
 */
export function encodeGoJSON(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return goQuote(value);
    case "number":
      return goNumber(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value instanceof RawJSON) return value.text;
      if (Array.isArray(value)) return "[" + value.map(encodeGoJSON).join(",") + "]";
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareBytes);
      return "{" + keys.map((k) => goQuote(k) + ":" + encodeGoJSON(obj[k])).join(",") + "}";
    }
    default:
      throw new TypeError(`json: unsupported type: ${typeof value}`);
  }
}

/** Pre-encoded JSON text inserted verbatim by encodeGoJSON. */
export class RawJSON {
  /** The encoded JSON. */
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** Go sorts map keys by their UTF-8 bytes; UTF-16 order differs only for astral vs U+E000–U+FFFF. */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Map surrogates above the BMP private-use/specials range so astral sorts last, as in UTF-8.
    if (x >= 0xd800 && x <= 0xdfff) x += 0x2000;
    else if (x >= 0xe000) x -= 0x800;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x2000;
    else if (y >= 0xe000) y -= 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** Fields present in a stored record that this library does not model; written back as read. */
export type ExtraFields = Record<string, unknown>;

type Omit = "never" | "empty";
type FieldSpec<T> = [json: string, get: (r: T) => unknown, omit: Omit];

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v as object).length === 0;
  return false;
}

function encodeStruct<T>(rec: T, fields: FieldSpec<T>[], extra?: ExtraFields): string {
  const parts: string[] = [];
  // Indexed loop without destructuring: this runs cold (interpreted) for every record saved.
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = f[1](rec);
    if (f[2] === "empty" && isEmpty(v)) continue;
    parts.push(goQuote(f[0]) + ":" + encodeGoJSON(v ?? null));
  }
  if (extra) {
    for (const [k, v] of Object.entries(extra)) parts.push(goQuote(k) + ":" + encodeGoJSON(v));
  }
  return "{" + parts.join(",") + "}";
}

function idmaps(maps: IDMap[] | undefined): unknown {
  if (!maps || maps.length === 0) return undefined;
  return maps.map((m) =>
    new RawJSON(`{"container_id":${m.containerId},"host_id":${m.hostId},"size":${m.size}}`)
  );
}

const LAYER_FIELDS: FieldSpec<Layer>[] = [
  ["id", (l) => l.id, "never"],
  ["names", (l) => l.names, "empty"],
  ["parent", (l) => l.parent, "empty"],
  ["metadata", (l) => l.metadata, "empty"],
  ["mountlabel", (l) => l.mountLabel, "empty"],
  ["created", (l) => l.created, "never"],
  ["compressed-diff-digest", (l) => l.compressedDigest, "empty"],
  ["compressed-size", (l) => l.compressedSize, "empty"],
  ["diff-digest", (l) => l.uncompressedDigest, "empty"],
  ["toc-digest", (l) => l.tocDigest, "empty"],
  ["diff-size", (l) => l.uncompressedSize, "empty"],
  ["compression", (l) => l.compression, "empty"],
  ["uidset", (l) => l.uidSet, "empty"],
  ["gidset", (l) => l.gidSet, "empty"],
  ["flags", (l) => l.flags, "empty"],
  ["uidmap", (l) => idmaps(l.uidMap), "empty"],
  ["gidmap", (l) => idmaps(l.gidMap), "empty"],
  ["big-data-names", (l) => l.bigDataNames, "empty"],
];

const IMAGE_FIELDS: FieldSpec<Image>[] = [
  ["id", (i) => i.id, "never"],
  ["digest", (i) => i.digest, "empty"],
  ["names", (i) => i.names, "empty"],
  ["names-history", (i) => i.namesHistory, "empty"],
  ["layer", (i) => i.topLayer, "empty"],
  ["mapped-layers", (i) => i.mappedTopLayers, "empty"],
  ["metadata", (i) => i.metadata, "empty"],
  ["big-data-names", (i) => i.bigDataNames, "empty"],
  ["big-data-sizes", (i) => i.bigDataSizes, "empty"],
  ["big-data-digests", (i) => i.bigDataDigests, "empty"],
  ["created", (i) => i.created, "never"],
  ["flags", (i) => i.flags, "empty"],
];

const CONTAINER_FIELDS: FieldSpec<Container>[] = [
  ["id", (c) => c.id, "never"],
  ["names", (c) => c.names, "empty"],
  ["image", (c) => c.imageId, "never"],
  ["layer", (c) => c.layerId, "never"],
  ["metadata", (c) => c.metadata, "empty"],
  ["big-data-names", (c) => c.bigDataNames, "empty"],
  ["big-data-sizes", (c) => c.bigDataSizes, "empty"],
  ["big-data-digests", (c) => c.bigDataDigests, "empty"],
  ["created", (c) => c.created, "never"],
  ["uidmap", (c) => idmaps(c.uidMap), "empty"],
  ["gidmap", (c) => idmaps(c.gidMap), "empty"],
  ["flags", (c) => c.flags, "empty"],
];

/** A layer as Go encodes it (the form of `layers.json` entries and `layer -j`). */
export function encodeLayer(layer: Layer, extra?: ExtraFields): string {
  return encodeStruct(layer, LAYER_FIELDS, extra);
}

/** An image as Go encodes it. */
export function encodeImage(image: Image, extra?: ExtraFields): string {
  return encodeStruct(image, IMAGE_FIELDS, extra);
}

/** A container as Go encodes it. */
export function encodeContainer(container: Container, extra?: ExtraFields): string {
  return encodeStruct(container, CONTAINER_FIELDS, extra);
}

/** One mount-count entry of `mountpoints.json`. */
export interface MountPointEntry {
  /** Layer ID. */
  id: string;
  /** Cleaned absolute mount point. */
  path: string;
  /** Cross-process reference count. */
  count: number;
}

/** Encodes a mountpoints.json entry. */
export function encodeMountPoint(m: MountPointEntry): string {
  return `{"id":${goQuote(m.id)},"path":${goQuote(m.path)},"count":${goNumber(m.count)}}`;
}

// ---------------------------------------------------------------- decoding

/** Thrown by the decoders; the caller turns it into a CorruptFileError naming the file. */
export class JSONShapeError extends Error {}

type Obj = Record<string, unknown>;

function str(o: Obj, k: string, what: string): string {
  const v = o[k];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type string`,
    );
  }
  return v;
}

function int(o: Obj, k: string, what: string): number {
  const v = o[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type int64`,
    );
  }
  return v;
}

function strList(o: Obj, k: string, what: string): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type []string`,
    );
  }
  return [...v] as string[];
}

function intList(o: Obj, k: string, what: string): number[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isInteger(x) || x < 0)) {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type []uint32`,
    );
  }
  return [...v] as number[];
}

function obj(o: Obj, k: string, what: string): Obj {
  const v = o[k];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type map`,
    );
  }
  return { ...(v as Obj) };
}

function numMap(o: Obj, k: string, what: string): Record<string, number> {
  const m = obj(o, k, what);
  for (const v of Object.values(m)) {
    if (typeof v !== "number" || !Number.isInteger(v)) {
      throw new JSONShapeError(
        `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type int64`,
      );
    }
  }
  return m as Record<string, number>;
}

function strMap(o: Obj, k: string, what: string): Record<string, string> {
  const m = obj(o, k, what);
  for (const v of Object.values(m)) {
    if (typeof v !== "string") {
      throw new JSONShapeError(
        `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type digest.Digest`,
      );
    }
  }
  return m as Record<string, string>;
}

function idMapList(o: Obj, k: string, what: string): IDMap[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go struct field ${what}.${k} of type []idtools.IDMap`,
    );
  }
  return v.map((e) => {
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      throw new JSONShapeError(
        `json: cannot unmarshal ${kindOf(e)} into Go struct field ${what}.${k} of type idtools.IDMap`,
      );
    }
    const m = e as Obj;
    return {
      containerId: int(m, "container_id", "IDMap"),
      hostId: int(m, "host_id", "IDMap"),
      size: int(m, "size", "IDMap"),
    };
  });
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return "object";
  return typeof v;
}

function extras(o: Obj, known: Set<string>): ExtraFields | undefined {
  let out: ExtraFields | undefined;
  for (const k of Object.keys(o)) {
    if (!known.has(k)) (out ??= {})[k] = o[k];
  }
  return out;
}

const LAYER_KEYS = new Set(LAYER_FIELDS.map((f) => f[0]));
const IMAGE_KEYS = new Set(IMAGE_FIELDS.map((f) => f[0]));
const CONTAINER_KEYS = new Set(CONTAINER_FIELDS.map((f) => f[0]));

function asObject(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new JSONShapeError(`json: cannot unmarshal ${kindOf(v)} into Go value of type ${what}`);
  }
  return v as Obj;
}

/** Decodes one `layers.json` element. */
export function decodeLayer(v: unknown): { record: Layer; extra?: ExtraFields } {
  const o = asObject(v, "storage.Layer");
  const w = "Layer";
  const compression = int(o, "compression", w);
  const record: Layer = {
    id: str(o, "id", w),
    names: strList(o, "names", w),
    parent: str(o, "parent", w),
    metadata: str(o, "metadata", w),
    mountLabel: str(o, "mountlabel", w),
    created: str(o, "created", w) || "0001-01-01T00:00:00Z",
    compressedDigest: str(o, "compressed-diff-digest", w),
    compressedSize: int(o, "compressed-size", w),
    uncompressedDigest: str(o, "diff-digest", w),
    tocDigest: str(o, "toc-digest", w),
    uncompressedSize: int(o, "diff-size", w),
    compression: compression as Compression,
    uidSet: intList(o, "uidset", w),
    gidSet: intList(o, "gidset", w),
    flags: obj(o, "flags", w),
    uidMap: idMapList(o, "uidmap", w),
    gidMap: idMapList(o, "gidmap", w),
    bigDataNames: strList(o, "big-data-names", w),
    readOnly: false,
    mountPoint: "",
    mountCount: 0,
  };
  return { record, extra: extras(o, LAYER_KEYS) };
}

/** Decodes one `images.json` element (the digest list is left empty for the caller to compute). */
export function decodeImage(v: unknown): { record: Image; extra?: ExtraFields } {
  const o = asObject(v, "storage.Image");
  const w = "Image";
  const record: Image = {
    id: str(o, "id", w),
    digest: str(o, "digest", w),
    digests: [],
    names: strList(o, "names", w),
    namesHistory: strList(o, "names-history", w),
    topLayer: str(o, "layer", w),
    mappedTopLayers: strList(o, "mapped-layers", w),
    metadata: str(o, "metadata", w),
    bigDataNames: strList(o, "big-data-names", w),
    bigDataSizes: numMap(o, "big-data-sizes", w),
    bigDataDigests: strMap(o, "big-data-digests", w),
    created: str(o, "created", w) || "0001-01-01T00:00:00Z",
    flags: obj(o, "flags", w),
    readOnly: false,
  };
  return { record, extra: extras(o, IMAGE_KEYS) };
}

/** Decodes one `containers.json` element. */
export function decodeContainer(v: unknown): { record: Container; extra?: ExtraFields } {
  const o = asObject(v, "storage.Container");
  const w = "Container";
  const record: Container = {
    id: str(o, "id", w),
    names: strList(o, "names", w),
    imageId: str(o, "image", w),
    layerId: str(o, "layer", w),
    metadata: str(o, "metadata", w),
    bigDataNames: strList(o, "big-data-names", w),
    bigDataSizes: numMap(o, "big-data-sizes", w),
    bigDataDigests: strMap(o, "big-data-digests", w),
    created: str(o, "created", w) || "0001-01-01T00:00:00Z",
    uidMap: idMapList(o, "uidmap", w),
    gidMap: idMapList(o, "gidmap", w),
    flags: obj(o, "flags", w),
  };
  return { record, extra: extras(o, CONTAINER_KEYS) };
}

/** Decodes `mountpoints.json` entries (entries without a path are dropped, as Go does). */
export function decodeMountPoints(v: unknown): MountPointEntry[] {
  if (v === null) return [];
  if (!Array.isArray(v)) {
    throw new JSONShapeError(
      `json: cannot unmarshal ${kindOf(v)} into Go value of type []storage.layerMountPoint`,
    );
  }
  const out: MountPointEntry[] = [];
  for (const e of v) {
    const o = asObject(e, "storage.layerMountPoint");
    const m = {
      id: str(o, "id", "layerMountPoint"),
      path: str(o, "path", "layerMountPoint"),
      count: int(o, "count", "layerMountPoint"),
    };
    if (m.path !== "") out.push(m);
  }
  return out;
}

/**
 * Parses the bytes of a store file holding a JSON array. Absent (null), empty and `null`
 * contents all mean "no entries". Throws JSONShapeError (or SyntaxError) on bad input.
 */
export function parseArrayFile(data: Uint8Array | string | null): unknown[] {
  if (data === null || data.length === 0) return [];
  const text = typeof data === "string" ? data : UTF8.decode(data);
  const v = JSON.parse(text);
  if (v === null) return [];
  if (!Array.isArray(v)) {
    throw new JSONShapeError(`json: cannot unmarshal ${kindOf(v)} into Go value of type []`);
  }
  return v;
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });

/** Encodes a list of already-encoded elements as a compact JSON array. */
export function encodeArray(items: string[]): string {
  return "[" + items.join(",") + "]";
}
