"""build-components.sh's plan, run with a `go` that only records what it is asked: the components come
out in the fixed build order, each compile after its own resolve, the resolves of later components
overlap earlier compiles, a cached pin is skipped, and a failed resolve stops the build by name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scaleproof.cluster.build import BUILD_SCRIPT

pytestmark = pytest.mark.unit

# A stand-in for the go command: appends "<epoch-ns> <args>" to $FAKE_GO_LOG; `go build -o X` writes X
# after $FAKE_GO_BUILD_S seconds; `go mod download -json M` names a go.mod holding one staging line;
# `go get` fails when its arguments contain $FAKE_GO_FAIL.
FAKE_GO = r"""#!/usr/bin/env bash
echo "$(date +%s%N) $*" >> "$FAKE_GO_LOG"
case "$1 $2" in
  "mod init") echo "module $3" > go.mod ;;
  "mod download")
    if [ "${3:-}" = -json ]; then
      d=$(mktemp -d); printf 'replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n)\n' > "$d/go.mod"
      mkdir -p "$d/test/images/agnhost"; echo 2.59 > "$d/test/images/agnhost/VERSION"
      printf '{"GoMod": "%s", "Dir": "%s"}\n' "$d/go.mod" "$d"
    fi ;;
  "get "*|"get")
    if [ -n "${FAKE_GO_FAIL:-}" ] && [[ "$*" == *"$FAKE_GO_FAIL"* ]]; then
      echo "fake go: refused" >&2; exit 1
    fi ;;
  "build "*)
    while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out=$2; fi; shift; done
    sleep "${FAKE_GO_BUILD_S:-0}"; : > "$out" ;;
esac
exit 0
"""


def _run(tmp_path: Path, *components: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bindir = tmp_path / "fakebin"
    bindir.mkdir(exist_ok=True)
    go = bindir / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    log = tmp_path / "go.log"
    full_env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "FAKE_GO_LOG": str(log),
        "PROMETHEUS_UI": "0",
        **env,
    }
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(tmp_path / "out"), str(tmp_path / "work"), *components],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    lines = log.read_text().splitlines() if log.exists() else []
    return proc, lines


def _first(lines: list[str], verb: str, needle: str) -> int:
    """Nanosecond stamp of the first `go VERB …` call whose arguments hold `needle`."""
    for line in lines:
        stamp, _, args = line.partition(" ")
        if args.split()[0] == verb and needle in args:
            return int(stamp)
    raise AssertionError(f"no `go {verb}` call with {needle!r}: {lines}")


def test_order_overlap_and_cache(tmp_path: Path) -> None:
    proc, lines = _run(tmp_path, "coredns", "etcd", "agnhost", FAKE_GO_BUILD_S="2")
    assert proc.returncode == 0, proc.stderr
    builds = [line.split(" -o ")[1].split()[0] for line in lines if line.split()[1] == "build"]
    assert [Path(b).name for b in builds] == ["etcd", "etcdctl", "coredns", "agnhost"], "BUILD_ORDER"
    # each compile after its own resolve; coredns' resolve while etcd compiles (downloads overlap)
    assert _first(lines, "get", "etcd") < _first(lines, "build", "etcd/server")
    assert _first(lines, "get", "coredns") < _first(lines, "build", "coredns")
    etcd_done = _first(lines, "build", "etcdctl")
    assert _first(lines, "get", "coredns") < etcd_done, "the second resolve waited for the first compile"
    out = tmp_path / "out"
    assert (out / ".etcd.pin").read_text().strip() == "etcd-3.6.14"
    assert (out / ".agnhost.pin").read_text().strip() == "agnhost-k8s-1.35.4"
    assert "-X main.Version=2.59" in next(x for x in lines if x.split()[1] == "build" and "agnhost" in x)

    again, lines2 = _run(tmp_path, "etcd", "coredns", "agnhost")
    assert again.returncode == 0, again.stderr
    assert lines2 == lines, "a warm run calls go not at all"
    assert again.stdout.count(": cached (") == 3


def test_failed_resolve_stops_by_name_and_keeps_what_was_built(tmp_path: Path) -> None:
    proc, lines = _run(tmp_path, "etcd", "coredns", "weaviate", FAKE_GO_FAIL="coredns")
    assert proc.returncode != 0
    assert "resolving coredns failed" in proc.stderr
    out = tmp_path / "out"
    assert (out / ".etcd.pin").exists() and (out / "etcd").exists()
    assert not (out / ".coredns.pin").exists() and not (out / "weaviate-server").exists()


def test_unknown_component_is_refused(tmp_path: Path) -> None:
    proc, lines = _run(tmp_path, "etcd", "kube-state-metrics")
    assert proc.returncode == 2 and "unknown component: kube-state-metrics" in proc.stderr
    assert lines == []
