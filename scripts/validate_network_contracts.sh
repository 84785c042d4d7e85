#!/usr/bin/env bash
# Gate a pipeline on the network contract: runs `netcontract check`, tees a log,
# and passes netcontract's exit code through (or, in warn mode, lets violations pass).
#
#   scripts/validate_network_contracts.sh [-c|--contract PATH] [--mode strict|warn] [-- NETCONTRACT_ARGS...]
#
# Exit codes (netcontract's own, passed through):
#   0 contract holds   1 violated   2 usage error   3 could not evaluate   4 invalid contract
# --mode warn: a violation (1) is printed and the script exits 0; 2, 3 and 4 still fail,
# because a check that could not be made is never a pass.
#
# Environment:
#   NETCONTRACT  the netcontract command (default: .venv/bin/netcontract if present, else PATH)
#   LOG_DIR      where logs go (default: logs); each run writes
#                validate_network_contracts_<UTC timestamp>.log there
set -euo pipefail

prog="$(basename "$0")"
contract="contracts/devonboarder.yaml"
mode="strict"
extra=()

usage() {
  cat <<EOF
usage: $prog [-c|--contract PATH] [--mode strict|warn] [-- NETCONTRACT_CHECK_ARGS...]

  -c, --contract PATH  contract file (default: contracts/devonboarder.yaml)
  --mode strict|warn   strict (default): any non-zero netcontract exit fails;
                       warn: violations (exit 1) are reported but exit 0;
                       errors (2, 3, 4) still fail
  -h, --help           show this help
  -- ARGS...           passed to 'netcontract check', e.g. -- --junit reports/junit.xml

Exit codes: 0 holds, 1 violated, 2 usage, 3 could not evaluate, 4 invalid contract.
EOF
}

die_usage() {
  echo "$prog: $1" >&2
  echo "try '$prog --help'" >&2
  exit 2
}

while (($#)); do
  case "$1" in
    -c | --contract)
      (($# >= 2)) || die_usage "$1 needs a value"
      contract="$2"
      shift 2
      ;;
    --contract=*) contract="${1#*=}"; shift ;;
    --mode)
      (($# >= 2)) || die_usage "--mode needs a value: strict or warn"
      mode="$2"
      shift 2
      ;;
    --mode=*) mode="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die_usage "unknown argument '$1' (netcontract options go after --)" ;;
  esac
done

case "$mode" in
  strict | warn) ;;
  *) die_usage "unknown mode '$mode': use --mode strict or --mode warn" ;;
esac

# The netcontract command: $NETCONTRACT (an executable path, or a command line
# such as "python -m netcontract"), else the repository's venv, else PATH.
if [[ -n "${NETCONTRACT:-}" ]]; then
  if [[ -x "$NETCONTRACT" ]]; then
    cmd=("$NETCONTRACT")
  else
    read -r -a cmd <<<"$NETCONTRACT"
  fi
elif [[ -x .venv/bin/netcontract ]]; then
  cmd=(.venv/bin/netcontract)
elif command -v netcontract >/dev/null 2>&1; then
  cmd=(netcontract)
else
  echo "$prog: netcontract not found: install it (pip install .), or set NETCONTRACT" >&2
  exit 3
fi
if ! command -v "${cmd[0]}" >/dev/null 2>&1; then
  echo "$prog: netcontract command '${cmd[0]}' not found (from NETCONTRACT)" >&2
  exit 3
fi

log_dir="${LOG_DIR:-logs}"
mkdir -p "$log_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
log="$log_dir/validate_network_contracts_${stamp}.log"
[[ -e "$log" ]] && log="$log_dir/validate_network_contracts_${stamp}_$$.log"

{
  echo "# $prog $(date -u +%Y-%m-%dT%H:%M:%SZ) mode=$mode"
  echo "# ${cmd[*]} check -c $contract ${extra[*]+${extra[*]}}"
} >"$log"

set +e
# ${extra[@]+...}: an empty array is "unbound" under set -u in bash < 4.4 (macOS).
"${cmd[@]}" check -c "$contract" ${extra[@]+"${extra[@]}"} 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
set -e

case "$rc" in
  0) verdict="network contract holds" ;;
  1) verdict="network contract VIOLATED" ;;
  2) verdict="usage error (netcontract exit 2)" ;;
  3) verdict="could not evaluate the contract (netcontract exit 3)" ;;
  4) verdict="invalid contract file (netcontract exit 4)" ;;
  *) verdict="netcontract exited with $rc" ;;
esac

status=$rc
if [[ "$mode" == warn && "$rc" == 1 ]]; then
  verdict="$verdict; --mode warn: not failing the pipeline"
  status=0
fi
echo "$prog: $verdict (log: $log)" | tee -a "$log" >&2
echo "# exit $status" >>"$log"
exit "$status"
