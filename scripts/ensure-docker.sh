#!/usr/bin/env bash
# Make sure a Docker engine answers. Exit 0 when it does, 1 when it cannot be
# made to.
#
#   * `docker info` works: nothing to do.
#   * root: install what is missing (Debian's docker.io, busybox-static), then
#     start `dockerd --dns 127.0.0.1` in the background (nohup), log to
#     $NETCONTRACT_DOCKERD_LOG (default /tmp/netcontract-dockerd.log), write
#     its pid to /tmp/netcontract-dockerd.pid (that file means "netcontract
#     started this dockerd": .ci/run stops only such a dockerd) and wait up to
#     60 s for it to answer.
#   * not root: say how to start Docker, exit 1.
#
# Why --dns 127.0.0.1: containers get it as their upstream DNS server, so
# Docker's embedded DNS never forwards a name it does not know off the
# machine; the test compose file sets dns: [127.0.0.1] per service as well.
#
# `ensure-docker.sh --second [--stop|--host]` is scripts/ensure-docker-second.sh:
# the other engine generation (Debian 13's docker.io 26.1 on Debian 12, Debian
# 12's 20.10 on Debian 13) in a network namespace of its own, on
# unix:///run/netcontract-dockerNN.sock, beside this one. Without --second
# nothing here changes.
set -euo pipefail

if [ "${1:-}" = --second ]; then
    shift
    exec "$(dirname "$0")/ensure-docker-second.sh" "$@"
fi

LOG=${NETCONTRACT_DOCKERD_LOG:-/tmp/netcontract-dockerd.log}
PIDFILE=${NETCONTRACT_DOCKERD_PIDFILE:-/tmp/netcontract-dockerd.pid}
DOCKER_PIDFILE=${NETCONTRACT_DOCKER_PIDFILE:-/var/run/docker.pid}  # dockerd's own
WAIT_SECONDS=60

say() { printf 'ensure-docker: %s\n' "$*"; }

docker_ok() {
    command -v docker >/dev/null 2>&1 || return 1
    local v
    v=$(docker info --format '{{.ServerVersion}}' 2>/dev/null) || return 1
    [ -n "$v" ]
}

if docker_ok; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: Docker is not reachable and this is not root: start it (e.g. 'sudo systemctl start docker', or as root 'nohup dockerd --dns 127.0.0.1 &', or re-run 'sudo scripts/ensure-docker.sh') and make sure this user may use /var/run/docker.sock" >&2
    exit 1
fi

# --- install what is missing ----------------------------------------------------
missing=()
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    missing+=(docker.io)
fi
if [ ! -x /bin/busybox ]; then
    missing+=(busybox-static)
fi
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || { echo "ensure-docker: missing ${missing[*]} and no apt-get to install them" >&2; exit 1; }
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # docker.io's postinst would start a dockerd of its own (init script,
    # without --dns 127.0.0.1). Debian's policy-rc.d hook (exit 101 = "do not
    # start services") prevents that; ours only exists during the install.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# netcontract ensure-docker.sh: no service starts during apt-get install\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
    if grep -q 'netcontract ensure-docker.sh' "$policy" 2>/dev/null; then
        rm -f "$policy"
    fi
    trap - EXIT
fi

# --- is a dockerd already running (but not answering yet)? ----------------------
pid_alive_dockerd() { # pid -> true when it is a live dockerd
    [ -n "${1:-}" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dockerd ]
}

running=""
if [ -f "$DOCKER_PIDFILE" ]; then
    p=$(cat "$DOCKER_PIDFILE" 2>/dev/null || true)
    if pid_alive_dockerd "$p"; then
        running=$p
    else
        # Left behind by a dockerd that was killed: dockerd refuses to start
        # while it exists ("pid file found, ensure docker is not running").
        say "removing stale $DOCKER_PIDFILE (pid ${p:-?} is not a running dockerd)"
        rm -f "$DOCKER_PIDFILE"
    fi
fi
if [ -z "$running" ] && [ -f "$PIDFILE" ]; then
    p=$(cat "$PIDFILE" 2>/dev/null || true)
    if pid_alive_dockerd "$p"; then
        running=$p
    else
        rm -f "$PIDFILE"
    fi
fi

if [ -n "$running" ]; then
    say "dockerd (pid $running) is running but not answering yet; waiting"
    dpid=$running
else
    say "starting dockerd --dns 127.0.0.1 (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    nohup bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec dockerd --dns 127.0.0.1' >>"$LOG" 2>&1 </dev/null &
    dpid=$!
    echo "$dpid" >"$PIDFILE"
fi

for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    if docker_ok; then
        say "Docker $(docker info --format '{{.ServerVersion}}' 2>/dev/null) is up (dockerd pid $dpid)"
        exit 0
    fi
    if ! kill -0 "$dpid" 2>/dev/null; then
        # Docker 20.10 panics at start (libnetwork reservePools: index out of range)
        # when its network store holds a network that was half created or removed
        # when dockerd last stopped. Under CI (a throwaway engine of our own) the
        # store is set aside once and dockerd started again; elsewhere we only say so.
        KV=/var/lib/docker/network/files/local-kv.db
        if [ -z "${REPAIRED:-}" ] && tail -n 200 "$LOG" | grep -q 'reservePools' && [ -f "$KV" ]; then
            if [ "${CI:-}" = true ]; then
                REPAIRED=1
                say "dockerd panicked on its network store; CI: moving $KV aside and starting again"
                mv -f "$KV" "$KV.broken.$(date +%s)"
                nohup bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec dockerd --dns 127.0.0.1' >>"$LOG" 2>&1 </dev/null &
                dpid=$!
                echo "$dpid" >"$PIDFILE"
                continue
            fi
            echo "ensure-docker: dockerd panicked reading its network store ($KV): a known Docker 20.10 bug after an interrupted network operation; with no containers you need, stop docker, move that file aside and start it again" >&2
        fi
        echo "ensure-docker: dockerd (pid $dpid) exited; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2 || true
        rm -f "$PIDFILE"
        exit 1
    fi
    sleep 0.5
done

echo "ensure-docker: dockerd (pid $dpid) did not answer within ${WAIT_SECONDS}s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
