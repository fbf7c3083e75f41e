#!/usr/bin/env bash
# Recreate the benchmark test data under $BENCH_DATA (default: <this dir>/data).
#
#   rootfs.tar / rootfs.tar.gz  minimal Debian bookworm (debootstrap --variant=minbase),
#                               /dev, /proc, /sys emptied (as in real image layers)
#   small.tar                   50,000 files of 1-4 KiB in 10x10x10 nested dirs (seeded)
#   large.tar                   4 incompressible files, 1 GiB in total (AES-CTR keystream, fixed key)
#   layer2.tar                  child layer of rootfs.tar: modified files, added files,
#                               .wh. whiteouts and opaque dirs (.wh..wh..opq)
#   tiny.tar                    one 4 KiB file (used for layer chains)
#
# Copied from /work/shared/bench/make-data.sh; additions for `deno task bench -- --quick`:
# SMALL_FANOUT (10: 10x10x10 dirs of 50 files), LARGE_DIV (1: sizes divided by it),
# SKIP_ROOTFS=1 (no debootstrap, hence no rootfs*.tar and no layer2.tar).
#
# Synthetic tars are byte-for-byte reproducible (fixed seeds, mtimes, owners, order).
# rootfs.tar depends on the Debian archive state at the time of the run; for a frozen
# tree point DEBIAN_MIRROR at a dated snapshot of the archive.
#
# Env: BENCH_DATA, SMALL_FANOUT, LARGE_DIV, SKIP_ROOTFS, DEBIAN_SUITE (bookworm), DEBIAN_MIRROR (default: debootstrap's own),
#      FORCE=1 to rebuild files that already exist.
# Needs root (debootstrap), python3, tar, gzip, openssl.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${BENCH_DATA:-${TMPDIR:-/tmp}/containers-storage-bench-data}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-}
FORCE=${FORCE:-0}
SMALL_FANOUT=${SMALL_FANOUT:-10}
LARGE_DIV=${LARGE_DIV:-1}
SKIP_ROOTFS=${SKIP_ROOTFS:-0}
mkdir -p "$DATA"
cd "$DATA"
[ -f .gitignore ] || printf '*\n!.gitignore\n' > .gitignore

need() { [ "$FORCE" = 1 ] || [ ! -s "$1" ]; }
SYNTH_MTIME=1700000000
TAROPTS=(--sort=name --numeric-owner --format=pax --pax-option=delete=atime,delete=ctime,delete=mtime)

# (a) real root filesystem -------------------------------------------------------------
if [ "$SKIP_ROOTFS" = 1 ]; then
  echo "SKIP_ROOTFS=1: no rootfs.tar, rootfs.tar.gz, layer2.tar" >&2
elif [ ! -d rootfs ] || [ "$FORCE" = 1 ]; then
  rm -rf rootfs rootfs.tmp
  echo "debootstrap $SUITE ${MIRROR:+from $MIRROR }..." >&2
  debootstrap --variant=minbase "$SUITE" rootfs.tmp ${MIRROR:+"$MIRROR"} > debootstrap.log 2>&1
  mv rootfs.tmp rootfs
fi
if [ "$SKIP_ROOTFS" != 1 ] && need rootfs.tar; then
  # empty the pseudo filesystems, drop apt caches that are not part of a usual image
  find rootfs/dev rootfs/proc rootfs/sys -mindepth 1 -delete 2>/dev/null || true
  tar -C rootfs "${TAROPTS[@]}" -cf rootfs.tar.tmp . && mv rootfs.tar.tmp rootfs.tar
fi
if [ "$SKIP_ROOTFS" != 1 ] && need rootfs.tar.gz; then
  gzip -n -6 -c rootfs.tar > rootfs.tar.gz.tmp && mv rootfs.tar.gz.tmp rootfs.tar.gz
fi

# (b) 50,000 small files -----------------------------------------------------------------
if need small.tar; then
  python3 - small.tar.tmp "$SYNTH_MTIME" "$SMALL_FANOUT" <<'EOF'
import io, random, sys, tarfile
out, mtime, fan = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20240501)
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
    def d(name):
        ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = mtime
        tf.addfile(ti)
    d("small")
    for a in range(fan):
        d(f"small/d{a}")
        for b in range(fan):
            d(f"small/d{a}/e{b}")
            for c in range(fan):
                p = f"small/d{a}/e{b}/f{c}"
                d(p)
                for i in range(50):
                    n = rng.randint(1024, 4096)
                    # half text-like (compressible), half random
                    if i % 2:
                        data = rng.randbytes(n)
                    else:
                        data = rng.randbytes(n // 2 + 1).hex().encode()[:n]
                    ti = tarfile.TarInfo(f"{p}/file{i:02d}.dat"); ti.size = n; ti.mode = 0o644; ti.mtime = mtime
                    tf.addfile(ti, io.BytesIO(data))
EOF
  mv small.tar.tmp small.tar
fi

# (c) a few large files, ~1 GiB ------------------------------------------------------------
if need large.tar; then
  rm -rf large.d && mkdir -p large.d/large
  n=0
  for spec in blob1.bin:512 blob2.bin:256 blob3.bin:192 blob4.bin:64; do
    f=${spec%%:*}; mib=${spec##*:}; n=$((n+1))
    # openssl dies of SIGPIPE when head has enough: not an error here
    (set +o pipefail
     openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv "$(printf '%032x' $n)" \
       < /dev/zero 2>/dev/null | head -c $((mib * 1024 * 1024 / LARGE_DIV)) > "large.d/large/$f")
  done
  chmod 0644 large.d/large/*; chmod 0755 large.d/large
  tar -C large.d "${TAROPTS[@]}" --mtime=@$SYNTH_MTIME --owner=0 --group=0 -cf large.tar.tmp large
  mv large.tar.tmp large.tar
  rm -rf large.d
fi

# (d) second layer with modifications and whiteouts relative to rootfs.tar ------------------
if [ "$SKIP_ROOTFS" != 1 ] && need layer2.tar; then
  python3 - rootfs.tar layer2.tar.tmp "$SYNTH_MTIME" <<'EOF'
import io, random, sys, tarfile, posixpath as pp
src, out, mtime = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(424242)
with tarfile.open(src) as t:
    members = {m.name.lstrip("./").rstrip("/"): m for m in t.getmembers()}
members.pop("", None)
names = sorted(members)
entries = {}  # name -> (TarInfo, data or None)

def add_dir(name):
    if not name or name in entries: return
    add_dir(pp.dirname(name))
    m = members.get(name)
    ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mtime = mtime
    ti.mode = m.mode if m is not None else 0o755
    entries[name] = (ti, None)

def add_file(name, data, mode=0o644):
    add_dir(pp.dirname(name))
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = mtime
    entries[name] = (ti, data)

def whiteout(name):
    add_file(pp.join(pp.dirname(name), ".wh." + pp.basename(name)), b"", 0o600)

regular = [n for n in names if members[n].isfile()]
# 1. modify ~300 existing regular files (every 10th under usr/bin, usr/lib, etc)
mod = [n for n in regular if n.startswith(("usr/bin/", "usr/lib/", "etc/"))][::10][:300]
for n in mod:
    m = members[n]
    add_file(n, rng.randbytes(max(64, m.size // 2)) + b"modified\n", m.mode)
# 2. add an application tree: 2,000 files of 1-8 KiB and one 8 MiB file
for i in range(2000):
    add_file(f"opt/app/lib/m{i // 100:02d}/part{i:04d}.js", rng.randbytes(rng.randint(512, 4096)).hex().encode())
add_file("opt/app/bin/app", rng.randbytes(8 << 20), 0o755)
add_file("etc/os-release", b'PRETTY_NAME="bench layer2"\nID=bench\n')
# 3. whiteouts: every package doc dir, and every 7th regular file under usr/share (not under doc)
docdirs = [n for n in names if pp.dirname(n) == "usr/share/doc" and members[n].isdir()]
for n in docdirs: whiteout(n)
share = [n for n in regular if n.startswith("usr/share/") and not n.startswith("usr/share/doc/")
         and not n.startswith(("usr/share/locale/", "usr/share/zoneinfo/", "usr/share/man/"))]
for n in share[::7]: whiteout(n)
# 4. opaque dirs: replaced wholesale
for d in ("usr/share/locale", "usr/share/zoneinfo", "usr/share/man", "var/lib/apt/lists"):
    if d in members:
        add_dir(d)
        add_file(d + "/.wh..wh..opq", b"", 0o600)
        add_file(d + "/README.bench", b"replaced by layer2\n")
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
    for n in sorted(entries):
        ti, data = entries[n]
        tf.addfile(ti, io.BytesIO(data) if data is not None else None)
print(f"layer2: {len(mod)} modified, {len(docdirs)} dir whiteouts, {len(share[::7])} file whiteouts, "
      f"{len(entries)} entries", file=sys.stderr)
EOF
  mv layer2.tar.tmp layer2.tar
fi

if need tiny.tar; then
  python3 - tiny.tar.tmp "$SYNTH_MTIME" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tf:
    ti = tarfile.TarInfo("tiny.txt"); data = b"x" * 4096; ti.size = len(data); ti.mtime = int(sys.argv[2])
    tf.addfile(ti, io.BytesIO(data))
EOF
  mv tiny.tar.tmp tiny.tar
fi

ls -l "$DATA"/*.tar "$DATA"/*.tar.gz 2>/dev/null || true
for t in rootfs.tar small.tar large.tar layer2.tar; do
  [ -f "$t" ] && printf '%-12s %8d entries\n' "$t" "$(tar -tf "$t" | wc -l)"
done
true
