#!/usr/bin/env bash
# Build a static busybox linked against musl, the toolset of Alpine, for the
# netcontract-test/alpine:local image (scripts/build-images.sh calls this).
# Nothing can be pulled, so it comes from Debian packages: busybox's source
# package (`apt-get source`, from a deb-src list of its own under build/, the
# machine's apt configuration untouched) built with musl-gcc (musl-tools).
# Upstream's defconfig, static, without `tc` (which does not build against
# Linux 6.x headers): like Alpine's busybox, its nc has -z and -v, and every
# error text comes from musl's strerror ("Host is unreachable", "Network
# unreachable", "Operation timed out"), not glibc's.
#
#   scripts/build-musl-busybox.sh OUT   writes the binary to OUT (atomically)
#
# About 30 s the first time (download and compile on 2 cores); the build tree
# is kept in build/musl-busybox/ and OUT is only rebuilt when it is missing or
# this script changed. Installs musl-tools with apt-get when run as root.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:?usage: $0 OUT}
WORK=$PWD/build/musl-busybox
say() { printf 'build-musl-busybox: %s\n' "$*"; }
die() { printf 'build-musl-busybox: ERROR: %s\n' "$*" >&2; exit 1; }

if [ -x "$OUT" ] && [ "$OUT" -nt "$0" ]; then
    exit 0
fi
mkdir -p "$WORK"
# Two builds (one per engine) may run at once: one compiles, the other waits and finds OUT made.
exec 9>"$WORK/.lock"
flock 9
if [ -x "$OUT" ] && [ "$OUT" -nt "$0" ]; then
    exit 0
fi

if ! command -v musl-gcc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing musl-tools (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools make bzip2 >/dev/null
    fi
    command -v musl-gcc >/dev/null 2>&1 || die "musl-gcc not found: apt-get install musl-tools (as root)"
fi

# busybox's source package: a deb-src list and apt lists of our own, the Debian release of this machine.
SRC=$WORK/src
if ! ls "$SRC"/busybox_*.orig.tar.bz2 >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: busybox's source comes from Debian"
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
    mkdir -p "$SRC/lists/partial"
    printf 'deb-src http://deb.debian.org/debian %s main\n' "$codename" >"$SRC/sources.list"
    apt=(-o "Dir::Etc::SourceList=$SRC/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o "Dir::State::Lists=$SRC/lists" -o APT::Sandbox::User=root)
    say "fetching busybox's Debian source package ($codename)"
    apt-get "${apt[@]}" update -qq
    (cd "$SRC" && apt-get "${apt[@]}" source --download-only -qq busybox >/dev/null)
fi
tarball=$(ls "$SRC"/busybox_*.orig.tar.bz2 | head -n 1)

TREE=$WORK/tree
rm -rf "$TREE"
mkdir -p "$TREE"
tar -xjf "$tarball" -C "$TREE" --strip-components=1
# musl-gcc sees only musl's headers; busybox also needs the kernel's (linux-libc-dev).
KINC=$WORK/kernel-headers
rm -rf "$KINC"
mkdir -p "$KINC"
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for d in /usr/include/linux /usr/include/asm-generic /usr/include/mtd "/usr/include/$multiarch/asm"; do
    [ -d "$d" ] && ln -s "$d" "$KINC/$(basename "$d")"
done
[ -e "$KINC/linux" ] && [ -e "$KINC/asm" ] || die "kernel headers not found: apt-get install linux-libc-dev"

say "compiling busybox $(basename "$tarball" .orig.tar.bz2 | cut -d_ -f2) with musl-gcc"
make -C "$TREE" -s defconfig >/dev/null
sed -i -e 's/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/' -e 's/^CONFIG_TC=y/# CONFIG_TC is not set/' "$TREE/.config"
if ! make -C "$TREE" -j"$(nproc)" CC=musl-gcc HOSTCC=gcc EXTRA_CFLAGS="-isystem $KINC" >"$WORK/build.log" 2>&1; then
    tail -n 30 "$WORK/build.log" >&2
    die "the build failed (log: $WORK/build.log)"
fi
bin=$TREE/busybox
LC_ALL=C readelf -l "$bin" | grep -q 'program interpreter' && die "$bin is not static"
grep -q 'Host is unreachable' "$bin" || die "$bin does not carry musl's error texts"
mkdir -p "$(dirname "$OUT")"
cp -f "$bin" "$OUT.tmp.$$"
mv -f "$OUT.tmp.$$" "$OUT"
rm -rf "$TREE"
say "done: $OUT"
