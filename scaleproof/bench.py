"""Benchmark figures across runs, and the cluster's floor.

    scaleproof bench pod-kill [JOURNAL_OR_RUN_DIR ...] [--floor journals/floor] [--json]
    scaleproof bench hpa-scale [JOURNAL_OR_RUN_DIR ...] [--json]
    scaleproof bench vector-shards [JOURNAL_OR_RUN_DIR ...] [--json]
    scaleproof bench node-loss [JOURNAL_OR_RUN_DIR ...] [--json]
    scaleproof bench node-drain [JOURNAL_OR_RUN_DIR ...] [--json]
    scaleproof bench floor [--kills N] [--app journals/evidence] [--keep]

Sources: journals (with the scaleproof evidence block) and run directories
(`journals/runs/<id>/evidence.json`); default: every run directory under `journals/runs`. Figures are
recomputed with `scaleproof.podtimeline` / `scaleproof.floor` (the functions the evidence uses). Each
kind prints the `chaos run` wall time of its journals (the bulk of a warm `scaleproof run`: cluster
up, images cached, nothing to deploy). `floor` runs experiments/pod-kill.yaml through `chaos run`
against k8s/floor/floor.yaml (agnhost netexec), configured only by SCALEPROOF_* variables, stores
the journal in journals/floor/ and prints the floor beside the app's pod-kill journals. Prints figures
and how to reproduce them; asserts no wall-clock threshold (that is the experiments' criteria's job).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from scaleproof import benchnodes, podtimeline
from scaleproof import floor as floor_figures
from scaleproof.command import ExitCodeCommand, call
from scaleproof.phases import percentile

__all__ = [
    "FLOOR_ENV",
    "bench_command",
    "collect",
    "floor_comparison",
    "hpa_scale_figures",
    "main",
    "pod_kill_figures",
    "run_floor",
    "run_times",
    "vector_shards_figures",
]

REPO = Path(__file__).resolve().parents[1]
KINDS = ("pod-kill", "hpa-scale", "vector-shards", "node-loss", "node-drain")
FLOOR_MANIFEST = REPO / "k8s" / "floor" / "floor.yaml"
FLOOR_NAMESPACE = "scaleproof-floor"
#: the floor as any team's target: nothing but configuration (k8s/floor/floor.yaml's objects)
FLOOR_ENV = {
    "SCALEPROOF_NAMESPACE": FLOOR_NAMESPACE,
    "SCALEPROOF_DEPLOYMENT": "floor",
    "SCALEPROOF_SERVICE": "floor",
    "SCALEPROOF_SELECTOR": "app=floor",
    "SCALEPROOF_HPA": "",
    "SCALEPROOF_REPLICAS": "3",
    "SCALEPROOF_APP_URL": "http://127.0.0.1:30182",
    "SCALEPROOF_READY_PATH": "/healthz",
    "SCALEPROOF_REQUESTS": "GET /hostname 1",
    "SCALEPROOF_LOCUSTFILE": "",
    "SCALEPROOF_INGEST": "",
    "SCALEPROOF_PROMETHEUS_CONTAINER": "floor",
    # netexec has no drain: keep-alive connections still open to a victim are reset when it exits
    # after its preStop sleep (seen: 3 requests in 1 of 10 kills). The floor times recovery, not a
    # graceful shutdown, so those failures are recorded and shown but do not fail the floor's run.
    "SCALEPROOF_MAX_FAILED_REQUESTS_PER_KILL": "10",
    # netexec exports no request metrics
    "SCALEPROOF_PROMETHEUS_QUERY_REQUEST_RATE": "vector(0)",
    "SCALEPROOF_PROMETHEUS_QUERY_ERROR_RATE_5XX": "vector(0)",
}


# ---------------------------------------------------------------------------------------------- sources
def _document(path: Path) -> dict[str, Any] | None:
    p = path / "evidence.json" if path.is_dir() else path
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _evidence_in(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if not doc:
        return None
    if doc.get("name") == "scaleproof":
        return doc
    for ext in doc.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "scaleproof":
            return ext
    return None


def _files(p: Path) -> list[Path]:
    """The journals of a journal folder, else `p` itself (a journal, or a run dir with evidence.json)."""
    return sorted(p.glob("*.json")) if p.is_dir() and not (p / "evidence.json").exists() else [p]


def _sources(paths: Iterable[str | Path], kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(evidence, document) of `kind` from journals / run dirs, deduplicated by run id."""
    seen: set[str] = set()
    out = []
    for raw in paths:
        for f in _files(Path(raw)):
            doc = _document(f)
            ev = _evidence_in(doc)
            if not ev or not doc or (ev.get("experiment") or {}).get("kind") != kind:
                continue
            rid = str(ev.get("run_id") or f)
            if rid not in seen:
                seen.add(rid)
                out.append((ev, doc))
    return out


def collect(paths: Iterable[str | Path], kind: str) -> list[dict[str, Any]]:
    """Evidence blocks of `kind` from journals, journal folders or run dirs (deduplicated by run id)."""
    return [ev for ev, _ in _sources(paths, kind)]


def run_times(paths: Iterable[str | Path], kind: str) -> dict[str, Any]:
    """`chaos run` wall time (the journal's `duration`, s) per run of `kind`; run dirs have none."""
    per_run = {
        str(ev.get("run_id")): round(float(doc["duration"]), 1)
        for ev, doc in _sources(paths, kind)
        if isinstance(doc.get("duration"), int | float)
    }
    vals = list(per_run.values())
    return {
        "per_run": per_run,
        "median_s": percentile(vals, 50),
        "max_s": max(vals) if vals else None,
    }


# ---------------------------------------------------------------------------------------------- figures
def _kills(evidence: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [k for ev in evidence for k in ((ev.get("timelines") or {}).get("kills") or [])]


def pod_kill_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """MTTR summary over every kill of every run, per-phase medians, and failed requests per kill."""
    kills = _kills(evidence)
    s = podtimeline.mttr_summary(kills)
    known = [int(f) for f in (k.get("failed_requests") for k in kills) if f is not None]
    return {
        "runs": len(evidence),
        "mttr": s,
        "phase_medians_s": floor_figures.phase_medians(kills),
        "failed_requests_per_kill": {
            "max": max(known) if known else None,
            "mean": round(sum(known) / len(known), 3) if known else None,
            "total": sum(known),
            "kills_with_load_stats": len(known),
        },
        "enough_kills": s["count"] >= 10,
    }


def scale_figures(evidence: Sequence[dict[str, Any]], journal_bytes: int | None = None) -> dict[str, Any]:
    """The measurement at scale: every victim paired with its own replacement (no replacement counted
    twice), no kill lost against the plan (rounds × pods per round), the MTTR distribution over every
    kill, and what recording cost: the chaos process' CPU and peak memory, Locust's share of the
    machine, event-log and journal bytes per kill."""
    kills = _kills(evidence)
    cfgs = [ev.get("configuration") or {} for ev in evidence]
    planned = sum(int(c.get("kills") or 0) * int(c.get("kill_count") or 1) for c in cfgs)
    replacements = [k["replacement_uid"] for k in kills if k.get("replacement_uid")]
    # victims per (run, round): rounds of different runs are different rounds
    per_round = Counter((n, k.get("round")) for n, ev in enumerate(evidence) for k in _kills([ev]))
    costs = [ev.get("cost") or {} for ev in evidence]
    chaos = [c.get("chaos_process") or {} for c in costs]
    load = [c.get("load_generator") or {} for c in costs]
    return {
        "runs": len(evidence),
        "replicas": sorted({c.get("replicas") for c in cfgs}, key=str),
        "planned_kills": planned,
        "kills": len(kills),
        "lost_kills": planned - len(kills),
        "distinct_victims": len({k.get("victim_uid") for k in kills}),
        "paired": len(replacements),
        "distinct_replacements": len(set(replacements)),
        "recovered": sum(1 for k in kills if k.get("recovered")),
        "rounds": len(per_round),
        "victims_per_round": sorted(set(per_round.values())),
        "mttr": podtimeline.mttr_summary(kills),
        "recorder_cpu_s": max((float(c["cpu_s"]) for c in chaos if c.get("cpu_s") is not None), default=None),
        "recorder_rss_peak_mib": max(
            (float(c["rss_peak_mib"]) for c in chaos if c.get("rss_peak_mib") is not None), default=None
        ),
        "recorder_machine_share": max(
            (float(c["machine_share"]) for c in chaos if c.get("machine_share") is not None), default=None
        ),
        "load_machine_share": max(
            (float(c["machine_share"]) for c in load if c.get("machine_share") is not None), default=None
        ),
        "events_bytes_per_kill": round(sum(int(c.get("events_bytes") or 0) for c in costs) / len(kills))
        if kills
        else None,
        "journal_bytes_per_kill": round(journal_bytes / len(kills)) if kills and journal_bytes else None,
    }


def floor_comparison(app: Sequence[dict[str, Any]], floor: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`scaleproof.floor.compare` over every kill of the app's and the floor's runs."""
    return floor_figures.compare(_kills(app), _kills(floor))


def hpa_scale_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Time-to-scale per run with its phases and cadence, and the spread across runs."""
    runs: list[dict[str, Any]] = []
    for ev in evidence:
        st = (ev.get("timelines") or {}).get("scale") or {}
        runs.append(
            {
                "run_id": ev.get("run_id"),
                "time_to_scale_s": st.get("time_to_scale_s"),
                "reason": st.get("reason"),
                "flaps": st.get("flaps"),
                "phases": [(p["name"], p["duration_s"]) for p in st.get("phases") or []],
                "metric_source": st.get("metric_source"),
                "cadence": st.get("cadence") or {},
            }
        )
    vals: list[float] = [float(r["time_to_scale_s"]) for r in runs if r["time_to_scale_s"] is not None]
    return {
        "runs": runs,
        "count": len(vals),
        "p50": percentile(vals, 50),
        "p95": percentile(vals, 95),
        "max": max(vals) if vals else None,
    }


def vector_shards_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Shard figures per run (shards, nodes holding data, documents, shards queried) and the minimum."""
    names = ("shards_min", "nodes_with_shards", "documents_total", "shards_queried")
    runs = [
        {"run_id": ev.get("run_id"), "verdict": ev.get("verdict")}
        | {n: ((ev.get("metrics") or {}).get(n) or {}).get("value") for n in names}
        for ev in evidence
    ]
    return {
        "runs": runs,
        "min": {n: min((float(v) for r in runs if (v := r[n]) is not None), default=None) for n in names},
    }


# ---------------------------------------------------------------------------------------------- printing
def _s(v: Any) -> str:
    return "-" if v is None else f"{float(v):.3f} s"


def _print_run_times(kind: str, rt: dict[str, Any]) -> None:
    if not rt["per_run"]:
        print("  warm `scaleproof run` time: - (run dirs carry no duration; pass the journals)")
        return
    print(
        f"  warm `scaleproof run` time of {kind} (chaos run wall time per journal): median "
        f"{rt['median_s']:.0f} s, max {rt['max_s']:.0f} s over {len(rt['per_run'])} run(s)"
    )


def _print_pod_kill(fig: dict[str, Any]) -> None:
    m = fig["mttr"]
    print(f"pod-kill: {fig['runs']} run(s), {m['count']} kill(s), {m['recovered']} recovered")
    print(f"  MTTR ({m.get('definition')}), resolution {m['resolution_s']} s:")
    for k in ("mean", "p50", "p95", "max"):
        print(f"    {k:5s} {_s(m.get(k))}")
    if m.get("reason"):
        print(f"    note: {m['reason']}")
    print("  phase medians: " + ", ".join(f"{n} {_s(v)}" for n, v in fig["phase_medians_s"].items()))
    f = fig["failed_requests_per_kill"]
    print(
        f"  failed requests per kill: max {f['max']}, mean {f['mean']}, total {f['total']} "
        f"({f['kills_with_load_stats']} kill windows with load stats)"
    )
    if not fig["enough_kills"]:
        print(
            "  WARNING: fewer than 10 kills: p95 is not meaningful; run more repetitions (SCALEPROOF_KILLS)"
        )


def _print_scale(fig: dict[str, Any]) -> None:
    m = fig["mttr"]
    print(
        f"pod-kill at scale: {fig['runs']} run(s) on {fig['replicas']} replicas, {fig['rounds']} rounds of "
        f"{fig['victims_per_round']} pods at once"
    )
    print(
        f"  kills: {fig['kills']} of {fig['planned_kills']} planned (lost {fig['lost_kills']}), "
        f"{fig['distinct_victims']} distinct victims, {fig['paired']} paired with a replacement "
        f"({fig['distinct_replacements']} distinct), {fig['recovered']} recovered"
    )
    print(
        f"  MTTR ({m.get('definition')}) over {m['count']} kills: mean {_s(m.get('mean'))}, "
        f"p50 {_s(m.get('p50'))}, p95 {_s(m.get('p95'))}, max {_s(m.get('max'))}"
    )
    share = fig["recorder_machine_share"]
    load = fig["load_machine_share"]
    print(
        f"  recorder (chaos process): {fig['recorder_cpu_s']} CPU s, "
        f"peak RSS {fig['recorder_rss_peak_mib']} MiB"
        + (f", {100 * share:.1f} % of the machine" if share is not None else "")
        + (f"; Locust {100 * load:.1f} % of the machine" if load is not None else "")
    )
    print(
        f"  bytes per kill: event log {fig['events_bytes_per_kill']}, journal {fig['journal_bytes_per_kill']}"
    )


def _print_floor(cmp: dict[str, Any]) -> None:
    a, f = cmp["app"], cmp["floor"]
    print(
        f"app vs the cluster's floor ({a['count']} app kills, {f['count']} floor kills; medians per phase):"
    )
    print(f"  {'phase':22s} {'app':>10s} {'floor':>10s} {'app-floor':>10s}")
    for p in cmp["phases"]:
        print(
            f"  {p['name']:22s} {_s(p['app_median_s']):>10s} {_s(p['floor_median_s']):>10s} "
            f"{_s(p['excess_s']):>10s}"
        )
    for k in ("mean", "p95", "max"):
        print(f"  MTTR {k:4s}              {_s(a.get(k)):>10s} {_s(f.get(k)):>10s}")
    if cmp["app_attributable_s"] is None:
        print(f"  app-attributable time: - ({cmp['reason']})")
    else:
        print(f"  app-attributable time (app MTTR mean - floor MTTR mean): {_s(cmp['app_attributable_s'])}")
    if cmp["dominant_phase"]:
        share = round(100 * (cmp["dominant_share"] or 0))
        print(
            f"  carried by {cmp['dominant_phase']} (+{_s(cmp['dominant_excess_s'])}, {share} % of the excess)"
        )
        print(f"  advice: {cmp['advice']}")


def _print_hpa(fig: dict[str, Any]) -> None:
    print(f"hpa-scale: {len(fig['runs'])} run(s), {fig['count']} with a time-to-scale")
    for r in fig["runs"]:
        tts = r["time_to_scale_s"]
        print(
            f"  {r['run_id']}: time-to-scale {_s(tts)}"
            + (f" ({r['reason']})" if r["reason"] else "")
            + f", flaps {r['flaps']}"
            + (f"; metric phase from {r['metric_source']}" if r.get("metric_source") else "")
        )
        for name, d in r["phases"]:
            print(f"      {name:22s} {d:8.3f} s")
        c = r["cadence"]
        if c:
            print(
                f"      cadence: metrics resolution {c.get('metrics_resolution_s')} s "
                f"(measured {c.get('metrics_resolution_measured_s')} s), "
                f"window {c.get('metrics_window_s')} s, "
                f"HPA sync {c.get('hpa_sync_period_s')} s, scale-up stabilisation "
                f"{c.get('scale_up_stabilization_s')} s"
            )
            print(
                f"      waited for the metric pipeline {_s(c.get('pipeline_wait_s'))}; best case "
                f"{_s(c.get('best_case_s'))}, cadence bound {_s(c.get('cadence_bound_s'))}"
            )
    print(f"  p50 {fig['p50']}  p95 {fig['p95']}  max {fig['max']}")


def _print_shards(fig: dict[str, Any]) -> None:
    print(f"vector-shards: {len(fig['runs'])} run(s)")
    for r in fig["runs"]:
        print(
            f"  {r['run_id']}: verdict {r['verdict']}, shards_min {r['shards_min']}, nodes_with_shards "
            f"{r['nodes_with_shards']}, documents_total {r['documents_total']}, "
            f"shards_queried {r['shards_queried']}"
        )
    print("  minimum over runs: " + ", ".join(f"{k} {v}" for k, v in fig["min"].items()))


# ------------------------------------------------------------------------------------------------ floor
def _kubectl(kubeconfig: Path, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    from scaleproof.cluster.deploy import run_kubectl

    return run_kubectl(kubeconfig, *argv, timeout=timeout)


def _scaleproof(*argv: str, timeout: float) -> list[str]:
    exe = Path(sys.executable).with_name("scaleproof")
    proc = subprocess.run(
        [str(exe) if exe.exists() else "scaleproof", *argv], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise click.ClickException(
            f"`scaleproof {' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()[-800:]}; "
            "the floor needs the agnhost image: `scaleproof images agnhost` writes it, "
            "`scaleproof images import` loads it "
            "(or pass --skip-image when the cluster has it)"
        )
    return proc.stdout.split()


def _import_agnhost() -> None:
    """The floor's image, as a team brings its own: write the archive, import it into containerd."""
    _tag, path = _scaleproof("images", "agnhost", timeout=1800)[:2]
    _scaleproof("images", "import", path, timeout=300)


def _wait_namespace_gone(kubeconfig: Path, say: Any, timeout_s: float = 180) -> None:
    """A previous floor run deletes its namespace without waiting: applying into it while it
    terminates is refused, so wait until it is gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        phase = _kubectl(
            kubeconfig,
            "get",
            "namespace",
            FLOOR_NAMESPACE,
            "--ignore-not-found",
            "-o",
            "jsonpath={.status.phase}",
        ).stdout.strip()
        if phase != "Terminating":
            return
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"namespace {FLOOR_NAMESPACE} still terminating after {timeout_s:.0f} s"
            )
        say(f"waiting for the previous {FLOOR_NAMESPACE} namespace to be deleted")
        time.sleep(3)


def _deploy_floor(kubeconfig: Path, say: Any, replicas: int = 3) -> None:
    _wait_namespace_gone(kubeconfig, say)
    for argv in (
        ("apply", "-f", str(FLOOR_MANIFEST)),
        ("-n", FLOOR_NAMESPACE, "scale", "deployment/floor", f"--replicas={replicas}"),
        ("-n", FLOOR_NAMESPACE, "rollout", "status", "deployment/floor", f"--timeout={150 + 5 * replicas}s"),
    ):
        proc = _kubectl(kubeconfig, *argv)
        if proc.returncode != 0:
            raise click.ClickException(f"kubectl {' '.join(argv)}: {proc.stderr.strip()[-800:]}")
    url = FLOOR_ENV["SCALEPROOF_APP_URL"] + FLOOR_ENV["SCALEPROOF_READY_PATH"]
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback NodePort)
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"{url} did not answer 200 within 60 s after the rollout")
        time.sleep(1)
    say(f"floor deployed: {FLOOR_NAMESPACE}/floor, {replicas} Ready, {url} answers")


def run_floor(
    kills: int,
    interval_s: int,
    journal_dir: Path,
    keep: bool,
    skip_image: bool,
    say: Any = print,
    replicas: int = 3,
    kill_count: int = 1,
) -> Path:
    """Deploy the floor (`replicas` pods), run pod-kill against it through `chaos run` (`kills`
    rounds of `kill_count` pods at once), return the journal path."""
    from scaleproof.chaosrun import run_experiment
    from scaleproof.cluster.cli import kubeconfig_path

    kubeconfig = kubeconfig_path()
    if not skip_image:
        _import_agnhost()
    _deploy_floor(kubeconfig, say, replicas)
    # each round waits for its replacements (a few seconds) before the interval: budget both
    budget = kills * (interval_s + 10)
    env = {
        **os.environ,
        **FLOOR_ENV,
        "KUBECONFIG": str(kubeconfig),
        "PYTHONUNBUFFERED": "1",
        "SCALEPROOF_REPLICAS": str(replicas),
        "SCALEPROOF_KILL_COUNT": str(kill_count),
        "SCALEPROOF_KILLS": str(kills),
        "SCALEPROOF_KILL_INTERVAL_S": str(interval_s),
        "SCALEPROOF_LOAD_RUN_TIME_S": str(budget + 180),
        "SCALEPROOF_METHOD_DEADLINE_S": str(budget + 150),
    }
    try:
        return run_experiment("pod-kill", journal_dir, env)
    finally:
        if not keep:  # the Service goes first and waits: its NodePort is free for the next user
            _kubectl(kubeconfig, "-n", FLOOR_NAMESPACE, "delete", "service", "floor", "--ignore-not-found")
            _kubectl(kubeconfig, "delete", "namespace", FLOOR_NAMESPACE, "--wait=false", "--ignore-not-found")


# ------------------------------------------------------------------------------------------------- main
def _default_paths(root: str) -> list[str]:
    return sorted(str(d) for d in Path(root).glob("*") if d.is_dir())


def _bench_floor(
    kills: int, kill_interval: int, journals: str, keep: bool, skip_image: bool, app: str
) -> int:
    """Run the floor experiment, print its figures beside the app's pod-kill journals."""
    journal = run_floor(kills, kill_interval, REPO / journals, keep, skip_image)
    floor = collect([journal], "pod-kill")
    if not floor:
        print(f"the floor run wrote no pod-kill evidence: see {journal}", file=sys.stderr)
        return 1
    _print_pod_kill(pod_kill_figures(floor))
    _print_run_times("the floor's pod-kill", run_times([journal], "pod-kill"))
    app_evidence = collect([app], "pod-kill") if Path(app).exists() else []
    if app_evidence:
        _print_floor(floor_comparison(app_evidence, collect([REPO / journals], "pod-kill")))
    print(
        f"reproduce: scaleproof bench floor --kills {kills}; "
        + f"scaleproof bench pod-kill {app} --floor {journals}"
    )
    return 0


def _bench_scale(
    replicas: int,
    kill_count: int,
    kills: int,
    kill_interval: int,
    journals: str,
    keep: bool,
    skip_image: bool,
) -> int:
    """pod-kill against the floor workload at `replicas` pods, `kill_count` at once, `kills` rounds."""
    journal = run_floor(
        kills, kill_interval, REPO / journals, keep, skip_image, replicas=replicas, kill_count=kill_count
    )
    evidence = collect([journal], "pod-kill")
    if not evidence:
        print(f"the scale run wrote no pod-kill evidence: see {journal}", file=sys.stderr)
        return 1
    _print_scale(scale_figures(evidence, journal.stat().st_size))
    _print_run_times("the scale run's pod-kill", run_times([journal], "pod-kill"))
    print(
        f"reproduce: scaleproof bench scale --replicas {replicas} --kill-count {kill_count} --kills {kills} "
        f"--kill-interval {kill_interval} --journals {journals}"
    )
    return 0


def _scale_of(paths: list[str], as_json: bool) -> int:
    """The scale figures of scale runs already made (their journals), without running one (2: none)."""
    evidence = collect(paths, "pod-kill")
    if not evidence:
        print(f"no pod-kill evidence found in {', '.join(paths)}", file=sys.stderr)
        return 2
    journal_bytes = sum(f.stat().st_size for p in paths for f in _files(Path(p)) if f.is_file())
    fig = scale_figures(evidence, journal_bytes)
    if as_json:
        print(json.dumps(fig, indent=2, default=str))
        return 0
    _print_scale(fig)
    print("reproduce: scaleproof bench scale " + " ".join(paths))
    return 0


def _bench_kind(kind: str, paths: list[str], floor: str | None, as_json: bool) -> int:
    """Figures of one experiment kind across the given journals/run dirs (2: none found)."""
    evidence = collect(paths, kind)
    if not evidence:
        print(
            f"no {kind} evidence found in {len(paths)} path(s); run e.g. "
            f"`chaos --no-version-check run --hypothesis-frequency 2 experiments/{kind}.yaml`",
            file=sys.stderr,
        )
        return 2
    fig: dict[str, Any] = {
        "pod-kill": pod_kill_figures,
        "hpa-scale": hpa_scale_figures,
        "vector-shards": vector_shards_figures,
        "node-loss": benchnodes.node_loss_figures,
        "node-drain": benchnodes.node_drain_figures,
    }[kind](evidence)
    fig["run_time"] = run_times(paths, kind)
    cmp = floor_comparison(evidence, collect([floor], "pod-kill")) if floor else None
    if as_json:
        print(json.dumps(fig | ({"floor": cmp} if cmp else {}), indent=2, default=str))
        return 0
    printers = {"pod-kill": _print_pod_kill, "hpa-scale": _print_hpa, "vector-shards": _print_shards}
    printers |= {"node-loss": benchnodes.print_node_loss, "node-drain": benchnodes.print_node_drain}
    printers[kind](fig)
    _print_run_times(kind, fig["run_time"])
    if cmp is not None:
        _print_floor(cmp)
    print(
        f"reproduce: scaleproof bench {kind} "
        + " ".join(paths[:5])
        + (" ..." if len(paths) > 5 else "")
        + (f" --floor {floor}" if floor else "")
    )
    return 0


BENCH_KINDS = (*KINDS, "floor", "scale")


def _kind(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """argparse's wording for a wrong kind (scripts and tests read it)."""
    if value not in BENCH_KINDS:
        raise click.BadParameter(
            f"invalid choice: {value!r} (choose from {', '.join(map(repr, BENCH_KINDS))})"
        )
    return value


@click.command(
    "bench",
    cls=ExitCodeCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=__doc__.split("\n\n")[0]
    + "\n\nKIND: "
    + ", ".join(BENCH_KINDS)
    + ". PATHS: journals, journal folders or run dirs (default: journals/runs/*); `scale` with PATHS "
    "prints the figures of those scale runs instead of making one. "
    "Exit codes: 0 figures printed; 1 the floor run wrote no evidence; 2 no evidence found, or usage.",
)
@click.argument("kind", callback=_kind, metavar="KIND")
@click.argument("paths", nargs=-1)
@click.option("--runs-root", default="journals/runs")
@click.option("--floor", default=None, help="pod-kill: floor journals to compare with (journals/floor)")
@click.option("--app", default="journals/evidence", help="floor: the app's pod-kill journals to compare")
@click.option(
    "--kills",
    type=int,
    default=None,
    help="floor/scale: kill rounds (default: SCALEPROOF_KILLS or 10; scale: 20)",
)
@click.option("--kill-interval", type=int, default=5, help="floor/scale: seconds between kill rounds")
@click.option("--replicas", type=int, default=30, show_default=True, help="scale: pods of the floor workload")
@click.option("--kill-count", type=int, default=5, show_default=True, help="scale: pods killed at once")
@click.option(
    "--journals", default=None, help="floor/scale: where its journal goes (journals/floor, journals/scale)"
)
@click.option("--keep", is_flag=True, help="floor/scale: leave the floor workload deployed")
@click.option("--skip-image", is_flag=True, help="floor/scale: the cluster has the agnhost image")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
def bench_command(
    kind: str,
    paths: tuple[str, ...],
    runs_root: str,
    floor: str | None,
    app: str,
    kills: int | None,
    kill_interval: int,
    replicas: int,
    kill_count: int,
    journals: str | None,
    keep: bool,
    skip_image: bool,
    as_json: bool,
) -> int:
    if kind == "floor":
        n = kills or int(os.environ.get("SCALEPROOF_KILLS") or 10)
        return _bench_floor(n, kill_interval, journals or "journals/floor", keep, skip_image, app)
    if kind == "scale" and paths:
        return _scale_of(list(paths), as_json)
    if kind == "scale":
        return _bench_scale(
            replicas, kill_count, kills or 20, kill_interval, journals or "journals/scale", keep, skip_image
        )
    return _bench_kind(kind, list(paths) or _default_paths(runs_root), floor, as_json)


def main(argv: Sequence[str] | None = None) -> int:
    """`scaleproof bench ARGS...` from Python: the exit code."""
    return call(bench_command, argv, "scaleproof bench")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
