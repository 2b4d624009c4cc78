#!/usr/bin/env bash
# The main job on a fresh machine: install what is needed, bring up the local cluster (or use
# SCALEPROOF_KUBECONFIG), build and load images, deploy k8s/, run the three experiments, and regenerate
# the ADR evidence. Exits non-zero if any verdict is not a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/scaleproof run "$@"
