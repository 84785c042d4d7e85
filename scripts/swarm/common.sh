# shellcheck shell=bash
# Shared settings and helpers of the swarm test bed (scripts/swarm/*.sh source this).
#
# The test bed: three Docker-in-Docker "nodes" (containers running dockerd) on
# a bridge network of our own on the host engine, joined into one swarm (node 1
# the manager, nodes 2 and 3 workers), running the stack tests/swarm/stack.yaml.
# See docs/swarm.md.
#
# Everything on the host engine is named ncswarm* and labelled
# org.netcontract.test=1 (and com.docker.compose.project=ncswarm: the
# integration tests' cleanup, tests/integration/conftest.py, spares objects of
# other compose projects, so a test session running beside the swarm does not
# remove its nodes; .ci/run's final cleanup still removes them).

NCSWARM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

NCSWARM_NET=${NCSWARM_NET:-ncswarm}                     # bridge network of the nodes (host engine)
NCSWARM_NODE_IMAGE=${NCSWARM_NODE_IMAGE:-netcontract-test/swarm-node:local}
NCSWARM_NODES=(ncswarm-node1 ncswarm-node2 ncswarm-node3) # node 1 is the manager
NCSWARM_MANAGER=${NCSWARM_NODES[0]}
NCSWARM_STACK=${NCSWARM_STACK:-nctest}                  # stack name inside the swarm
NCSWARM_STACK_FILE=${NCSWARM_STACK_FILE:-$NCSWARM_ROOT/tests/swarm/stack.yaml}
NCSWARM_ENGINE_PORT=2375                                # each node's engine, on our bridge only
# Test images every node gets (docker save | docker load): no registry anywhere.
NCSWARM_TEST_IMAGES=(netcontract-test/busybox:local netcontract-test/probe:local)
# The helper executor's image (python3 from Debian packages, scripts/build-tool-image.sh, built by
# `make tool-image` or `make test`): copied into every node too when the host has it; the helper's swarm
# tests skip without it (which scripts/swarm/ci.sh counts as a failure).
NCSWARM_HELPER_IMAGE=${NCSWARM_HELPER_IMAGE:-netcontract-test/python-base:local}

NCSWARM_LABEL=org.netcontract.test=1
NCSWARM_PROJECT_LABEL=com.docker.compose.project=ncswarm
NCSWARM_HASH_LABEL=org.netcontract.context-hash

# The flags a node needs on this machine (docs/swarm.md, /work/shared/ENGINES.md):
# --privileged fails ("unable to apply caps": the bounding set lacks
# CAP_SYS_RESOURCE), so every capability but that one; no seccomp/apparmor
# filter and writable /proc/sys, /sys (systempaths) for dockerd's iptables,
# sysctls and mounts; the host's cgroup tree for the node's containers; an
# anonymous volume as /var/lib/docker so overlay2 works inside (overlay on
# overlay does not). --dns 127.0.0.1: the node's own lookups (its dockerd
# asking for a registry) fail on the spot, whatever DNS the host engine has.
NCSWARM_RUN_FLAGS=(
    --cap-add ALL --cap-drop SYS_RESOURCE
    --security-opt seccomp=unconfined
    --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined
    --cgroupns host
    -v /sys/fs/cgroup:/sys/fs/cgroup
    -v /var/lib/docker
    --dns 127.0.0.1
)
# dockerd inside a node: its own engine on the node's address (our bridge only,
# never published on the host), and --dns 127.0.0.1 so that the embedded DNS
# of the node's containers never forwards a name off the machine. --tls=false
# says "plain TCP on purpose": without it dockerd 20.10 sleeps 15 s at start
# ("Startup is intentionally being slowed down") before it answers.
NCSWARM_DOCKERD_FLAGS=(
    --storage-driver overlay2
    --dns 127.0.0.1
    --tls=false
    -H "tcp://0.0.0.0:$NCSWARM_ENGINE_PORT"
    -H unix:///var/run/docker.sock
)

# The cgroup parent of a node's containers: /ncswarm/NODE in every hierarchy of
# the host (the nodes share the host's cgroup tree: --cgroupns host). Without
# it they would sit beside the host engine's own containers under /docker, and
# a node removed with `docker rm -f` (its dockerd killed) leaves its
# containers' empty cgroups behind: swarm-down removes them from here.
ncswarm_cgroup_parent() { printf '/ncswarm/%s\n' "$1"; }

# Remove the empty cgroups left by the nodes (rmdir, deepest first: a cgroup
# that still has processes is never removed).
ncswarm_remove_cgroups() {
    local d
    while read -r d; do rmdir "$d" 2>/dev/null || true; done \
        < <(find /sys/fs/cgroup -maxdepth 5 -type d -path '*/ncswarm*' 2>/dev/null | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
}

ncswarm_say() { printf '%s: %s\n' "${NCSWARM_TOOL:-swarm}" "$*"; }
ncswarm_die() { printf '%s: ERROR: %s\n' "${NCSWARM_TOOL:-swarm}" "$*" >&2; exit 1; }

ncswarm_need_docker() {
    command -v docker >/dev/null 2>&1 || ncswarm_die "docker CLI not found (run scripts/ensure-docker.sh)"
    docker info >/dev/null 2>&1 || ncswarm_die "Docker engine not reachable (run scripts/ensure-docker.sh)"
}

# docker CLI inside a node: ncswarm_node NODE ARGS...
ncswarm_node() {
    local node=$1
    shift
    docker exec "$node" docker "$@"
}

# Address of a node on our bridge network (empty when it has none).
ncswarm_node_ip() {
    docker inspect -f "{{ with index .NetworkSettings.Networks \"$NCSWARM_NET\" }}{{ .IPAddress }}{{ end }}" "$1" 2>/dev/null || true
}

# True when the node's container runs and its engine answers.
ncswarm_node_ok() {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] \
        && docker exec "$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Our node containers that exist (running or not), one name a line.
ncswarm_existing_nodes() {
    docker ps -a --filter "label=$NCSWARM_LABEL" --filter "label=org.netcontract.swarm.node" \
        --format '{{.Names}}' | grep '^ncswarm-' | sort || true
}
