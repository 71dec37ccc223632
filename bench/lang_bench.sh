#!/bin/bash
# lang_bench.sh BUILD_DIR - issue 9's python3 and node figures through
# emberd's gateway, each next to the same server run natively in the same run:
#   - python3 -m http.server (an OCI image built from this machine's files by
#     examples/lang/oci_image.sh, serving a 19-byte file) and node's
#     http.createServer hello (examples/lang/hello.js, `ember deploy
#     /usr/bin/node --file`);
#   - cold start: $COLD sequential requests to a service deployed with
#     `--isolation request`, so every request restores a fresh instance from
#     the snapshot (a new connection each; curl's time_total p50/p99, and the
#     gateway's Server-Timing restore and app p50: where the time goes).
#     Native: a new process started per request (its start-up included, from
#     exec to the first response), $NATIVE_COLD times;
#   - warm: wrk -t1 -c$CONNS -d$DURATION against a service with isolation
#     instance (after a 1 s wrk run has restored the instances it needs),
#     and natively; then one request at a time, a new connection each;
#   - density: $IDLE idle python3 instances of one service through
#     bench/density_bench.sh (IMAGE=..., SERVICES=1; IDLE=0 skips): the host
#     memory each adds, measured as that script does, brought up in
#     batches of $BATCH (100: a bigger batch queues more restores on a VM
#     worker than it answers in 30 s while the idle python3 instances
#     already there take the CPU; see docs/benchmarks.md).
# PARTS picks what runs (default "cold warm density").
set -eu
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
COLD=${COLD:-200}
NATIVE_COLD=${NATIVE_COLD:-20}
DURATION=${DURATION:-3s}
CONNS=${CONNS:-64}
IDLE=${IDLE:-1000}
PY_MEMORY=${PY_MEMORY:-64M}
NODE_MEMORY=${NODE_MEMORY:-128M}
PARTS=${PARTS:-cold warm density}
HERE=$(cd "$(dirname "$0")" && pwd)
LANG_DIR=$HERE/../examples/lang
EMBERD=$BUILD/src/platform/emberd
EMBER=$BUILD/src/cli/ember
for f in "$EMBERD" "$EMBER" /usr/bin/python3 /usr/bin/node; do
    [ -x "$f" ] || { echo "lang_bench: $f not found (build first; scripts/deps.sh installs python3 and nodejs)" >&2; exit 1; }
done
for t in wrk curl; do
    command -v $t >/dev/null || { echo "lang_bench: $t not installed (make deps)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lang_bench.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
GW_PORT=18581 API_PORT=18582 NATIVE_PY=18583 NATIVE_NODE=18584

wait_url() {  # until $1 answers 200 (at most 20 s)
    local i=0
    until curl -sf -o /dev/null "$1"; do
        i=$((i + 1))
        [ $i -gt 2000 ] && { echo "lang_bench: $1 never answered" >&2; exit 1; }
        sleep 0.01
    done
}

# The P-th percentile of column COL of $TMP/cold.cols: pct COL P.
pct() {
    sort -n -k"$1","$1" "$TMP/cold.cols" |
        awk -v c="$1" -v p="$2" '{ v[NR] = $c } END { i = int(NR * p + 0.5); if (i < 1) i = 1; print v[i] }'
}

# p50 and p99 of N sequential requests to URL, a new connection each, in one
# curl process; with Server-Timing, the p50 of its restore and app durations.
cold() {
    local url=$1 n=$2
    for i in $(seq "$n"); do
        [ "$i" -gt 1 ] && echo next
        printf 'url = "%s"\noutput = /dev/null\nsilent\nheader = "Connection: close"\n' "$url"
        printf 'write-out = "%%{http_code} %%{time_total} %%header{server-timing}\\n"\n'
    done | curl --config - >"$TMP/cold"
    # code, total ms, restore ms, app ms (0 when absent)
    awk '{ r = 0; a = 0
           if (match($0, /restore;dur=[0-9.]+/)) r = substr($0, RSTART + 12, RLENGTH - 12)
           if (match($0, /app;dur=[0-9.]+/)) a = substr($0, RSTART + 8, RLENGTH - 8)
           print $1, $2 * 1000, r, a }' "$TMP/cold" >"$TMP/cold.cols"
    printf 'p50 %.2f ms, p99 %.2f ms (of it restore p50 %.2f ms, app p50 %.2f ms; %d/%d ok)' \
        "$(pct 2 0.5)" "$(pct 2 0.99)" "$(pct 3 0.5)" "$(pct 4 0.5)" \
        "$(awk '$1 == 200' "$TMP/cold.cols" | wc -l)" "$n"
}

# A native process per request: exec to the first response, p50 and p99.
# native_cold PORT CMD ARGS... (the port is appended).
native_cold() {
    local port=$1
    shift
    for _ in $(seq "$NATIVE_COLD"); do
        local t0 t1
        t0=$(date +%s%N)
        "$@" "$port" >/dev/null 2>&1 &
        local p=$!
        until curl -sf -o /dev/null "http://127.0.0.1:$port/hello.txt"; do sleep 0.002; done
        t1=$(date +%s%N)
        kill "$p"
        wait "$p" 2>/dev/null || true
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{ v[NR] = $1 / 1000 }
        END { printf "p50 %.1f ms, p99 %.1f ms (%d starts)", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)], NR }'
}

warm() {  # wrk requests/s and p99 against URL, after a 1 s run not counted
    # (through the gateway it restores the instances that 64 connections use)
    wrk -t1 -c"$CONNS" -d1s "$1" >/dev/null 2>&1
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$1" 2>&1 |
        awk '/Requests\/sec/ { r = $2 } $1 == "99%" { p = $2 } /Non-2xx|Socket errors/ { e = e " " $0 }
             END { printf "%d req/s, p99 %s%s", r, p, e }'
}

echo "# lang_bench: python3 http.server and node hello, through emberd vs native"
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -sr), $(nproc) CPUs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $(/usr/bin/python3 --version), node $(/usr/bin/node --version); guest memory $PY_MEMORY (python3), $NODE_MEMORY (node)"

mkdir -p "$TMP/extra/srv"
printf 'hello from a file\n' >"$TMP/extra/srv/hello.txt"
cp "$TMP/extra/srv/hello.txt" "$TMP/extra/srv/index.html"
"$LANG_DIR/oci_image.sh" python3 "$TMP/py-oci" "$TMP/extra"
echo "- python3 image: $(du -sm "$TMP/py-oci" | cut -f1) MB"
PY_NATIVE=(/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$TMP/extra/srv")
NODE_NATIVE=(/usr/bin/node "$LANG_DIR/hello.js")

"$EMBERD" --data-dir "$TMP/data" --gateway "127.0.0.1:$GW_PORT" --api "127.0.0.1:$API_PORT" \
    >"$TMP/emberd.log" 2>&1 &
pids="$pids $!"
export EMBER_API="http://127.0.0.1:$API_PORT" EMBER_DATA_DIR="$TMP/data"
i=0
until "$EMBER" ls >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 300 ] && { cat "$TMP/emberd.log" >&2; echo "lang_bench: emberd did not start" >&2; exit 1; }
    sleep 0.1
done
for iso in instance request; do
    "$EMBER" deploy --image "$TMP/py-oci" --name "py-$iso" --memory "$PY_MEMORY" --isolation "$iso" \
        --idle-timeout 60s >/dev/null
    "$EMBER" deploy /usr/bin/node --name "node-$iso" --memory "$NODE_MEMORY" --isolation "$iso" \
        --idle-timeout 60s --file "$LANG_DIR/hello.js:/app/hello.js" -- /app/hello.js 8080 >/dev/null
done
gw() { echo "http://127.0.0.1:$GW_PORT/$1/hello.txt"; }

"${PY_NATIVE[@]}" "$NATIVE_PY" >/dev/null 2>&1 &
pids="$pids $!"
"${NODE_NATIVE[@]}" "$NATIVE_NODE" >/dev/null 2>&1 &
pids="$pids $!"
wait_url "http://127.0.0.1:$NATIVE_PY/hello.txt"
wait_url "http://127.0.0.1:$NATIVE_NODE/"

part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

if part cold; then
    echo
    echo "## cold start (python3, node: --isolation request, a restore per request)"
    echo "- python3 through the gateway: $(cold "$(gw py-request)" "$COLD")"
    echo "- python3 native, a process per request: $(native_cold $((NATIVE_PY + 10)) "${PY_NATIVE[@]}")"
    echo "- node through the gateway: $(cold "$(gw node-request)" "$COLD")"
    echo "- node native, a process per request: $(native_cold $((NATIVE_NODE + 10)) "${NODE_NATIVE[@]}")"

fi

if part warm; then
    echo
    echo "## warm (wrk -t1 -c$CONNS -d$DURATION; python3's http.server closes every connection: HTTP/1.0)"
    wait_url "$(gw py-instance)"
    wait_url "$(gw node-instance)"
    echo "- python3 through the gateway: $(warm "$(gw py-instance)")"
    echo "- python3 native: $(warm "http://127.0.0.1:$NATIVE_PY/hello.txt")"
    echo "- node through the gateway: $(warm "$(gw node-instance)")"
    echo "- node native: $(warm "http://127.0.0.1:$NATIVE_NODE/hello.txt")"
    echo "- the same, one request at a time on a new connection: python3 gateway $(cold "$(gw py-instance)" 50), native $(cold "http://127.0.0.1:$NATIVE_PY/hello.txt" 50)"
    echo "- node gateway $(cold "$(gw node-instance)" 50), native $(cold "http://127.0.0.1:$NATIVE_NODE/hello.txt" 50)"
    curl -s -H "Authorization: Bearer $(cat "$TMP/data/token")" "$EMBER_API/v1/instances" |
        tr '{' '\n' | awk -F'"private_memory_bytes":' 'NF > 1 { split($2, v, ","); s = s (s ? ", " : "") int(v[1] / 1024) " KiB" }
            END { print "- private guest memory of the instances after this: " s }'
fi

for p in $pids; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=""
if part density && [ "$IDLE" -gt 0 ]; then
    echo
    echo "## $IDLE idle python3 instances of one service (bench/density_bench.sh)"
    IMAGE=$TMP/py-oci NATIVE="${PY_NATIVE[*]}" MEMORY=$PY_MEMORY SERVICES=1 TARGET=$IDLE \
        BATCH=${BATCH:-100} POINTS="1 $((IDLE / 2)) $IDLE" REQUESTS=${REQUESTS:-100} \
        "$HERE/density_bench.sh" "$BUILD" | sed 1d
fi
