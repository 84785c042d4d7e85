#!/usr/bin/env bash
# make swarm-check: netcontract check of the running swarm test bed against
# tests/swarm/contract.yaml, every node given with --node NAME=tcp://IP:2375
# (addresses from scripts/swarm/status.sh --env). Exits with check's code.
#
#   scripts/swarm/check.sh [more netcontract check options, e.g. -v or --json out.json]
set -euo pipefail
cd "$(dirname "$0")/../.."

NETCONTRACT=${NETCONTRACT:-.venv/bin/netcontract}
[ -x "$NETCONTRACT" ] || { echo "swarm-check: $NETCONTRACT not found: run 'make venv' first" >&2; exit 2; }
env_lines=$(scripts/swarm/status.sh --env) || exit 3
nodes=()
for i in 1 2 3; do
    url=$(sed -n "s/^NCSWARM_NODE${i}=//p" <<<"$env_lines")
    name=$(sed -n "s/^NCSWARM_NODE${i}_NAME=//p" <<<"$env_lines")
    [ -n "$url" ] && [ -n "$name" ] || { echo "swarm-check: node $i missing from status.sh --env" >&2; exit 3; }
    nodes+=(--node "$name=$url")
done
# The nodes reach no registry: the probe image (for sidecars) is the one up.sh loaded into every node.
set -x
exec "$NETCONTRACT" check -c tests/swarm/contract.yaml "${nodes[@]}" \
    --no-pull --probe-image netcontract-test/probe:local "$@"
