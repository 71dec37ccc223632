#!/bin/sh
# signal_bench.sh BUILD_DIR - signal delivery round trip (raise(SIGUSR1) to
# the handler's return) of examples/signal_bench.c, natively and in ember-vm,
# glibc and musl builds, RUNS times each (default 5); prints every run's
# median and p99. Quote the host's trap costs next to them
# (/work/shared/platform/pvm-probe: ./pvmtest native).
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-5}
VM=$BUILD/src/cli/ember-vm
echo "# signal_bench $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# host: $(uname -sr), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
for libc in gcc musl; do
    prog=$BUILD/examples/$libc/signal_bench
    [ -x "$prog" ] || { echo "signal_bench: $prog not found: build first" >&2; exit 1; }
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        echo "$libc native: $("$prog")"
        echo "$libc ember:  $("$VM" run "$prog")"
        i=$((i + 1))
    done
done
