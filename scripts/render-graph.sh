#!/usr/bin/env bash
# Render the contract diagram in docs/ from the contract itself.
#   scripts/render-graph.sh [CONTRACT] [OUTPUT.svg]
# Needs Graphviz (`dot`). Re-run after editing the contract; the SVG is committed.
set -euo pipefail

contract="${1:-contracts/devonboarder.yaml}"
output="${2:-docs/devonboarder-tiers.svg}"

if [[ -n "${NETCONTRACT:-}" ]]; then
  netcontract="$NETCONTRACT"
elif [[ -x .venv/bin/netcontract ]]; then
  netcontract=.venv/bin/netcontract
else
  netcontract=netcontract
fi
command -v dot >/dev/null || { echo "render-graph: Graphviz 'dot' is not installed (apt-get install graphviz)" >&2; exit 3; }

"$netcontract" graph -c "$contract" --format dot | dot -Tsvg -o "$output"
echo "wrote $output"
