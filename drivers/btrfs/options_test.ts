import assert from "node:assert/strict";
import { DriverOptionError } from "../../store/errors.ts";
import { humanSize, parseBtrfsOptions, parseLayerSize } from "./options.ts";

function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DriverOptionError);
    return e.message;
  }
  throw new Error("no error");
}

Deno.test("btrfs driver options: min_space (any case) turns quotas on; the rest fails with Go's texts", () => {
  assert.deepEqual(parseBtrfsOptions([]), { minSpace: 0, userDiskQuota: false });
  assert.deepEqual(parseBtrfsOptions([["btrfs.min_space", "10M"]]), {
    minSpace: 10 * 1024 ** 2,
    userDiskQuota: true,
  });
  assert.deepEqual(parseBtrfsOptions([["BTRFS.MIN_SPACE", "1G"]]), {
    minSpace: 1024 ** 3,
    userDiskQuota: true,
  });
  assert.deepEqual(parseBtrfsOptions([["btrfs.min_space", "0"]]), { minSpace: 0, userDiskQuota: true });
  assert.equal(err(() => parseBtrfsOptions([["btrfs.min_space", "abc"]])), "invalid size: 'abc'");
  assert.equal(err(() => parseBtrfsOptions([["min_space", "1M"]])), "unknown option min_space");
  assert.equal(err(() => parseBtrfsOptions([["btrfs.size", "1M"]])), "unknown option btrfs.size");
  assert.equal(err(() => parseBtrfsOptions([["FOO", "1"]])), "unknown option foo");
  assert.equal(
    err(() => parseBtrfsOptions([["btrfs.mountopt", "x"]])),
    "btrfs driver does not support mount options",
  );
});

Deno.test("btrfs per-layer size: only when the size key is there, then other keys fail", () => {
  assert.equal(parseLayerSize(undefined), null);
  assert.equal(parseLayerSize({}), null);
  assert.equal(parseLayerSize({ foo: "1" }), null);
  assert.equal(parseLayerSize({ size: "512k" }), 512 * 1024);
  assert.equal(parseLayerSize({ size: "1.5GiB" }), 1.5 * 1024 ** 3);
  assert.equal(err(() => parseLayerSize({ size: "1G", Foo: "1" })), "unknown option foo");
  assert.equal(err(() => parseLayerSize({ size: "big" })), "invalid size: 'big'");
});

Deno.test("humanSize is go-units' HumanSize", () => {
  assert.equal(humanSize(0), "0B");
  assert.equal(humanSize(999), "999B");
  assert.equal(humanSize(1000), "1kB");
  assert.equal(humanSize(2 * 1024 * 1024), "2.097MB");
  assert.equal(humanSize(10 * 1024 * 1024), "10.49MB");
  assert.equal(humanSize(1024 ** 3), "1.074GB");
  assert.equal(humanSize(123456789012), "123.5GB");
});
