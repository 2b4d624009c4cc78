"""The evidence block: ONE typed contract (layer 1, no I/O).

The `scaleproof` entry of a journal's `extensions` list, version 1 (docs/evidence-schema.md). The
evidence control (`scaleproof.evidence`) writes it, the kind builders (`scaleproof.builders`) compute
its figures, and the verdict, the report, the benches and the consistency check read it. Nothing else
declares a shape of it: `journal.Evidence`, `journal.Metric`, `journal.Criterion` and
`criteria.CriterionResult` are these types.

Every key the control may set is here; the block is `total=False` because journals written by older
controls lack the later keys (`claims`, `configuration` since 2026-12-01, `cost` since 2026-12-02), and
a block whose computation failed carries only `name`, `version`, `run_dir`, `metrics`, `criteria`,
`error` (and `interrupt`, `verdict`, `verdict_reasons`).

The timelines of each kind (`timelines.kills`, `.scale`, `.shards`) are typed by the modules that
compute them (`podtimeline.KillTimeline`, `scaletimeline.ScaleTimeline`); here they are plain
mappings so that the contract does not follow those modules' internals.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = [
    "EVIDENCE_NAME",
    "EVIDENCE_VERSION",
    "ClaimSummary",
    "Cost",
    "Criterion",
    "Evidence",
    "ExperimentRef",
    "Figures",
    "Interrupt",
    "Load",
    "Metric",
    "Outcome",
    "StopRecord",
    "PrometheusView",
    "ProcessCost",
    "ShardsTimeline",
    "Timelines",
]

# the evidence block's name and schema version: written by scaleproof.evidence, read by the journal
EVIDENCE_NAME = "scaleproof"
EVIDENCE_VERSION = 1

# refused: the run's configuration or target is invalid (issue 22: scaleproof.stops), not the app
Outcome = Literal["pass", "fail", "inconclusive", "refused"]


class Metric(TypedDict, total=False):
    """One figure: its value (None when it could not be computed, then with a `reason`), its unit, how
    it was measured, the resolution of its clock and the number of samples behind it."""

    value: float | int | None
    unit: str
    method: str
    resolution_s: float | None
    samples: int
    reason: str


class Criterion(TypedDict, total=False):
    """One declared criterion judged against the metrics (`scaleproof.criteria.evaluate`)."""

    expr: str
    metric: str | None
    op: str | None
    threshold: float | None
    value: float | int | None
    unit: str | None
    passed: bool | None  # None: not evaluable, with a `reason`
    reason: str


class ExperimentRef(TypedDict, total=False):
    path: str | None
    sha256: str | None
    kind: str
    hash: str | None


class ShardsTimeline(TypedDict, total=False):
    store: str
    collection: str | None
    per_shard: list[dict[str, Any]]  # shard, node, objects, queries (shards.shard_spread)
    snapshots: list[dict[str, Any]]  # label, t


class Timelines(TypedDict, total=False):
    kills: list[dict[str, Any]]  # podtimeline.KillTimeline, one per kill
    mttr: dict[str, Any]  # podtimeline.mttr_summary
    scale: dict[str, Any]  # scaletimeline.ScaleTimeline, with `cadence` (scale_cadence)
    shards: ShardsTimeline
    drain: dict[str, Any]  # nodetimeline.DrainFigures (node-drain)
    node_loss: dict[str, Any]  # nodetimeline.NodeLossFigures (node-loss)
    store_peer_loss: dict[str, Any]  # builders.store_peer_loss: per second, per path, kill, documents


class Load(TypedDict):
    users: int
    per_second: list[dict[str, Any]]  # loadgen.runner.per_second rows: t, rps, p95_ms, failures_per_s…


class PrometheusView(TypedDict, total=False):
    """Prometheus' own view of the run: evidence beside the watches, never the verdict's source."""

    url: str
    window: dict[str, float]  # start, end (epoch s)
    scrape_interval_s: float | None
    queries: dict[str, dict[str, Any]]  # name -> query, step_s, series | unavailable
    screenshot: dict[str, Any]
    unavailable: str


class ClaimSummary(TypedDict):
    """Per claim and phase: checks, how many held, threshold and range seen (probes/claims.py)."""

    claim: str
    phase: str
    op: Any
    checks: int
    met: int
    threshold: Any
    min: float | int | None
    max: float | int | None


class ProcessCost(TypedDict, total=False):
    """`scaleproof.usage.ProcessUsage` with the share of the machine it took."""

    pid: int
    cores: int
    cpu_s: float
    wall_s: float
    rss_peak_mib: float
    machine_share: float | None


class Cost(TypedDict):
    """What measuring took from the machine."""

    cores: int | None
    chaos_process: ProcessCost | None
    load_generator: ProcessCost | None
    events_bytes: int
    events_lines: int
    kills: int
    events_bytes_per_kill: int | None


class Interrupt(TypedDict):
    """A SIGINT/SIGTERM received during the run: the first decides the phase (`verdict.interruption`)."""

    signal: Any
    t: Any
    phase: str
    signals: list[dict[str, Any]]


class Figures(TypedDict):
    """What a kind builder computes: the metrics and the timelines behind them."""

    metrics: dict[str, Metric]
    timelines: Timelines


class StopRecord(TypedDict, total=False):
    """Why a run stopped before its measurement (`scaleproof.stops`)."""

    stage: str  # where it was found (the control's first hook, the gate's target check, …)
    problems: list[str]  # one line each, as `scaleproof validate` prints them
    t: float


class Evidence(TypedDict, total=False):
    """The `scaleproof` extension block, version 1 (docs/evidence-schema.md)."""

    name: str
    version: int
    run_id: str
    run_dir: str
    experiment: ExperimentRef
    git_revision: str | None
    versions: dict[str, str | None]
    images: dict[str, str]
    specs: dict[str, Any]
    configuration: dict[str, str | int | float | bool]  # public settings (no credential)
    touched: list[dict[str, Any]]
    metrics: dict[str, Metric]
    timelines: Timelines
    load: Load
    prometheus: PrometheusView
    claims: list[ClaimSummary]
    cost: Cost
    criteria: list[Criterion]
    artifacts: list[str]
    interrupt: Interrupt
    error: str  # the evidence computation failed: the block is inconclusive
    refused: StopRecord  # the configuration or target is invalid: verdict refused
    precondition: StopRecord  # not at rest before the load: verdict inconclusive, no load
    verdict: Outcome
    verdict_reasons: list[str]
