/**
 * Go's text renderings that the CLI's output depends on: `%q` (strconv.Quote) and `%v`
 * of slices. They are the store's own (store/quote.ts), so that the CLI and the
 * library's messages quote alike.
 *
 * @module
 */

export { goList, goQuote } from "../store/quote.ts";
