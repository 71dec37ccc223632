#!/bin/sh
# demo.sh BUILD_DIR - the main job of `make run`: runs the example programs
# and an unmodified Debian busybox applet, each in its own microVM, and shows
# the command, the program's output and ember-vm's timings, with a summary;
# then starts emberd with the example servers deployed (platform_demo.sh).
# Exits non-zero if any step did not behave as expected.
set -u
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
VM=$BUILD/src/cli/ember-vm
GCC=$BUILD/examples/gcc
MUSL=$BUILD/examples/musl
BUSYBOX=/bin/busybox

if [ -t 1 ]; then B=$(printf '\033[1m'); G=$(printf '\033[32m'); R=$(printf '\033[31m'); D=$(printf '\033[2m'); N=$(printf '\033[0m')
else B= G= R= D= N=; fi

die() { echo "demo: $*" >&2; exit 1; }
[ -x "$VM" ] || die "$VM not found: build first (make build)"
[ -x "$GCC/hello" ] && [ -x "$MUSL/hello" ] || die "examples not built in $BUILD/examples"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || die "/dev/kvm is not available: Ember needs KVM"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-demo.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT INT TERM
SUMMARY=$TMP/summary
: >"$SUMMARY"
failed=0
count=0

# Prints a path relative to the repository for readability.
short() { printf '%s' "$*" | sed "s|$BUILD/|build/|g; s|$TMP/|\$TMP/|g"; }

# The value of KEY in the last stats line ($stats), or "?".
stat_of() {
    v=$(printf '%s\n' "$stats" | tr ' ' '\n' | sed -n "s/^$1=//p")
    printf '%s' "${v:-?}"
}

# step TITLE EXPECTED_STATUS ARGS... : runs `ember-vm run --stats ARGS...`.
step() {
    title=$1 want=$2
    shift 2
    count=$((count + 1))
    echo
    echo "${B}== $title${N}"
    echo "${D}\$ $(short "ember-vm run $*")${N}"
    t0=$(date +%s%N)
    "$VM" run --stats "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    st=$?
    t1=$(date +%s%N)
    wall_us=$(( (t1 - t0) / 1000 ))
    sed 's/^/  | /' "$TMP/out"
    grep -v '^ember-vm: stats:' "$TMP/err" | sed 's/^/  ! /'
    stats=$(grep '^ember-vm: stats:' "$TMP/err" | tail -n 1 | sed 's/^ember-vm: stats: *//')
    total=$(stat_of total_us)
    echo "  ${D}status $st; in VMM: create $(stat_of create_us) us, first instruction $(stat_of first_insn_us) us, run $(stat_of run_us) us, total $total us; $(stat_of exits) exits, $(stat_of syscalls) syscalls; whole process $wall_us us${N}"
    if [ "$st" = "$want" ]; then
        result="${G}ok${N}"
    else
        result="${R}FAILED (status $st, expected $want)${N}"
        failed=$((failed + 1))
    fi
    printf '%-44s %-6s %10s %10s  %s\n' "$title" "$st" "$total" "$wall_us" "$result" >>"$SUMMARY"
}

echo "${B}Ember demo: each step boots a fresh KVM microVM running one unmodified static Linux program${N}"
"$VM" --version 2>&1 | sed 's/^/  /'
"$VM" info 2>&1 | sed 's/^/  /'

step "hello (gcc -static, glibc)" 0 "$GCC/hello"
step "hello (musl-gcc -static)" 0 "$MUSL/hello"
step "hello (gcc -static-pie)" 0 "$GCC/hello-pie"
step "argv and environment" 0 --env GREETING=hi --env LANG=C "$GCC/echo_args" -- one "two words"
step "exit status propagates" 42 "$MUSL/exit_status" -- 42

mkdir -p "$TMP/root/data"
printf 'banana\napple\ncherry\napple\n' >"$TMP/root/data/fruit.txt"
cp "$GCC/hello" "$TMP/root/data/hello.bin"
step "files: --file, read, /tmp write and re-read" 0 --file "$GCC/hello:/data/hello.bin" "$GCC/files" -- /data/hello.bin
step "floating point, SSE2, AVX2, AVX-512" 0 "$GCC/fpmath"
step "memory: 32 MiB malloc/mmap stress" 0 --mem 128M "$MUSL/memstress"
step "busybox (Debian, unmodified): sort -u" 0 --rootfs "$TMP/root" "$BUSYBOX" -- sort -u /data/fruit.txt
step "busybox: sha256sum of files in the rootfs" 0 --rootfs "$TMP/root" "$BUSYBOX" -- sha256sum data/fruit.txt data/hello.bin
step "unimplemented syscall -> ENOSYS (traced)" 0 --trace-syscalls "$GCC/enosys"
step "null pointer write -> crash report" 139 "$GCC/nullcrash"
step "endless loop stopped by --timeout 200ms" 124 --timeout 200ms "$GCC/spin"

echo
echo "${B}== Summary${N}"
printf '%-44s %-6s %10s %10s  %s\n' "step" "status" "VMM us" "process us" "result"
cat "$SUMMARY"
echo
if [ "$failed" -eq 0 ]; then
    echo "${G}${B}all $count steps behaved as expected${N}"
else
    echo "${R}${B}$failed of $count steps failed${N}"
    exit 1
fi

"$(dirname "$0")/platform_demo.sh" "$BUILD"
