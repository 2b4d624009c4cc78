#!/usr/bin/env bash
# Installs what scaleproof needs on a fresh Debian 12 machine (root): host packages for the local
# cluster and the project's Python environment in .venv. Idempotent and quick when all is there.
#   setup.sh          both
#   setup.sh python   only .venv (what `scaleproof cluster build` needs: go and npm come with the machine)
#   setup.sh host     only the Debian packages (containerd, runc, CNI, debootstrap, chromium, …)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
UV_VERSION=0.13.9

host() {
  # Prometheus itself is built from the Go module proxy by `scaleproof cluster build` (upstream 3.16,
  # with its web UI: needs node + npm); chromium takes the evidence's screenshot of its graph page.
  local pkgs=(containerd runc containernetworking-plugins iptables iproute2 debootstrap openssl gcc libc6-dev curl chromium)
  local missing=() p
  for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[setup] apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  echo "[setup] host packages: done"
}

python_env() {
  command -v go >/dev/null || { echo "[setup] go is required (it builds Kubernetes from the Go module proxy)" >&2; exit 1; }
  command -v npm >/dev/null || echo "[setup] warning: npm is missing: Prometheus will be built without its web UI (API only)" >&2
  local py=${PYTHON:-python3}
  "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
    echo "[setup] python 3.11 is required (the app image runs Debian bookworm's python 3.11)" >&2; exit 1; }
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  # uv installs the pinned set from its cache in seconds (pip takes two minutes for the same wheels);
  # pip is the fallback where uv cannot be had
  if [ -x .venv/bin/uv ] || .venv/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION" 2>/dev/null; then
    echo "[setup] uv pip install -e .[app,dev] (cached)"
    .venv/bin/uv pip install -q --python .venv/bin/python -c constraints.txt -e '.[app,dev]'
  else
    echo "[setup] pip install -e .[app,dev] (cached; uv $UV_VERSION unavailable)"
    .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[app,dev]'
  fi
  echo "[setup] python environment: done"
}

case "$what" in
  all) host; python_env ;;
  host) host ;;
  python) python_env ;;
  *) echo "usage: setup.sh [all|host|python]" >&2; exit 2 ;;
esac
