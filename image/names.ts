/**
 * Image reference normalisation as containers/image does it for the names it stores
 * (docker/reference `ParseNormalizedNamed` followed by `TagNameOnly`): `busybox` →
 * `docker.io/library/busybox:latest`, `localhost/bb` → `localhost/bb:latest`.
 *
 * @module
 */
import { isValidDigest } from "../store/digest.ts";
import { ImageReferenceError } from "./errors.ts";

const DEFAULT_DOMAIN = "docker.io";
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const NAME_TOTAL_MAX = 255;

/** A parsed, normalised reference. */
export interface NormalizedReference {
  /** Registry host, e.g. `docker.io`, `localhost`, `quay.io:443`. */
  domain: string;
  /** Repository path, e.g. `library/busybox`. */
  path: string;
  /** Tag, `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** Digest after `@`, if any. */
  digest?: string;
}

/** Splits a reference into domain, path, tag and digest, normalising as Docker does. */
export function parseReference(ref: string): NormalizedReference {
  const bad = (why: string) =>
    new ImageReferenceError(`invalid reference format: ${why}`, JSON.stringify(ref));
  if (ref === "") throw bad("repository name must have at least one component");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isValidDigest(digest)) throw bad("invalid digest");
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("invalid tag");
  }
  let domain: string;
  let path: string;
  const i = rest.indexOf("/");
  const first = i < 0 ? "" : rest.slice(0, i);
  if (
    i < 0 ||
    (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)
  ) {
    domain = DEFAULT_DOMAIN;
    path = rest;
  } else {
    domain = first;
    path = rest.slice(i + 1);
  }
  if (domain === "index.docker.io") domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = "library/" + path;
  if (!DOMAIN.test(domain)) throw bad("invalid domain");
  if (path.toLowerCase() !== path) throw bad("repository name must be lowercase");
  if (!path.split("/").every((c) => PATH_COMPONENT.test(c))) throw bad("invalid repository name");
  if (domain.length + 1 + path.length > NAME_TOTAL_MAX) {
    throw bad("repository name must not be more than 255 characters");
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  const r: NormalizedReference = { domain, path };
  if (tag !== undefined) r.tag = tag;
  if (digest !== undefined) r.digest = digest;
  return r;
}

/** The normalised string form: `domain/path[:tag][@digest]`. */
export function formatReference(r: NormalizedReference): string {
  return `${r.domain}/${r.path}${r.tag !== undefined ? ":" + r.tag : ""}${r.digest ? "@" + r.digest : ""}`;
}

/** Normalises a name the way the image is stored by skopeo, podman and buildah. */
export function normalizeName(ref: string): string {
  return formatReference(parseReference(ref));
}

/**
 * Normalises as podman and buildah do for names without a registry (libimage's
 * NormalizeName): `bb:1` → `localhost/bb:1`, while `quay.io/x` → `quay.io/x:latest`.
 */
export function normalizeLocalName(ref: string): string {
  const i = ref.indexOf("/");
  const first = i < 0 ? "" : ref.slice(0, i);
  const hasDomain = i >= 0 && (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first);
  return normalizeName(hasDomain ? ref : `localhost/${ref}`);
}

/** Whether `s` parses as an image reference. */
export function isReference(s: string): boolean {
  try {
    parseReference(s);
    return true;
  } catch {
    return false;
  }
}
