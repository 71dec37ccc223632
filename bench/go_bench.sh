#!/bin/bash
# go_bench.sh BUILD_DIR - Go programs (examples/go, static, Debian's
# golang-go) in Ember next to the same binary run natively, in one run:
#   1. boot-to-exit of examples/go/boot (prints one line) with hyperfine:
#      `ember-vm run --mem $GO_MEM boot` vs `boot`; median, p99, mean;
#   2. the Go net/http hello (examples/go/http_hello) through emberd:
#      platform_bench --program http_hello --memory-mb (cold starts p50/p99
#      through the gateway, warm latency and wrk throughput vs native).
# RUNS (default 100), REQUESTS (default 1000), WRK_SECONDS (default 5) and
# GO_MEM (default 96M: the net/http hello needs 66M, with a margin) override
# the defaults.
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-100}
REQUESTS=${REQUESTS:-1000}
WRK_SECONDS=${WRK_SECONDS:-5}
GO_MEM=${GO_MEM:-96M}
VM=$BUILD/src/cli/ember-vm
BOOT=$BUILD/examples/go/boot
SERVER=$BUILD/examples/go/http_hello
PB=$BUILD/bench/platform_bench
for f in "$VM" "$PB"; do
    [ -x "$f" ] || { echo "go_bench: $f not found: build first" >&2; exit 1; }
done
for f in "$BOOT" "$SERVER"; do
    [ -x "$f" ] || { echo "go_bench: $f not found: install golang-go (make deps), rebuild" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "go_bench: hyperfine not installed (make deps)" >&2; exit 1; }

echo "# go_bench: Go programs in Ember vs. natively"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "- commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "- host: $(uname -srm), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- go: $(go version 2>/dev/null || echo unknown)"
echo "- command: bench/go_bench.sh $BUILD (RUNS=$RUNS REQUESTS=$REQUESTS WRK_SECONDS=$WRK_SECONDS GO_MEM=$GO_MEM)"
echo
echo "## Go boot-to-exit (examples/go/boot), hyperfine -N, $RUNS runs"
echo

json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$json" \
    -n "ember-vm run --mem $GO_MEM boot" "$VM run --mem $GO_MEM $BOOT" \
    -n "boot (native)" "$BOOT" >/dev/null 2>&1

# Each command's "times" array (seconds, one per line) -> median, p99, mean in ms.
printf '| %-36s | %10s | %10s | %10s | %10s |\n' "command" "median ms" "p99 ms" "mean ms" "max ms"
echo "|--------------------------------------|------------|------------|------------|------------|"
awk '
    /"command":/ { sub(/.*"command": "/, ""); sub(/",$/, ""); name = $0 }
    /"times": \[/ { intimes = 1; n = 0; next }
    intimes && /\]/ {
        intimes = 0
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
        sum = 0; for (i = 1; i <= n; i++) sum += t[i]
        med = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
        p99 = t[int(n * 0.99 + 0.999999) > n ? n : int(n * 0.99 + 0.999999)]
        printf "| %-36s | %10.2f | %10.2f | %10.2f | %10.2f |\n", name, med * 1000, p99 * 1000, sum / n * 1000, t[n] * 1000
        next
    }
    intimes { gsub(/[ ,]/, ""); if ($0 != "") t[++n] = $0 + 0 }
' "$json"
echo
"$VM" run --mem "$GO_MEM" --stats "$BOOT" 2>&1 >/dev/null | sed -n 's/^ember-vm: stats: /one run, ember-vm --stats: /p'
echo
echo "## Go net/http hello through emberd (platform_bench --program http_hello --memory-mb ${GO_MEM%M})"
echo
"$PB" --requests "$REQUESTS" --warm 2000 --wrk-seconds "$WRK_SECONDS" \
    --program "$SERVER" --memory-mb "${GO_MEM%M}"
