#!/usr/bin/env bash
# Build the netcontract tool image (the top-level Dockerfile) without any container registry:
#
#   1. a base with Python 3.11 from Debian packages: debootstrap --variant=minbase bookworm with python3
#      and python3-venv, docs and caches trimmed, `docker import`ed as netcontract-test/python-base:local
#      (built once: a hash of this recipe is its label; NETCONTRACT_REBUILD=1 builds anyway), as the swarm
#      node image is (scripts/swarm/build-node-image.sh);
#   2. the wheels of this checkout and its dependencies (pip wheel, through the pip configuration of this
#      machine), in a build context of their own;
#   3. `docker build -f Dockerfile --build-arg BASE=<that base> --build-arg PIP_ARGS="--no-index
#      --find-links /src/wheelhouse" --build-arg NETCONTRACT=netcontract`: the same Dockerfile users build
#      FROM python:3.11-slim, with the wheels instead of a package index.
#
# Result: netcontract-test/tool:local (labelled org.netcontract.test=1). Needs root (debootstrap) and the
# engine of DOCKER_HOST; run under the lock (flock /tmp/netcontract-live.lock).
#
# `--rootfs-only`: only debootstrap the base's root into its cached tarball (no engine is touched, so no
# lock is needed); a later run imports it.
#
# Environment: NETCONTRACT_TOOL_IMAGE (default netcontract-test/tool:local), NETCONTRACT_BASE_IMAGE
# (default netcontract-test/python-base:local), NETCONTRACT_MIRROR (default: apt's), NETCONTRACT_REBUILD=1,
# NETCONTRACT_CACHE (default /var/cache/netcontract: the base root's tarball, by recipe hash).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SELF=$(readlink -f "$0")
TOOL=${NETCONTRACT_TOOL_IMAGE:-netcontract-test/tool:local}
BASE=${NETCONTRACT_BASE_IMAGE:-netcontract-test/python-base:local}
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
LABEL_HASH=org.netcontract.context-hash
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

say() { printf 'build-tool-image: %s\n' "$*"; }
die() { printf 'build-tool-image: ERROR: %s\n' "$*" >&2; exit 1; }

. "$(dirname "$SELF")/debian-mirror.sh"

WORK=$(mktemp -d /var/tmp/nc-tool-image.XXXXXX)
cleanup() {
    local m
    while read -r m; do umount -l "$m" 2>/dev/null || true; done \
        < <(awk -v w="$WORK" 'index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# -- 1. the base ------------------------------------------------------------------------------------------
HASH=$( { printf 'suite=%s\npackages=%s\n' "$SUITE" "$PACKAGES"; sed -n '/^# -- 1/,/^# -- 2/p' "$SELF"; } \
        | sha256sum | cut -c1-64)
CACHE=${NETCONTRACT_CACHE:-/var/cache/netcontract}
TARBALL=$CACHE/python-base-$HASH.tar
ROOTFS_ONLY=0
[ "${1:-}" = --rootfs-only ] && ROOTFS_ONLY=1

build_rootfs() {  # debootstrap the base's root into $TARBALL (no engine involved)
    [ "$(id -u)" = 0 ] || die "building $BASE needs root (debootstrap)"
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "installing debootstrap (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq debootstrap >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } \
            || die "could not install debootstrap"
    fi
    local mirror rootfs=$WORK/root t0=$SECONDS
    mirror=${NETCONTRACT_MIRROR:-$(debian_mirror)}
    say "debootstrap --variant=minbase $SUITE (+$PACKAGES) from $mirror"
    nice -n 10 ionice -c 3 debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -n 15 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
           "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian "$rootfs"/var/cache/apt/* \
           "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/debootstrap
    : >"$rootfs/etc/hostname"
    chroot "$rootfs" python3 -c 'import venv, ensurepip, sys; assert sys.version_info >= (3, 11)' \
        || die "python3 with venv and ensurepip missing in the base"
    mkdir -p "$CACHE"
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp.$$" . && mv "$TARBALL.tmp.$$" "$TARBALL"
    say "base root in $TARBALL ($((SECONDS - t0)) s)"
}

if [ "$ROOTFS_ONLY" = 1 ]; then
    [ -s "$TARBALL" ] && [ "${NETCONTRACT_REBUILD:-0}" != 1 ] || build_rootfs
    exit 0
fi
have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_HASH\" }}" "$BASE" 2>/dev/null || true)
if [ "${NETCONTRACT_REBUILD:-0}" != 1 ] && [ "$have" = "$HASH" ]; then
    say "$BASE up to date (cached; NETCONTRACT_REBUILD=1 rebuilds)"
else
    [ -s "$TARBALL" ] && [ "${NETCONTRACT_REBUILD:-0}" != 1 ] || build_rootfs
    t0=$SECONDS
    docker import \
        --change "LABEL org.netcontract.test=1" \
        --change "LABEL org.netcontract.image=python-base" \
        --change "LABEL $LABEL_HASH=$HASH" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' \
        -m "netcontract tool image base: debootstrap $SUITE + $PACKAGES" "$TARBALL" "$BASE" >/dev/null
    docker image prune -f --filter "label=org.netcontract.image=python-base" >/dev/null 2>&1 || true
    say "imported $BASE in $((SECONDS - t0)) s"
fi

# -- 2. the wheels ----------------------------------------------------------------------------------------
CTX=$WORK/context
mkdir -p "$CTX/wheelhouse"
say "pip wheel: netcontract and its dependencies"
"$PYTHON" -m pip wheel -q --disable-pip-version-check --wheel-dir "$CTX/wheelhouse" "$ROOT" 2>&1 \
    | grep -v 'is ignored: it is neither a file nor a directory' || true
ls "$CTX"/wheelhouse/netcontract-*.whl >/dev/null 2>&1 || die "pip wheel made no netcontract wheel"

# -- 3. the image -----------------------------------------------------------------------------------------
say "docker build -f Dockerfile (BASE=$BASE) -t $TOOL"
docker build -q -f "$ROOT/Dockerfile" \
    --build-arg "BASE=$BASE" \
    --build-arg "PIP_ARGS=--no-index --find-links /src/wheelhouse" \
    --build-arg "NETCONTRACT=netcontract" \
    --label org.netcontract.test=1 --label org.netcontract.image=tool \
    -t "$TOOL" "$CTX" >/dev/null
docker image prune -f --filter "label=org.netcontract.image=tool" >/dev/null 2>&1 || true
say "built $TOOL ($(docker run --rm "$TOOL" --version))"
