#!/bin/sh
# oci_image.sh KIND OUT [DIR] - builds an OCI image layout (a directory) from
# this machine's files, as a user would for `ember deploy --image OUT` or
# `ember-vm run --image OUT`; no registry, no container tools:
#   python3: layer 1 is /usr/bin/python3 with its standard library and the
#            shared libraries they load (ldd of python3 and of lib-dynload);
#            Entrypoint python3 -m http.server, Cmd 8000, port 8000,
#            WorkingDir /srv (the directory it serves);
#   node:    layer 1 is /usr/bin/node and its libraries, with hello.js (next
#            to this script) at /app/hello.js; Entrypoint node
#            /app/hello.js, Cmd 8080, port 8080.
# DIR, when given, is layer 2: its tree is placed at / over layer 1 (e.g. a
# DIR/srv with the files http.server should serve).
set -eu
KIND=$1 OUT=$2 EXTRA=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/oci_image.XXXXXX")
trap 'rm -rf "$W"' EXIT
# Shared libraries (and the interpreter) of the ELF files given, as paths
# without the leading /.
libs() { ldd "$@" 2>/dev/null | grep -o '/[^ ]*\.so[^ :]*' | sort -u | sed 's|^/||'; }
case $KIND in
python3)
    py=$(readlink -f /usr/bin/python3)
    v=$(basename "$py")
    # -h stores what symlinks point to (libz.so.1 -> libz.so.1.2.13): the
    # image has files at the paths the loader asks for. The dangling link
    # to libpython in config-* (a build-time file) and the test packages are
    # left out.
    # shellcheck disable=SC2046
    tar -C / -chf "$W/layer1" --exclude="usr/lib/$v/config-*" --exclude="usr/lib/$v/test" \
        --exclude="usr/lib/$v/idlelib" --exclude="usr/lib/$v/tkinter" \
        --exclude="usr/lib/$v/ensurepip" --exclude="usr/lib/$v/lib2to3" \
        usr/bin/python3 "usr/lib/$v" $(libs "$py" "/usr/lib/$v"/lib-dynload/*.so)
    config='"Entrypoint":["/usr/bin/python3","-m","http.server"],"Cmd":["8000"],"WorkingDir":"/srv","ExposedPorts":{"8000/tcp":{}}'
    ;;
node)
    mkdir -p "$W/app"
    cp "$HERE/hello.js" "$W/app/hello.js"
    # shellcheck disable=SC2046
    tar -C / -chf "$W/layer1" usr/bin/node $(libs /usr/bin/node)
    tar -C "$W" -rf "$W/layer1" app
    config='"Entrypoint":["/usr/bin/node","/app/hello.js"],"Cmd":["8080"],"ExposedPorts":{"8080/tcp":{}}'
    ;;
*)
    echo "oci_image.sh: KIND must be python3 or node, not '$KIND'" >&2
    exit 2
    ;;
esac
layers=$W/layer1
if [ -n "$EXTRA" ]; then
    tar -C "$EXTRA" -cf "$W/layer2" .
    layers="$layers $W/layer2"
fi
printf '{"architecture":"amd64","os":"linux","config":{%s}}' "$config" >"$W/config"

rm -rf "$OUT"
mkdir -p "$OUT/blobs/sha256"
# Stores a file as a blob; prints its descriptor.
blob() {
    d=$(sha256sum "$1" | cut -c1-64)
    cp "$1" "$OUT/blobs/sha256/$d"
    printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$d" "$(stat -c %s "$1")"
}
list=""
for l in $layers; do
    list="$list${list:+,}$(blob "$l" application/vnd.oci.image.layer.v1.tar)"
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$(blob "$W/config" application/vnd.oci.image.config.v1+json)" "$list" >"$W/manifest"
printf '{"schemaVersion":2,"manifests":[%s]}' \
    "$(blob "$W/manifest" application/vnd.oci.image.manifest.v1+json)" >"$OUT/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$OUT/oci-layout"
