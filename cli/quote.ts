/**
 * Go's text renderings that the CLI's output depends on: `%q` (strconv.Quote)
 * and `%v` of string and number slices.
 *
 * @module
 */

export { goQuote } from "../store/quote.ts";

/** Go's `%v` of a slice: `[a b c]` (`[]` when empty). */
export function goList(items: readonly unknown[]): string {
  return `[${items.join(" ")}]`;
}
