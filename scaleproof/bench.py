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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from scaleproof import benchnodes
from scaleproof.benchfigures import (
    KINDS,
    PEER_LOSS_NAMES,
    collect,
    files,
    floor_comparison,
    hpa_scale_figures,
    pod_kill_figures,
    run_times,
    scale_figures,
    store_peer_loss_figures,
    vector_shards_figures,
)
from scaleproof.command import ExitCodeCommand, call
from scaleproof.floorrun import FLOOR_ENV, FLOOR_MANIFEST, REPO, run_floor

__all__ = [
    "FLOOR_ENV",
    "FLOOR_MANIFEST",
    "bench_command",
    "collect",
    "floor_comparison",
    "hpa_scale_figures",
    "main",
    "pod_kill_figures",
    "run_floor",
    "run_times",
    "scale_figures",
    "vector_shards_figures",
]


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


def _print_peer_loss(fig: dict[str, Any]) -> None:
    print(f"store-peer-loss: {len(fig['runs'])} run(s)")
    for r in fig["runs"]:
        print(
            f"  {r['run_id']}: verdict {r['verdict']}, replication {r['replication_factor']}, "
            f"failed app/store {r['failed_queries_app']}/{r['failed_queries_store']}, partial app/store "
            f"{r['partial_queries_app']}/{r['partial_queries_store']}, unavailable app/store "
            f"{r['unavailable_s_app']}/{r['unavailable_s_store']} s, recovery {r['recovery_s']} s, "
            f"documents lost {r['documents_lost']}"
        )
    print("  side by side (worst run per replication factor):")
    names = ["runs", *PEER_LOSS_NAMES]
    print("    " + "factor".ljust(8) + "".join(n.ljust(22) for n in names))
    for f, row in fig["by_factor"].items():
        print("    " + str(f).ljust(8) + "".join(str(row[n]).ljust(22) for n in names))


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
    journal_bytes = sum(f.stat().st_size for p in paths for f in files(Path(p)) if f.is_file())
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
        "store-peer-loss": store_peer_loss_figures,
    }[kind](evidence)
    fig["run_time"] = run_times(paths, kind)
    cmp = floor_comparison(evidence, collect([floor], "pod-kill")) if floor else None
    if as_json:
        print(json.dumps(fig | ({"floor": cmp} if cmp else {}), indent=2, default=str))
        return 0
    printers = {"pod-kill": _print_pod_kill, "hpa-scale": _print_hpa, "vector-shards": _print_shards}
    printers |= {"node-loss": benchnodes.print_node_loss, "node-drain": benchnodes.print_node_drain}
    printers["store-peer-loss"] = _print_peer_loss
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


BENCH_KINDS = (*KINDS, *benchnodes.KINDS, "floor", "scale")


class BenchGroup(click.Group):
    """`scaleproof bench KIND`: one subcommand per kind, each with only its own options. A wrong KIND
    keeps argparse's wording (scripts and tests read it)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            ctx.fail(f"invalid choice: {args[0]!r} (choose from {', '.join(map(repr, BENCH_KINDS))})")
        return super().resolve_command(ctx, args)


@click.group(
    "bench",
    cls=BenchGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=__doc__.split("\n\n")[0]
    + "\n\nPATHS: journals, journal folders or run dirs (default: journals/runs/*); `scale` with PATHS "
    "prints the figures of those scale runs instead of making one. "
    "Exit codes: 0 figures printed; 1 the floor run wrote no evidence; 2 no evidence found, or usage.",
)
def bench_command() -> None:
    pass


_JSON = click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
_PATHS = click.argument("paths", nargs=-1, type=click.Path())
_RUNS_ROOT = click.option(
    "--runs-root", default="journals/runs", show_default=True, help="Run dirs read when no PATHS are given."
)


def _figures_command(kind: str, summary: str) -> click.Command:
    """`bench pod-kill|hpa-scale|vector-shards [PATHS] [--runs-root] [--json]` (pod-kill: `--floor`)."""

    def command(paths: tuple[str, ...], runs_root: str, as_json: bool, floor: str | None = None) -> int:
        return _bench_kind(kind, list(paths) or _default_paths(runs_root), floor, as_json)

    command.__doc__ = summary
    cmd = _JSON(_RUNS_ROOT(_PATHS(command)))
    if kind == "pod-kill":
        cmd = click.option(
            "--floor",
            default=None,
            type=click.Path(),
            help="Floor journals to compare with (journals/floor).",
        )(cmd)
    return click.command(kind, cls=ExitCodeCommand)(cmd)


for _kind, _summary in (
    ("pod-kill", "MTTR over every kill, phase medians, failed requests per kill (and the app vs the floor)."),
    ("hpa-scale", "Time-to-scale phases per run beside the controllers' cadence."),
    ("vector-shards", "Shards, nodes holding data, documents and shards queried per run."),
    ("node-loss", "Node-loss phases per run and per tolerationSeconds, side by side; MTTR, failed requests."),
    ("node-drain", "Drains per run: duration, per-pod recovery, the budgets that held them."),
    (
        "store-peer-loss",
        "Failed/partial queries, unavailable window, recovery and documents lost per run, side by side "
        "per replication factor (read back from the store).",
    ),
):
    bench_command.add_command(_figures_command(_kind, _summary))

# the options of the two commands that run the floor workload
_KILL_INTERVAL = click.option(
    "--kill-interval", type=int, default=5, show_default=True, help="Seconds between kill rounds."
)
_KEEP = click.option("--keep", is_flag=True, help="Leave the floor workload deployed.")
_SKIP_IMAGE = click.option("--skip-image", is_flag=True, help="The cluster has the agnhost image already.")


@bench_command.command("floor", cls=ExitCodeCommand)
@click.option(
    "--kills",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    envvar="SCALEPROOF_KILLS",
    help="Kill rounds (env SCALEPROOF_KILLS).",
)
@_KILL_INTERVAL
@click.option("--app", default="journals/evidence", show_default=True, help="The app's pod-kill journals.")
@click.option(
    "--journals", default="journals/floor", show_default=True, help="Where the floor's journal goes."
)
@_KEEP
@_SKIP_IMAGE
def floor_command(
    kills: int, kill_interval: int, app: str, journals: str, keep: bool, skip_image: bool
) -> int:
    """Run pod-kill against the cluster's floor (agnhost netexec) and print it beside the app."""
    return _bench_floor(kills, kill_interval, journals, keep, skip_image, app)


@bench_command.command("scale", cls=ExitCodeCommand)
@_PATHS
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Pods of the floor workload.",
)
@click.option(
    "--kill-count", type=click.IntRange(min=1), default=5, show_default=True, help="Pods killed at once."
)
@click.option("--kills", type=click.IntRange(min=1), default=20, show_default=True, help="Kill rounds.")
@_KILL_INTERVAL
@click.option("--journals", default="journals/scale", show_default=True, help="Where its journal goes.")
@_KEEP
@_SKIP_IMAGE
@_JSON
def scale_command(
    paths: tuple[str, ...],
    replicas: int,
    kill_count: int,
    kills: int,
    kill_interval: int,
    journals: str,
    keep: bool,
    skip_image: bool,
    as_json: bool,
) -> int:
    """pod-kill at scale against the floor workload; with PATHS, the figures of scale runs already made."""
    if paths:
        return _scale_of(list(paths), as_json)
    return _bench_scale(replicas, kill_count, kills, kill_interval, journals, keep, skip_image)


def main(argv: Sequence[str] | None = None) -> int:
    """`scaleproof bench ARGS...` from Python: the exit code."""
    return call(bench_command, argv, "scaleproof bench")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
