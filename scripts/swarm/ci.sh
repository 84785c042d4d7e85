#!/usr/bin/env bash
# The swarm CI step (issue 13): the multi-node test bed up, the live swarm
# tests (tests/swarm/), the bed down whatever happened; exits non-zero when
# anything failed. Run as root on a machine with Docker (scripts/ensure-docker.sh),
# after `make venv`; the node image is built on the first run (~155 s) and kept.
#
#   scripts/swarm/ci.sh               up, tests, down
#   scripts/swarm/ci.sh --tests-only  the tests only, against a bed already up (kept up)
#
# The tests run with NCSWARM_REQUIRED=1: a bed that is missing or does not
# answer fails them, it never skips them. pytest's exit 5 (no tests) fails too,
# and so does any skip (.ci/check-skips LOG none).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-}
case "$mode" in ""|--tests-only) ;; *) echo "usage: $0 [--tests-only]" >&2; exit 2 ;; esac
T0=$SECONDS
t_up=0 t_tests=0 t_down=0
say() { printf 'swarm-ci: %s\n' "$*"; }

down() {
    local rc=$? t=$SECONDS
    set +e
    if [ "$mode" != --tests-only ]; then
        make --no-print-directory swarm-down
        t_down=$((SECONDS - t))
    fi
    say "up ${t_up} s, tests ${t_tests} s, down ${t_down} s, total $((SECONDS - T0)) s; exit $rc"
    exit "$rc"
}
trap down EXIT

[ -x .venv/bin/pytest ] || make --no-print-directory venv

if [ "$mode" != --tests-only ]; then
    t=$SECONDS
    make --no-print-directory swarm-up
    t_up=$((SECONDS - t))
fi

set -a
eval "$(scripts/swarm/status.sh --env)"
set +a
export NCSWARM_REQUIRED=1

t=$SECONDS
rc=0
LOG=$(mktemp /tmp/netcontract-swarm-ci.XXXXXX.log)
.venv/bin/pytest tests/swarm -p no:cacheprovider -ra --durations=0 ${PYTEST_SWARM_ARGS:-} 2>&1 | tee "$LOG" || rc=$?
t_tests=$((SECONDS - t))
if [ "$rc" = 5 ]; then
    rm -f "$LOG"
    say "pytest collected or ran no swarm test (exit 5): that is a failure"
    exit 1
fi
# The bed is required (NCSWARM_REQUIRED=1): no swarm test may skip.
skips=0
.ci/check-skips "$LOG" none || skips=$?
rm -f "$LOG"
if [ "$skips" != 0 ]; then
    say "swarm tests were skipped (.ci/check-skips): that is a failure"
    [ "$rc" != 0 ] || rc=1
fi
[ "$rc" = 0 ] || say "swarm tests failed (pytest exit $rc)"
exit "$rc"
