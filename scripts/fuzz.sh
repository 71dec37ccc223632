#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz) with clang in their own build
# directory and runs each on its corpus.
#
#   scripts/fuzz.sh [TARGET...]  each target for FUZZ_SECONDS (default 600)
#                                seconds, one after the other; new inputs go
#                                to $FUZZ_BUILD/corpus/TARGET, crashes to
#                                $FUZZ_BUILD/artifacts (make fuzz)
#   scripts/fuzz.sh --ci         each target for FUZZ_CI_SECONDS (default 5)
#                                on the checked-in corpus and fresh seeds;
#                                skipped when clang has no libFuzzer
#   scripts/fuzz.sh --seeds      rewrites tests/fuzz/corpus/*/ from fuzz_seeds
#                                (make_seeds.cpp); inputs added by hand stay
#
# Environment: FUZZ_BUILD (build-fuzz), FUZZ_JOBS (2: build parallelism),
# FUZZ_ARGS (more libFuzzer flags). Exits non-zero when a target crashed.
set -eu
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
TARGETS="elf cpio snapshot net_ring hypercall gateway api_json tar oci dns"
mode=run
case "${1:-}" in
  --ci) mode=ci; shift ;;
  --seeds) mode=seeds; shift ;;
esac
[ $# -gt 0 ] && TARGETS="$*"

./scripts/deps.sh

# libFuzzer comes with clang (Debian: clang and libclang-rt-14-dev).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
  >"$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1; then
  if [ "$mode" = ci ]; then
    echo "fuzz: clang++ with libFuzzer not found; fuzz targets skipped"
    exit 0
  fi
  echo "fuzz: needs clang++ with libFuzzer (Debian: clang libclang-rt-14-dev)" >&2
  exit 1
fi

launcher=""
command -v ccache >/dev/null && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DEMBER_FUZZ=ON \
    $launcher >/dev/null
fi
cmake --build "$BUILD" --target fuzz_all -j "${FUZZ_JOBS:-2}"
bin="$BUILD/tests/fuzz"

if [ "$mode" = seeds ]; then
  "$bin/fuzz_seeds" tests/fuzz/corpus
  echo "fuzz: seeds written to tests/fuzz/corpus"
  exit 0
fi

# Largest input per target: a few times its largest seed.
max_len() {
  case "$1" in
    snapshot) echo 65536 ;;
    elf | cpio | net_ring) echo 16384 ;;
    tar) echo 32768 ;;
    oci) echo 65536 ;;
    *) echo 8192 ;;
  esac
}

if [ "$mode" = ci ]; then
  seconds=${FUZZ_CI_SECONDS:-5}
  work=$(mktemp -d)
  trap 'rm -rf "$probe" "$work"' EXIT
  "$bin/fuzz_seeds" "$work/seeds"
else
  seconds=${FUZZ_SECONDS:-600}
  work=$BUILD
fi
mkdir -p "$BUILD/artifacts" "$BUILD/logs"
failed=""
for t in $TARGETS; do
  mkdir -p "$work/corpus/$t"
  dirs="$work/corpus/$t tests/fuzz/corpus/$t"
  # fuzz_seeds writes seeds only for the targets it knows (not tar, oci)
  [ "$mode" = ci ] && mkdir -p "$work/seeds/$t" && dirs="$dirs $work/seeds/$t"
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  log="$BUILD/logs/$t.log"
  start=$(date +%s)
  # shellcheck disable=SC2086 # word splitting of dirs and flags is wanted
  if "$bin/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" \
       $dict ${FUZZ_ARGS:-} $dirs >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    failed="$failed $t"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  units=$(sed -n 's/.*DONE .* corp: \([0-9]*\).*/\1/p' "$log" | tail -1)
  printf 'fuzz: %-10s %-5s %5ss %10s runs  corpus %5s  peak %s MB  (%s)\n' "$t" "$result" \
    "$(($(date +%s) - start))" "${runs:-?}" "${units:-?}" "${rss:-?}" "$log"
  [ "$result" = ok ] || tail -n 40 "$log" >&2
done
if [ -n "$failed" ]; then
  echo "fuzz: crashes in:$failed (inputs in $BUILD/artifacts)" >&2
  exit 1
fi
