/**
 * Commands of this group (being wired).
 *
 * @module
 */

import type { Action } from "./context.ts";

/** Actions by command name. */
export const actions: Record<string, Action> = {};
