/**
 * The library's version, as `version` reports it.
 *
 * @module
 */
import meta from "../deno.json" with { type: "json" };

/** Version of this implementation (from deno.json). */
export const VERSION: string = meta.version;
