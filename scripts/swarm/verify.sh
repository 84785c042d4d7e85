#!/usr/bin/env bash
# Verify, on the running swarm test bed (make swarm-up), the facts that
# docs/swarm.md states and a Swarm-aware checker must respect. Prints one line
# per observation (ok / FAIL, with what was seen) and exits 1 when any
# differs from what docs/swarm.md says.
#
#   1. placement: replicas spread over the nodes
#   2. overlays span nodes: a task on node 3 connects to task addresses on
#      nodes 1 and 2 over app, edge (attachable) and data (internal)
#   3. isolation across nodes: tasks that share no network do not connect;
#      the nodes' engines answer the host, not the tasks
#   4. DNS: tasks.<service>, the service name (dnsrr) and aliases resolve to
#      task addresses, only on shared networks
#   5. VIP (a temporary service ncswarm-vip): the name resolves to a VIP that
#      does not connect (no IPVS), tasks.<name> connects. --no-vip skips it.
#   6. network inspect: Containers is local-only, --verbose lists every task
#   7. labels on task containers; aliases live in the service, not the endpoint
#   8. State.Pid from a node's engine is in the node's pid namespace
#
# Probes are busybox nc/nslookup run in the tasks (docker exec through the
# node's engine); all traffic stays on the swarm's overlays.
set -euo pipefail

NCSWARM_TOOL=swarm-verify
# shellcheck source=scripts/swarm/common.sh
. "$(dirname "$0")/common.sh"

VIP=1
case "${1:-}" in --no-vip) VIP=0 ;; "") ;; *) ncswarm_die "usage: $0 [--no-vip]" ;; esac
ncswarm_need_docker
"$(dirname "$0")/status.sh" >/dev/null 2>&1 || ncswarm_die "the swarm test bed is not up (make swarm-up)"

S=$NCSWARM_STACK
N1=${NCSWARM_NODES[0]} N2=${NCSWARM_NODES[1]} N3=${NCSWARM_NODES[2]}
PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); printf 'ok    %s\n' "$*"; }
bad() { FAILED=$((FAILED + 1)); printf 'FAIL  %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
T0=$SECONDS

# --- inventory: NODE SERVICE CID NET=IP... (short names, from each node's engine) ---
INV=$(mktemp)
trap 'rm -f "$INV"' EXIT
for n in "${NCSWARM_NODES[@]}"; do
    for id in $(ncswarm_node "$n" ps -q --no-trunc --filter "label=com.docker.stack.namespace=$S"); do
        ncswarm_node "$n" inspect -f "$n {{ index .Config.Labels \"com.docker.swarm.service.name\" }} {{.Id}} {{range \$k, \$v := .NetworkSettings.Networks}}{{\$k}}={{\$v.IPAddress}} {{end}}" "$id"
    done
done | sed "s/ ${S}_/ /g" >"$INV"

# addrs SERVICE NET [NODE | !NODE]: the task addresses of SERVICE on NET
addrs() {
    awk -v s="$1" -v net="$2" -v where="${3:-}" '
        $2 == s && (where == "" || (substr(where, 1, 1) == "!" ? $1 != substr(where, 2) : $1 == where)) {
            for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == net) print kv[2] } }' "$INV" | sort -V
}
# task SERVICE NODE: one task container of SERVICE on NODE (empty when none)
task() { awk -v s="$1" -v n="$2" '$2 == s && $1 == n { print $3; exit }' "$INV"; }
node_of_ip() { awk -v ip="$1" '{ for (i = 4; i <= NF; i++) if ($i ~ "=" ip "$") print $1 }' "$INV"; }
texec() { local n=$1 c=$2; shift 2; docker exec "$n" docker exec "$c" "$@"; }
# connect NODE CID IP PORT -> prints "ok" or nc's reason; true when it connected
connect() {
    local out
    if out=$(texec "$1" "$2" nc -w 2 "$3" "$4" -e true 2>&1); then echo ok; return 0; fi
    out=${out##*: }
    echo "${out:-failed}"
    return 1
}
# resolve NODE CID NAME -> the A records, sorted, space separated (empty: none)
resolve() {
    { texec "$1" "$2" nslookup -type=a "$3" 2>/dev/null || true; } \
        | awk '/^Name:/ { n = 1 } n && /^Address:/ { print $2 }' | sort -V | tr '\n' ' ' | sed 's/ $//'
}
join() { tr '\n' ' ' | sed 's/ $//'; }

# --- 1. placement ---------------------------------------------------------------------------
section "placement (tasks per node, from each node's engine)"
for n in "${NCSWARM_NODES[@]}"; do
    printf '      %s: %s\n' "$n" "$(awk -v n="$n" '$1 == n { print $2 }' "$INV" | sort | join)"
done
for svc in web api db vault; do
    nodes=$(awk -v s="$svc" '$2 == s { print $1 }' "$INV" | sort)
    if [ "$(uniq <<<"$nodes" | wc -l)" = "$(wc -l <<<"$nodes")" ]; then
        ok "$svc: $(wc -l <<<"$nodes") task(s), each on another node ($(join <<<"$nodes"))"
    else
        bad "$svc: two tasks on one node ($(join <<<"$nodes"))"
    fi
done
[ "$(awk '$2 == "proxy"' "$INV" | wc -l)" = 3 ] && ok "proxy (global): one task on each of the 3 nodes" \
    || bad "proxy (global): $(awk '$2 == "proxy"' "$INV" | wc -l) tasks, not 3"

# --- 2. overlays span nodes -------------------------------------------------------------------
section "overlays span the nodes (sources on $N3)"
web3=$(task web "$N3")
api3=$(task api "$N3")
[ -n "$web3" ] && [ -n "$api3" ] || ncswarm_die "no web or api task on $N3"
span() { # LABEL NODE CID SERVICE NET PORT: every task of SERVICE on NET off NODE
    local label=$1 n=$2 c=$3 svc=$4 net=$5 port=$6 ip r
    for ip in $(addrs "$svc" "$net" "!$n"); do
        if r=$(connect "$n" "$c" "$ip" "$port"); then
            ok "$label -> $svc@$(node_of_ip "$ip") $ip:$port over $net: connects"
        else
            bad "$label -> $svc@$(node_of_ip "$ip") $ip:$port over $net: $r"
        fi
    done
}
span "web@$N3" "$N3" "$web3" api app 8000
span "web@$N3" "$N3" "$web3" web app 8080
span "web@$N3" "$N3" "$web3" proxy edge 80
span "api@$N3" "$N3" "$api3" db data 5432

# --- 3. isolation across nodes --------------------------------------------------------------------
section "isolation: no shared network, no connection (on any node)"
nope() { # LABEL NODE CID SERVICE NET PORT: no task of SERVICE on NET connects
    local label=$1 n=$2 c=$3 svc=$4 net=$5 port=$6 ip r
    for ip in $(addrs "$svc" "$net"); do
        if r=$(connect "$n" "$c" "$ip" "$port"); then
            bad "$label -> $svc@$(node_of_ip "$ip") $ip:$port ($net): CONNECTS although they share no network"
        else
            ok "$label -> $svc@$(node_of_ip "$ip") $ip:$port ($net): $r"
        fi
    done
}
dbn=$(awk '$2 == "db" { print $1; exit }' "$INV")
db1=$(task db "$dbn")
nope "db@$dbn" "$dbn" "$db1" proxy edge 80
nope "db@$dbn" "$dbn" "$db1" web edge 8080
nope "db@$dbn" "$dbn" "$db1" web app 8080
# proxy (edge only) has a default route (docker_gwbridge): its packets to the
# data overlay go to its node, which has no route off the machine.
proxy3=$(task proxy "$N3")
nope "proxy@$N3" "$N3" "$proxy3" db data 5432
nope "proxy@$N3" "$N3" "$proxy3" vault vault 8200
# A task reaches its node's and the other nodes' addresses through
# docker_gwbridge; the engines answer the host only, the swarm ports do answer.
for n in "${NCSWARM_NODES[@]}"; do
    ip=$(ncswarm_node_ip "$n")
    if r=$(connect "$N3" "$proxy3" "$ip" "$NCSWARM_ENGINE_PORT"); then
        bad "proxy@$N3 -> $n's engine $ip:$NCSWARM_ENGINE_PORT connects (it must answer the host only)"
    else
        ok "proxy@$N3 -> $n's engine $ip:$NCSWARM_ENGINE_PORT: $r (answers the host only)"
    fi
    r=$(connect "$N3" "$proxy3" "$ip" 7946 || true)
    printf '      proxy@%s -> %s %s:7946 (swarm gossip, through docker_gwbridge): %s\n' "$N3" "$n" "$ip" "$r"
    if v=$(DOCKER_HOST="tcp://$ip:$NCSWARM_ENGINE_PORT" timeout 10 docker version -f '{{.Server.Version}}' 2>/dev/null); then
        ok "host -> $n's engine DOCKER_HOST=tcp://$ip:$NCSWARM_ENGINE_PORT: Docker $v"
    else
        bad "host -> $n's engine DOCKER_HOST=tcp://$ip:$NCSWARM_ENGINE_PORT: no answer"
    fi
done

# --- 4. DNS -------------------------------------------------------------------------------------------
section "DNS (endpoint_mode dnsrr; Docker's embedded DNS in the task)"
expect_dns() { # LABEL NODE CID NAME WANT
    local got
    got=$(resolve "$2" "$3" "$4")
    if [ "$got" = "$5" ]; then
        ok "$1: $4 -> ${got:-(no address)}"
    else
        bad "$1: $4 -> ${got:-(no address)}, expected ${5:-(no address)}"
    fi
}
api_app=$(addrs api app | join)
db_data=$(addrs db data | join)
web_edge=$(addrs web edge | join)
for name in tasks.api api api.nctest.internal; do expect_dns "web@$N3" "$N3" "$web3" "$name" "$api_app"; done
for name in tasks.db db database db.nctest.internal; do expect_dns "api@$N3" "$N3" "$api3" "$name" "$db_data"; done
expect_dns "proxy@$N3" "$N3" "$proxy3" tasks.web "$web_edge"
expect_dns "proxy@$N3" "$N3" "$proxy3" web "$web_edge"
for name in database tasks.db db; do expect_dns "web@$N3 (not on data)" "$N3" "$web3" "$name" ""; done
# How "no such name" looks from a task (upstream DNS 127.0.0.1: nothing listens)
for name in database tasks.db; do
    t=$(date +%s%N)
    out=$(texec "$N3" "$web3" nslookup -type=a "$name" 2>&1) && rc=0 || rc=$?
    how="an empty answer (NOERROR, no record)"
    grep -q 'timed out' <<<"$out" && how="no reply (timed out)"
    grep -q NXDOMAIN <<<"$out" && how="NXDOMAIN"
    printf '      web@%s: %s (another network'"'"'s name): nslookup exit %s after %s ms: %s\n' \
        "$N3" "$name" "$rc" "$((($(date +%s%N) - t) / 1000000))" "$how"
done
printf '      (tasks.web from web@%s, on edge and app: %s)\n' "$N3" "$(resolve "$N3" "$web3" tasks.web)"

# --- 5. VIP -------------------------------------------------------------------------------------------
if [ "$VIP" = 1 ]; then
    section "VIP mode (temporary service ncswarm-vip on ${S}_edge, 2 replicas)"
    ncswarm_node "$N1" service rm ncswarm-vip >/dev/null 2>&1 || true
    ncswarm_node "$N1" service create -d --no-resolve-image --name ncswarm-vip --network "${S}_edge" --replicas 2 \
        --label org.netcontract.test=1 --container-label org.netcontract.test=1 --init --dns 127.0.0.1 \
        netcontract-test/busybox:local httpd -f -p 8081 -h /www >/dev/null
    for ((k = 0; k < 120; k++)); do
        [ "$(ncswarm_node "$N1" service ls --filter name=ncswarm-vip --format '{{.Replicas}}')" = 2/2 ] && break
        sleep 0.5
    done
    vip=$(ncswarm_node "$N1" service inspect ncswarm-vip \
          -f '{{range .Endpoint.VirtualIPs}}{{.Addr}} {{end}}' | tr ' ' '\n' | grep . | cut -d/ -f1 | head -n 1 || true)
    printf '      service VirtualIPs: %s\n' "$(ncswarm_node "$N1" service inspect ncswarm-vip -f '{{json .Endpoint.VirtualIPs}}')"
    # the VIP on edge: the service inspect lists one per network
    expect_dns "proxy@$N3" "$N3" "$proxy3" ncswarm-vip "$vip"
    vt=$(resolve "$N3" "$proxy3" tasks.ncswarm-vip)
    [ -n "$vt" ] && [ "$vt" != "$vip" ] && ok "proxy@$N3: tasks.ncswarm-vip -> $vt (task addresses, not the VIP)" \
        || bad "proxy@$N3: tasks.ncswarm-vip -> ${vt:-(no address)}"
    if r=$(connect "$N3" "$proxy3" "$vip" 8081); then
        bad "proxy@$N3 -> VIP $vip:8081 connects (IPVS works here after all: docs/swarm.md is wrong)"
    else
        ok "proxy@$N3 -> VIP $vip:8081: $r (no IPVS in this kernel)"
    fi
    for ip in $vt; do
        if r=$(connect "$N3" "$proxy3" "$ip" 8081); then ok "proxy@$N3 -> ncswarm-vip task $ip:8081: connects"
        else bad "proxy@$N3 -> ncswarm-vip task $ip:8081: $r"; fi
    done
    ncswarm_node "$N1" service rm ncswarm-vip >/dev/null
fi

# --- 6. network inspect ----------------------------------------------------------------------------------
section "network inspect: manager vs workers"
for n in "${NCSWARM_NODES[@]}"; do
    local_tasks=$(awk -v n="$n" '$1 == n && / app=/' "$INV" | wc -l)
    containers=$(ncswarm_node "$n" network inspect "${S}_app" \
        -f '{{range $k, $v := .Containers}}{{$v.Name}} {{end}}' | tr ' ' '\n' | grep . || true)
    tasks_seen=$(grep -vc -- '-endpoint$' <<<"$containers" || true)
    lb=$(grep -c -- '-endpoint$' <<<"$containers" || true)
    [ "$tasks_seen" = "$local_tasks" ] \
        && ok "$n: ${S}_app Containers lists $tasks_seen task(s) = its own ($local_tasks), plus $lb load-balancer endpoint (lb-${S}_app)" \
        || bad "$n: ${S}_app Containers lists $tasks_seen task(s), it runs $local_tasks"
    verbose=$(ncswarm_node "$n" network inspect --verbose "${S}_app" \
        -f '{{range $s, $v := .Services}}{{range $v.Tasks}}{{.EndpointIP}}@{{index .Info "Host IP"}} {{end}}{{end}}' | wc -w)
    all=$(awk '/ app=/' "$INV" | wc -l)
    [ "$verbose" = "$all" ] && ok "$n: ${S}_app --verbose .Services lists all $all tasks of the swarm (EndpointIP, Host IP)" \
        || bad "$n: ${S}_app --verbose .Services lists $verbose tasks, the swarm has $all"
done
mgr_nets=$(ncswarm_node "$N1" network ls --filter driver=overlay --format '{{.Name}}' | grep "^${S}_" | sort | join)
for n in "${NCSWARM_NODES[@]}"; do
    nets=$(ncswarm_node "$n" network ls --filter driver=overlay --format '{{.Name}}' | grep "^${S}_" | sort | join)
    printf '      %s lists: %s\n' "$n" "$nets"
done
vault_node=$(awk '$2 == "vault" { print $1; exit }' "$INV")
for n in "${NCSWARM_NODES[@]}"; do
    [ "$n" = "$N1" ] || [ "$n" = "$vault_node" ] || {
        ncswarm_node "$n" network inspect "${S}_vault" >/dev/null 2>&1 \
            && bad "$n (worker, no vault task) knows ${S}_vault" \
            || ok "$n (worker, no vault task): ${S}_vault unknown there (No such network); the manager lists all: $mgr_nets"
    }
done
enc=$(ncswarm_node "$N1" network inspect "${S}_vault" -f '{{json .Options}} internal={{.Internal}} attachable={{.Attachable}}')
grep -q '"encrypted"' <<<"$enc" && ok "manager: ${S}_vault $enc" || bad "manager: ${S}_vault not encrypted: $enc"
printf '      %s_edge: %s\n' "$S" "$(ncswarm_node "$N1" network inspect "${S}_edge" -f 'attachable={{.Attachable}} internal={{.Internal}} scope={{.Scope}} options={{json .Options}}')"

# --- 7. labels and aliases -----------------------------------------------------------------------------------
section "task container labels (each node's engine)"
while read -r n svc cid _; do
    nid=$(ncswarm_node "$n" info -f '{{.Swarm.NodeID}}')
    got=$(ncswarm_node "$n" inspect -f '{{index .Config.Labels "com.docker.stack.namespace"}} {{index .Config.Labels "com.docker.swarm.service.name"}} {{index .Config.Labels "com.docker.swarm.task.name"}} {{index .Config.Labels "com.docker.swarm.node.id"}}' "$cid")
    read -r ns sname tname tnode <<<"$got"
    if [ "$ns" = "$S" ] && [ "$sname" = "${S}_$svc" ] && [ "${tname#"$sname".}" != "$tname" ] && [ "$tnode" = "$nid" ]; then
        ok "$n ${cid:0:12}: namespace=$ns service.name=$sname task.name=$tname node.id=$tnode"
    else
        bad "$n ${cid:0:12}: labels $got (node id $nid)"
    fi
done <"$INV"
dbc=$(task db "$dbn")
ep_aliases=$(ncswarm_node "$dbn" inspect -f "{{json (index .NetworkSettings.Networks \"${S}_data\").Aliases}}" "$dbc")
svc_aliases=$(ncswarm_node "$N1" service inspect "${S}_db" -f '{{json .Spec.TaskTemplate.Networks}}')
if ! grep -q database <<<"$ep_aliases" && grep -q database <<<"$svc_aliases"; then
    ok "db aliases: the task endpoint has $ep_aliases; the service spec has $svc_aliases"
else
    bad "db aliases: endpoint $ep_aliases, service $svc_aliases"
fi

# --- 8. pids ------------------------------------------------------------------------------------------------------
section "State.Pid from a node's engine"
# host pid of the process whose pid, one level below the host, is PID and
# that descends from the node container's init (host pid NODEPID)
host_pid_of() {
    local want=$1 nodepid=$2 p s a
    for p in /proc/[0-9]*; do
        s=$(awk '/^NSpid:/ { print $2, $3 }' "$p/status" 2>/dev/null) || continue
        set -- $s
        [ "${2:-}" = "$want" ] || continue
        a=$1
        while [ "$a" -gt 1 ]; do
            [ "$a" = "$nodepid" ] && { echo "$1"; return 0; }
            a=$(awk '/^PPid:/ { print $2 }' "/proc/$a/status" 2>/dev/null || echo 0)
        done
    done
    return 1
}
for n in "${NCSWARM_NODES[@]}"; do
    cid=$(awk -v n="$n" '$1 == n { print $3; exit }' "$INV")
    pid=$(ncswarm_node "$n" inspect -f '{{.State.Pid}}' "$cid")
    sandbox=$(ncswarm_node "$n" inspect -f '{{.NetworkSettings.SandboxKey}}' "$cid")
    nodepid=$(docker inspect -f '{{.State.Pid}}' "$n")
    onhost="absent"
    [ -r "/proc/$pid/status" ] && onhost="$(cat "/proc/$pid/comm") (another process: $(awk '/^NSpid:/ { $1 = ""; print }' "/proc/$pid/status" | sed 's/^ //'))"
    hpid=$(host_pid_of "$pid" "$nodepid" || true)
    top=$(ncswarm_node "$n" top "$cid" -o pid 2>/dev/null | tail -n +2 | join || echo '?')
    ns_task=$( [ -n "$hpid" ] && stat -L -c %i "/proc/$hpid/ns/net" || echo '?')
    ns_sandbox=$(stat -L -c %i "/proc/$nodepid/root${sandbox/#\/var\/run/\/run}" 2>/dev/null || echo '?')
    if [ -n "$hpid" ] && [ "$ns_task" = "$ns_sandbox" ] && grep -qw "$pid" <<<"$top"; then
        ok "$n ${cid:0:12}: State.Pid $pid is the node's pid (docker top: $top); host /proc/$pid: $onhost; host pid $hpid (NSpid $(awk '/^NSpid:/ { $1 = ""; print }' "/proc/$hpid/status" | sed 's/^ //')); its netns inode $ns_task = /proc/$nodepid/root${sandbox/#\/var\/run/\/run}"
    else
        bad "$n ${cid:0:12}: State.Pid $pid, host pid ${hpid:-?}, top $top, netns $ns_task vs sandbox $ns_sandbox"
    fi
done

echo
echo "swarm-verify: $PASSED passed, $FAILED failed ($((SECONDS - T0)) s)"
[ "$FAILED" = 0 ]
