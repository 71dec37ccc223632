#!/bin/sh
# Writes a gzipped man page for one of Ember's programs from its --help and
# --version output (help2man), with each subcommand's --help (the ones its
# --help lists) as a section.
#
#   manpage.sh BINARY SECTION "SHORT DESCRIPTION" OUT.gz [EXTRA.h2m]
#
# EXTRA.h2m is a help2man include file (FILES, SEE ALSO, ...) or "-".
set -eu
bin=$1 section=$2 name=$3 out=$4 extra=${5:--}
dir=$(cd "$(dirname "$bin")" && pwd)
prog=$(basename "$bin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# roff: a backslash is \e; a line may not start with . or ' (a request).
escape() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
subs=$(PATH="$dir:$PATH" "$prog" --help | sed -n '/^Subcommands:/,$p' |
    sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p')
{
    if [ -n "$subs" ]; then
        echo "[COMMANDS]"
        for sub in $subs; do
            echo ".SS \"$prog $sub\""
            echo ".nf"
            PATH="$dir:$PATH" "$prog" "$sub" --help | escape
            echo ".fi"
        done
    fi
    [ "$extra" = - ] || cat "$extra"
} >"$tmp/include.h2m"
# Run by bare name so that CLI11's usage line says "ember", not a build path.
PATH="$dir:$PATH" help2man --no-info --no-discard-stderr --section="$section" --name="$name" \
    --include="$tmp/include.h2m" --output="$tmp/$prog.$section" "$prog"
gzip -9n -c "$tmp/$prog.$section" >"$out"
