import assert from "node:assert/strict";
import { renderTree } from "./tree.ts";

Deno.test("tree rendering matches the Go layout (cli.md 2.1.1 sample)", () => {
  const text = renderTree([
    { left: "(base)", right: "base", notes: ["name: base"] },
    { left: "base", right: "mid", notes: ["name: mid"] },
    { left: "(base)", right: "imp", notes: ["name: imp"] },
    { left: "imp", right: "imp2", notes: ["name: imp2", "image: img", "image name: img1"] },
    { left: "imp2", right: "c1", notes: ["container: ctr1", "container name: ctr1"] },
    { left: "imp2", right: "c2", notes: ["container: ctr2", "container name: ctr2"] },
    { left: "(base)", right: "gz", notes: ["name: impgz", "mount: /m"] },
  ]);
  assert.equal(
    text,
    [
      "(base)",
      "├─base",
      "│ name: base",
      "│ └─mid",
      "│   name: mid",
      "├─imp",
      "│ name: imp",
      "│ └─imp2",
      "│   name: imp2",
      "│   image: img",
      "│   image name: img1",
      "│   ├─c1",
      "│   │ container: ctr1",
      "│   │ container name: ctr1",
      "│   └─c2",
      "│     container: ctr2",
      "│     container name: ctr2",
      "└─gz",
      "  name: impgz",
      "  mount: /m",
      "",
    ].join("\n"),
  );
});

Deno.test("orphans print under their vanished parent; the root with fewest children goes first", () => {
  const text = renderTree([
    { left: "(base)", right: "a", notes: [] },
    { left: "(base)", right: "b", notes: [] },
    { left: "gone", right: "orphan", notes: ["name: o"] },
  ]);
  assert.equal(text, "gone\n└─orphan\n  name: o\n(base)\n├─a\n└─b\n");
  assert.equal(renderTree([]), "");
});
