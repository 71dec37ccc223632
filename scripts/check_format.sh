#!/bin/sh
# Checks that every C/C++ source of the tree is formatted as .clang-format
# says: src, tests, bench and examples, as tracked by git (so build trees and
# generated headers, which live in the build directory, are never looked at).
#
#   scripts/check_format.sh          list the files that differ; exit 1 if any
#   scripts/check_format.sh --fix    reformat them in place
#
# CLANG_FORMAT picks the binary (default: clang-format; Debian 12 ships 14).
# .ci/run calls this before the build (EMBER_CHECK_FORMAT=0 skips it).
set -eu
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
fix=0
case "${1:-}" in
  "") ;;
  --fix) fix=1 ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check_format: $CLANG_FORMAT not found (Debian: apt-get install clang-format)" >&2
  exit 2
fi

# Split on whitespace below: no file name in this tree contains any.
files=$(git ls-files -- src tests bench examples | grep -E '\.(c|cc|cpp|h|hpp)$' || true)
bad=0
for f in $files; do
  if [ "$fix" = 1 ]; then
    "$CLANG_FORMAT" -i "$f"
  elif ! "$CLANG_FORMAT" "$f" | cmp -s - "$f"; then
    echo "$f"
    bad=$((bad + 1))
  fi
done
if [ "$bad" -gt 0 ]; then
  echo "check_format: $bad file(s) differ from .clang-format; run scripts/check_format.sh --fix" >&2
  exit 1
fi
