import assert from "node:assert/strict";
import { nodeCrypto, nodeZlib } from "./node_lazy.ts";

Deno.test("nodeCrypto and nodeZlib load the built-ins once", () => {
  assert.equal(nodeCrypto(), nodeCrypto());
  assert.equal(
    nodeCrypto().createHash("sha256").update("").digest("hex"),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  const z = nodeZlib();
  assert.equal(z, nodeZlib());
  assert.equal(new TextDecoder().decode(z.gunzipSync(z.gzipSync("hello"))), "hello");
});
