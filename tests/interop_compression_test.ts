/**
 * Issue 3, compressed inputs of every supported kind through both CLIs: one tar,
 * uncompressed and as gzip, bzip2, xz and zstd, imported by ours and by Go into one vfs
 * store gives the same records (digests, sizes, compression, ID sets), the same
 * uncompressed `diff` (the input tar), the same outcome of `diff` in the recorded
 * compression, and our library finds both tools' layers by either digest. `applydiff`
 * from standard input records the same as Go's too.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { openStore } from "../mod.ts";
import { sh } from "../archive/test_util.ts";
import { runGo, runOurs } from "./cli_helpers.ts";
import { firstLine, go, goBytes, layersJSON, ours, oursBytes, T, withStore } from "./interop_helpers.ts";

const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");
const KINDS: Array<[string, string]> = [
  ["none", "cat"],
  ["gzip", "gzip -c"],
  ["bzip2", "bzip2 -c"],
  ["xz", "xz -c"],
  ["zstd", "zstd -q -c"],
];

Deno.test(
  "interop compression: every input compression is imported and recorded as Go does",
  T,
  () =>
    withStore("vfs", async (s) => {
      sh(
        `mkdir src && cd src && head -c 200000 /usr/bin/bash > bin && mkdir d && echo x > d/f && chown 12:34 d/f
       tar --numeric-owner --format=pax -cf ../t.tar .`,
        s.root,
      );
      for (const [kind, cmd] of KINDS) sh(`${cmd} t.tar > t.${kind}`, s.root);
      const tar = Deno.readFileSync(`${s.root}/t.tar`);
      const strip = ({ id: _i, created: _c, names: _n, ...rest }: Record<string, unknown>) => rest;

      for (const [kind] of KINDS) {
        const input = Deno.readFileSync(`${s.root}/t.${kind}`);
        const mine = firstLine(await ours(s, ["import-layer", "-n", `ours-${kind}`], { stdin: input }));
        const theirs = firstLine(
          await go(s, ["import-layer", "-n", `go-${kind}`, "-f", `${s.root}/t.${kind}`]),
        );
        const recs = layersJSON(s) as unknown as Array<Record<string, unknown>>;
        const [a, b] = [mine, theirs].map((id) => recs.find((r) => r.id === id)!);
        assert.deepEqual(strip(a), strip(b), kind);
        assert.equal(a["compressed-diff-digest"], sha(input), kind);
        assert.equal(a["diff-digest"], sha(tar), kind);

        // Uncompressed diffs replay the tar, whoever imported and whoever exports.
        for (const id of [mine, theirs]) {
          assert.equal(sha(await oursBytes(s, ["diff", "-u", id])), sha(tar), `${kind} ours diff -u`);
          assert.equal(sha(await goBytes(s, ["diff", "-u", id])), sha(tar), `${kind} go diff -u`);
        }
        // In the recorded compression: same exit code and error text (bzip2/xz cannot be written).
        const [o, g] = [await runOurs([...s.all, "diff", mine]), await runGo([...s.all, "diff", theirs])];
        assert.deepEqual([o.code, o.stderr], [g.code, g.stderr], `${kind} diff in its own compression`);
        assert.equal(o.stdoutBytes.length > 0, g.stdoutBytes.length > 0, kind);
        if (o.code === 0) {
          assert.deepEqual(o.stdoutBytes.subarray(0, 4), g.stdoutBytes.subarray(0, 4), `${kind} magic`);
        }
      }

      // applydiff from stdin into an empty layer of each tool records the same.
      const gz = Deno.readFileSync(`${s.root}/t.gzip`);
      const [x, y] = [firstLine(await ours(s, ["create-layer"])), firstLine(await go(s, ["create-layer"]))];
      await ours(s, ["applydiff", x], { stdin: gz });
      await go(s, ["applydiff", y], { stdin: gz });
      const recs = layersJSON(s) as unknown as Array<Record<string, unknown>>;
      const [rx, ry] = [x, y].map((id) => recs.find((r) => r.id === id)!);
      assert.deepEqual(strip(rx), strip(ry), "applydiff");
      assert.equal(rx["diff-digest"], sha(tar));
      assert.equal(sha(await goBytes(s, ["diff", "-u", x])), sha(tar), "Go's diff of our applydiff");
      assert.equal(sha(await oursBytes(s, ["diff", "-u", y])), sha(tar), "our diff of Go's applydiff");

      const store = await openStore({ graphRoot: s.graph, runRoot: s.run, driverName: "vfs" });
      try {
        const names = (ls: Array<{ names: string[] }>) => ls.flatMap((l) => l.names).sort();
        const all = KINDS.flatMap(([k]) => [`go-${k}`, `ours-${k}`]).sort();
        assert.deepEqual(names(await store.layersByUncompressedDigest(sha(tar))), all);
        for (const [kind] of KINDS) {
          const input = Deno.readFileSync(`${s.root}/t.${kind}`);
          const found = names(await store.layersByCompressedDigest(sha(input)));
          // An uncompressed input's compressed digest is the tar's own: every layer matches it.
          assert.deepEqual(
            found,
            kind === "none" ? ["go-none", "ours-none"] : [`go-${kind}`, `ours-${kind}`],
          );
        }
      } finally {
        await store.close();
      }
    }),
);
