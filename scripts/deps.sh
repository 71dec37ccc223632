#!/bin/sh
# Installs what Ember needs to build, test and benchmark on Debian 12.
# Idempotent: does nothing when every package is already installed.
set -eu
# help2man: the package's man pages (make package, packaging/).
# clang with libFuzzer: scripts/fuzz.sh (make fuzz, and CI's short runs).
FUZZ_PKGS="clang libclang-rt-14-dev"
# Go and Rust toolchains: examples/go and examples/rust, their tests and
# benchmark.
LANG_PKGS="golang-go rustc"
# Headless Chromium and its WebDriver, Firefox, and Python (standard
# library only) to drive them: the web console's browser tests
# (tests/browser).
BROWSER_PKGS="chromium chromium-driver firefox-esr python3"
# etcd (server and etcdctl): emberd's cluster mode (--cluster) and its tests
# (tests/cluster, tests/e2e/cluster_test.cpp), scripts/cluster_demo.sh.
CLUSTER_PKGS="etcd-server etcd-client"
# Third-party servers the compatibility tests deploy as users would: nginx
# with a master and worker processes (tests/e2e/prefork_test.cpp); node
# (and python3, above) as servers (tests/e2e/lang_service_test.cpp,
# tests/integration/lang_test.cpp, bench/lang_bench.sh).
APP_PKGS="nginx-light nodejs"
PKGS="build-essential cmake ninja-build pkg-config musl-tools busybox-static \
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev \
  libspdlog-dev libfmt-dev libsqlite3-dev libboost-dev libboost-system-dev libssl-dev \
  libseccomp-dev libarchive-dev libldns-dev libnghttp2-dev nghttp2-client hyperfine wrk curl cpio xxd \
  clang-format clang-tidy sqlite3 \
  help2man bash-static"
missing=""
for p in $PKGS $FUZZ_PKGS $LANG_PKGS $BROWSER_PKGS $CLUSTER_PKGS $APP_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages:$missing (run as root, or install them)" >&2
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
