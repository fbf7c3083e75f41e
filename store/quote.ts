/**
 * Go's `%q` (strconv.Quote) and `%v` of a slice, for messages and output that must read
 * as Go's: the store's errors and the CLI's output share them.
 *
 * @module
 */

const HEX = "0123456789abcdef";
// unicode.IsPrint: letters, marks, numbers, punctuation, symbols, and the ASCII space.
// Built on first use: compiling the Unicode classes costs 1-3 ms at every startup otherwise.
let printable: RegExp | null = null;

function hex(n: number, width: number): string {
  let s = "";
  for (let shift = (width - 1) * 4; shift >= 0; shift -= 4) s += HEX[(n >> shift) & 0xf];
  return s;
}

/** Go's `%q` / strconv.Quote: double-quoted, Go escapes, printable Unicode kept. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    switch (r) {
      case 0x07:
        out += "\\a";
        continue;
      case 0x08:
        out += "\\b";
        continue;
      case 0x0c:
        out += "\\f";
        continue;
      case 0x0a:
        out += "\\n";
        continue;
      case 0x0d:
        out += "\\r";
        continue;
      case 0x09:
        out += "\\t";
        continue;
      case 0x0b:
        out += "\\v";
        continue;
      case 0x5c:
        out += "\\\\";
        continue;
      case 0x22:
        out += '\\"';
        continue;
    }
    if (r >= 0x20 && r < 0x7f) {
      out += ch;
    } else if (r < 0x20 || r === 0x7f) {
      out += "\\x" + hex(r, 2);
    } else if (r >= 0xd800 && r <= 0xdfff) {
      // A lone surrogate is what an undecodable byte became; Go shows U+FFFD for invalid runes.
      out += "\\ufffd";
    } else if ((printable ??= new RegExp("^[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S} ]$", "u")).test(ch)) {
      out += ch;
    } else if (r < 0x10000) {
      out += "\\u" + hex(r, 4);
    } else {
      out += "\\U" + hex(r, 8);
    }
  }
  return out + '"';
}

/** Go's `%v` of a slice: `[a b c]` (`[]` when empty). */
export function goList(items: readonly unknown[]): string {
  return `[${items.join(" ")}]`;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(" ")}]`;
}
