#!/bin/sh
# udp_bench.sh BUILD_DIR - UDP round trips from a guest to a host echo
# server through the host (examples/udp_egress.c `bench`): one-datagram
# send + recv on a connected socket, ROUNDS times; the same binary natively
# against the same server as the baseline, glibc and musl builds, RUNS times
# each (default 5). Prints each run's median and p99; the medians go to
# docs/benchmarks.md. EMBERD=1 also runs the glibc build as a service
# deployed to an emberd of its own (its UDP through emberd's connected
# sockets; the deploy fails when the program exits, with its output). The echo server is python3 on 127.0.0.1 (its own cost
# is in both columns).
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-5}
ROUNDS=${ROUNDS:-2000}
VM=$BUILD/src/cli/ember-vm
command -v python3 >/dev/null || { echo "udp_bench: needs python3 for the echo server" >&2; exit 1; }
portfile=$(mktemp)
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    d, a = s.recvfrom(65536)
    s.sendto(d, a)
' "$portfile" &
echo_pid=$!
emberd_pid=
data=$(mktemp -d)
trap 'kill $echo_pid $emberd_pid 2>/dev/null; rm -rf "$portfile" "$data"' EXIT INT TERM
while [ ! -s "$portfile" ]; do sleep 0.05; done
port=$(cat "$portfile")
echo "# udp_bench $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown) ROUNDS=$ROUNDS"
echo "# host: $(uname -sr), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
for libc in gcc musl; do
    prog=$BUILD/examples/$libc/udp_egress
    [ -x "$prog" ] || { echo "udp_bench: $prog not found: build first" >&2; exit 1; }
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        echo "$libc native: $("$prog" bench 127.0.0.1 "$port" "$ROUNDS")"
        echo "$libc ember:  $("$VM" run --allow-egress "127.0.0.1:$port" "$prog" -- bench 127.0.0.1 "$port" "$ROUNDS")"
        i=$((i + 1))
    done
done
if [ "${EMBERD:-0}" = 1 ]; then
    api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$BUILD/src/platform/emberd" --data-dir "$data/d" --gateway 127.0.0.1:0 \
        --api "127.0.0.1:$api_port" >"$data/log" 2>&1 &
    emberd_pid=$!
    while [ ! -s "$data/d/token" ]; do sleep 0.05; done
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        out=$("$BUILD/src/cli/ember" --api "http://127.0.0.1:$api_port" --data-dir "$data/d" \
            deploy "$BUILD/examples/gcc/udp_egress" --name "b$i" --port 80 \
            --allow-egress "127.0.0.1:$port" -- bench 127.0.0.1 "$port" "$ROUNDS" 2>&1 || true)
        echo "gcc emberd: $(echo "$out" | sed -n 's/.*\(udp round trip.*\)/\1/p')"
        i=$((i + 1))
    done
fi
