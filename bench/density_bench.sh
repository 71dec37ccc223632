#!/bin/bash
# density_bench.sh BUILD_DIR - issue 14's density run through emberd:
# $SERVICES services of one small static HTTP server (examples/http_epoll),
# brought up in batches of $BATCH running-idle instances (`ember scale
# --min`) until $TARGET are idle at once; at each point in $POINTS the
# next-request latency (curl, a new connection per request, to services
# picked at random) and the host memory per instance:
#   - MemAvailable drop since the services were prepared (everything: the
#     VMM processes, KVM's kernel memory, guest pages), and what of it is
#     Slab, page tables, KVM's page tables (SecPageTables), vmalloc and
#     kernel stacks (/proc/meminfo: other processes move these little,
#     unlike MemAvailable);
#   - Pss of emberd, its gateway and its VM workers (smaps_rollup), and
#     their threads;
#   - what the bench's memory cgroup was charged (anonymous and kernel
#     memory: the figure other processes on the host do not move).
# Also the creation time of every batch (first vs last), and the same
# request latency against one native server as the baseline.
# STATE=suspended: the services scale to zero statefully (idle for
# $SUSPEND_IDLE), so --min counts suspended instances: the points are
# suspended instances, each request resumes one (a cold start from its
# suspended snapshot), and the disk they take is reported.
# Stops early, saying so, when MemAvailable falls below $MIN_AVAIL_MB.
# IMAGE=DIR deploys that container image (`ember deploy --image`, on its
# exposed port) instead of the server, and NATIVE="CMD ARGS" is then the
# baseline's command line (the port is appended): bench/lang_bench.sh
# measures 1,000 idle python3 instances this way.
set -eu
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
SERVICES=${SERVICES:-100}
TARGET=${TARGET:-10000}
BATCH=${BATCH:-1000}
POINTS=${POINTS:-"1 1000 10000"}
REQUESTS=${REQUESTS:-300}
MIN_AVAIL_MB=${MIN_AVAIL_MB:-2048}
BATCH_TIMEOUT=${BATCH_TIMEOUT:-900}
STATE=${STATE:-running}
SUSPEND_IDLE=${SUSPEND_IDLE:-2s}
DEPLOY_ARGS="--idle-timeout 24h"
[ "$STATE" = suspended ] && DEPLOY_ARGS="--scale-to-zero stateful --idle-timeout $SUSPEND_IDLE"
EMBERD=$BUILD/src/platform/emberd
EMBER=$BUILD/src/cli/ember
SERVER=$BUILD/examples/gcc/http_epoll
IMAGE=${IMAGE:-}
NATIVE=${NATIVE:-$SERVER}
DEPLOY_WHAT=("$SERVER" --port 8080)
[ -n "$IMAGE" ] && DEPLOY_WHAT=(--image "$IMAGE")
for f in "$EMBERD" "$EMBER" "$SERVER"; do
    [ -x "$f" ] || { echo "density_bench: $f not found: build first" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "density_bench: curl not installed" >&2; exit 1; }
[ $((TARGET % SERVICES)) -eq 0 ] || { echo "density_bench: TARGET must be a multiple of SERVICES" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/density_bench.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

GW_PORT=${GW_PORT:-18381} API_PORT=${API_PORT:-18382} NATIVE_PORT=${NATIVE_PORT:-18383}
kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
# KiB charged to this script's memory cgroup (emberd and its helpers are in
# it) as anonymous memory and kernel memory: KVM's objects, page tables,
# kernel stacks; not the page cache. Unlike MemAvailable, other processes
# on the host do not move it (empty when no memory cgroup is readable).
CG_V1=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
CG_V2=/sys/fs/cgroup/unified$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
cg_kb() {
    if [ -r "$CG_V1/memory.kmem.usage_in_bytes" ]; then
        echo $((($(cat "$CG_V1/memory.kmem.usage_in_bytes") +
            $(awk '$1 == "rss" { print $2 }' "$CG_V1/memory.stat")) / 1024))
    elif [ -r "$CG_V2/memory.stat" ]; then
        awk '$1 == "anon" || $1 == "kernel" { s += $2 } END { print int(s / 1024) }' "$CG_V2/memory.stat"
    fi
}
avail_mb() { echo $(($(kb MemAvailable) / 1024)); }

# Pss (KiB) of emberd and every process below it.
pss_tree() {
    local all="$1" p
    for p in $(pgrep -P "$1" 2>/dev/null); do all="$all $(pgrep -P "$p" 2>/dev/null) $p"; done
    for p in $all; do
        awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true
    done | awk '{ s += $1 } END { print s + 0 }'
}

# Threads of emberd and every process below it.
threads_tree() {
    local all="$1" p
    for p in $(pgrep -P "$1" 2>/dev/null); do all="$all $(pgrep -P "$p" 2>/dev/null) $p"; done
    for p in $all; do
        awk '$1 == "Threads:" { print $2 }' "/proc/$p/status" 2>/dev/null || true
    done | awk '{ s += $1 } END { print s + 0 }'
}

# CPU ticks (1/100 s) used so far by emberd and every process below it.
cpu_tree() {
    local all="$1" p
    for p in $(pgrep -P "$1" 2>/dev/null); do all="$all $(pgrep -P "$p" 2>/dev/null) $p"; done
    for p in $all; do
        awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
    done | awk '{ s += $1 } END { print s + 0 }'
}

# p50 and p99 of requests to the URLs on stdin, a new connection each, in
# one curl process (its own start-up not timed).
latency() {
    awk 'NR > 1 { print "next" }
         { printf "url = \"%s\"\noutput = /dev/null\nsilent\nheader = \"Connection: close\"\n", $0
           print "write-out = \"%{http_code} %{time_total}\\n\"" }' |
        curl --config - >"$TMP/lat"
    bad=$(awk '$1 != 200' "$TMP/lat" | wc -l)
    awk '$1 == 200 { print $2 * 1000 }' "$TMP/lat" | sort -n |
        awk -v bad="$bad" '{ v[++n] = $1 }
             END { printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d requests, %d failed)\n",
                   v[int(n * 0.5 + 0.5)], v[int(n * 0.99 + 0.5)], v[n], n, bad }'
}
# $REQUESTS URLs of services picked at random among the first $1 (those with
# idle instances: a request to another would be a cold start that leaves one more).
random_urls() {
    for _ in $(seq "$REQUESTS"); do echo "http://127.0.0.1:$GW_PORT/d$((RANDOM % $1))/"; done
}

echo "# density_bench: $SERVICES services of $(basename "${IMAGE:-$SERVER}"), up to $TARGET $STATE instances"
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -sr), $(nproc) CPUs, $(($(kb MemTotal) / 1024 / 1024)) GiB"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- emberd ${EMBERD_ARGS:-}"

# shellcheck disable=SC2086
$NATIVE "$NATIVE_PORT" >/dev/null 2>&1 &
pids="$pids $!"
sleep 0.3
native_urls() { for _ in $(seq "$REQUESTS"); do echo "http://127.0.0.1:$NATIVE_PORT/"; done; }
echo "- baseline, the same server natively: $(native_urls | latency)"

ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$EMBERD" --data-dir "$TMP/data" --gateway "127.0.0.1:$GW_PORT" --api "127.0.0.1:$API_PORT" \
    --max-connections 100000 ${EMBERD_ARGS:-} >"$TMP/emberd.log" 2>&1 &
EMBERD_PID=$!
pids="$pids $EMBERD_PID"
export EMBER_API="http://127.0.0.1:$API_PORT" EMBER_DATA_DIR="$TMP/data"
i=0
until "$EMBER" ls >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 300 ] && { cat "$TMP/emberd.log" >&2; echo "density_bench: emberd did not start" >&2; exit 1; }
    sleep 0.1
done
TOKEN=$(cat "$TMP/data/token")
t0=$(date +%s.%N)
for s in $(seq 0 $((SERVICES - 1))); do
    # shellcheck disable=SC2086
    "$EMBER" deploy "${DEPLOY_WHAT[@]}" --name "d$s" --memory "${MEMORY:-16M}" --max 1024 \
        $DEPLOY_ARGS >/dev/null
done
echo "- $SERVICES services deployed in $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s"

# Instances of all services, starting ones included (cheap: no smaps read).
live_count() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/v1/services" |
        tr ',' '\n' | awk -F: '/"instances"/ { s += $2 } END { print s + 0 }'
}
# Idle instances (/metrics reads the workers' smaps: polled only near the end).
idle_count() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/metrics" |
        awk '/^ember_instances\{/ && /state="idle"/ { s += $NF } END { print s + 0 }'
}
# Suspended instances of all services (cheap).
suspended_count() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/v1/services" |
        tr ',' '\n' | awk -F: '/"suspended"/ { s += $2 } END { print s + 0 }'
}
ready_count() {
    if [ "$STATE" = suspended ]; then suspended_count; else idle_count; fi
}
# Waits until n instances are idle (or suspended).
wait_idle() {
    local n=$1 start=$2 now
    while :; do
        if [ "$STATE" = suspended ]; then
            [ "$(suspended_count)" -ge "$n" ] && [ "$(live_count)" -eq 0 ] && break
        else
            [ "$(live_count)" -ge "$n" ] && [ "$(idle_count)" -ge "$n" ] && break
        fi
        now=$(date +%s)
        if [ $((now - ${start%.*})) -gt "$BATCH_TIMEOUT" ]; then
            echo "density_bench: only $(ready_count) of $n instances $STATE after ${BATCH_TIMEOUT} s" >&2
            return 1
        fi
        if [ "$(avail_mb)" -lt "$MIN_AVAIL_MB" ]; then
            echo "density_bench: MemAvailable $(avail_mb) MiB < $MIN_AVAIL_MB MiB: stopping early" >&2
            return 1
        fi
        sleep 1
    done
}

sleep 2
avail0=$(kb MemAvailable) slab0=$(kb Slab) pt0=$(kb PageTables) ks0=$(kb KernelStack)
spt0=$(kb SecPageTables) vm0=$(kb VmallocUsed) cg0=$(cg_kb)
# Bytes per slab cache (objects x object size), for the largest growths.
slab_bytes() { awk 'NR > 2 { print $1, $3 * $4 }' /proc/slabinfo 2>/dev/null; }
slab_bytes >"$TMP/slab0"
pss0=$(pss_tree "$EMBERD_PID") thr0=$(threads_tree "$EMBERD_PID")

report() {
    local n=$1 avail slab pt ks pss
    sleep 1
    avail=$(kb MemAvailable) slab=$(kb Slab) pt=$(kb PageTables) ks=$(kb KernelStack)
    spt=$(kb SecPageTables) vm=$(kb VmallocUsed) cg=$(cg_kb)
    pss=$(pss_tree "$EMBERD_PID")
    thr=$(threads_tree "$EMBERD_PID")
    echo
    echo "## $n $STATE instances ($(pgrep -c -P "$EMBERD_PID") helper processes; load $(cut -d' ' -f1 /proc/loadavg))"
    [ "$STATE" = suspended ] &&
        echo "- on disk: $(du -sk "$TMP/data" | awk -v n="$n" '{ printf "%.0f KiB per suspended instance (the whole data directory)", $1 / n }')"
    awk -v n="$n" -v a="$((avail0 - avail))" -v s="$((slab - slab0))" -v p="$((pt - pt0))" \
        -v k="$((ks - ks0))" -v q="$((pss - pss0))" -v t="$((thr - thr0))" \
        -v sp="$((spt - spt0))" -v v="$((vm - vm0))" 'BEGIN {
        printf "- memory per instance: MemAvailable drop %.0f KiB (of it Slab %.0f, page tables %.0f, KVM page tables %.0f, vmalloc %.0f, kernel stacks %.0f); Pss of emberd + helpers %.0f KiB; their threads %.2f per instance\n",
               a / n, s / n, p / n, sp / n, v / n, k / n, q / n, t / n }'
    [ -n "$cg0" ] && [ -n "$cg" ] &&
        echo "- charged to the bench's memory cgroup (anonymous + kernel memory, not page cache): $(((cg - cg0) / n)) KiB per instance"
    # The slab caches that grew most (KVM's objects, mostly), per instance.
    slab_bytes | awk -v n="$n" 'NR == FNR { b[$1] = $2; next }
        { d = ($2 - b[$1]) / 1024 / n; if (d >= 1) printf "%s %.1f\n", $1, d }' "$TMP/slab0" - |
        sort -k2 -rn | head -8 | awk '{ s = s (s ? ", " : "") $1 " " $2 } END {
        if (s) print "- slab caches that grew most, KiB per instance: " s }'
    local with=$SERVICES
    [ "$n" -lt "$SERVICES" ] && with=$n
    local c0 c1 priv
    c0=$(cpu_tree "$EMBERD_PID")
    sleep 5
    c1=$(cpu_tree "$EMBERD_PID")
    priv=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/metrics" |
        awk '/^ember_instance_private_memory_bytes\{/ { s += $NF } END { print s + 0 }')
    awk -v n="$n" -v c="$((c1 - c0))" -v p="$priv" 'BEGIN {
        printf "- while idle: CPU of emberd + helpers %.0f ms per second; private guest memory %.0f KiB per instance (in the Pss above)\n",
               c * 10 / 5, p / 1024 / n }'
    echo "- next request, services picked at random among $with: $(random_urls "$with" | latency)"
    echo "- the native server at the same moment: $(native_urls | latency)"
    # Resumed instances suspend again before the next batch is counted.
    if [ "$STATE" = suspended ]; then sleep 3; fi
}

declare -A want_point
for p in $POINTS; do want_point[$p]=1; done
total=0
batch_no=0
first_batch="" last_batch=""
# The first point (1 instance) is one service's --min 1.
if [ -n "${want_point[1]:-}" ]; then
    "$EMBER" scale d0 --min 1 >/dev/null
    wait_idle 1 "$(date +%s)" || exit 1
    total=1
    report 1
fi
per=0
while [ "$total" -lt "$TARGET" ]; do
    per=$((per + BATCH / SERVICES))
    want=$((per * SERVICES))
    [ "$want" -gt "$TARGET" ] && want=$TARGET
    start=$(date +%s.%N)
    for s in $(seq 0 $((SERVICES - 1))); do "$EMBER" scale "d$s" --min "$per" >/dev/null; done
    if ! wait_idle "$want" "$start"; then
        echo "- stopped at $(ready_count) $STATE instances" && break
    fi
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    batch_no=$((batch_no + 1))
    line="batch $batch_no ($((want - total)) instances, up to $want): $(printf '%.1f' "$secs") s, $(echo "$secs * 1000 / ($want - $total)" | bc -l | xargs printf '%.2f') ms per instance"
    echo "- $line (MemAvailable $(avail_mb) MiB, load $(cut -d' ' -f1 /proc/loadavg))"
    [ -z "$first_batch" ] && first_batch=$line
    last_batch=$line
    total=$want
    [ -n "${want_point[$total]:-}" ] && report "$total"
done
echo
echo "- first $first_batch"
echo "- last $last_batch"
echo "- workers: $(grep -c 'VM worker [0-9]* (pid' "$TMP/emberd.log") started"
