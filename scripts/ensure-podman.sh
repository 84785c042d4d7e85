#!/usr/bin/env bash
# Start (or stop) rootful Podman's Docker-compatible API in a network namespace of its own, for the
# live tests against Podman (issue 21).
#
# Usage (as root):
#   scripts/ensure-podman.sh           install podman and catatonit if missing, write the private
#                                      configuration, start `podman system service` in the namespace
#                                      netcontract-podman, wait until it answers, load the test images
#                                      from the Docker engine; idempotent. The last line on stdout is
#                                      `DOCKER_HOST=unix:///run/netcontract-podman.sock`.
#   scripts/ensure-podman.sh --stop    stop the API service this script started (by its pid file) only
#   scripts/ensure-podman.sh --host    print its DOCKER_HOST value; no start
#   scripts/ensure-podman.sh --env     print the environment for the podman CLI on the same storage
#                                      (`eval "$(scripts/ensure-podman.sh --env)"; podman ps`)
#
# Nothing machine-wide is configured: /etc/containers stays as the package left it. The service
# reads a private containers.conf (CONTAINERS_CONF) and storage.conf (CONTAINERS_STORAGE_CONF) under
# /var/lib/netcontract/podman/etc, keeps images and containers in /var/lib/netcontract/podman/storage,
# its run state in /run/netcontract-podman, its network definitions in
# /var/lib/netcontract/podman/networks. What the private configuration sets, and why:
#   default_ulimits nofile/nproc 1024   this kernel refuses Podman's defaults (runc: "error setting
#                                       rlimit type 7: operation not permitted")
#   cgroup_manager = "cgroupfs"         no systemd here
#   events_logger = "file"              no journald here
#   network_backend = "netavark"        containernetworking-plugins is installed too (podman's
#                                       Debian dependency); netavark is the backend under test
#   init_path = catatonit               compose's `init: true`
#
# Why a network namespace of its own: netavark writes NETAVARK_* chains into the same iptables
# tables as Docker (a jump from FORWARD, POSTROUTING masquerade rules), and every dockerd flushes and
# rebuilds its own chains when it starts (scripts/ensure-docker-second.sh says more). Measured on
# this host: see docs/engines.md ("Podman beside Docker"). Other engineers run Docker's live tests all
# the time, so Podman's bridges, rules and aardvark-dns live in the named namespace
# `netcontract-podman` (`ip netns add`, bind-mounted at /run/netns/netcontract-podman; it outlives
# the service, so a restarted service finds its bridges and its containers' veths where it left
# them). The namespace has only loopback and Podman's bridges: nothing in it reaches an outside
# address, so aardvark-dns cannot forward a query off the machine. The service runs there through
# `nsenter --net` (only the network namespace: containers' mounts stay visible on the host, and
# /proc/<pid>/ns/net of each container is what the netns prober enters).
#
# Environment:
#   NETCONTRACT_PODMAN_LOG       the service's log (default /tmp/netcontract-podman.log)
#   NETCONTRACT_PODMAN_PIDFILE   (default /tmp/netcontract-podman.pid)
#   NETCONTRACT_PODMAN_IMAGES    images to load (default: the test images of scripts/build-images.sh)
set -euo pipefail

NAME=netcontract-podman
SOCK=/run/$NAME.sock
HOST=unix://$SOCK
BASE=/var/lib/netcontract/podman
RUNROOT=/run/$NAME
NETNS=$NAME
PIDFILE=${NETCONTRACT_PODMAN_PIDFILE:-/tmp/$NAME.pid}
LOG=${NETCONTRACT_PODMAN_LOG:-/tmp/$NAME.log}
IMAGES=${NETCONTRACT_PODMAN_IMAGES:-netcontract-test/busybox:local netcontract-test/probe:local netcontract-test/slim:local netcontract-test/bare:local}
WAIT_SECONDS=60
export CONTAINERS_CONF=$BASE/etc/containers.conf
export CONTAINERS_STORAGE_CONF=$BASE/etc/storage.conf
export CONTAINERS_REGISTRIES_CONF=$BASE/etc/registries.conf

say() { printf 'ensure-podman: %s\n' "$*"; }
fail() { printf 'ensure-podman: %s\n' "$*" >&2; exit 1; }

mode=start
case "${1:-}" in
    "" | --start) ;;
    --stop) mode=stop ;;
    --host) echo "$HOST"; exit 0 ;;
    --env)
        printf 'export CONTAINERS_CONF=%s CONTAINERS_STORAGE_CONF=%s CONTAINERS_REGISTRIES_CONF=%s\n' \
            "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_REGISTRIES_CONF"
        exit 0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument '$1' (use --stop, --host, --env or nothing)" ;;
esac

# A pid is ours when it is a live podman whose command line names our socket.
ours() {
    local p=${1:-}
    [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = podman ] \
        && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$HOST"
}
pid_from_file() { [ -f "$PIDFILE" ] && cat "$PIDFILE" 2>/dev/null || true; }

if [ "$mode" = stop ]; then
    p=$(pid_from_file)
    if [ -z "$p" ]; then
        say "no $PIDFILE: no Podman service of ours to stop"
        exit 0
    fi
    if ! ours "$p"; then
        say "pid $p in $PIDFILE is not our Podman service (gone already); removing the pid file"
        rm -f "$PIDFILE"
        exit 0
    fi
    say "stopping the Podman API service (pid $p)"
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 40); do
        [ -d "/proc/$p" ] || break
        sleep 0.25
    done
    [ -d "/proc/$p" ] && { say "pid $p did not stop within 10 s; killing it"; kill -KILL "$p" 2>/dev/null || true; }
    rm -f "$PIDFILE" "$SOCK"
    say "stopped (containers, if any, keep running under their conmon; the namespace $NETNS stays)"
    exit 0
fi

[ "$(id -u)" = 0 ] || fail "needs root (rootful Podman); run it as root"

# --- install ----------------------------------------------------------------------------
if ! command -v podman >/dev/null 2>&1 || { [ ! -x /usr/libexec/podman/catatonit ] && ! command -v catatonit >/dev/null 2>&1; }; then
    command -v apt-get >/dev/null 2>&1 || fail "podman is missing and there is no apt-get: install podman and catatonit"
    say "installing podman catatonit (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman catatonit >/dev/null
fi
command -v podman >/dev/null 2>&1 || fail "podman did not install"
INIT=/usr/libexec/podman/catatonit
[ -x "$INIT" ] || INIT=$(command -v catatonit || true)
[ -n "$INIT" ] || fail "no catatonit (apt-get install catatonit): compose's init: true needs it"

# --- private configuration ---------------------------------------------------------------
mkdir -p "$BASE/etc" "$BASE/storage" "$BASE/networks" "$RUNROOT"
cat >"$CONTAINERS_CONF.new" <<EOF
# Written by scripts/ensure-podman.sh: netcontract's private Podman configuration.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
init_path = "$INIT"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$RUNROOT/events.log"
tmp_dir = "$RUNROOT/libpod"
static_dir = "$BASE/storage/libpod"
volume_path = "$BASE/storage/volumes"

[network]
network_backend = "netavark"
network_config_dir = "$BASE/networks"
EOF
mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
# Written by scripts/ensure-podman.sh.
[storage]
driver = "overlay"
runroot = "$RUNROOT/storage"
graphroot = "$BASE/storage"
EOF
# No registry is reachable, and none is searched: images come from the Docker engine.
printf '# Written by scripts/ensure-podman.sh: no registries.\nunqualified-search-registries = []\n' \
    >"$CONTAINERS_REGISTRIES_CONF"

# --- the namespace -------------------------------------------------------------------------
if [ ! -e "/run/netns/$NETNS" ]; then
    ip netns add "$NETNS"
    say "created network namespace $NETNS"
fi
ip netns exec "$NETNS" ip link set lo up

# --- the service ---------------------------------------------------------------------------
# GET on the API socket with python3 (no curl needed): the body on stdout, exit 1 on any failure.
api_get() {
    python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    s.sendall(f"GET {sys.argv[2]} HTTP/1.0\r\nHost: podman\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
except OSError:
    sys.exit(1)
head, _, body = data.partition(b"\r\n\r\n")
if head.split(b" ")[1:2] != [b"200"]:
    sys.exit(1)
sys.stdout.write(body.decode("utf-8", "replace"))
PY
}
answers() { api_get /_ping >/dev/null 2>&1; }

t0=$SECONDS
p=$(pid_from_file)
if [ -n "$p" ] && ! ours "$p"; then
    rm -f "$PIDFILE"
    p=""
fi
if [ -z "$p" ]; then
    if [ -S "$SOCK" ] && answers; then
        fail "$SOCK answers but $PIDFILE names no service of ours: stop that service first"
    fi
    rm -f "$SOCK"
    say "starting $(podman --version) API service in network namespace $NETNS (log: $LOG)"
    # nsenter execs podman: $! is the service's pid.
    nohup nsenter --net="/run/netns/$NETNS" -- podman system service --time=0 "$HOST" \
        >>"$LOG" 2>&1 </dev/null &
    p=$!
    echo "$p" >"$PIDFILE"
else
    say "our Podman API service (pid $p) is running"
fi
for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
    answers && break
    if ! kill -0 "$p" 2>/dev/null; then
        rm -f "$PIDFILE"
        fail "the Podman API service (pid $p) exited: $(tail -n 1 "$LOG" | cut -c1-300) (log: $LOG)"
    fi
    sleep 0.25
done
answers || fail "the Podman API service (pid $p) did not answer on $SOCK within ${WAIT_SECONDS}s (log: $LOG)"
say "$(api_get /version | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v.get("Components",[{}])[0].get("Name","?"), v.get("Version"), "(API", v.get("ApiVersion")+")")') answers on $SOCK (pid $p, $((SECONDS - t0)) s)"

# --- images ----------------------------------------------------------------------------------
missing=()
for img in $IMAGES; do
    podman image exists "$img" || missing+=("$img")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v docker >/dev/null 2>&1 || fail "no docker CLI to take ${missing[*]} from (scripts/build-images.sh builds them)"
    say "loading ${missing[*]} from the Docker engine"
    docker save "${missing[@]}" | podman load -q >/dev/null \
        || fail "could not load ${missing[*]} (build them first: scripts/build-images.sh)"
fi
echo "DOCKER_HOST=$HOST"
