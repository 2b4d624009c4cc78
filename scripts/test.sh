#!/usr/bin/env bash
# The test command: lint and type-check, unit tests, then the end-to-end tests on the real local
# cluster (brought up here: nothing survives between sessions; build caches make it quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "[test] ruff + mypy"
ruff check .
mypy scaleproof probes actions loadgen app/searchapp
if [ -n "${SCALEPROOF_KUBECONFIG:-}" ]; then
  echo "[test] using the cluster of SCALEPROOF_KUBECONFIG"
else
  scaleproof cluster up
fi
scaleproof images
echo "[test] pytest"
pytest -q --durations=25 tests/unit tests/e2e "$@"
