#!/bin/sh
# run_all.sh BUILD_DIR - runs every benchmark (make bench). Prints the
# machine, then boot_bench's tables (ember-vm vs. the same binary native, in
# the same run), then a hyperfine cross-check when hyperfine is installed.
# RUNS=N overrides the number of runs (default 100; at least 50 is useful).
set -eu
BUILD=${1:-build}
RUNS=${RUNS:-100}
VM=$BUILD/src/cli/ember-vm
HELLO=$BUILD/examples/gcc/hello
BENCH=$BUILD/bench/boot_bench
for f in "$VM" "$HELLO" "$BENCH"; do
    [ -x "$f" ] || { echo "run_all: $f not found: build first (make build)" >&2; exit 1; }
done

echo "# Ember benchmarks"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "- commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "- host: $(uname -srm), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "- ember-vm info: $("$VM" info 2>&1 | tr '\n' ' ')"
echo "- command: bench/run_all.sh $BUILD (RUNS=$RUNS)"
echo

status=0
"$BENCH" --runs "$RUNS" --ember-vm "$VM" \
    --program "$HELLO" --program "$BUILD/examples/musl/hello" || status=$?

if command -v hyperfine >/dev/null 2>&1; then
    echo
    echo "## hyperfine cross-check (no shell, $RUNS runs)"
    echo
    md=$(mktemp)
    hyperfine -N --warmup 10 --runs "$RUNS" --style basic --export-markdown "$md" \
        -n "ember-vm run hello" "$VM run $HELLO" \
        -n "ember-vm run hello, VM torn down before the exit (no reaper)" \
        "env EMBER_VM_INLINE_TEARDOWN=1 $VM run $HELLO" \
        -n "hello (native)" "$HELLO" >/dev/null 2>&1 || status=1
    cat "$md"
    rm -f "$md"
else
    echo
    echo "(hyperfine not installed: cross-check skipped)"
fi

# The other benchmarks of docs/benchmarks.md. RESTORES, NET_DURATION and
# PLATFORM_REQUESTS scale them down for a quick look.
echo
echo "## restore_bench (snapshots: restore latency vs fresh boot, density)"
echo
"$BUILD/bench/restore_bench" --program "$BUILD/examples/gcc/kvstore" \
    --restores "${RESTORES:-1000}" --boots 30 --idle "${RESTORES:-1000}" || status=1
echo
DURATION="${NET_DURATION:-10s}" "$(dirname "$0")/net_bench.sh" "$BUILD" || status=1
echo
echo "## platform_bench (emberd: cold starts through the gateway, warm vs native)"
echo
"$BUILD/bench/platform_bench" --requests "${PLATFORM_REQUESTS:-1000}" --warm 2000 \
    --wrk-seconds 5 || status=1
# Go (issue 8), when the Go examples were built (golang-go installed).
if [ -x "$BUILD/examples/go/boot" ]; then
    echo
    RUNS="$RUNS" REQUESTS="${PLATFORM_REQUESTS:-1000}" "$(dirname "$0")/go_bench.sh" "$BUILD" ||
        status=1
else
    echo
    echo "(go not installed: go_bench skipped)"
fi
exit "$status"
