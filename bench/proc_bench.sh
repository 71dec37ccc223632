#!/bin/sh
# proc_bench.sh BUILD_DIR - processes: fork+exit+wait of a 64 MiB-resident
# parent, posix_spawn of a static program, pipe throughput and ping-pong
# between two processes (examples/proc_bench.c), natively and in ember-vm
# (--mem 512M, --stats for the kernel's fork and CR3 counters), glibc build,
# RUNS times (default 3). Quote the host's trap costs next to the figures
# (/work/shared/platform/pvm-probe: ./pvmtest native).
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-3}
ARGS=${ARGS:-64 20 20 64 2000}
VM=$BUILD/src/cli/ember-vm
prog=$BUILD/examples/gcc/proc_bench
[ -x "$prog" ] || { echo "proc_bench: $prog not found: build first" >&2; exit 1; }
echo "# proc_bench $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown) args $ARGS"
echo "# host: $(uname -sr), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
i=0
while [ "$i" -lt "$RUNS" ]; do
    echo "## native"
    # shellcheck disable=SC2086
    "$prog" $ARGS
    echo "## ember"
    # shellcheck disable=SC2086
    "$VM" run --mem 512M --stats "$prog" -- $ARGS 2>&1
    i=$((i + 1))
done
