#!/bin/sh
# Runs clang-tidy (the checks of .clang-tidy) over every source file of the
# tree that the build compiles, using the build's compile_commands.json.
# Every finding is an error (.clang-tidy: WarningsAsErrors).
#
#   scripts/tidy.sh [BUILD_DIR] [FILE_REGEX]    defaults: build, all files
#   JOBS=2 CLANG_TIDY=clang-tidy-14 scripts/tidy.sh build 'src/vmm/'
#
# The guest kernel's sources are checked twice: as freestanding kernel code
# (the ember-kernel target) and as host code (tests/unit_kernel). POSIX sh;
# no Python needed (unlike run-clang-tidy).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
filter=${2:-.}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
JOBS=${JOBS:-2}
db="$build/compile_commands.json"
if [ ! -f "$db" ]; then
  echo "tidy: $db not found: configure the build first (cmake --preset release)" >&2
  exit 2
fi
if ! command -v "$CLANG_TIDY" >/dev/null 2>&1; then
  echo "tidy: $CLANG_TIDY not found (Debian: apt-get install clang-tidy)" >&2
  exit 2
fi

# The tree's own sources: not generated files, not anything outside it.
files=$(sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$db" | sort -u |
  grep "^$root/\(src\|tests\|bench\|examples\)/" | grep -E '\.(c|cc|cpp)$' |
  grep -E "$filter" || true)
if [ -z "$files" ]; then
  echo "tidy: no files match '$filter' in $db" >&2
  exit 2
fi
count=$(echo "$files" | wc -l)
echo "tidy: $count files, $JOBS at a time"
# The commands are GCC's, read by clang: -Wno-error keeps a warning that only
# clang gives from failing the file (the checks still fail it), and Boost.Asio
# needs telling that clang with libstdc++ has C++20 coroutines. -quiet drops
# the "N warnings suppressed" chatter; findings still print.
if echo "$files" | xargs -P "$JOBS" -n 1 "$CLANG_TIDY" -p "$build" -quiet \
  --extra-arg=-Wno-error --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 \
  --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1; then
  echo "tidy: clean"
else
  echo "tidy: findings above" >&2
  exit 1
fi
