#!/bin/sh
# cluster_bench.sh BUILD_DIR [ROUNDS] - a 3-node cluster on loopback (one
# etcd, three emberd with --node-ttl 2s; docs/cluster.md) and:
#  - deploy-to-servable on every node: a redeploy (new generation: a new
#    environment value) through node 1's API, then each node's gateway is
#    polled until it answers with the new generation's value; the time from
#    the start of the PUT, per node (node 1 is the deploying node: its PUT
#    returns once its own snapshot is ready; the others copy nothing new
#    (the image is the same) and prepare their own snapshot after the watch
#    event);
#  - warm request latency through each node's gateway (keep-alive client,
#    sequential requests), p50/p99, next to a single-node emberd (no
#    --cluster) in the same run as the baseline;
#  - a forwarded request vs a local one: a service with max_instances 1
#    (its one instance on n1, the first node by name), requested through n1
#    (local) and through n2 (forwarded to n1), warm, p50/p99 and the added
#    latency;
#  - cold start through a forwarding node: the same service scaled to zero
#    (idle_timeout_ms 0), then one request through n1 (local cold start)
#    or through n2 (forwarded, cold start on n1), ROUNDS*2 each;
#  - kill -9 of n1 under no load: the time until the max-1 service answers
#    through n2 again, and until a min_instances 3 service has its 3
#    instances on n2 and n3 (the lease of 2 s included).
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
        --node-ttl 2s >"$DIR/$d.log" 2>&1 &
    PIDS="$PIDS $!"
    [ $n = 1 ] && N1PID=$!
    [ $n = 1 ] && sleep 1  # node 1 creates the cluster token
done
"$EMBERD" --data-dir "$DIR/single" --api 127.0.0.1:25819 --gateway 127.0.0.1:25809 \
    >"$DIR/single.log" 2>&1 &
PIDS="$PIDS $!"
echo "cluster_bench: 1 etcd + 3 nodes + 1 single node, $ROUNDS redeploys; $(date -u '+%Y-%m-%d %H:%M UTC')"
python3 - "$DIR" "$APP" "$ROUNDS" "$N1PID" <<'PY'
import http.client, json, os, signal, sys, time
d, app, rounds, n1pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
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
def deploy(port, gen, name="bench", **extra):
    s, b = api(port, "POST", "/v1/images", img, "application/octet-stream")
    sha = json.loads(b)["sha256"]
    spec = dict({"image": sha, "port": 8080, "env": {"GEN": str(gen)}}, **extra)
    return api(port, "PUT", "/v1/services/" + name, json.dumps(spec))
def get(port, path, conn=None, name="bench"):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"Host": name + ".localhost"})
    r = c.getresponse(); body = r.read()
    if conn is None: c.close()
    return r.status, body
def get_h(port, path, conn, name):
    conn.request("GET", path, headers={"Host": name + ".localhost"})
    r = conn.getresponse(); r.read()
    return r.status, r.getheader("X-Ember-Node", "")
def instances(apiport, name):
    s, b = api(apiport, "GET", "/v1/services/" + name)
    return json.loads(b).get("instances", -1) if s == 200 else -1
def served_everywhere(name, ports=(25801, 25802, 25803)):
    t0 = time.time()
    while time.time() - t0 < 30:
        if all(get(p, "/", name=name)[0] == 200 for p in ports): return
        time.sleep(0.05)
    sys.exit(name + " not served everywhere in 30 s")
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
# a forwarded request vs a local one
s, b = deploy(25811, 1, "fwd", max_instances=1)
if s not in (200, 201): sys.exit("deploy fwd failed: %d %s" % (s, b[:200]))
served_everywhere("fwd")
print("forwarded vs local request (max_instances 1: its instance on n1; keep-alive, 2000 sequential GET /)")
print("  %-22s %8s %8s" % ("path", "p50 us", "p99 us"))
res = {}
for label, port, want in (("local (n1)", 25801, ""), ("forwarded (n2 -> n1)", 25802, "n1")):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(200): get_h(port, "/", conn, "fwd")
    lat = []
    for _ in range(2000):
        t = time.perf_counter(); st, node = get_h(port, "/", conn, "fwd")
        lat.append((time.perf_counter() - t) * 1e6)
        if st != 200 or node != want: sys.exit("%s: HTTP %d served by '%s'" % (label, st, node))
    res[label] = (pct(lat, 50), pct(lat, 99))
    print("  %-22s %8.0f %8.0f" % (label, res[label][0], res[label][1]))
loc, fw = res["local (n1)"], res["forwarded (n2 -> n1)"]
print("  %-22s %8.0f %8.0f" % ("added by forwarding", fw[0] - loc[0], fw[1] - loc[1]))
# cold start through a forwarding node
api(25811, "PATCH", "/v1/services/fwd", json.dumps({"idle_timeout_ms": 0}))
print("cold start (instance scaled to zero first; %d requests each; ms)" % (rounds * 2))
print("  %-22s %8s %8s" % ("path", "p50", "p99"))
for label, port in (("local (n1)", 25801), ("forwarded (n2 -> n1)", 25802)):
    lat = []
    for _ in range(rounds * 2):
        t0 = time.time()
        while instances(25811, "fwd") != 0:
            if time.time() - t0 > 10: sys.exit("fwd did not scale to zero")
            time.sleep(0.01)
        t = time.perf_counter(); st, _b = get(port, "/", name="fwd")
        lat.append((time.perf_counter() - t) * 1e3)
        if st != 200: sys.exit("%s: HTTP %d" % (label, st))
    print("  %-22s %8.2f %8.2f" % (label, pct(lat, 50), pct(lat, 99)))
# kill -9 of n1: the max-1 service (on n1) and a min 3 service (1 per node)
api(25811, "PATCH", "/v1/services/fwd", json.dumps({"idle_timeout_ms": 1000}))
s, b = deploy(25811, 1, "mins", min_instances=3)
if s not in (200, 201): sys.exit("deploy mins failed: %d %s" % (s, b[:200]))
t0 = time.time()
while any(instances(p, "mins") != 1 for p in (25811, 25812, 25813)):
    if time.time() - t0 > 30: sys.exit("mins: not 1 instance per node in 30 s")
    time.sleep(0.05)
os.kill(n1pid, signal.SIGKILL)
t0 = time.perf_counter()
served = None
while served is None or instances(25812, "mins") + instances(25813, "mins") != 3:
    if served is None:
        try:
            if get(25802, "/", name="fwd")[0] == 200: served = time.perf_counter() - t0
        except OSError: pass
    if time.perf_counter() - t0 > 30: sys.exit("not recovered in 30 s after kill -9")
    time.sleep(0.01)
mins = time.perf_counter() - t0
print("kill -9 of n1 (--node-ttl 2s):")
print("  max-1 service answering through n2 again: %8.1f ms" % (served * 1e3))
print("  min 3 service's 3 instances on n2+n3:     %8.1f ms (lease expiry included)" % (mins * 1e3))
PY
