/**
 * Helpers for the overlay driver tests: tar streams built in memory, throwaway stores
 * whose mounts are always detached, and the Go reference CLI. Not part of the library.
 *
 * @module
 */
import {
  goCliOk,
  type GoRun,
  type GoStore,
  runGoCli,
  type TempStore,
  withTempStore as withStore,
} from "../../store/testdata/harness.ts";
import { makeTar, type Member } from "../../store/testdata/tar.ts";
import { OverlayDriver } from "./overlay.ts";

/** One entry of a test tar: `name` plus optional content (files), link target or type. */
export type TEntry = Member;

/** Fixed mtime for test entries (whole seconds, as tars carry). */
export const MTIME = 1_700_000_000_000_000_000n;

/** The bytes of a tar holding `entries` (regular file when no type; dirs end in `/`). */
export function tarBytes(entries: TEntry[]): Uint8Array {
  return makeTar(entries, MTIME);
}

/** A ReadableStream over `tarBytes(entries)`. */
export function tarStream(entries: TEntry[]): ReadableStream<Uint8Array> {
  const b = tarBytes(entries);
  return new ReadableStream({
    start(c) {
      c.enqueue(b);
      c.close();
    },
  });
}

/** A throwaway store: `root` with graph and run roots in it. */
export type { TempStore };

/**
 * Runs `fn` with a fresh temp store; afterwards (also on failure) the Go CLI's
 * `shutdown` runs when `go` is set, every mount below the store is detached and the
 * directory removed.
 */
export function withTempStore(
  fn: (s: TempStore) => Promise<void>,
  opts: { go?: boolean } = {},
): Promise<void> {
  return withStore("ovl-test-", fn, { goShutdown: opts.go ? "overlay" : undefined });
}

/** Opens our overlay driver on a temp store. */
export function openDriver(s: GoStore, options: Array<[string, string]> = []): Promise<OverlayDriver> {
  return OverlayDriver.init({ graphRoot: s.graph, runRoot: s.run, options, uidMap: [], gidMap: [] });
}

/** Output of a Go CLI run. */
export type GoResult = GoRun;

/** Runs the Go `containers-storage` CLI on the store with the overlay driver. */
export function goCli(s: GoStore, args: string[], stdin?: Uint8Array): Promise<GoResult> {
  return runGoCli(s, "overlay", args, stdin);
}

/** Runs the Go CLI and fails with its output unless it exits 0. */
export function goOk(s: GoStore, args: string[], stdin?: Uint8Array): Promise<string> {
  return goCliOk(s, "overlay", args, stdin);
}

/** Sorted names in a directory. */
export function ls(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** Go's `changes` text for a list of changes. */
export function changesText(list: Array<{ path: string; kind: number }>): string {
  const K = ["Modify", "Add", "Delete"];
  return list.map((c) => `${K[c.kind]} ${JSON.stringify(c.path)}\n`).join("");
}
