#!/usr/bin/env bash
# make swarm-status: the swarm test bed's nodes (role, address, engine URL,
# swarm state) and its tasks per node, as the manager sees them.
#
#   scripts/swarm/status.sh          human summary; exit 0 when every node is up
#                                    and in the swarm, 1 otherwise
#   scripts/swarm/status.sh --env    shell lines for tests and tools:
#                                    NCSWARM_NODE1=tcp://IP:2375 ... NCSWARM_MANAGER=...
set -euo pipefail

NCSWARM_TOOL=swarm-status
# shellcheck source=scripts/swarm/common.sh
. "$(dirname "$0")/common.sh"

mode=${1:-}
case "$mode" in ""|--env) ;; *) ncswarm_die "usage: $0 [--env]" ;; esac
ncswarm_need_docker

existing=$(ncswarm_existing_nodes)
if [ -z "$existing" ]; then
    [ "$mode" = --env ] && ncswarm_die "the swarm test bed is not up (make swarm-up)"
    echo "swarm test bed: not up (no ncswarm-node* containers; make swarm-up starts it)"
    if docker image inspect "$NCSWARM_NODE_IMAGE" >/dev/null 2>&1; then
        echo "node image $NCSWARM_NODE_IMAGE: cached ($(( $(docker image inspect -f '{{.Size}}' "$NCSWARM_NODE_IMAGE") / 1000000 )) MB)"
    fi
    exit 1
fi

if [ "$mode" = --env ]; then
    for i in "${!NCSWARM_NODES[@]}"; do
        ip=$(ncswarm_node_ip "${NCSWARM_NODES[$i]}")
        [ -n "$ip" ] || ncswarm_die "node ${NCSWARM_NODES[$i]} has no address on $NCSWARM_NET"
        printf 'NCSWARM_NODE%d=tcp://%s:%s\n' "$((i + 1))" "$ip" "$NCSWARM_ENGINE_PORT"
        printf 'NCSWARM_NODE%d_NAME=%s\n' "$((i + 1))" "${NCSWARM_NODES[$i]}"
    done
    printf 'NCSWARM_MANAGER=tcp://%s:%s\n' "$(ncswarm_node_ip "$NCSWARM_MANAGER")" "$NCSWARM_ENGINE_PORT"
    printf 'NCSWARM_STACK=%s\n' "$NCSWARM_STACK"
    exit 0
fi

subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$NCSWARM_NET" 2>/dev/null || echo '?')
echo "swarm test bed: network $NCSWARM_NET (${subnet% }), stack $NCSWARM_STACK, node image $NCSWARM_NODE_IMAGE"
printf '%-14s %-8s %-15s %-35s %s\n' NODE ROLE ADDRESS "ENGINE (from the host)" "SWARM"
rc=0
for n in "${NCSWARM_NODES[@]}"; do
    role=$(docker inspect -f '{{ index .Config.Labels "org.netcontract.swarm.role" }}' "$n" 2>/dev/null || true)
    ip=$(ncswarm_node_ip "$n")
    if [ -z "$role" ]; then
        state="missing"
    elif ncswarm_node_ok "$n"; then
        state=$(ncswarm_node "$n" info -f '{{.Swarm.LocalNodeState}} (engine {{.ServerVersion}})' 2>/dev/null || echo '?')
    else
        state="engine not answering ($(docker inspect -f '{{.State.Status}}' "$n" 2>/dev/null || echo gone))"
    fi
    case "$state" in active*) ;; *) rc=1 ;; esac
    printf '%-14s %-8s %-15s %-35s %s\n' "$n" "${role:--}" "${ip:--}" \
        "${ip:+DOCKER_HOST=tcp://$ip:$NCSWARM_ENGINE_PORT}" "$state"
done

if ncswarm_node_ok "$NCSWARM_MANAGER" \
        && [ "$(ncswarm_node "$NCSWARM_MANAGER" info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ]; then
    echo
    echo "swarm nodes (manager's view):"
    ncswarm_node "$NCSWARM_MANAGER" node ls --format '{{.Hostname}}  {{.Status}}  {{.Availability}}  {{.ManagerStatus}}  id {{.ID}}' | sed 's/^/  /'
    echo
    echo "services:"
    ncswarm_node "$NCSWARM_MANAGER" service ls --format '{{.Name}}  {{.Mode}}  {{.Replicas}}' | sort | sed 's/^/  /'
    echo
    echo "tasks per node (running):"
    for n in "${NCSWARM_NODES[@]}"; do
        tasks=$(ncswarm_node "$NCSWARM_MANAGER" node ps "$n" --filter desired-state=running \
                --format '{{.Name}}' 2>/dev/null | sort | tr '\n' ' ' || true)
        printf '  %-14s %s\n' "$n" "${tasks:-(none)}"
    done
else
    echo "manager $NCSWARM_MANAGER: not answering as a swarm manager"
    rc=1
fi
exit "$rc"
