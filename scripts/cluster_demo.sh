#!/bin/sh
# cluster_demo.sh BUILD_DIR - a 3-node Ember cluster on loopback
# (docs/cluster.md): one etcd member and three emberd nodes with their own
# data directories under a temporary directory, the example server deployed
# through node 1 and called through every node. In a terminal everything
# keeps running until Ctrl-C; otherwise (EMBER_DEMO_KEEP=0) it is stopped.
# Ports: etcd 23790/23800, nodes 18081/18080, 18091/18090, 18101/18100.
set -u
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
EMBERD=$BUILD/src/platform/emberd
EMBER=$BUILD/src/cli/ember
APP=$BUILD/examples/gcc/http_epoll
if [ -z "${EMBER_DEMO_KEEP:-}" ]; then
    if [ -t 0 ] && [ -t 1 ]; then EMBER_DEMO_KEEP=1; else EMBER_DEMO_KEEP=0; fi
fi
die() { echo "cluster demo: $*" >&2; exit 1; }
for f in "$EMBERD" "$EMBER" "$APP"; do [ -x "$f" ] || die "$f not found: build first"; done
command -v etcd >/dev/null || die "etcd is not installed (scripts/deps.sh: etcd-server)"
command -v curl >/dev/null || die "curl is not installed"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-cluster.XXXXXX")
PIDS=""
stop() {
    # Nodes first (each revokes its lease), then etcd.
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    [ -n "${ETCD:-}" ] && kill -TERM "$ETCD" 2>/dev/null && wait "$ETCD" 2>/dev/null
    rm -rf "$DIR"
}
trap 'stop; exit 0' INT TERM
trap 'stop' EXIT

etcd --name e0 --data-dir "$DIR/etcd" \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster e0=http://127.0.0.1:23800 >"$DIR/etcd.log" 2>&1 &
ETCD=$!
i=0
until curl -s -o /dev/null http://127.0.0.1:23790/health; do
    i=$((i + 1)); [ $i -gt 100 ] && die "etcd did not start (see $DIR/etcd.log)"; sleep 0.1
done
echo "== etcd at http://127.0.0.1:23790 (data in $DIR/etcd)"

# One API token and one cluster token for all nodes (node 1 creates them).
mkdir -m 700 "$DIR/n1" "$DIR/n2" "$DIR/n3"
start_node() { # n api gateway
    "$EMBERD" --data-dir "$DIR/n$1" --api "127.0.0.1:$2" --gateway "127.0.0.1:$3" \
        --cluster http://127.0.0.1:23790 --node "n$1" --cluster-token-file "$DIR/cluster-token" \
        >"$DIR/n$1.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    until [ -s "$DIR/n$1/token" ] && EMBER_TOKEN=$(cat "$DIR/n$1/token") \
        "$EMBER" --api "http://127.0.0.1:$2" ls >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 200 ] && die "node n$1 did not start: $(tail -3 "$DIR/n$1.log")"; sleep 0.1
    done
    echo "== node n$1: API http://127.0.0.1:$2, gateway http://127.0.0.1:$3 (log $DIR/n$1.log)"
}
start_node 1 18081 18080
cp -p "$DIR/n1/token" "$DIR/n2/token"
cp -p "$DIR/n1/token" "$DIR/n3/token"
start_node 2 18091 18090
start_node 3 18101 18100
export EMBER_TOKEN
EMBER_TOKEN=$(cat "$DIR/n1/token")

echo "== ember --api http://127.0.0.1:18081 deploy $APP --name hello --port 8080"
"$EMBER" --api http://127.0.0.1:18081 deploy "$APP" --name hello --port 8080 || die "deploy failed"
for gw in 18080 18090 18100; do
    i=0
    until out=$(curl -sf "http://127.0.0.1:$gw/hello/"); do
        i=$((i + 1)); [ $i -gt 200 ] && die "node with gateway $gw does not serve hello"; sleep 0.05
    done
    echo "curl http://127.0.0.1:$gw/hello/  ->  $out"
done
echo "== ember --api http://127.0.0.1:18101 nodes"
"$EMBER" --api http://127.0.0.1:18101 nodes
echo
echo "Try: EMBER_TOKEN=$EMBER_TOKEN $EMBER --api http://127.0.0.1:18091 ls"
if [ "$EMBER_DEMO_KEEP" = 1 ]; then
    echo "Running; Ctrl-C stops the nodes and etcd and removes $DIR."
    wait
fi
