/**
 * The `containers-storage` command-line tool: `deno run -A cli.ts COMMAND ...`.
 * Behaves like the Go `containers-storage` CLI (see cli/DEVIATIONS.md for the
 * deliberate differences).
 *
 * @module
 */

import { main } from "./cli/main.ts";
import { writerSink } from "./cli/output.ts";

if (import.meta.main) {
  const code = await main(Deno.args, {
    stdout: writerSink(Deno.stdout),
    stderr: writerSink(Deno.stderr),
    // A getter: creating the stream loads Deno's web streams (5-8 ms), needed by few commands.
    get stdin() {
      return Deno.stdin.readable;
    },
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
  });
  Deno.exit(code);
}

export { main } from "./cli/main.ts";
