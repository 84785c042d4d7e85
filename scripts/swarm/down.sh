#!/usr/bin/env bash
# make swarm-down: remove the swarm test bed: the stack, the node containers
# with their anonymous volumes (each node's /var/lib/docker), and the bridge
# network ncswarm. The node image netcontract-test/swarm-node:local stays
# cached for the next `make swarm-up`; PRUNE=1 (or --prune) removes it too.
# Idempotent: whatever is already gone is skipped.
#
# Only our own objects: node containers are picked by name (ncswarm-*) AND by
# the labels org.netcontract.test=1 and org.netcontract.swarm.node.
set -euo pipefail

NCSWARM_TOOL=swarm-down
# shellcheck source=scripts/swarm/common.sh
. "$(dirname "$0")/common.sh"

prune=${PRUNE:-0}
case "${1:-}" in --prune) prune=1 ;; "") ;; *) ncswarm_die "usage: $0 [--prune]" ;; esac
ncswarm_need_docker

existing=$(ncswarm_existing_nodes)
if [ -n "$existing" ]; then
    # The stack first (its tasks stop cleanly, init: true makes that quick);
    # the nodes go anyway, so a failure here is only reported.
    if ncswarm_node_ok "$NCSWARM_MANAGER" \
            && [ "$(ncswarm_node "$NCSWARM_MANAGER" info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] \
            && [ -n "$(ncswarm_node "$NCSWARM_MANAGER" stack ls --format '{{.Name}}' 2>/dev/null | grep -x "$NCSWARM_STACK" || true)" ]; then
        ncswarm_say "docker stack rm $NCSWARM_STACK"
        ncswarm_node "$NCSWARM_MANAGER" stack rm "$NCSWARM_STACK" >/dev/null 2>&1 \
            || ncswarm_say "stack rm failed; removing the nodes anyway"
    fi
    ncswarm_say "removing nodes $(echo $existing) (with their volumes)"
    # shellcheck disable=SC2086
    docker rm -fv $existing >/dev/null || ncswarm_die "could not remove nodes $(echo $existing)"
    ncswarm_remove_cgroups
else
    ncswarm_say "no nodes"
fi

if docker network inspect "$NCSWARM_NET" >/dev/null 2>&1; then
    if [ "$(docker network inspect -f '{{ index .Labels "org.netcontract.test" }}' "$NCSWARM_NET")" = 1 ]; then
        ncswarm_say "removing network $NCSWARM_NET"
        docker network rm "$NCSWARM_NET" >/dev/null || ncswarm_die "could not remove network $NCSWARM_NET"
    else
        ncswarm_say "network $NCSWARM_NET is not ours (no label $NCSWARM_LABEL): left alone"
    fi
fi

if docker image inspect "$NCSWARM_NODE_IMAGE" >/dev/null 2>&1; then
    if [ "$prune" = 1 ]; then
        ncswarm_say "removing node image $NCSWARM_NODE_IMAGE (PRUNE=1)"
        docker image rm "$NCSWARM_NODE_IMAGE" >/dev/null || ncswarm_die "could not remove $NCSWARM_NODE_IMAGE"
    else
        ncswarm_say "kept the cached node image $NCSWARM_NODE_IMAGE (make swarm-down PRUNE=1 removes it)"
    fi
fi
ncswarm_say "done"
