/**
 * Value parsing shared by the drivers' option parsers (and the CLI's boolean flags), with
 * the Go functions' accepted forms and error texts.
 *
 * @module
 */
import { DriverOptionError } from "../store/errors.ts";
import { goQuote } from "../store/quote.ts";

/** Go's strconv.ParseBool: the value, or null for anything Go refuses. */
export function goParseBool(text: string): boolean | null {
  switch (text) {
    case "1":
    case "t":
    case "T":
    case "TRUE":
    case "true":
    case "True":
      return true;
    case "0":
    case "f":
    case "F":
    case "FALSE":
    case "false":
    case "False":
      return false;
  }
  return null;
}

/** A boolean driver option; anything else fails with Go's strconv.ParseBool text. */
export function parseBoolOption(value: string): boolean {
  const b = goParseBool(value);
  if (b === null) {
    throw new DriverOptionError(`strconv.ParseBool: parsing ${goQuote(value)}: invalid syntax`);
  }
  return b;
}

/**
 * docker/go-units RAMInBytes: `10G`, `512m`, `1.5GiB`, `100` (binary multiples).
 * Errors read `invalid size: '...'`.
 */
export function ramInBytes(val: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(val);
  if (!m) throw new DriverOptionError(`invalid size: '${val}'`);
  const n = parseFloat(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[unit]!;
  return Math.floor(n * mult);
}
