#!/bin/bash
# net_bench.sh BUILD_DIR - wrk against the example epoll HTTP server, run
# natively and inside `ember-vm run -p`, same binary, same run (issue 4).
# DURATION (default 10s) and CONNS (default 64) override the load.
# All traffic stays on 127.0.0.1; every run is bounded in time.
set -eu
BUILD=${1:-build}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
VM=$BUILD/src/cli/ember-vm
SERVER=$BUILD/examples/gcc/http_epoll
for f in "$VM" "$SERVER"; do
    [ -x "$f" ] || { echo "net_bench: $f not found: build first" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "net_bench: wrk not installed (make deps)" >&2; exit 1; }

NATIVE_PORT=18181
EMBER_PORT=18182
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

wait_port() {  # wait until 127.0.0.1:$1 accepts (at most 10 s)
    i=0
    while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && { echo "net_bench: port $1 never opened" >&2; exit 1; }
        sleep 0.05
    done
}

run_wrk() {  # name port
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$2/")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    printf '| %-28s | %12s | %10s | %10s | %s\n' "$1" "$rps" "$p50" "$p99" "${errs:-}"
    echo "$rps" > "/tmp/net_bench_$2.rps"
}

echo "# net_bench: wrk -t1 -c$CONNS -d$DURATION --latency, GET / (19-byte body)"
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -sr), $(nproc) CPUs"
echo
printf '| %-28s | %12s | %10s | %10s |\n' "server" "requests/s" "p50" "p99"
echo "|------------------------------|--------------|------------|------------|"

"$SERVER" "$NATIVE_PORT" >/dev/null 2>&1 &
pids="$pids $!"
wait_port "$NATIVE_PORT"
run_wrk "http_epoll native" "$NATIVE_PORT"

"$VM" run --mem 64M -p "$EMBER_PORT:8080" "$SERVER" -- 8080 >/dev/null 2>&1 &
pids="$pids $!"
wait_port "$EMBER_PORT"
run_wrk "http_epoll in ember-vm -p" "$EMBER_PORT"

n=$(cat /tmp/net_bench_$NATIVE_PORT.rps)
e=$(cat /tmp/net_bench_$EMBER_PORT.rps)
echo
awk -v n="$n" -v e="$e" 'BEGIN { printf "throughput ratio (ember / native): %.2f\n", e / n }'
rm -f /tmp/net_bench_*.rps
