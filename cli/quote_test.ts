import assert from "node:assert/strict";
import { goList } from "./quote.ts";

Deno.test("goList renders like %v of a slice", () => {
  assert.equal(goList([]), "[]");
  assert.equal(goList(["a", "b c"]), "[a b c]");
  assert.equal(goList([0, 1000]), "[0 1000]");
});
