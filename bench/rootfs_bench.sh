#!/bin/sh
# rootfs_bench.sh BUILD_DIR [ROUNDS] - boot and restore with a ~100 MB root
# filesystem vs a ~1 MB one (issue 9: within 2x), the root filesystem being
# its own memory slot mapped from the host cache (docs/architecture.md,
# "Guest memory map"; docs/platform.md, "The root filesystem cache"):
#  - `ember-vm run --rootfs TREE busybox true`: the first run (cache cold:
#    the archive is built and stored), ROUNDS later runs (from the cache),
#    and ROUNDS runs with an unwritable cache (built every run, as before the
#    cache), median and p99 wall time, next to the same busybox natively;
#  - `ember-vm restore` of a snapshot taken at READY (busybox sh blocked
#    reading stdin), ROUNDS restores, median and p99;
#  - the snapshot's allocated size: referring to the cached archive (now)
#    vs holding it (the cache unwritable: the archive is a memfd, as every
#    archive was copied into guest memory before).
# Wall times include starting ember-vm (fork + exec), as a user sees them.
set -eu
BUILD=${1:-build}
ROUNDS=${2:-20}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
VM=$BUILD/src/cli/ember-vm
BB=/bin/busybox
[ -x "$VM" ] || { echo "$VM not found: build it first" >&2; exit 1; }
[ -x "$BB" ] || { echo "busybox-static is not installed (scripts/deps.sh)" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-rootfs-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT INT TERM

# Trees: 1 file of 1 MiB; 100 files of 1 MiB (random: no compression helps).
mkdir -p "$DIR/small/data" "$DIR/big/data"
head -c 1048576 /dev/urandom >"$DIR/small/data/f0"
i=0
while [ $i -lt 100 ]; do
    head -c 1048576 /dev/urandom >"$DIR/big/data/f$i"
    i=$((i + 1))
done

now_us() { echo $(($(date +%s%N) / 1000)); }
# stats FILE: "median p99" of the numbers in FILE (one a line), in ms.
stats() {
    sort -n "$1" | awk '{a[NR]=$1} END {
        m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.99 + 0.999)]; if (p == "") p = a[NR];
        printf "median %.2f ms  p99 %.2f ms  (n=%d)", m / 1000, p / 1000, NR }'
}
# time_runs N OUT CMD...: runs CMD N times, wall times (us) into OUT.
time_runs() {
    n=$1 out=$2
    shift 2
    : >"$out"
    k=0
    while [ $k -lt "$n" ]; do
        t0=$(now_us)
        "$@" >/dev/null 2>&1 </dev/null || { echo "failed: $*" >&2; exit 1; }
        echo $(($(now_us) - t0)) >>"$out"
        k=$((k + 1))
    done
}
alloc_kib() { du -k "$1" | cut -f1; }

echo "rootfs_bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, ROUNDS=$ROUNDS"
time_runs "$ROUNDS" "$DIR/native" "$BB" true
echo "native busybox true:             $(stats "$DIR/native")"
for t in small big; do
    size=$(du -sh "$DIR/$t" | cut -f1)
    export EMBER_CACHE_DIR="$DIR/cache-$t"
    time_runs 1 "$DIR/cold-$t" "$VM" run --rootfs "$DIR/$t" "$BB" -- true
    time_runs "$ROUNDS" "$DIR/warm-$t" "$VM" run --rootfs "$DIR/$t" "$BB" -- true
    echo "run, $size tree, first (cache cold): $(stats "$DIR/cold-$t")"
    echo "run, $size tree, later (cached):     $(stats "$DIR/warm-$t")"
    # As before the cache: the tree read and the archive built every run.
    EMBER_CACHE_DIR=/proc/ember-no-cache \
        time_runs "$ROUNDS" "$DIR/nocache-$t" "$VM" run --rootfs "$DIR/$t" "$BB" -- true
    echo "run, $size tree, no cache (built every run): $(stats "$DIR/nocache-$t")"
    "$VM" run --snapshot-out "$DIR/$t.snap" --rootfs "$DIR/$t" "$BB" -- sh -c 'read x; echo $x' \
        >/dev/null 2>&1 </dev/null
    echo hi >"$DIR/in"
    time_runs "$ROUNDS" "$DIR/restore-$t" "$VM" restore --stdin "$DIR/in" "$DIR/$t.snap"
    echo "restore, $size tree:                $(stats "$DIR/restore-$t")"
    # The same snapshot holding the archive: an unwritable cache (a memfd).
    EMBER_CACHE_DIR=/proc/ember-no-cache "$VM" run --snapshot-out "$DIR/$t-held.snap" \
        --rootfs "$DIR/$t" "$BB" -- sh -c 'read x; echo $x' >/dev/null 2>&1 </dev/null
    time_runs "$ROUNDS" "$DIR/restore-held-$t" "$VM" restore --stdin "$DIR/in" "$DIR/$t-held.snap"
    echo "restore, $size tree, held in the snapshot: $(stats "$DIR/restore-held-$t")"
    echo "snapshot size, $size tree: $(alloc_kib "$DIR/$t.snap") KiB referring to the archive," \
        "$(alloc_kib "$DIR/$t-held.snap") KiB holding it"
done
unset EMBER_CACHE_DIR
small=$(sort -n "$DIR/warm-small" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
big=$(sort -n "$DIR/warm-big" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "big / small tree, cached run medians: $(awk -v b="$big" -v s="$small" 'BEGIN {printf "%.2fx", b / s}')"
