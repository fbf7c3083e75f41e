/**
 * Helpers of the store integration tests: temp stores, the Go reference CLI, child
 * Deno processes.
 *
 * @module
 */
import {
  goCliOk,
  type GoRun,
  runGoCli,
  type TempStore,
  withTempStore as withStore,
} from "../store/testdata/harness.ts";

export type { TempStore };

/** Runs `fn` with a fresh temp store directory, removed afterwards even on failure. */
export function withTempStore(prefix: string, fn: (t: TempStore) => Promise<void>): Promise<void> {
  return withStore(`cs-${prefix}-`, fn);
}

/** Result of a command. */
export type Ran = GoRun;

/** Runs the Go `containers-storage` CLI (vfs) on a temp store. */
export function goCli(t: TempStore, args: string[], stdin?: Uint8Array): Promise<Ran> {
  return runGoCli(t, "vfs", args, stdin);
}

/** Runs the Go CLI and parses its JSON output; throws with its output on failure. */
export async function goJSON(t: TempStore, args: string[]): Promise<unknown> {
  return JSON.parse(await goOk(t, args));
}

/** Runs the Go CLI, expecting success. */
export function goOk(t: TempStore, args: string[], stdin?: Uint8Array): Promise<string> {
  return goCliOk(t, "vfs", args, stdin);
}

/** Path of the repository root (for child scripts importing the library). */
export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
