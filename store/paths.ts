/**
 * POSIX path helpers with `node:path`'s results, without importing `node:path`: the first
 * `node:` import boots Deno's Node compatibility layer (20-30 ms), which commands that
 * only read records and mount layers should not pay.
 *
 * @module
 */

/** Go's `filepath.Clean` (= `node:path` `posix.normalize` without a trailing slash). */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.charCodeAt(0) === 47;
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(seg);
  }
  const body = out.join("/");
  if (rooted) return "/" + body;
  return body === "" ? "." : body;
}

/** `node:path` `resolve(p)`: absolute against the current directory, cleaned. */
export function resolvePath(p: string): string {
  return cleanPath(p.charCodeAt(0) === 47 ? p : `${Deno.cwd()}/${p}`);
}

/** `node:path` `dirname(p)` (node's algorithm: `//a` → `//`, `/a//b` → `/a/`). */
export function dirName(p: string): string {
  if (p === "") return ".";
  const rooted = p.charCodeAt(0) === 47;
  let end = -1;
  let matchedSlash = true;
  for (let i = p.length - 1; i >= 1; i--) {
    if (p.charCodeAt(i) === 47) {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else {
      matchedSlash = false;
    }
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return p.slice(0, end);
}

/** `node:path` `basename(p)`: the last element, trailing slashes ignored. */
export function baseName(p: string): string {
  let start = 0;
  let end = -1;
  for (let i = p.length - 1; i >= 0; i--) {
    if (p.charCodeAt(i) === 47) {
      if (end !== -1) {
        start = i + 1;
        break;
      }
    } else if (end === -1) {
      end = i + 1;
    }
  }
  return end === -1 ? "" : p.slice(start, end);
}
