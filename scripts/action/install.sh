#!/usr/bin/env bash
# The action's first step: install netcontract from the action's own checkout ($GITHUB_ACTION_PATH, the
# ref the workflow named) into a venv of its own, and put that venv's bin on the job's PATH ($GITHUB_PATH).
set -euo pipefail

: "${GITHUB_ACTION_PATH:?run as a GitHub Action step (GITHUB_ACTION_PATH is not set)}"
: "${GITHUB_PATH:?run as a GitHub Action step (GITHUB_PATH is not set)}"
python=${NETCONTRACT_PYTHON:-python3}
venv=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/netcontract-venv

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"
"$venv/bin/netcontract" --version
echo "$venv/bin" >> "$GITHUB_PATH"
