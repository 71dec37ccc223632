#!/bin/sh
# thread_bench.sh BUILD_DIR - thread create+join and futex ping-pong (per
# switch) of examples/thread_bench.c, natively and in ember-vm, glibc and
# musl builds, RUNS times each (default 5); prints every run's figures, the
# median is for docs/benchmarks.md.
exec "$(dirname "$0")/example_runs.sh" thread_bench "${1:-build}"
