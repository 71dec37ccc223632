#!/bin/sh
# Writes the guest kernel's syscall_names.h (k::nr::<name> constants and the
# k::kSyscallNames table) from Linux's x86-64 syscall list, <asm/unistd_64.h>.
# The numbers are the kernel ABI; the names only serve logs and registration.
# Run by the build (src/kernel/CMakeLists.txt); POSIX sh and awk only.
#
#   scripts/gen_syscall_names.sh /usr/include/x86_64-linux-gnu/asm/unistd_64.h OUT

set -eu
if [ $# -ne 2 ]; then
  echo "usage: $0 path/to/asm/unistd_64.h output.h" >&2
  exit 2
fi
in=$1
out=$2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

awk 'BEGIN { n = 0 }
  $1 == "#define" && $2 ~ /^__NR_[a-z0-9_]+$/ && $3 ~ /^[0-9]+$/ {
    name[n] = substr($2, 6); nr[n] = $3; n++
  }
  END {
    if (n == 0) { print "gen_syscall_names: no __NR_ definitions found" > "/dev/stderr"; exit 1 }
    print "// syscall_names.h - x86-64 Linux syscall numbers and names (generated from"
    print "// <asm/unistd_64.h> by scripts/gen_syscall_names.sh; numbers are the kernel ABI)."
    print "#pragma once"
    print ""
    print "namespace k::nr {"
    for (i = 0; i < n; i++) printf "constexpr unsigned %s = %s;\n", name[i], nr[i]
    print "}  // namespace k::nr"
    print ""
    print "namespace k {"
    print "struct SyscallNameEntry { unsigned nr; const char* name; };"
    print "inline constexpr SyscallNameEntry kSyscallNames[] = {"
    for (i = 0; i < n; i++) printf "    {%s, \"%s\"},\n", nr[i], name[i]
    print "};"
    print "}  // namespace k"
  }
' "$in" >"$tmp"

mv "$tmp" "$out"
