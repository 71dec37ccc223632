#!/bin/sh
# signal_bench.sh BUILD_DIR - signal delivery round trip (raise(SIGUSR1) to
# the handler's return) of examples/signal_bench.c, natively and in ember-vm,
# glibc and musl builds, RUNS times each (default 5); prints every run's
# median and p99.
exec "$(dirname "$0")/example_runs.sh" signal_bench "${1:-build}"
