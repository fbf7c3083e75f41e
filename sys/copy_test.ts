import assert from "node:assert/strict";
import { copyFileRange, copyFileRangeAll, ioctlFiclone } from "./copy.ts";
import { closeFd, fstatNs, O_CLOEXEC, O_CREAT, O_RDONLY, O_WRONLY, openFd } from "./fs.ts";
import { MNT_DETACH, mount, umount2 } from "./mount.ts";

function fill(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31) & 0xff;
  return b;
}

Deno.test("copy_file_range copies whole files; FICLONE is refused cleanly on tmpfs", () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-copy-" });
  try {
    const data = fill(1_500_000);
    Deno.writeFileSync(`${d}/src`, data);
    const src = openFd(`${d}/src`, O_RDONLY | O_CLOEXEC);
    const dst = openFd(`${d}/dst`, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600);
    try {
      assert.equal(copyFileRangeAll(src, dst), data.length);
      assert.equal(copyFileRange(src, dst, 100), 0);
    } finally {
      closeFd(src);
      closeFd(dst);
    }
    assert.deepEqual(Deno.readFileSync(`${d}/dst`), data);

    // tmpfs cannot reflink: false, not an exception.
    Deno.mkdirSync(`${d}/t`);
    mount("cs-test", `${d}/t`, "tmpfs", 0, "size=4m");
    try {
      Deno.writeFileSync(`${d}/t/a`, data.subarray(0, 1000));
      const a = openFd(`${d}/t/a`, O_RDONLY | O_CLOEXEC);
      const b = openFd(`${d}/t/b`, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600);
      try {
        assert.equal(ioctlFiclone(b, a), false);
        assert.equal(fstatNs(b).size, 0);
      } finally {
        closeFd(a);
        closeFd(b);
      }
    } finally {
      umount2(`${d}/t`, MNT_DETACH);
    }
  } finally {
    Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("FICLONE shares extents on btrfs; across filesystems it returns false", async () => {
  const d = Deno.makeTempDirSync({ prefix: "cs-reflink-" });
  let mounted = false;
  try {
    Deno.writeFileSync(`${d}/img`, new Uint8Array(0));
    Deno.truncateSync(`${d}/img`, 120 * 1024 * 1024);
    const mk = await new Deno.Command("mkfs.btrfs", {
      args: ["-q", `${d}/img`],
      stdout: "null",
      stderr: "null",
    })
      .output();
    assert.ok(mk.success, "mkfs.btrfs failed");
    Deno.mkdirSync(`${d}/m`);
    const mt = await new Deno.Command("mount", {
      args: ["-o", "loop", `${d}/img`, `${d}/m`],
      stderr: "piped",
    }).output();
    assert.ok(mt.success, new TextDecoder().decode(mt.stderr));
    mounted = true;
    const data = fill(200_000);
    Deno.writeFileSync(`${d}/m/a`, data);
    const a = openFd(`${d}/m/a`, O_RDONLY | O_CLOEXEC);
    const b = openFd(`${d}/m/b`, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600);
    const c = openFd(`${d}/c`, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600);
    try {
      assert.equal(ioctlFiclone(b, a), true);
      assert.equal(ioctlFiclone(c, a), false); // EXDEV
    } finally {
      closeFd(a);
      closeFd(b);
      closeFd(c);
    }
    assert.deepEqual(Deno.readFileSync(`${d}/m/b`), data);
  } finally {
    if (mounted) {
      const um = await new Deno.Command("umount", { args: [`${d}/m`] }).output();
      if (!um.success) umount2(`${d}/m`, MNT_DETACH);
    }
    Deno.removeSync(d, { recursive: true });
  }
});
