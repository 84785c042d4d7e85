#!/usr/bin/env bash
# The action's second step: `netcontract lint` (when compose files are given) and `netcontract check`, with
# their JUnit, JSON and Markdown reports in INPUT_REPORTS_DIR; the Markdown appended to the job summary
# ($GITHUB_STEP_SUMMARY); `reports-dir` and `exit-code` written to $GITHUB_OUTPUT; the step exits with
# check's exit code (or lint's, when check passed and lint did not).
#
# Inputs come as environment variables (never interpolated into this script): INPUT_CONTRACT,
# INPUT_COMPOSE_FILES, INPUT_EXECUTOR, INPUT_ARGS, INPUT_REPORTS_DIR.
set -uo pipefail

: "${GITHUB_OUTPUT:?run as a GitHub Action step (GITHUB_OUTPUT is not set)}"
: "${GITHUB_STEP_SUMMARY:?run as a GitHub Action step (GITHUB_STEP_SUMMARY is not set)}"
reports=${INPUT_REPORTS_DIR:-netcontract-reports}
mkdir -p "$reports"
reports=$(cd "$reports" && pwd)

contract=()
[ -n "${INPUT_CONTRACT:-}" ] && contract=(-c "$INPUT_CONTRACT")
read -ra extra <<< "${INPUT_ARGS:-}"
read -ra files <<< "$(printf '%s' "${INPUT_COMPOSE_FILES:-}" | tr '\n' ' ')"

summarise() {  # $1: report file, $2: what ran
    if [ -s "$1" ]; then
        cat "$1" >> "$GITHUB_STEP_SUMMARY"
    else
        printf '## netcontract %s: no report\n\nnetcontract %s wrote no report (a usage error?): see the step log.\n' \
            "$2" "$2" >> "$GITHUB_STEP_SUMMARY"
    fi
}

lint_rc=0
if [ ${#files[@]} -gt 0 ]; then
    fargs=()
    for f in "${files[@]}"; do fargs+=(-f "$f"); done
    echo "::group::netcontract lint"
    netcontract lint "${contract[@]}" "${fargs[@]}" --junit "$reports/lint-junit.xml" \
        --json "$reports/lint-report.json" --markdown "$reports/lint-summary.md"
    lint_rc=$?
    echo "::endgroup::"
    summarise "$reports/lint-summary.md" lint
fi

netcontract check "${contract[@]}" --executor "${INPUT_EXECUTOR:-auto}" "${extra[@]}" \
    --junit "$reports/junit.xml" --json "$reports/report.json" --markdown "$reports/summary.md"
rc=$?
summarise "$reports/summary.md" check

{
    echo "reports-dir=$reports"
    echo "exit-code=$rc"
} >> "$GITHUB_OUTPUT"
if [ "$rc" = 0 ] && [ "$lint_rc" != 0 ]; then
    echo "netcontract lint failed (exit $lint_rc) although check passed" >&2
    exit "$lint_rc"
fi
exit "$rc"
