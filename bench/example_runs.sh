#!/bin/sh
# example_runs.sh NAME BUILD_DIR - runs examples/NAME.c's glibc and musl
# builds natively and in ember-vm, RUNS times each (default 5), printing
# each run's own figures (the program times itself) after a header with
# the date, commit and host. The shared body of signal_bench.sh and
# thread_bench.sh. Quote the host's trap costs next to the figures
# (/work/shared/platform/pvm-probe: ./pvmtest native).
set -eu
NAME=$1
BUILD=${2:-build}
RUNS=${RUNS:-5}
VM=$BUILD/src/cli/ember-vm
echo "# $NAME $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# host: $(uname -sr), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
for libc in gcc musl; do
    prog=$BUILD/examples/$libc/$NAME
    [ -x "$prog" ] || { echo "$NAME: $prog not found: build first" >&2; exit 1; }
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        echo "$libc native: $("$prog")"
        echo "$libc ember:  $("$VM" run "$prog")"
        i=$((i + 1))
    done
done
