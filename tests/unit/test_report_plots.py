"""Plots: inspect the Figure objects (titles, axes with units, legends, marks) and byte-stability."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from scaleproof import podtimeline
from scaleproof.report import figures, plots

pytestmark = pytest.mark.unit

FIX = Path(__file__).parents[1] / "fixtures" / "journals"


def evidence(name: str) -> dict[str, Any]:
    return json.loads((FIX / name).read_text())["extensions"][0]


def legend_texts(ax: Any) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def test_hpa_scale_figure() -> None:
    ev = evidence("hpa-scale-pass.json")
    fig = plots.hpa_scale_figure(ev)
    assert fig is not None
    (ax,) = fig.axes
    assert ax.get_xlabel() == "time since load start (s)"
    assert ax.get_ylabel() == "replicas (pods)"
    assert "desired vs ready replicas" in ax.get_title() and ev["run_id"] in ax.get_title()
    assert legend_texts(ax) == ["desired (HPA)", "ready", "target = 3 replicas"]
    lines = ax.get_lines()
    # desired and ready are step plots (drawstyle steps-post) of every replica sample
    steps = [ln for ln in lines if ln.get_drawstyle() == "steps-post"]
    assert len(steps) == 2 and len(steps[0].get_xdata()) == len(ev["timelines"]["scale"]["replicas"])
    # load start at x=0 and one vertical line per HPA decision, at its offset from the load start
    t0 = ev["timelines"]["scale"]["phases"][0]["start"]
    vlines = sorted(ln.get_xdata()[0] for ln in lines if len(set(ln.get_xdata())) == 1 and ln not in steps)
    expected = sorted([0.0] + [d["t"] - t0 for d in ev["timelines"]["scale"]["decisions"]])
    assert vlines == pytest.approx(expected)
    texts = [t.get_text() for t in ax.texts]
    assert (
        " load start" in texts and any("HPA 1→2" in t for t in texts) and any("HPA 2→3" in t for t in texts)
    )
    target = [ln for ln in lines if list(ln.get_ydata()) == [3, 3]]
    assert target, "target line at 3 replicas"


def test_hpa_target_follows_a_replicas_criterion() -> None:
    ev = evidence("hpa-scale-pass.json")
    ev["criteria"][1]["threshold"] = 4
    fig = plots.hpa_scale_figure(ev)
    assert "target = 4 replicas" in legend_texts(fig.axes[0])  # type: ignore[union-attr]


def test_pod_kill_traffic_figure_marks_each_kill() -> None:
    ev = evidence("pod-kill-pass-1.json")
    fig = plots.pod_kill_traffic_figure(ev)
    assert fig is not None
    rps, lat, fail = fig.axes
    assert rps.get_ylabel() == "throughput (req/s)"
    assert lat.get_ylabel() == "latency (ms)"
    assert fail.get_ylabel() == "failures (req/s)"
    assert fail.get_xlabel() == "time since first load sample (s)"
    assert "Pod kill under load" in fig.get_suptitle()
    assert legend_texts(lat) == ["p50", "p95", "pod killed"]
    t0 = ev["load"]["per_second"][0]["t"]
    kills = sorted(t["t"] - t0 for t in ev["touched"])
    for ax in (rps, lat, fail):
        marks = sorted(ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--")
        # an eviction's mark is its timeline's delete-accepted time, kept to the ms
        assert marks == pytest.approx(kills, abs=1e-3)
    assert [t.get_text() for t in rps.texts] == ["kill 1", "kill 2", "kill 3"]


def test_pod_kill_recovery_figure_one_bar_per_kill_segments_are_phases() -> None:
    ev = evidence("pod-kill-deviated.json")
    fig = plots.pod_kill_recovery_figure(ev)
    assert fig is not None
    (ax,) = fig.axes
    kills = ev["timelines"]["kills"]
    assert len(ax.patches) == sum(len(k["phases"]) for k in kills)
    assert ax.get_xlabel() == "time since the victim was deleted (s)"
    assert ax.get_ylabel() == "killed pod"
    assert [t.get_text() for t in ax.texts] == [" MTTR 2.52 s", " MTTR 3.04 s", " MTTR 3.03 s"]
    assert legend_texts(ax) == list(podtimeline.KILL_PHASES)  # every phase of a kill with load, in order
    # segments of the first kill (top bar) tile [0, mttr] in phase order
    first = sorted(
        (p for p in ax.patches if p.get_y() + p.get_height() / 2 == len(kills) - 1), key=lambda p: p.get_x()
    )
    assert first[0].get_x() == pytest.approx(0.0, abs=1e-6)
    assert first[-1].get_x() + first[-1].get_width() == pytest.approx(kills[0]["mttr_s"], abs=0.01)
    labels = {round(y): t.get_text() for y, t in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)}
    assert labels[len(kills) - 1] == f"kill 1\n{kills[0]['victim']}"  # first kill on top
    assert labels[0] == f"kill 3\n{kills[2]['victim']}"


def test_vector_shards_figure_grouped_bars_labelled_with_nodes() -> None:
    ev = evidence("vector-shards-pass.json")
    fig = plots.vector_shards_figure(ev)
    assert fig is not None
    (ax,) = fig.axes
    shards = ev["timelines"]["shards"]["per_shard"]
    assert len(ax.patches) == 2 * len(shards)
    assert legend_texts(ax) == ["documents (objects)", "queries served"]
    assert ax.get_ylabel() == "count (documents / queries)"
    assert ax.get_xlabel() == "shard (node)"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    by_node = sorted(shards, key=lambda s: (str(s["node"]), str(s["shard"])))  # grouped by node
    assert ticks == [f"{s['shard']}\nnode {s['node']}" for s in by_node]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted([s["objects"] for s in shards] + [s["queries"] for s in shards])


def test_figures_for_skips_missing_data() -> None:
    ev = copy.deepcopy(evidence("pod-kill-gate-failed.json"))
    assert figures.figures_for("pod-kill", ev) == {}
    assert list(figures.figures_for("pod-kill", evidence("pod-kill-pass-1.json"))) == ["traffic", "recovery"]
    assert figures.figures_for("unknown-kind", evidence("pod-kill-pass-1.json")) == {}


def test_png_is_byte_stable_and_has_no_software_metadata(tmp_path: Path) -> None:
    ev = evidence("pod-kill-pass-1.json")
    a = plots.save_figure(plots.pod_kill_recovery_figure(ev), tmp_path / "a.png")  # type: ignore[arg-type]
    b = plots.save_figure(plots.pod_kill_recovery_figure(ev), tmp_path / "b.png")  # type: ignore[arg-type]
    data = a.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data == b.read_bytes()
    assert b"matplotlib" not in data.lower() and b"Software" not in data
    assert b"tIME" not in data  # no timestamp chunk
