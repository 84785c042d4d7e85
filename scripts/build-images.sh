#!/usr/bin/env bash
# Build the test images FROM scratch (no registry is reachable: nothing can
# be pulled). Idempotent and fast when nothing changed: every image carries a
# hash of its build context as a label and is only rebuilt when that differs.
#
#   netcontract-test/busybox:local  full busybox toolset (stack services)
#   netcontract-test/probe:local    the same image, used as the probe sidecar
#   netcontract-test/slim:local     dash + httpd + wget only (no nc/nslookup/ping/getent)
#   netcontract-test/bare:local     only a static TCP listener: distroless
#   netcontract-test/alpine:local   busybox linked against musl (Alpine's tool wording),
#                                   built from Debian's source package by
#                                   scripts/build-musl-busybox.sh (~30 s once, then cached)
#
# Build artefacts (gitignored): images/busybox/busybox, images/slim/busybox,
# images/slim/build/rootfs/ (dash + its libraries), images/bare/listen,
# images/alpine/busybox (and its build tree, build/musl-busybox/).
#
# Environment:
#   NETCONTRACT_BUSYBOX   static busybox to copy (default /bin/busybox)
#   NETCONTRACT_REBUILD=1 rebuild even when the context hash matches
#   DOCKER_HOST           the engine to build on, as for the docker CLI: images
#                         live per engine, so build on each one, e.g. the second
#                         engine of scripts/ensure-docker-second.sh:
#                         DOCKER_HOST=unix:///run/netcontract-docker26.sock scripts/build-images.sh
#                         (the legacy builder works on 20.10 and 26.1 alike).
#
# Runs for two engines may overlap (tests on both at once): the build
# artefacts are shared, so each is written in a temporary dir of this process
# (images/.tmp.PID, outside every build context, removed on exit) and renamed
# into place, never rewritten in place under a running build.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
IMAGES=$ROOT/images
BUSYBOX_SRC=${NETCONTRACT_BUSYBOX:-/bin/busybox}
LABEL_HASH=org.netcontract.context-hash

say() { printf 'build-images: %s\n' "$*"; }
die() { printf 'build-images: ERROR: %s\n' "$*" >&2; exit 1; }

# True when the ELF file $1 asks for a program interpreter (i.e. is dynamic).
is_dynamic() {
    if command -v readelf >/dev/null 2>&1; then
        LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'
    else
        LC_ALL=C ldd "$1" >/dev/null 2>&1
    fi
}

# Copy $1 to $2 only when the content differs (keeps the tree quiet); the
# copy is renamed into place (atomic for a concurrent run reading $2).
sync_file() {
    if ! cmp -s "$1" "$2" 2>/dev/null; then
        local tmp
        tmp=$(mktemp "$TMPD/sync.XXXXXX")
        cp -f "$1" "$tmp"
        chmod 0755 "$tmp"
        mv -f "$tmp" "$2"
    fi
}

TMPD=$IMAGES/.tmp.$$
rm -rf "$TMPD"
mkdir -p "$TMPD"
trap 'rm -rf "$TMPD"' EXIT

command -v docker >/dev/null 2>&1 || die "docker CLI not found (run scripts/ensure-docker.sh)"
docker info >/dev/null 2>&1 || die "Docker engine not reachable (run scripts/ensure-docker.sh)"

# --- busybox ------------------------------------------------------------------
if [ ! -x "$BUSYBOX_SRC" ]; then
    if [ "$BUSYBOX_SRC" = /bin/busybox ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing busybox-static (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
    fi
fi
[ -x "$BUSYBOX_SRC" ] || die "$BUSYBOX_SRC not found: install Debian's busybox-static (as root: apt-get install busybox-static)"
if is_dynamic "$BUSYBOX_SRC"; then
    die "$BUSYBOX_SRC is dynamically linked (Debian's 'busybox' package?); FROM scratch needs the static one: apt-get install busybox-static, or set NETCONTRACT_BUSYBOX"
fi
sync_file "$BUSYBOX_SRC" "$IMAGES/busybox/busybox"
sync_file "$BUSYBOX_SRC" "$IMAGES/slim/busybox"

# --- slim: dash and the libraries it needs --------------------------------------
DASH=$(command -v dash || true)
[ -n "$DASH" ] || die "dash not found (Debian's /bin/sh; apt-get install dash)"
ROOTFS=$IMAGES/slim/build/rootfs
NEW=$TMPD/rootfs
rm -rf "$NEW"
mkdir -p "$NEW/bin"
cp -L "$DASH" "$NEW/bin/dash"
# ldd lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
# or "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
while read -r lib; do
    mkdir -p "$NEW$(dirname "$lib")"
    cp -L "$lib" "$NEW$lib"
done < <(LC_ALL=C ldd "$DASH" | grep -o '/[^ ]*' | sort -u)
if [ -d "$ROOTFS" ] && diff -r "$ROOTFS" "$NEW" >/dev/null 2>&1; then
    rm -rf "$NEW"
else
    rm -rf "$ROOTFS"
    mkdir -p "$(dirname "$ROOTFS")"  # a fresh clone has no build/ yet
    mv -T "$NEW" "$ROOTFS" 2>/dev/null || true # another run may have moved its own copy in first
fi
[ -d "$ROOTFS" ] || die "$ROOTFS was not created"

# --- bare: the static listener ----------------------------------------------------
LISTEN=$IMAGES/bare/listen
if [ ! -x "$LISTEN" ] || [ "$IMAGES/bare/listen.c" -nt "$LISTEN" ]; then
    command -v gcc >/dev/null 2>&1 || die "gcc not found (apt-get install gcc libc6-dev)"
    say "compiling images/bare/listen.c"
    gcc -static -O2 -Wall -Wextra -o "$TMPD/listen" "$IMAGES/bare/listen.c"
    strip "$TMPD/listen" 2>/dev/null || true
    mv -f "$TMPD/listen" "$LISTEN"
fi
is_dynamic "$LISTEN" && die "$LISTEN is not static (is libc6-dev's static libc installed?)"
# The busybox image carries it too: busybox httpd listens with a backlog of 9,
# which drops SYNs when dozens of benchmark sources connect at once.
sync_file "$LISTEN" "$IMAGES/busybox/listen"

# --- alpine: busybox linked against musl ---------------------------------------------
scripts/build-musl-busybox.sh "$IMAGES/alpine/busybox"

# --- images -------------------------------------------------------------------------
# Hash of a build context: every file's path and content, in a stable order.
context_hash() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-64
}

# build NAME TAG [EXTRA_TAG...]
build() {
    local name=$1 tag=$2
    shift 2
    local dir=$IMAGES/$name hash have t
    hash=$(context_hash "$dir")
    have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_HASH\" }}" "$tag" 2>/dev/null || true)
    if [ "${NETCONTRACT_REBUILD:-0}" != 1 ] && [ "$have" = "$hash" ]; then
        say "$tag up to date"
    else
        say "building $tag"
        local args=(-q -t "$tag")
        for t in "$@"; do args+=(-t "$t"); done
        # Without buildx the CLI (v28) falls back to the legacy builder and
        # says so on stderr; that notice is noise, real errors still show.
        docker build "${args[@]}" \
            --label "org.netcontract.test=1" --label "$LABEL_HASH=$hash" "$dir" \
            2> >(grep -v -e 'legacy builder is deprecated' -e 'Install the buildx component' \
                       -e 'docs.docker.com/go/buildx' -e 'BuildKit is currently disabled' \
                       -e 'environment-variable\.' -e '^ *$' >&2 || true) >/dev/null
    fi
    # Extra tags also when the build was skipped (e.g. a tag was removed).
    for t in "$@"; do docker tag "$tag" "$t"; done
}

build busybox netcontract-test/busybox:local netcontract-test/probe:local
build slim netcontract-test/slim:local
build bare netcontract-test/bare:local
build alpine netcontract-test/alpine:local

# Old builds of ours that lost their tags.
docker image prune -f --filter "label=org.netcontract.test=1" >/dev/null 2>&1 || true

say "done: $(docker image ls --filter label=org.netcontract.test=1 --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')"
