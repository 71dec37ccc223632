#!/bin/sh
# platform_demo.sh BUILD_DIR - the emberd part of `make run`: starts emberd
# (data in ./var/ember), deploys the bundled example servers, sends each a
# first (cold) and a second (warm) request, and prints the curl and ember
# commands that reach them. In a terminal emberd then keeps running until
# Ctrl-C; otherwise (EMBER_DEMO_KEEP=0, or no terminal) it is stopped.
# EMBER_GATEWAY / EMBER_API choose the listen addresses (default
# 127.0.0.1:8080 / 127.0.0.1:8081).
set -u
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
EMBERD=$BUILD/src/platform/emberd
EMBER=$BUILD/src/cli/ember
GCC=$BUILD/examples/gcc
GATEWAY=${EMBER_GATEWAY:-127.0.0.1:8080}
API=${EMBER_API_ADDR:-${EMBER_API:-127.0.0.1:8081}}
API=${API#http://}
DATA=${EMBER_DATA_DIR:-./var/ember}
if [ -z "${EMBER_DEMO_KEEP:-}" ]; then
    if [ -t 0 ] && [ -t 1 ]; then EMBER_DEMO_KEEP=1; else EMBER_DEMO_KEEP=0; fi
fi

if [ -t 1 ]; then B=$(printf '\033[1m'); G=$(printf '\033[32m'); R=$(printf '\033[31m'); D=$(printf '\033[2m'); N=$(printf '\033[0m')
else B= G= R= D= N=; fi
die() { echo "${R}platform demo: $*${N}" >&2; exit 1; }
for f in "$EMBERD" "$EMBER" "$GCC/http_epoll" "$GCC/http_blocking"; do
    [ -x "$f" ] || die "$f not found: build first (make build)"
done
command -v curl >/dev/null || die "curl is not installed (make deps)"

LOG=$(mktemp "${TMPDIR:-/tmp}/emberd-demo.XXXXXX")
echo
echo "${B}== emberd: the serverless platform (gateway http://$GATEWAY, API http://$API, data in $DATA)${N}"
"$EMBERD" --data-dir "$DATA" --gateway "$GATEWAY" --api "$API" >"$LOG" 2>&1 &
PID=$!
stop() {
    if kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -f "$LOG"
}
trap 'stop; exit 0' INT TERM
trap 'stop' EXIT

export EMBER_API="http://$API" EMBER_DATA_DIR="$DATA"
i=0
until "$EMBER" ls >/dev/null 2>&1; do
    i=$((i + 1))
    if ! kill -0 "$PID" 2>/dev/null || [ $i -gt 100 ]; then
        sed 's/^/  ! /' "$LOG" >&2
        die "emberd did not start (is $GATEWAY or $API in use? set EMBER_GATEWAY / EMBER_API)"
    fi
    sleep 0.1
done
sed 's/^/  /' "$LOG"

run() {  # prints and runs a command
    echo "${D}\$ $*${N}" | sed "s|$BUILD/|build/|g"
    "$@"
}

echo
echo "${B}== Deploy the bundled example servers (each boots once to READY; its snapshot is kept)${N}"
run "$EMBER" deploy "$GCC/http_epoll" --name hello --port 8080 --idle-timeout 5s || die "deploy failed"
run "$EMBER" deploy "$GCC/http_blocking" --name blocking --port 8080 --concurrency 1 --idle-timeout 5s || die "deploy failed"
run "$EMBER" deploy "$GCC/http_epoll" --name isolated --isolation request || die "deploy failed"
run "$EMBER" ls

GW_PORT=${GATEWAY##*:}
echo
echo "${B}== Requests through the gateway (Server-Timing shows the stages; restore = cold start)${N}"
for svc in hello hello blocking isolated isolated; do
    echo "${D}\$ curl -si http://$svc.localhost:$GW_PORT/${N}"
    curl -s -D - -o "$LOG.body" --resolve "$svc.localhost:$GW_PORT:127.0.0.1" "http://$svc.localhost:$GW_PORT/" |
        grep -i -E '^(HTTP/|server-timing|x-ember-instance)' | tr -d '\r' | sed 's/^/  /'
    sed 's/^/  | /' "$LOG.body"
done
rm -f "$LOG.body"
run "$EMBER" status hello

echo
echo "${G}${B}emberd is serving:${N}"
cat <<EOF2 | sed "s|$BUILD/|build/|g"
  curl http://hello.localhost:$GW_PORT/            # Host routing: <name>.localhost
  curl http://127.0.0.1:$GW_PORT/hello/size/100    # or the path prefix /<name>/
  curl -d 'echo me' http://blocking.localhost:$GW_PORT/
  curl http://isolated.localhost:$GW_PORT/         # a fresh microVM per request
  curl -H "Authorization: Bearer \$(cat $DATA/token)" http://$API/metrics
and the ember CLI (with EMBER_API=http://$API EMBER_DATA_DIR=$DATA in the environment):
  $EMBER ls
  $EMBER status hello
  $EMBER invoke hello /size/10
  $EMBER logs hello -f
  $EMBER scale hello --min 1
  $EMBER deploy ./my-static-server --name mine --port 8080
EOF2
if [ "$EMBER_DEMO_KEEP" = 1 ]; then
    echo
    echo "${B}emberd keeps running; Ctrl-C stops it.${N}"
    wait "$PID"
else
    echo
    echo "(not a terminal: emberd stopped; run 'make run' in a terminal, or EMBER_DEMO_KEEP=1, to keep it running)"
fi
