#!/usr/bin/env bash
# Start (or stop) a SECOND Docker engine generation beside the host's own one,
# for running the live tests against both ("two engines in CI").
#
#   Debian 12 host (docker.io 20.10)  ->  second engine: Debian 13's docker.io 26.1
#   Debian 13 host (docker.io 26.1)   ->  second engine: Debian 12's docker.io 20.10
#
# Usage (as root):
#   scripts/ensure-docker-second.sh           fetch if needed, start, wait; exit 0
#                                             when `docker version` answers on the
#                                             second socket, else one line on stderr
#                                             and exit 1. Idempotent.
#   scripts/ensure-docker-second.sh --stop    stop the second dockerd that this
#                                             script started (by its pid file) only
#   scripts/ensure-docker-second.sh --host    print its DOCKER_HOST value; no start
#   (scripts/ensure-docker.sh --second [--stop|--host] does the same.)
#
# On success the last line on stdout is `DOCKER_HOST=unix:///run/netcontract-dockerNN.sock`.
#
# Fetching, without touching the system's apt sources, lists or cache: a
# private sources.list (the same Debian mirror host as /etc/apt/sources.list*,
# other suite, main) and private lists/cache dirs under
# $NETCONTRACT_ENGINES_DIR/apt-SUITE, used through apt-get's own -o options
# (`apt-get update`, then `apt-get download docker.io containerd runc tini`;
# the system's APT::Update::*-Invoke hooks are cleared for that update),
# unpacked with `dpkg-deb -x` into $NETCONTRACT_ENGINES_DIR/docker-NN. That is
# done once (stamp file .netcontract-engine); NETCONTRACT_SECOND_REFRESH=1
# fetches again. docker-NN/bin holds the binaries the engine runs, first in its
# PATH: each fetched one when it can run on this host, else the host's own
# (Debian 13's runc needs glibc 2.38, so on Debian 12 the second engine runs
# the host's runc 1.1.5; dockerd 26.1, docker-proxy, containerd 1.7 and its
# shim need only glibc 2.34, and docker-init is the static tini: those come
# from Debian 13).
#
# Why the second dockerd runs in a network namespace of its own (unshare --net):
# every dockerd (20.10 and 26.1 alike) begins with removeIPChains(): it flushes
# and deletes the iptables chains DOCKER (nat, filter) and
# DOCKER-ISOLATION-STAGE-1/2, then re-creates them with only ITS networks'
# rules. Two engines in one network namespace therefore cannot coexist: starting
# the second wipes the first's isolation and port-publishing rules (its
# existing networks are no longer isolated from each other), and a restart of
# either wipes the other's. In a namespace of its own the second engine has its
# own iptables/ip6tables tables, bridges, routes, conntrack and forwarding
# sysctls; the host's engine and its rules are not touched. Its sockets, data
# and exec roots are plain paths, so the docker CLI, compose and the tests on
# the host reach it through the unix socket as usual (the tests only talk to
# containers from inside containers; a port published by the second engine is
# bound in its namespace: `nsenter -t $(cat PIDFILE) -n ...` reaches it). The
# namespace has only loopback: nothing in it can reach any outside address.
# It starts like a freshly booted host: lo up, net.ipv4.ip_forward=0 (a new
# namespace inherits the host's 1), so dockerd turns forwarding on itself and,
# as on a fresh host, sets the FORWARD policy to DROP.
#
# Its own everything: --data-root /var/lib/netcontract/docker-NN, --exec-root
# /run/netcontract-dockerNN, --pidfile /run/netcontract-dockerNN.pid, socket
# /run/netcontract-dockerNN.sock, --default-address-pool 10.2NN.0.0/16 size 24
# (its default bridge docker0 takes the first /24; the name is free in its own
# namespace), --dns 127.0.0.1 (the embedded DNS never forwards off the
# machine), and containerd namespaces netcontractNN(-plugins). Containerd:
# with no --containerd, dockerd uses a system containerd only when
# /run/containerd/containerd.sock exists (it does not here: the host's dockerd
# manages its own under /var/run/docker/containerd); otherwise it starts a
# managed containerd (the fetched one, first in PATH) with root
# DATA_ROOT/containerd and state EXEC_ROOT/containerd.
#
# IPv6: user networks `docker network create --ipv6 --subnet fdXX:...` work
# with the defaults. ip6tables filtering (isolation of IPv6 between networks):
# on 26.1 the daemon option `--ip6tables` (daemon.json "ip6tables": true) is
# refused unless `--experimental` is on as well (20.10 the same: "failed to start daemon:
# ip6tables rules are only available if experimental features are enabled";
# upstream made it non-experimental and the default in 27.0);
# NETCONTRACT_SECOND_IP6TABLES=1 starts the engine with `--experimental
# --ip6tables`. The setting is fixed at start: the script restarts an engine
# of ours that runs with the other value.
# Measured (Debian 12 host, engine in its own namespace, two networks created
# with --ipv6 --subnet fd00:...::/64, busybox httpd on one, `nc -w 2` from a
# container on the other, 3 runs each): defaults, 26.1 and 20.10 alike:
# IPv4 blocked, IPv6 CONNECTS (no IPv6 isolation); --experimental --ip6tables:
# IPv4 and IPv6 blocked; same-network IPv4 and IPv6 connect in every case.
#
# Environment:
#   NETCONTRACT_SECOND_IP6TABLES=1   --experimental --ip6tables (see above)
#   NETCONTRACT_SECOND_SUITE         Debian suite to fetch (default: the other of bookworm/trixie)
#   NETCONTRACT_SECOND_MIRROR        mirror URI (default: this host's Debian mirror)
#   NETCONTRACT_SECOND_REFRESH=1     fetch and unpack again
#   NETCONTRACT_ENGINES_DIR          cache (default /opt/netcontract/engines)
#   NETCONTRACT_DOCKERD_SECOND_LOG   log (default /tmp/netcontract-dockerd-second.log)
#   NETCONTRACT_DOCKERD_SECOND_PIDFILE  (default /tmp/netcontract-dockerd-second.pid)
set -euo pipefail

PIDFILE=${NETCONTRACT_DOCKERD_SECOND_PIDFILE:-/tmp/netcontract-dockerd-second.pid}
LOG=${NETCONTRACT_DOCKERD_SECOND_LOG:-/tmp/netcontract-dockerd-second.log}
ENGINES=${NETCONTRACT_ENGINES_DIR:-/opt/netcontract/engines}
WAIT_SECONDS=60
IP6TABLES=${NETCONTRACT_SECOND_IP6TABLES:-0}

say() { printf 'ensure-docker-second: %s\n' "$*"; }
fail() { printf 'ensure-docker-second: %s\n' "$*" >&2; exit 1; }

mode=start
case "${1:-}" in
    "" | --start) ;;
    --stop) mode=stop ;;
    --host) mode=host ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument '$1' (use --stop, --host or nothing)" ;;
esac

# --- which generation -------------------------------------------------------------
host_codename() {
    local c=""
    [ -r /etc/os-release ] && c=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ -z "$c" ] && [ -r /etc/debian_version ]; then
        case "$(cut -d. -f1 </etc/debian_version)" in
            12) c=bookworm ;; 13) c=trixie ;; bookworm* | trixie*) c=$(cut -d/ -f1 </etc/debian_version) ;;
        esac
    fi
    echo "$c"
}
HOST_SUITE=$(host_codename)
if [ -n "${NETCONTRACT_SECOND_SUITE:-}" ]; then
    SUITE=$NETCONTRACT_SECOND_SUITE
else
    case "$HOST_SUITE" in
        bookworm) SUITE=trixie ;;
        trixie) SUITE=bookworm ;;
        *) fail "this is not Debian 12 or 13 (codename '${HOST_SUITE:-?}'): set NETCONTRACT_SECOND_SUITE" ;;
    esac
fi
case "$SUITE" in
    trixie) NN=26 ;;   # docker.io 26.1.x
    bookworm) NN=20 ;; # docker.io 20.10.x
    *) fail "no engine generation known for suite '$SUITE' (bookworm or trixie)" ;;
esac

ENGINE_DIR=$ENGINES/docker-$NN
APT_DIR=$ENGINES/apt-$SUITE
SOCK=/run/netcontract-docker$NN.sock
DOCKER_HOST_SECOND=unix://$SOCK
EXEC_ROOT=/run/netcontract-docker$NN
DATA_ROOT=/var/lib/netcontract/docker-$NN
DOCKERD_PIDFILE=/run/netcontract-docker$NN.pid   # dockerd's own --pidfile
POOL="base=10.2$NN.0.0/16,size=24"
STAMP=$ENGINE_DIR/.netcontract-engine

if [ "$mode" = host ]; then
    echo "$DOCKER_HOST_SECOND"
    exit 0
fi

# --- our dockerd? -------------------------------------------------------------------
# A pid is "ours" when it is a live dockerd whose command line names our socket.
ours() {
    local p=${1:-}
    [ -n "$p" ] && [ -r "/proc/$p/comm" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = dockerd ] \
        && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "unix://$SOCK"
}
pid_from_file() { [ -f "$PIDFILE" ] && cat "$PIDFILE" 2>/dev/null || true; }

stop_ours() {
    local p
    p=$(pid_from_file)
    if [ -z "$p" ]; then
        say "no $PIDFILE: no second dockerd of ours to stop"
        return 0
    fi
    if ! ours "$p"; then
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = dockerd ]; then
            fail "pid $p in $PIDFILE is a dockerd that does not serve $SOCK (other settings, e.g. NETCONTRACT_SECOND_SUITE?): not stopping it"
        fi
        say "pid $p in $PIDFILE is gone already; removing the pid file"
        rm -f "$PIDFILE"
        return 0
    fi
    say "stopping the second dockerd (pid $p)"
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 60); do
        [ -d "/proc/$p" ] || break
        sleep 0.5
    done
    if [ -d "/proc/$p" ]; then
        say "dockerd (pid $p) did not stop within 30 s; killing it"
        kill -KILL "$p" 2>/dev/null || true
        sleep 1
        # A killed dockerd leaves its data root bind-mounted on itself.
        if command -v mountpoint >/dev/null 2>&1 && mountpoint -q "$DATA_ROOT"; then
            umount "$DATA_ROOT" 2>/dev/null || true
        fi
    fi
    rm -f "$PIDFILE"
    say "stopped"
}

if [ "$mode" = stop ]; then
    stop_ours
    exit 0
fi

# --- start --------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "needs root (it starts a dockerd); run it as root"
command -v docker >/dev/null 2>&1 || fail "no docker CLI (run scripts/ensure-docker.sh first)"
command -v unshare >/dev/null 2>&1 || fail "no unshare (util-linux)"

answers() { DOCKER_HOST=$DOCKER_HOST_SECOND timeout 20 docker version >/dev/null 2>&1; }
running_ip6tables() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- '--ip6tables'; }

p=$(pid_from_file)
if [ -n "$p" ] && ! ours "$p"; then
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = dockerd ]; then
        fail "$PIDFILE names dockerd pid $p, which does not serve $SOCK (started with other settings?): stop it with those settings first"
    fi
    rm -f "$PIDFILE"
    p=""
fi
if [ -z "$p" ] && [ -f "$DOCKERD_PIDFILE" ]; then
    # Ours, though our pid file is gone (e.g. /tmp was cleaned): adopt it.
    q=$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)
    if ours "$q"; then
        p=$q
        echo "$p" >"$PIDFILE"
    fi
fi
if [ -n "$p" ]; then
    want=0; [ "$IP6TABLES" = 1 ] && want=1
    have=0; running_ip6tables "$p" && have=1
    if [ "$want" != "$have" ]; then
        say "our second dockerd (pid $p) runs with ip6tables=$have, wanted $want: restarting it"
        stop_ours
        p=""
    fi
fi

# The Debian mirror this host uses: the URI of the sources entry for the host's
# own suite (deb822 .sources or one-line .list).
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk -v suite="$HOST_SUITE" '
            function flush() { if (deb && ok && uri != "" && !found) { print uri; found = 1 } deb = 0; ok = 0; uri = ""; off = 0 }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            tolower($1) == "enabled:" && tolower($2) == "no" { ok = 0; deb = 0 }
            END { flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$HOST_SUITE" '$1 == "deb" && $3 == suite { print $2 }'
    done
}

fetch() {
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg pkgs
    mirror=${NETCONTRACT_SECOND_MIRROR:-$(host_mirror | head -n 1)}
    [ -n "$mirror" ] || fail "cannot tell this host's Debian mirror from /etc/apt/sources.list*: set NETCONTRACT_SECOND_MIRROR"
    command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || fail "needs apt-get and dpkg-deb"
    [ -r "$keyring" ] || fail "no $keyring (debian-archive-keyring)"
    pkgs=(docker.io containerd runc tini)
    # Debian 12's dockerd links libdevmapper.so.1.02.1, which a Debian 13 host may lack.
    [ "$SUITE" = bookworm ] && pkgs+=(libdevmapper1.02.1)

    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/debs"
    echo "deb [signed-by=$keyring] $mirror $SUITE main" >"$APT_DIR/sources.list"
    # apt downloads as the unprivileged _apt user where it can write.
    id _apt >/dev/null 2>&1 && chown _apt "$APT_DIR/debs" "$APT_DIR/lists/partial" 2>/dev/null || true
    # The system's APT::Update hooks (PackageKit, appstream refresh) are about the
    # system's lists: not run for this private update.
    printf '#clear APT::Update::Pre-Invoke;\n#clear APT::Update::Post-Invoke;\n#clear APT::Update::Post-Invoke-Success;\n' \
        >"$APT_DIR/no-update-hooks.conf"
    local opts=(-c "$APT_DIR/no-update-hooks.conf"
                -o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
                -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
    say "fetching ${pkgs[*]} from $mirror $SUITE (private apt lists in $APT_DIR)"
    apt-get "${opts[@]}" -qq update >"$APT_DIR/apt.log" 2>&1 \
        || fail "apt-get update of $SUITE failed: $(grep -E '^(E|W):' "$APT_DIR/apt.log" | head -n 1)"
    rm -f "$APT_DIR"/debs/*.deb
    (cd "$APT_DIR/debs" && apt-get "${opts[@]}" -qq download "${pkgs[@]}") >>"$APT_DIR/apt.log" 2>&1 \
        || fail "apt-get download ${pkgs[*]} ($SUITE) failed: $(grep -E '^E:' "$APT_DIR/apt.log" | head -n 1)"

    local new=$ENGINE_DIR.new.$$ deb
    rm -rf "$new"
    mkdir -p "$new"
    for deb in "$APT_DIR"/debs/*.deb; do
        dpkg-deb -x "$deb" "$new" || fail "dpkg-deb -x $deb failed"
    done
    {
        echo "suite=$SUITE mirror=$mirror fetched=$(date -u +%FT%TZ)"
        for deb in "$APT_DIR"/debs/*.deb; do echo "$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)"; done
    } >"$new/.netcontract-engine"
    rm -rf "$ENGINE_DIR"
    mv "$new" "$ENGINE_DIR"
    rm -f "$APT_DIR"/debs/*.deb # unpacked; the stamp file keeps the versions
}

# True when the ELF file $1 can be loaded here: static, or every library and
# symbol version it asks for is present (with $2 as LD_LIBRARY_PATH).
loads_here() {
    local out
    out=$(LC_ALL=C LD_LIBRARY_PATH=${2:-} ldd "$1" 2>&1) || return 0 # "not a dynamic executable"
    ! grep -q 'not found' <<<"$out"
}

# docker-NN/bin: what the engine runs, first in its PATH.
link_bins() {
    local bin=$ENGINE_DIR/bin name src
    rm -rf "$bin"
    mkdir -p "$bin"
    for name in dockerd docker-proxy docker-init containerd containerd-shim-runc-v2 ctr runc; do
        src=""
        for f in "$ENGINE_DIR/usr/sbin/$name" "$ENGINE_DIR/usr/bin/$name"; do
            [ -e "$f" ] && { src=$(readlink -f "$f"); break; }
        done
        if [ -n "$src" ] && ! loads_here "$src" "$LIBS"; then
            say "$name of $SUITE cannot run on this host ($(LC_ALL=C LD_LIBRARY_PATH=$LIBS ldd "$src" 2>&1 | grep -m1 'not found' | sed 's/^[[:space:]]*//')); using the host's"
            src=""
        fi
        if [ -z "$src" ]; then
            case "$name" in
                dockerd | docker-proxy | containerd) fail "$name of $SUITE cannot run on this host (see ldd $ENGINE_DIR/usr/*/$name)" ;;
                docker-init) src=$(command -v tini-static || command -v docker-init || true) ;;
                *) src=$(command -v "$name" || true) ;;
            esac
            [ -n "$src" ] || { [ "$name" = ctr ] && continue; fail "no usable $name (neither $SUITE's nor the host's; install it: apt-get install ${name%%-*})"; }
        fi
        ln -s "$src" "$bin/$name"
    done
}

if [ -z "$p" ]; then
    t0=$SECONDS
    if [ "${NETCONTRACT_SECOND_REFRESH:-0}" = 1 ] || [ ! -f "$STAMP" ] || [ ! -e "$ENGINE_DIR/usr/sbin/dockerd" ]; then
        fetch
    fi
    # Shared libraries that came with the packages (Debian 12's libdevmapper), used
    # only when the host lacks them.
    LIBS=""
    if ! loads_here "$ENGINE_DIR/usr/sbin/dockerd"; then
        LIBS=$(find "$ENGINE_DIR/lib" "$ENGINE_DIR/usr/lib" -name '*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: || true)
    fi
    link_bins

    if [ -e /run/containerd/containerd.sock ]; then
        say "note: /run/containerd/containerd.sock exists: dockerd uses that system containerd (namespace netcontract$NN) instead of starting its own"
    fi
    # dockerd refuses to start while its pid file names a live process; one left
    # by a killed dockerd of ours is stale.
    if [ -f "$DOCKERD_PIDFILE" ]; then
        q=$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)
        if [ -n "$q" ] && [ -d "/proc/$q" ]; then
            fail "$DOCKERD_PIDFILE names pid $q, which is not our second dockerd: not starting one beside it"
        fi
        rm -f "$DOCKERD_PIDFILE"
    fi
    args=(--data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$DOCKERD_PIDFILE"
          -H "unix://$SOCK" --dns 127.0.0.1 --default-address-pool "$POOL"
          --containerd-namespace "netcontract$NN" --containerd-plugins-namespace "netcontract$NN-plugins")
    [ "$IP6TABLES" = 1 ] && args+=(--experimental --ip6tables)
    mkdir -p "$DATA_ROOT" "$(dirname "$LOG")"
    say "starting $("$ENGINE_DIR/bin/dockerd" --version 2>/dev/null || echo "dockerd of $SUITE") in its own network namespace (log: $LOG)"
    # unshare --net (no fork) and `exec` keep the pid: $! is dockerd's.
    # Every descriptor above 2 is closed first: a daemon must not keep what its caller holds open (measured: a
    # `flock LOCK scripts/ensure-docker-second.sh` left the lock held by dockerd, for as long as it ran).
    PATH=$ENGINE_DIR/bin:$PATH LD_LIBRARY_PATH=$LIBS nohup unshare --net -- /bin/bash -c \
        'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
         ip link set lo up 2>/dev/null || busybox ip link set lo up 2>/dev/null || true
         echo 0 >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true
         [ -n "$LD_LIBRARY_PATH" ] || unset LD_LIBRARY_PATH
         exec "$@"' \
        sh "$ENGINE_DIR/bin/dockerd" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
    p=$!
    echo "$p" >"$PIDFILE"
else
    t0=$SECONDS
    say "our second dockerd (pid $p) is running"
fi

for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    if answers; then
        v=$(DOCKER_HOST=$DOCKER_HOST_SECOND docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || true)
        say "Docker $v answers on $SOCK (dockerd pid $p, $((SECONDS - t0)) s)"
        echo "DOCKER_HOST=$DOCKER_HOST_SECOND"
        exit 0
    fi
    if ! kill -0 "$p" 2>/dev/null; then
        rm -f "$PIDFILE"
        fail "the second dockerd (pid $p) exited: $(grep -E 'level=(fatal|error)|failed to start' "$LOG" | tail -n 1 | cut -c1-300) (log: $LOG)"
    fi
    sleep 0.5
done
fail "the second dockerd (pid $p) did not answer on $SOCK within ${WAIT_SECONDS}s (log: $LOG)"
