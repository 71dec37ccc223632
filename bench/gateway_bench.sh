#!/bin/bash
# gateway_bench.sh BUILD_DIR - the data path table of issue 11, every row in
# one run with the same client settings: the same small static HTTP server
# (examples/http_epoll, or nginx when NGINX=1 and nginx is installed)
#   native | in `ember-vm run -p` | through emberd, warm | emberd
#   --isolation request | Cloudflare workerd hello (when npm is installed)
# then the gateway over HTTPS: requests/s on kept-alive connections and
# TLS handshakes/s (a new connection per request), and HTTP/2 with h2load
# (nghttp2-client) where it is installed.
# wrk -t1 -c$CONNS -d$DURATION; curl p50 of $SEQ sequential requests (a
# new connection each, as the issue measured). All on 127.0.0.1.
# IDLE_SERVICES=N deploys N more services (the same program, no instance
# running: standby) before the emberd rows are measured.
set -eu
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
DURATION=${DURATION:-3s}
CONNS=${CONNS:-64}
SEQ=${SEQ:-200}
# Each binary can be taken from elsewhere (e.g. EMBERD=other/emberd to
# compare two gateways next to the same native rows).
VM=${VM:-$BUILD/src/cli/ember-vm}
EMBERD=${EMBERD:-$BUILD/src/platform/emberd}
EMBER=${EMBER:-$BUILD/src/cli/ember}
SERVER=${SERVER:-$BUILD/examples/gcc/http_epoll}
for f in "$VM" "$EMBERD" "$EMBER" "$SERVER"; do
    [ -x "$f" ] || { echo "gateway_bench: $f not found: build first" >&2; exit 1; }
done
for t in wrk curl openssl; do
    command -v $t >/dev/null || { echo "gateway_bench: $t not installed (make deps)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gateway_bench.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

wait_port() {  # wait until 127.0.0.1:$1 accepts (at most 20 s)
    i=0
    while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 400 ] && { echo "gateway_bench: port $1 never opened" >&2; exit 1; }
        sleep 0.05
    done
}

# curl p50 (µs) of $SEQ sequential requests: URL [curl options...]
curl_p50() {
    url=$1
    shift
    for _ in $(seq "$SEQ"); do
        curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"
    done | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f µs", v[int((NR + 1) / 2)] * 1e6 }'
}

# row NAME URL [curl/wrk options: -H header...]
row() {
    name=$1
    url=$2
    shift 2
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" "$url" 2>&1)
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
    p50=$(curl_p50 "$url" -k "$@")
    printf '| %-44s | %9s | %9s | %10s | %s\n' "$name" "$rps" "$p99" "$p50" "${errs:-}"
}

echo "# gateway_bench: wrk -t1 -c$CONNS -d$DURATION; curl p50 of $SEQ sequential requests"
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -sr), $(nproc) CPUs"
echo "- server: $(basename "$SERVER") (GET / -> 19-byte body)"
echo
printf '| %-44s | %9s | %9s | %10s |\n' "path" "req/s" "wrk p99" "curl p50"
echo "|----------------------------------------------|-----------|-----------|------------|"

NATIVE_PORT=18281 VM_PORT=18282 GW_PORT=18283 API_PORT=18284 TLS_PORT=18285 WD_PORT=18286

"$SERVER" "$NATIVE_PORT" >/dev/null 2>&1 &
pids="$pids $!"
wait_port "$NATIVE_PORT"
row "native" "http://127.0.0.1:$NATIVE_PORT/"

"$VM" run --mem 64M -p "$VM_PORT:8080" "$SERVER" -- 8080 >/dev/null 2>&1 &
pids="$pids $!"
wait_port "$VM_PORT"
row "in ember-vm run -p (no gateway)" "http://127.0.0.1:$VM_PORT/"
kill "$(echo $pids | awk '{print $NF}')" 2>/dev/null || true

# emberd with a certificate made now (not checked in).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,DNS:*.localhost" \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null
"$EMBERD" --data-dir "$TMP/data" --gateway "127.0.0.1:$GW_PORT" --api "127.0.0.1:$API_PORT" \
    --tls-cert "$TMP/tls.crt" --tls-key "$TMP/tls.key" --https "127.0.0.1:$TLS_PORT" \
    ${EMBERD_ARGS:-} >"$TMP/emberd.log" 2>&1 &
pids="$pids $!"
export EMBER_API="http://127.0.0.1:$API_PORT" EMBER_DATA_DIR="$TMP/data"
i=0
until "$EMBER" ls >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 200 ] && { cat "$TMP/emberd.log" >&2; echo "gateway_bench: emberd did not start" >&2; exit 1; }
    sleep 0.1
done
"$EMBER" deploy "$SERVER" --name warm --port 8080 --min 1 --idle-timeout 60s >/dev/null
"$EMBER" deploy "$SERVER" --name iso --port 8080 --isolation request >/dev/null
IDLE_SERVICES=${IDLE_SERVICES:-0}
if [ "$IDLE_SERVICES" -gt 0 ]; then
    # Through the API with the image already uploaded: one PUT each.
    TOKEN=$(cat "$TMP/data/token")
    IMAGE=$(curl -s -H "Authorization: Bearer $TOKEN" "$EMBER_API/v1/services/warm" |
        sed -n 's/.*"image": *"\([0-9a-f]*\)".*/\1/p')
    t0=$(date +%s.%N)
    for i in $(seq "$IDLE_SERVICES"); do
        curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" \
            -H "Content-Type: application/json" \
            -d "{\"image\":\"$IMAGE\",\"port\":8080}" "$EMBER_API/v1/services/idle-$i"
    done
    t1=$(date +%s.%N)
    IDLE_NOTE="- $IDLE_SERVICES other services deployed and idle during the emberd rows\
 ($(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s to deploy them; $("$EMBER" ls 2>/dev/null | grep -c idle- || true) listed)"
fi
curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/warm/"
row "through emberd, warm instances" "http://127.0.0.1:$GW_PORT/" -H "Host: warm.localhost"
row "through emberd, --isolation request" "http://127.0.0.1:$GW_PORT/" -H "Host: iso.localhost"

if command -v npm >/dev/null && [ "${WORKERD:-1}" = 1 ]; then
    WD=${WORKERD_DIR:-$HOME/.cache/ember-bench-workerd}
    mkdir -p "$WD"
    if [ ! -x "$WD/node_modules/.bin/workerd" ]; then
        (cd "$WD" && timeout 300 npm install --silent workerd >/dev/null 2>&1) || true
    fi
    if [ -x "$WD/node_modules/.bin/workerd" ]; then
        cat >"$TMP/hello.js" <<'EOF'
export default { async fetch() { return new Response("hello from workerd\n"); } };
EOF
        cat >"$TMP/workerd.capnp" <<EOF
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .hello) ],
  sockets = [ (name = "http", address = "127.0.0.1:$WD_PORT", http = (), service = "main") ],
);
const hello :Workerd.Worker = (
  modules = [ (name = "hello.js", esModule = embed "hello.js") ],
  compatibilityDate = "2024-01-01",
);
EOF
        "$WD/node_modules/.bin/workerd" serve "$TMP/workerd.capnp" >"$TMP/workerd.log" 2>&1 &
        pids="$pids $!"
        wait_port "$WD_PORT"
        row "Cloudflare workerd hello (no isolation)" "http://127.0.0.1:$WD_PORT/"
    else
        echo "| workerd: npm install workerd failed; skipped"
    fi
else
    echo "| workerd: npm not installed; skipped"
fi

echo
echo "HTTPS at the gateway (warm instances; ECDSA P-256, TLS 1.3):"
echo
printf '| %-44s | %9s | %9s | %10s |\n' "path" "req/s" "wrk p99" "curl p50"
echo "|----------------------------------------------|-----------|-----------|------------|"
row "https, kept-alive connections" "https://127.0.0.1:$TLS_PORT/" -H "Host: warm.localhost"
row "https, a handshake per request (handshakes/s)" "https://127.0.0.1:$TLS_PORT/" \
    -H "Host: warm.localhost" -H "Connection: close"
row "http, a connection per request" "http://127.0.0.1:$GW_PORT/" \
    -H "Host: warm.localhost" -H "Connection: close"

# HTTP/2 over TLS (ALPN h2) with h2load, the same number of requests at once
# as wrk's connections: one stream per connection, then 8 connections with
# 8 streams each. curl p50 with --http2. The third column is h2load's mean
# time per request (it prints no percentiles).
h2row() {
    name=$1
    shift
    out=$(h2load -D "${DURATION%s}" "$@" -H "Host: warm.localhost" "https://127.0.0.1:$TLS_PORT/" 2>&1)
    rps=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); printf "%d", $4}')
    mean=$(echo "$out" | awk '/^time for request:/ {print $6}')
    errs=$(echo "$out" | awk '/^status codes:/ && ($7 + $9 > 0) {printf "%s ", $0}
        /^requests:/ && $10 + 0 > 0 {printf "%s ", $0}')
    p50=$(curl_p50 "https://127.0.0.1:$TLS_PORT/" -k --http2 -H "Host: warm.localhost")
    printf '| %-44s | %9s | %9s | %10s | %s\n' "$name" "$rps" "mean $mean" "$p50" "${errs:-}"
}
if command -v h2load >/dev/null; then
    h2row "https HTTP/2, h2load -c$CONNS -m1" -c"$CONNS" -m1
    h2row "https HTTP/2, h2load -c8 -m8" -c8 -m8
else
    echo "| HTTP/2: h2load not installed (nghttp2-client); skipped"
fi
if [ -n "${IDLE_NOTE:-}" ]; then
    echo
    echo "$IDLE_NOTE"
fi
