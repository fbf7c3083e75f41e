/**
 * Path helpers for archive entries: names are cleaned as if rooted (so `..` and a
 * leading `/` can never climb above the extraction root), relative results without a
 * leading or trailing slash, `""` for the root itself.
 *
 * @module
 */

/**
 * Cleans an entry name into a root-relative path: `./a//b/../c/` → `a/c`, `/../x` → `x`,
 * `./` → `""`. Never starts with `/` or `..`.
 */
export function cleanRel(name: string): string {
  // Fast path: plain relative names with no empty, `.` or `..` components.
  let s = name;
  if (s.charCodeAt(0) === 0x2e && s.charCodeAt(1) === 0x2f) s = s.slice(2); // "./"
  let fast = s.length > 0 && s.charCodeAt(0) !== 0x2f;
  if (fast) {
    let prevSlash = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x2f) {
        if (prevSlash) {
          fast = false;
          break;
        }
        prevSlash = true;
      } else if (c === 0x2e && prevSlash) {
        // a component starting with "." is "." or ".." only if followed by "/" / end / "."
        const n1 = s.charCodeAt(i + 1);
        if (
          i + 1 === s.length || n1 === 0x2f ||
          (n1 === 0x2e && (i + 2 === s.length || s.charCodeAt(i + 2) === 0x2f))
        ) {
          fast = false;
          break;
        }
        prevSlash = false;
      } else prevSlash = false;
    }
    if (fast) return s.charCodeAt(s.length - 1) === 0x2f ? s.slice(0, -1) : s;
  }
  const out: string[] = [];
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join("/");
}

/**
 * Cleans a relative path without clamping: returns null when `..` would climb above
 * the root (used for hard-link targets, which must stay inside). A leading `/` means
 * the root.
 */
export function cleanRelStrict(name: string): string | null {
  const out: string[] = [];
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join("/");
}

/** Directory part of a clean relative path (`a/b` → `a`, `a` → `""`). */
export function dirOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

/** Last component of a clean relative path. */
export function baseOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? rel : rel.slice(i + 1);
}

/** Joins a clean relative directory and a component. */
export function joinRel(dir: string, name: string): string {
  return dir === "" ? name : dir + "/" + name;
}
