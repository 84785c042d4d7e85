#!/usr/bin/env bash
# make swarm-up: a three-node Docker Swarm on this machine, running the test
# stack tests/swarm/stack.yaml (docs/swarm.md).
#
#   1. the node image netcontract-test/swarm-node:local (built once, cached:
#      scripts/swarm/build-node-image.sh) and the test images (scripts/build-images.sh)
#   2. the bridge network ncswarm and three node containers on it, each running
#      dockerd with its own address (ncswarm-node1..3)
#   3. swarm init on node 1 (manager), join nodes 2 and 3 (workers)
#   4. the test images, and the helper image when the host has it, into every node
#      (docker save | docker exec -i NODE docker load)
#   5. docker stack deploy nctest on the manager; wait until every service runs N/N
#      and every node's view of each stack network lists all its tasks
#   6. a summary: nodes, addresses, engines (DOCKER_HOST=tcp://NODE_IP:2375), tasks per node
#
# Idempotent: a running, complete swarm is kept (images reloaded only when they
# changed, the stack redeployed: a no-op when unchanged). Nodes that are missing,
# stopped or not in the swarm make the whole swarm start again from scratch.
#
# Environment: NCSWARM_WAIT (seconds to wait for the stack, default 180).
set -euo pipefail

NCSWARM_TOOL=swarm-up
# shellcheck source=scripts/swarm/common.sh
. "$(dirname "$0")/common.sh"
cd "$NCSWARM_ROOT"

WAIT=${NCSWARM_WAIT:-180}
T0=$SECONDS
ncswarm_need_docker
[ -r "$NCSWARM_STACK_FILE" ] || ncswarm_die "stack file $NCSWARM_STACK_FILE not found"

# --- 1. images -------------------------------------------------------------------
scripts/swarm/build-node-image.sh
missing=0
for img in "${NCSWARM_TEST_IMAGES[@]}"; do
    docker image inspect "$img" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ]; then
    ncswarm_say "building the test images (scripts/build-images.sh)"
    scripts/build-images.sh
fi
T_IMAGES=$SECONDS

# --- 2. network and nodes ------------------------------------------------------------
# --internal: the host forwards nothing from it or to it (Docker's isolation
# rules), and each node's default route is removed below, so nothing a task
# sends to an address outside the swarm (e.g. another overlay's address,
# through its node's docker_gwbridge) can leave the machine. The nodes still
# reach each other, and the host reaches them (it holds the gateway address).
if docker network inspect "$NCSWARM_NET" >/dev/null 2>&1; then
    [ "$(docker network inspect -f '{{ index .Labels "org.netcontract.test" }}' "$NCSWARM_NET")" = 1 ] \
        || ncswarm_die "a network $NCSWARM_NET exists that is not ours (no label $NCSWARM_LABEL): remove or rename it"
    if [ "$(docker network inspect -f '{{.Internal}}' "$NCSWARM_NET")" != true ]; then
        ncswarm_say "network $NCSWARM_NET is not internal (an older test bed): starting again"
        "$(dirname "$0")/down.sh" >/dev/null
    fi
fi
if ! docker network inspect "$NCSWARM_NET" >/dev/null 2>&1; then
    ncswarm_say "creating bridge network $NCSWARM_NET (internal)"
    docker network create --driver bridge --internal \
        --label "$NCSWARM_LABEL" --label "$NCSWARM_PROJECT_LABEL" --label org.netcontract.swarm=1 \
        "$NCSWARM_NET" >/dev/null
fi
GATEWAY=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$NCSWARM_NET")
[ -n "$GATEWAY" ] || ncswarm_die "network $NCSWARM_NET has no gateway address"

# Is the running swarm complete? Every node runs, answers, and is an active
# member; node 1 is a manager.
swarm_complete() {
    local n
    for n in "${NCSWARM_NODES[@]}"; do
        ncswarm_node_ok "$n" || return 1
        [ "$(ncswarm_node "$n" info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ] || return 1
    done
    [ "$(ncswarm_node "$NCSWARM_MANAGER" info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ]
}

# Inside each node (idempotent):
#   * no default route: Docker 20.10 gives containers on an internal network a
#     default route to the host (which drops what it would forward); without
#     it, a task's packet to an address outside its networks (it leaves
#     through docker_gwbridge to its node) stops at the node at once
#     ("unreachable"), whatever the host's firewall does.
#   * the engine port answers the host (the bridge's gateway address) only: a
#     task reaches its node's addresses through docker_gwbridge, and must not
#     find an unauthenticated engine there.
harden_node() {
    local n=$1 rule=(INPUT -p tcp --dport "$NCSWARM_ENGINE_PORT" ! -s "$GATEWAY" -j DROP)
    if [ -n "$(docker exec "$n" ip route show default)" ]; then
        docker exec "$n" ip route del default || ncswarm_die "could not remove the default route of $n"
    fi
    docker exec "$n" iptables -C "${rule[@]}" 2>/dev/null \
        || docker exec "$n" iptables -I "${rule[@]}" \
        || ncswarm_die "could not restrict the engine port of $n to $GATEWAY (iptables)"
}

existing=$(ncswarm_existing_nodes)
if [ -n "$existing" ] && swarm_complete; then
    ncswarm_say "swarm already running: keeping it"
    for n in "${NCSWARM_NODES[@]}"; do harden_node "$n"; done
else
    if [ -n "$existing" ]; then
        ncswarm_say "incomplete swarm ($(echo $existing)): removing its nodes and starting again"
        # shellcheck disable=SC2086
        docker rm -fv $existing >/dev/null
        ncswarm_remove_cgroups
    fi
    for i in "${!NCSWARM_NODES[@]}"; do
        n=${NCSWARM_NODES[$i]}
        role=worker
        [ "$i" = 0 ] && role=manager
        ncswarm_say "starting node $n ($role)"
        # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: the node's swarm agent uses the
        # local image and never tries a registry first.
        docker run -d --name "$n" --hostname "$n" --network "$NCSWARM_NET" \
            --label "$NCSWARM_LABEL" --label "$NCSWARM_PROJECT_LABEL" \
            --label "org.netcontract.swarm.node=$((i + 1))" --label "org.netcontract.swarm.role=$role" \
            "${NCSWARM_RUN_FLAGS[@]}" \
            -e DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
            --entrypoint dockerd "$NCSWARM_NODE_IMAGE" "${NCSWARM_DOCKERD_FLAGS[@]}" \
            --cgroup-parent "$(ncswarm_cgroup_parent "$n")" >/dev/null \
            || ncswarm_die "could not start node $n (docker run failed)"
    done
    for n in "${NCSWARM_NODES[@]}"; do
        for ((k = 0; ; k++)); do
            ncswarm_node_ok "$n" && break
            if [ "$(docker inspect -f '{{.State.Running}}' "$n" 2>/dev/null)" != true ] || [ "$k" -ge 120 ]; then
                docker logs --tail 15 "$n" >&2 2>&1 || true
                ncswarm_die "node $n: dockerd did not answer within 60 s (its last log lines above)"
            fi
            sleep 0.5
        done
    done
    T_ENGINES=$SECONDS
    ncswarm_say "node engines up in $((T_ENGINES - T_IMAGES)) s"
    for n in "${NCSWARM_NODES[@]}"; do harden_node "$n"; done

    # --- 3. swarm ----------------------------------------------------------------------
    mip=$(ncswarm_node_ip "$NCSWARM_MANAGER")
    [ -n "$mip" ] || ncswarm_die "node $NCSWARM_MANAGER has no address on $NCSWARM_NET"
    ncswarm_say "swarm init on $NCSWARM_MANAGER ($mip)"
    ncswarm_node "$NCSWARM_MANAGER" swarm init --advertise-addr "$mip" --listen-addr "$mip:2377" >/dev/null \
        || ncswarm_die "docker swarm init failed on $NCSWARM_MANAGER"
    token=$(ncswarm_node "$NCSWARM_MANAGER" swarm join-token -q worker)
    for n in "${NCSWARM_NODES[@]:1}"; do
        ip=$(ncswarm_node_ip "$n")
        ncswarm_say "swarm join $n ($ip) as worker"
        ncswarm_node "$n" swarm join --token "$token" --advertise-addr "$ip" --listen-addr "$ip:2377" \
            "$mip:2377" >/dev/null || ncswarm_die "docker swarm join failed on $n"
    done
fi

for ((k = 0; ; k++)); do
    ready=$(ncswarm_node "$NCSWARM_MANAGER" node ls --format '{{.Status}} {{.Availability}}' | grep -c '^Ready Active$' || true)
    [ "$ready" = "${#NCSWARM_NODES[@]}" ] && break
    [ "$k" -lt 120 ] || ncswarm_die "only $ready of ${#NCSWARM_NODES[@]} swarm nodes Ready after 60 s"
    sleep 0.5
done
T_SWARM=$SECONDS

# --- 4. images into every node -------------------------------------------------------
# The test images, and the helper's image when the host has it (it is not built here: debootstrap).
images=("${NCSWARM_TEST_IMAGES[@]}")
if docker image inspect "$NCSWARM_HELPER_IMAGE" >/dev/null 2>&1; then
    images+=("$NCSWARM_HELPER_IMAGE")
else
    ncswarm_say "helper image $NCSWARM_HELPER_IMAGE not on this host (make tool-image): the helper's swarm tests will skip"
fi
for n in "${NCSWARM_NODES[@]}"; do
    load=()  # only the images the node lacks or has in another version
    for img in "${images[@]}"; do
        [ "$(ncswarm_node "$n" image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)" = "$(docker image inspect -f '{{.Id}}' "$img")" ] \
            || load+=("$img")
    done
    if [ ${#load[@]} -gt 0 ]; then
        docker save "${load[@]}" | docker exec -i "$n" docker load -q >/dev/null \
            || ncswarm_die "loading ${load[*]} into $n failed"
        ncswarm_say "loaded ${load[*]} into $n"
    fi
done
T_LOAD=$SECONDS

# --- 5. the stack ----------------------------------------------------------------------
ncswarm_say "docker stack deploy $NCSWARM_STACK ($(basename "$NCSWARM_STACK_FILE")) on $NCSWARM_MANAGER"
docker exec -i "$NCSWARM_MANAGER" sh -c 'cat >/tmp/ncswarm-stack.yaml' <"$NCSWARM_STACK_FILE"
# --resolve-image never: no registry is asked for a digest.
out=$(ncswarm_node "$NCSWARM_MANAGER" stack deploy --resolve-image never --prune \
      -c /tmp/ncswarm-stack.yaml "$NCSWARM_STACK" 2>&1) \
    || { printf '%s\n' "$out" >&2; ncswarm_die "docker stack deploy failed (output above)"; }

# Every service N/N ("3/3"; global services too).
for ((k = 0; ; k++)); do
    lines=$(ncswarm_node "$NCSWARM_MANAGER" service ls --filter "label=com.docker.stack.namespace=$NCSWARM_STACK" \
            --format '{{.Name}} {{.Replicas}}')
    pending=$(awk '{ split($2, r, "/"); if (r[1] != r[2] || r[2] == 0) print $1 " " $2 }' <<<"$lines")
    [ -n "$lines" ] && [ -z "$pending" ] && break
    if [ "$k" -ge $((WAIT * 2)) ]; then
        ncswarm_node "$NCSWARM_MANAGER" service ps --no-trunc --filter desired-state=running \
            $(awk '{print $1}' <<<"$pending") >&2 || true
        ncswarm_die "services not running after ${WAIT} s: $(echo $pending)"
    fi
    sleep 0.5
done
T_STACK=$SECONDS

# Converged: every node with a task on a stack network lists, in its gossip view of
# it (network inspect --verbose .Services), as many tasks as the manager's
# store attaches to it. Until then a node may lack another node's task
# addresses (DNS answers, VXLAN peers). Docker 20.10's networkdb sometimes
# times out a bulk sync between two nodes ("Bulk sync to node ... timed out",
# 30 s): that delays the tasks on one node, N/N above waits for them.
expected_attachments() {
    local ids
    ids=$(ncswarm_node "$NCSWARM_MANAGER" service ps -q --filter desired-state=running \
          $(ncswarm_node "$NCSWARM_MANAGER" service ls -q --filter "label=com.docker.stack.namespace=$NCSWARM_STACK"))
    # shellcheck disable=SC2086
    ncswarm_node "$NCSWARM_MANAGER" inspect -f '{{range .NetworksAttachments}}{{.Network.Spec.Name}} {{end}}' $ids \
        | tr ' ' '\n' | grep "^${NCSWARM_STACK}_" | sort | uniq -c
}
converged() {
    local n count net seen
    while read -r count net; do
        for n in "${NCSWARM_NODES[@]}"; do
            # nodes without a task on it (a manager lists every network) have no view
            seen=$(ncswarm_node "$n" network inspect --verbose "$net" \
                   -f '{{len .Containers}} {{range $s, $v := .Services}}{{range $v.Tasks}}x{{end}}{{end}}' 2>/dev/null) || continue
            [ "${seen%% *}" != 0 ] || continue
            seen=${seen#* }
            [ "${#seen}" = "$count" ] || { lagging="$n ($net: ${#seen} of $count tasks)"; return 1; }
        done
    done < <(expected_attachments)
}
for ((k = 0; ; k++)); do
    lagging=""
    converged && break
    [ "$k" -lt 120 ] || ncswarm_die "the nodes' network views did not converge within 60 s: $lagging"
    sleep 0.5
done
T_CONVERGED=$SECONDS

# --- 6. summary ----------------------------------------------------------------------------
echo
"$(dirname "$0")/status.sh"
echo
ncswarm_say "up in $((T_CONVERGED - T0)) s (images $((T_IMAGES - T0)) s, nodes+swarm $((T_SWARM - T_IMAGES)) s, image load $((T_LOAD - T_SWARM)) s, stack $((T_STACK - T_LOAD)) s, network views converged $((T_CONVERGED - T_STACK)) s)"
