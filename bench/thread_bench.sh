#!/bin/sh
# thread_bench.sh BUILD_DIR - thread create+join and futex ping-pong (per
# switch) of examples/thread_bench.c, natively and in ember-vm, glibc and
# musl builds, RUNS times each (default 5); prints every run's figures, the
# median is for docs/benchmarks.md. Quote the host's trap costs next to them
# (/work/shared/platform/pvm-probe: ./pvmtest native).
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-5}
VM=$BUILD/src/cli/ember-vm
echo "# thread_bench $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# host: $(uname -sr), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
for libc in gcc musl; do
    prog=$BUILD/examples/$libc/thread_bench
    [ -x "$prog" ] || { echo "thread_bench: $prog not found: build first" >&2; exit 1; }
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        echo "$libc native: $("$prog")"
        echo "$libc ember:  $("$VM" run "$prog")"
        i=$((i + 1))
    done
done
