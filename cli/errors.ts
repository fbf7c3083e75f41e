/**
 * The one place where errors become the text the Go CLI prints and an exit
 * code. Library errors (store/errors.ts) already carry Go's message with its
 * context; OS errors from Deno are rewritten into Go's `*os.PathError` form
 * (`open /x: no such file or directory`).
 *
 * @module
 */

import { StorageError } from "../store/errors.ts";

/** Exit code of operational failures. */
export const EXIT_FAILURE = 1;
/** Exit code of command-level flag errors and `CMD --help`. */
export const EXIT_USAGE = 125;

// Deno: "No such file or directory (os error 2): open '/x'" → Go: "open /x: no such file or directory".
const DENO_OS_ERROR = /^(.*?) \(os error \d+\)(?:: (\w+) '(.*?)'(?: -> '(.*)')?)?$/;

/** Go's strerror texts start lower-case; Rust's start with a capital. */
function lowerFirst(s: string): string {
  return s.length > 0 ? s[0].toLowerCase() + s.slice(1) : s;
}

/** Rewrites a Deno OS error message into Go's form; other messages are returned unchanged. */
export function goOSErrorText(message: string): string {
  const m = DENO_OS_ERROR.exec(message);
  if (!m) return message;
  const [, text, op, path, path2] = m;
  const reason = lowerFirst(text);
  if (!op) return reason;
  const goOp = op === "readfile" ? "open" : op === "writefile" ? "open" : op === "lstat" ? "lstat" : op;
  // Go's *os.LinkError renders "rename a b: reason".
  if (path2 !== undefined) return `${goOp} ${path} ${path2}: ${reason}`;
  return `${goOp} ${path}: ${reason}`;
}

/** The text Go's `%+v`/`%v` would print for an error (without a trailing newline). */
export function errorText(err: unknown): string {
  if (err instanceof StorageError) return goOSErrorText(err.message);
  if (err instanceof Error) return goOSErrorText(err.message);
  return String(err);
}

/** True when `err` is (or wraps, through `cause`) an instance of `cls`. */
export function isError<T extends Error>(err: unknown, cls: abstract new (...a: any[]) => T): err is T {
  for (let e: unknown = err, depth = 0; e && depth < 8; depth++) {
    if (e instanceof cls) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
