import assert from "node:assert/strict";
import { formatLogLine, Logger, rfc3339Seconds } from "./log.ts";

Deno.test("logrus text format, quoting only when needed", () => {
  const t = new Date(Date.UTC(2026, 10, 25, 16, 4, 12, 345));
  const utc = t.getTimezoneOffset() === 0;
  const stamp = rfc3339Seconds(t);
  if (utc) assert.equal(stamp, "2026-11-25T16:04:12Z");
  assert.equal(formatLogLine("debug", "Root: /tmp/x", t), `time="${stamp}" level=debug msg="Root: /tmp/x"\n`);
  assert.equal(
    formatLogLine("debug", "plain/word-1.2", t),
    `time="${stamp}" level=debug msg=plain/word-1.2\n`,
  );
  assert.equal(
    formatLogLine("warning", 'Failed to decode the keys ["storage.foo"] from "/c"', t),
    `time="${stamp}" level=warning msg="Failed to decode the keys [\\"storage.foo\\"] from \\"/c\\""\n`,
  );
});

Deno.test("Logger drops lines above its level", async () => {
  let text = "";
  const log = new Logger((t) => {
    text += t;
    return Promise.resolve();
  });
  log.level = "error";
  await log.debug("no");
  await log.warn("no");
  await log.error("yes");
  assert.match(text, /level=error msg=yes\n$/);
  assert.equal(text.split("\n").length, 2);
});
