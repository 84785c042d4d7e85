#!/usr/bin/env bash
# Build the swarm node image netcontract-test/swarm-node:local without any
# container registry: a minimal Debian bookworm root (debootstrap, from the
# Debian mirror apt already uses) with docker.io, iproute2, iptables,
# ca-certificates and procps, docs and apt caches trimmed, imported with
# `docker import`.
#
# Built once: the image carries a hash of its recipe (suite, packages, trim
# steps, this script) as the label org.netcontract.context-hash; a later run
# with the same recipe does nothing. NCSWARM_REBUILD=1 builds anyway.
#
# Environment:
#   NCSWARM_MIRROR   Debian mirror (default: the one in /etc/apt/sources.list*,
#                    else http://deb.debian.org/debian)
#   NCSWARM_SUITE    default bookworm (Debian 12: docker.io 20.10.24, as the host)
#   NCSWARM_REBUILD=1
set -euo pipefail

NCSWARM_TOOL=swarm-node-image
# shellcheck source=scripts/swarm/common.sh
. "$(dirname "$0")/common.sh"

SUITE=${NCSWARM_SUITE:-bookworm}
# procps: `docker top` runs ps in the node.
PACKAGES=docker.io,iproute2,iptables,ca-certificates,procps
SELF=$(readlink -f "$0")

. "$(dirname "$SELF")/../debian-mirror.sh"
MIRROR=${NCSWARM_MIRROR:-$(debian_mirror)}

ncswarm_need_docker

# The recipe's hash: what decides the image's content (the mirror does not).
HASH=$( { printf 'suite=%s\npackages=%s\n' "$SUITE" "$PACKAGES"; cat "$SELF"; } | sha256sum | cut -c1-64)
have=$(docker image inspect -f "{{ index .Config.Labels \"$NCSWARM_HASH_LABEL\" }}" "$NCSWARM_NODE_IMAGE" 2>/dev/null || true)
if [ "${NCSWARM_REBUILD:-0}" != 1 ] && [ "$have" = "$HASH" ]; then
    ncswarm_say "$NCSWARM_NODE_IMAGE up to date (cached; NCSWARM_REBUILD=1 rebuilds)"
    exit 0
fi

[ "$(id -u)" = 0 ] || ncswarm_die "building $NCSWARM_NODE_IMAGE needs root (debootstrap)"
if ! command -v debootstrap >/dev/null 2>&1; then
    ncswarm_say "installing debootstrap (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq debootstrap >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } \
        || ncswarm_die "could not install debootstrap"
fi

WORK=$(mktemp -d /var/tmp/ncswarm-rootfs.XXXXXX)
ROOTFS=$WORK/root
# debootstrap mounts /proc and /sys inside the root while it runs: unmount
# whatever is still mounted below WORK before removing it, and never cross
# into another file system.
cleanup() {
    local m
    while read -r m; do umount -l "$m" 2>/dev/null || true; done \
        < <(awk -v w="$WORK" 'index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

ncswarm_say "debootstrap --variant=minbase $SUITE from $MIRROR (log: $WORK/debootstrap.log)"
t0=$SECONDS
# nice/ionice: other engineers' timing-sensitive tests share this machine.
if ! nice -n 10 ionice -c 3 debootstrap --variant=minbase --include="$PACKAGES" \
        "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 15 "$WORK/debootstrap.log" >&2
    ncswarm_die "debootstrap failed (last lines above)"
fi
t_boot=$((SECONDS - t0))

# Trim: documentation, manuals, locales, apt's caches and lists.
rm -rf "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/usr/share/locale/* "$ROOTFS"/usr/share/lintian "$ROOTFS"/usr/share/bash-completion \
       "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/debconf/*-old \
       "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/debootstrap
# A container gets /etc/hostname, /etc/hosts and /etc/resolv.conf from Docker.
: >"$ROOTFS/etc/hostname"
for bin in dockerd docker containerd runc docker-init iptables ip ps; do
    chroot "$ROOTFS" sh -c "command -v $bin" >/dev/null 2>&1 || ncswarm_die "$bin missing in the node root"
done
rootfs_mb=$(du -sm --one-file-system "$ROOTFS" | cut -f1)

ncswarm_say "docker import $NCSWARM_NODE_IMAGE (root ${rootfs_mb} MB)"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change "LABEL org.netcontract.test=1" \
    --change "LABEL org.netcontract.image=swarm-node" \
    --change "LABEL $NCSWARM_HASH_LABEL=$HASH" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'VOLUME /var/lib/docker' \
    --change 'ENTRYPOINT ["dockerd"]' \
    -m "netcontract swarm test node: debootstrap $SUITE + $PACKAGES" \
    - "$NCSWARM_NODE_IMAGE" >/dev/null
# The image this tag named before, if any, is now dangling: remove ours only.
docker image prune -f --filter "label=org.netcontract.image=swarm-node" >/dev/null 2>&1 || true

size=$(docker image inspect -f '{{.Size}}' "$NCSWARM_NODE_IMAGE")
ncswarm_say "built $NCSWARM_NODE_IMAGE: debootstrap ${t_boot} s, total $((SECONDS - t0)) s, image $((size / 1000000)) MB"
