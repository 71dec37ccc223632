#!/bin/bash
# volume_bench.sh BUILD_DIR - what volume file operations cost: the same
# binary (examples/vol_bench) natively on a host directory and in
# `ember-vm run --volume` on another one, side by side (per-op p50/p99 in
# microseconds, sequential MB/s). Each guest operation is one hypercall
# exit per path component and per 256 KiB of data (docs/architecture.md,
# "Volumes").
set -eu
BUILD=${1:-build}
N=${N:-200}
VM=$BUILD/src/cli/ember-vm
PROG=$BUILD/examples/gcc/vol_bench
for f in "$VM" "$PROG"; do
    [ -x "$f" ] || { echo "volume_bench: $f not found: build first" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/volume_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
mkdir -p "$TMP/native" "$TMP/vol"
echo "== native ($TMP/native, $(df -T "$TMP" | awk 'NR==2 {print $2}'))"
"$PROG" "$TMP/native" "$N"
echo "== ember-vm run --volume ($TMP/vol)"
"$VM" run --stats --volume "$TMP/vol:/data" "$PROG" -- /data "$N"
