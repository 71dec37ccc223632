#!/bin/bash
# The Debian package, installed for real: builds it (cpack), installs it with
# dpkg -i, checks where its files are, verifies the systemd unit, starts the
# unit's ExecStart by hand as the user ember with the unit's privileges (no
# capabilities, no_new_privs), deploys a static example with the installed
# ember CLI and serves a request through the gateway; then purges the package
# and removes what the test itself created (the user ember, group kvm, the
# mode of /dev/kvm).
#
#   package_test.sh BUILD_DIR EXAMPLE_PROGRAM
#
# It changes the machine, so it runs only as root and only when asked:
# EMBER_PACKAGE_TEST=1 (.ci/run sets it on CI's throwaway machine). Exit 77
# (ctest: skipped) with a SKIPPED line otherwise.
set -euo pipefail
build=$(cd "$1" && pwd)
example=$2
skip() {
    echo "SKIPPED: package test: $*" >&2
    exit 77
}
[ "${EMBER_PACKAGE_TEST:-0}" = 1 ] ||
    skip "it installs the package on this machine; set EMBER_PACKAGE_TEST=1 to run it (as root)"
[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i)"
for tool in dpkg dpkg-deb cpack systemd-analyze setpriv curl help2man; do
    command -v "$tool" >/dev/null || skip "$tool is missing"
done
[ -e /dev/kvm ] || skip "/dev/kvm is missing"
if dpkg-query -W -f='${Status}' ember 2>/dev/null | grep -q "install ok installed"; then
    skip "the ember package is already installed here; the test would remove it"
fi

fail() {
    echo "FAIL: $*" >&2
    [ -f "${work:-/nonexistent}/emberd.log" ] && sed 's/^/  emberd| /' "$work/emberd.log" >&2
    exit 1
}
t0=$(date +%s)
work=$(mktemp -d /tmp/ember-package.XXXXXX)
had_user=$(getent passwd ember >/dev/null && echo 1 || echo 0)
had_kvm=$(getent group kvm >/dev/null && echo 1 || echo 0)
kvm_mode=$(stat -c '%g %a' /dev/kvm)
had_varlib=$([ -e /var/lib/ember ] && echo 1 || echo 0)
emberd_pid=""
cleanup() {
    [ -n "$emberd_pid" ] && kill -9 "$emberd_pid" 2>/dev/null
    dpkg -P ember >/dev/null 2>&1 || true
    chgrp "${kvm_mode% *}" /dev/kvm && chmod "${kvm_mode#* }" /dev/kvm
    [ "$had_user" = 1 ] || deluser --quiet --system ember >/dev/null 2>&1 || true
    [ "$had_kvm" = 1 ] || delgroup --quiet --system kvm >/dev/null 2>&1 || true
    [ "$had_varlib" = 1 ] || rm -rf /var/lib/ember
    rm -rf "$work"
}
trap cleanup EXIT

echo "== build the package"
cmake --build "$build" --target emberd ember ember-vm ember_manpages >/dev/null
(cd "$build" && cpack -G DEB -B "$work/out" >/dev/null) || fail "cpack failed"
deb=$(ls "$work"/out/ember_*_amd64.deb)
echo "$deb"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
[[ $depends == *libc6* && $depends == *adduser* ]] || fail "Depends lacks libc6 or adduser"

echo "== dpkg -i"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
for f in /usr/sbin/emberd /usr/bin/ember /usr/bin/ember-vm; do
    [ -x "$f" ] || fail "$f is not installed"
done
for f in /lib/systemd/system/emberd.service /etc/ember/emberd.conf \
    /usr/share/man/man8/emberd.8.gz /usr/share/man/man1/ember.1.gz \
    /usr/share/man/man1/ember-vm.1.gz /usr/share/bash-completion/completions/ember \
    /usr/share/bash-completion/completions/ember-vm; do
    [ -s "$f" ] || fail "$f is not installed"
done
dpkg-query --showformat='${Conffiles}\n' --show ember | grep -q ' /etc/ember/emberd.conf ' ||
    fail "/etc/ember/emberd.conf is not a conffile"
zcat /usr/share/man/man1/ember.1.gz | grep -q '^\.SS "ember deploy"' || fail "ember(1) lacks its commands"
getent passwd ember >/dev/null || fail "no user ember"
id -nG ember | grep -qw kvm || fail "ember is not in group kvm"
[ "$(stat -c '%U %G %a' /var/lib/ember)" = "ember ember 750" ] ||
    fail "/var/lib/ember: $(stat -c '%U %G %a' /var/lib/ember)"
bash -c 'source /usr/share/bash-completion/completions/ember
    COMP_WORDS=(ember dep); COMP_CWORD=1; _ember; [ "${COMPREPLY[*]}" = deploy ]' ||
    fail "bash completion of 'ember dep' is not 'deploy'"

echo "== systemd-analyze verify"
# Without man-db the Documentation= check cannot run; that is not the unit's fault.
man_check=yes
command -v man >/dev/null || man_check=no
systemd-analyze verify --man="$man_check" /lib/systemd/system/emberd.service >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log"; fail "systemd-analyze verify failed"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log"; fail "systemd-analyze verify complained"; }

if [ -d /run/systemd/system ]; then
    # systemd runs here: the postinst started the unit itself, with all of its
    # hardening. It must serve, at the addresses of emberd.conf's defaults;
    # sudo-style use of the CLI finds the token in /var/lib/ember.
    echo "== emberd.service under systemd"
    for _ in $(seq 50); do
        /usr/bin/ember ls >/dev/null 2>&1 && break
        sleep 0.2
    done
    unit_fail() {
        systemctl status emberd.service --no-pager >&2 || true
        journalctl -u emberd.service --no-pager -n 50 >&2 || true
        fail "$@"
    }
    systemctl is-active --quiet emberd.service || unit_fail "emberd.service is not active"
    /usr/bin/ember ls >/dev/null || unit_fail "ember ls against emberd.service failed"
    /usr/bin/ember deploy "$example" --name unit --port 8080 || unit_fail "deploy to the unit failed"
    body=$(curl -sS --max-time 10 http://127.0.0.1:8080/unit/) || unit_fail "the unit's gateway did not answer"
    [ "$body" = "Hello from Ember!" ] || unit_fail "unexpected answer from the unit: $body"
    systemctl stop emberd.service
else
    echo "== (systemd is not running here: emberd.service itself is not started)"
fi

echo "== emberd as ember, the unit's way"
# Where no udev gave /dev/kvm to group kvm (containers), do what its rule does.
[ "$(stat -c %G /dev/kvm)" = kvm ] || { chgrp kvm /dev/kvm && chmod g+rw /dev/kvm; }
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/emberd.service)
install -d -o ember -g ember -m 0750 "$work/data"
chmod 0755 "$work"
# User=ember Group=ember SupplementaryGroups=kvm NoNewPrivileges=yes CapabilityBoundingSet=
# (the test's data directory and ports replace the file's: the command line wins).
# shellcheck disable=SC2086
setpriv --reuid ember --regid ember --groups kvm --no-new-privs --bounding-set -all \
    --inh-caps -all -- $exec_start --data-dir "$work/data" --gateway 127.0.0.1:0 \
    --api 127.0.0.1:0 >"$work/emberd.log" 2>&1 &
emberd_pid=$!
for _ in $(seq 100); do
    grep -q "API http://" "$work/emberd.log" && break
    kill -0 "$emberd_pid" 2>/dev/null || fail "emberd exited"
    sleep 0.1
done
banner=$(grep "API http://" "$work/emberd.log") || fail "emberd did not start"
gateway=$(sed -n 's|.*gateway http://\([0-9.]*:[0-9]*\).*|\1|p' <<<"$banner")
api=$(sed -n 's|.*API http://\([0-9.]*:[0-9]*\).*|\1|p' <<<"$banner")
[ "$(stat -c %U "$work/data/token")" = ember ] || fail "the token is not ember's"
ember=(/usr/bin/ember --api "http://$api" --data-dir "$work/data")
"${ember[@]}" deploy "$example" --name pkg --port 8080 || fail "ember deploy failed"
body=$(curl -sS --max-time 10 "http://$gateway/pkg/") || fail "no answer through the gateway"
echo "gateway: $body"
[ "$body" = "Hello from Ember!" ] || fail "unexpected answer: $body"
"${ember[@]}" top --once --interval 100ms | grep -q '^pkg ' || fail "ember top does not show pkg"
"${ember[@]}" open | grep -qx "http://$api/" || fail "ember open does not print the API URL"
grep -E "cgroups|sandbox" "$work/emberd.log" | sed 's/^/  emberd| /' || true
kill -TERM "$emberd_pid"
wait "$emberd_pid" || fail "emberd did not stop cleanly"
emberd_pid=""

echo "== dpkg -P"
dpkg -P ember >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -P failed"; }
for f in /usr/sbin/emberd /usr/bin/ember /etc/ember/emberd.conf /lib/systemd/system/emberd.service; do
    [ ! -e "$f" ] || fail "$f is still there after purge"
done
echo "PASS: package test in $(($(date +%s) - t0)) s"
