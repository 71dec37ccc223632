#!/bin/sh
# sock_bench.sh BUILD_DIR - sockets inside one instance (examples/sock_bench.c):
# AF_UNIX stream throughput between two threads, one-byte round trips over
# an AF_UNIX socketpair, loopback TCP and loopback UDP; natively and in
# ember-vm, glibc and musl builds, RUNS times each (default 5). Prints every
# run's figures; the medians go to docs/benchmarks.md. Quote the host's trap
# costs next to them (/work/shared/platform/pvm-probe: ./pvmtest native).
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-5}
MB=${MB:-256}
ROUNDS=${ROUNDS:-2000}
VM=$BUILD/src/cli/ember-vm
echo "# sock_bench $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown) MB=$MB ROUNDS=$ROUNDS"
echo "# host: $(uname -sr), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
for libc in gcc musl; do
    prog=$BUILD/examples/$libc/sock_bench
    [ -x "$prog" ] || { echo "sock_bench: $prog not found: build first" >&2; exit 1; }
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        echo "$libc native: $("$prog" "$MB" "$ROUNDS")"
        echo "$libc ember:  $("$VM" run --mem 128M "$prog" -- "$MB" "$ROUNDS")"
        i=$((i + 1))
    done
done
