#!/bin/sh
# cluster_bench.sh BUILD_DIR [ROUNDS] - a 3-node cluster on loopback (one
# etcd, three emberd; docs/cluster.md) and two measurements:
#  - deploy-to-servable on every node: a redeploy (new generation: a new
#    environment value) through node 1's API, then each node's gateway is
#    polled until it answers with the new generation's value; the time from
#    the start of the PUT, per node (node 1 is the deploying node: its PUT
#    returns once its own snapshot is ready; the others copy nothing new
#    (the image is the same) and prepare their own snapshot after the watch
#    event);
#  - warm request latency through each node's gateway (keep-alive client,
#    sequential requests), p50/p99, next to a single-node emberd (no
#    --cluster) in the same run as the baseline.
# Every node serves from its own snapshot: requests are not forwarded
# between nodes (docs/cluster.md "Not done yet"), so there is no forwarded
# latency to measure yet.
set -eu
BUILD=${1:-build}
ROUNDS=${2:-10}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
EMBERD=$BUILD/src/platform/emberd
APP=$BUILD/tests/e2e/apps/e2e_app
for f in "$EMBERD" "$APP"; do [ -x "$f" ] || { echo "$f not found: build it first" >&2; exit 1; }; done
command -v etcd >/dev/null || { echo "etcd is not installed (scripts/deps.sh)" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-cluster-bench.XXXXXX")
PIDS=""
ETCD=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    [ -n "$ETCD" ] && { kill -TERM "$ETCD" 2>/dev/null || true; wait "$ETCD" 2>/dev/null || true; }
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
etcd --name b0 --data-dir "$DIR/etcd" \
    --listen-client-urls http://127.0.0.1:24790 --advertise-client-urls http://127.0.0.1:24790 \
    --listen-peer-urls http://127.0.0.1:24800 --initial-advertise-peer-urls http://127.0.0.1:24800 \
    --initial-cluster b0=http://127.0.0.1:24800 >"$DIR/etcd.log" 2>&1 &
ETCD=$!
mkdir -m 700 "$DIR/n1" "$DIR/n2" "$DIR/n3" "$DIR/single"
head -c 32 /dev/urandom | xxd -p -c 64 >"$DIR/n1/token"
chmod 600 "$DIR/n1/token"
for d in n2 n3 single; do cp -p "$DIR/n1/token" "$DIR/$d/token"; done
sleep 1
n=0
for d in n1 n2 n3; do
    n=$((n + 1))
    "$EMBERD" --data-dir "$DIR/$d" --api "127.0.0.1:2581$n" --gateway "127.0.0.1:2580$n" \
        --cluster http://127.0.0.1:24790 --node "$d" --cluster-token-file "$DIR/cluster-token" \
        >"$DIR/$d.log" 2>&1 &
    PIDS="$PIDS $!"
    [ $n = 1 ] && sleep 1  # node 1 creates the cluster token
done
"$EMBERD" --data-dir "$DIR/single" --api 127.0.0.1:25819 --gateway 127.0.0.1:25809 \
    >"$DIR/single.log" 2>&1 &
PIDS="$PIDS $!"
echo "cluster_bench: 1 etcd + 3 nodes + 1 single node, $ROUNDS redeploys; $(date -u '+%Y-%m-%d %H:%M UTC')"
python3 - "$DIR" "$APP" "$ROUNDS" <<'PY'
import http.client, json, sys, time
d, app, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
token = open(d + "/n1/token").read().strip()
H = {"Authorization": "Bearer " + token}
def api(port, method, path, body=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=dict(H, **({"Content-Type": ctype} if body else {})))
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, data
def wait_up(port):
    for _ in range(300):
        try:
            if api(port, "GET", "/v1/services")[0] == 200: return
        except OSError: pass
        time.sleep(0.05)
    sys.exit("node on %d did not start" % port)
for p in (25811, 25812, 25813, 25819): wait_up(p)
time.sleep(1.5)  # every node registered and watching
img = open(app, "rb").read()
def deploy(port, gen):
    s, b = api(port, "POST", "/v1/images", img, "application/octet-stream")
    sha = json.loads(b)["sha256"]
    spec = {"image": sha, "port": 8080, "env": {"GEN": str(gen)}}
    return api(port, "PUT", "/v1/services/bench", json.dumps(spec))
def get(port, path, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"Host": "bench.localhost"})
    r = c.getresponse(); body = r.read()
    return r.status, body
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]
# deploy-to-servable on every node
nodes = {"n1": 25801, "n2": 25802, "n3": 25803}
times = {k: [] for k in nodes}
deploy(25819, 0)
for gen in range(1, rounds + 1):
    t0 = time.perf_counter()
    s, b = deploy(25811, gen)
    if s not in (200, 201): sys.exit("deploy failed: %d %s" % (s, b[:200]))
    pending = dict(nodes)
    while pending:
        for k, port in list(pending.items()):
            try:
                st, body = get(port, "/env/GEN")
                if st == 200 and body.strip() == str(gen).encode():
                    times[k].append((time.perf_counter() - t0) * 1000); del pending[k]
            except OSError: pass
        if time.perf_counter() - t0 > 30: sys.exit("generation %d not served everywhere in 30 s" % gen)
        time.sleep(0.002)
print("deploy-to-servable (ms from the PUT to node 1; node 1's PUT includes its own prepare)")
print("  %-6s %8s %8s %8s" % ("node", "p50", "p99", "max"))
for k in nodes:
    print("  %-6s %8.1f %8.1f %8.1f" % (k, pct(times[k], 50), pct(times[k], 99), max(times[k])))
# warm latency per node, and the single node as the baseline
print("warm request latency through the gateway (keep-alive, 2000 sequential GET /)")
print("  %-12s %8s %8s" % ("node", "p50 us", "p99 us"))
for name, port in list(nodes.items()) + [("single-node", 25809)]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(200): get(port, "/", conn)
    lat = []
    for _ in range(2000):
        t = time.perf_counter(); st, _b = get(port, "/", conn); lat.append((time.perf_counter() - t) * 1e6)
        if st != 200: sys.exit("%s: HTTP %d" % (name, st))
    print("  %-12s %8.0f %8.0f" % (name, pct(lat, 50), pct(lat, 99)))
PY
