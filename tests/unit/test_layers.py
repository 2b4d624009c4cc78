"""The direction of imports: a module imports only from its own layer or a lower one, and no two
modules import each other, directly or round a longer loop.

Every import counts, the lazy ones inside functions included: the test reads each module's syntax
tree, not what happens to be imported when it runs. The layer map is the one of docs/architecture.md
(lowest first); a new module fails `test_every_module_has_a_layer` until it is placed in it."""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "scaleproof": ROOT / "scaleproof",
    "probes": ROOT / "probes",
    "actions": ROOT / "actions",
    "loadgen": ROOT / "loadgen",
    "searchapp": ROOT / "app" / "searchapp",
}

# lowest first; a name ending in `.*` also covers the package itself; an exact name wins over a pattern
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "1 figures and types",
        (
            "scaleproof",  # the package: only __version__
            "scaleproof.errors",
            "scaleproof.kobjects",  # readings of Kubernetes objects (ready, owner, timestamps)
            "scaleproof.nodeplan",  # a node fault's plan and safety refusals
            "scaleproof.nodetimeline",  # drain and node-loss timelines
            "scaleproof.phases",  # clocks, the phase chain, load buckets
            "scaleproof.podtimeline",  # kills, MTTR, the Ready series
            "scaleproof.scaletimeline",  # time-to-scale
            "scaleproof.shards",  # shard spread
            "scaleproof.failcount",  # failed requests counted once
            "scaleproof.hpabehavior",  # the HPA's scale-down window for a run
            "scaleproof.summary",  # the end-of-run console summary
            "scaleproof.peerloss",  # store peer loss: per-second query outcomes, documents lost
            "scaleproof.criteria",
            "scaleproof.cadence",
            "scaleproof.floor",
            "scaleproof.verdict",
            "scaleproof.contract",  # the evidence block: one typed contract
            "scaleproof.journal",  # the journal's format: what the verdict and the report read
            "scaleproof.command",  # click plumbing (exit codes) for the verdict's and the report's CLIs
        ),
    ),
    (
        "1 run plumbing",
        (
            "scaleproof.rundir",
            "scaleproof.stops",
            "scaleproof.progress",
            "scaleproof.credentials",
            "scaleproof.waiting",  # the one poll-until-deadline loop
            "scaleproof.procgroup",
            "scaleproof.usage",
            "scaleproof.targetfile",
            "scaleproof.provenance",  # the experiment's hash, git revision, versions
            "scaleproof.builders.*",  # pure builders per kind (they read rundir's phase names)
        ),
    ),
    ("2 Kubernetes access", ("scaleproof.kube", "scaleproof.kubenodes")),
    (
        # the local cluster's layout and its nodes' host plumbing (processes, network, cgroups,
        # freezer): no Kubernetes client, so the undo plan can thaw or start a node
        "2 local cluster nodes",
        ("scaleproof.cluster.config", "scaleproof.cluster.processes", "scaleproof.cluster.nodes"),
    ),
    ("2 undo plan", ("scaleproof.undo", "scaleproof.nodeundo", "scaleproof.cluster.faults")),
    ("3 load generator", ("loadgen.*",)),
    ("3 probes", ("probes.*",)),
    ("3 actions", ("actions.*",)),
    (
        "4 control, report, CLIs",
        (
            "scaleproof.evidence",
            "scaleproof.prometheus_view",  # Prometheus' view of a run, collected by the control
            "scaleproof.report.*",
            "scaleproof.cli",
            "scaleproof.chaosrun",
            "scaleproof.pipeline",
            "scaleproof.validate",
            "scaleproof.refusal",
            "scaleproof.init_target",
            "scaleproof.bench",
            "scaleproof.benchfigures",  # bench's figures, read from journals
            "scaleproof.benchnodes",  # bench's node-fault figures
            "scaleproof.floorrun",  # the cluster's floor workload and its chaos run
            "scaleproof.cluster.*",
        ),
    ),
]
# Cycles are not allowed anywhere; the list stays so that a cycle that must be tolerated for a while
# is named, and checked (a listed cycle that is gone, or grows, fails the test).
KNOWN_CYCLES: list[list[str]] = []
# the application under test: none of ours imports it, it imports none of ours
ISLAND = "searchapp.*"
# the report reads journals: never the cluster, a provider or the control that wrote them
REPORT = "scaleproof.report.*"
NOT_FOR_THE_REPORT = (
    "scaleproof.kube",
    "scaleproof.undo",
    "scaleproof.evidence",
    "loadgen.*",
    "probes.*",
    "actions.*",
)


def matches(name: str, pattern: str) -> bool:
    return name == pattern.removesuffix(".*") or fnmatch.fnmatchcase(name, pattern)


def layer_of(name: str) -> int | None:
    """Index of the module's layer in LAYERS: an exact name first, else the longest pattern."""
    for i, (_, names) in enumerate(LAYERS):
        if name in names:
            return i
    found = [
        (len(p), i) for i, (_, names) in enumerate(LAYERS) for p in names if "*" in p and matches(name, p)
    ]
    return max(found)[1] if found else None


def modules() -> dict[str, Path]:
    """Every module of our packages, by dotted name (a package by its `__init__.py`)."""
    out = {}
    for pkg, base in PACKAGES.items():
        for path in sorted(base.rglob("*.py")):
            parts = [pkg, *path.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def resolve(dotted: str, known: Iterable[str]) -> str | None:
    """The longest prefix of `dotted` that is one of our modules (`scaleproof.kube.call` → kube)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in known:
            return ".".join(parts[:i])
    return None


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that `name` imports anywhere in its file (top level, functions, TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(resolve(a.name, known) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            out.update(resolve(f"{base}.{a.name}", known) for a in node.names)
    return {m for m in out if m and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def upward(edges: Mapping[str, set[str]]) -> list[str]:
    """Every import from a lower layer to a higher one."""
    out = []
    for src, dsts in sorted(edges.items()):
        for dst in sorted(dsts):
            a, b = layer_of(src), layer_of(dst)
            if a is not None and b is not None and b > a:
                out.append(f"{src} ({LAYERS[a][0]}) imports {dst} ({LAYERS[b][0]})")
    return out


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_imports_point_down_the_layers():
    assert upward(graph()) == []


def test_no_import_cycle():
    found = cycles(graph())
    assert [c for c in found if c not in KNOWN_CYCLES] == []
    assert [c for c in KNOWN_CYCLES if c not in found] == [], "gone: delete it from KNOWN_CYCLES"


def test_every_module_has_a_layer():
    unplaced = [m for m in modules() if layer_of(m) is None and not matches(m, ISLAND)]
    assert unplaced == [], "place these in LAYERS (and in docs/architecture.md)"


def test_the_app_under_test_is_an_island():
    edges = graph()
    out = [
        f"{s} imports {d}" for s, ds in edges.items() for d in ds if matches(s, ISLAND) != matches(d, ISLAND)
    ]
    assert out == []


def test_the_report_reads_journals_only():
    edges = graph()
    out = [
        f"{s} imports {d}"
        for s, ds in edges.items()
        if matches(s, REPORT)
        for d in ds
        if any(matches(d, p) for p in NOT_FOR_THE_REPORT)
    ]
    assert out == []


def test_the_check_sees_lazy_and_relative_imports_and_fails_on_what_it_must(tmp_path):
    """The checker itself: an import inside a function and a relative import are edges; an upward
    import and a two-module loop are reported."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    mod = tmp_path / "pkg" / "low.py"
    mod.write_text(
        "from . import sibling\n\n\ndef f():\n"
        "    from probes import kubernetes as kube\n"
        "    import scaleproof.kube\n"
    )
    known = {"pkg", "pkg.low", "pkg.sibling", "probes", "probes.kubernetes", "scaleproof", "scaleproof.kube"}
    assert imports("pkg.low", mod, known) == {"pkg.sibling", "probes.kubernetes", "scaleproof.kube"}
    loop = {"scaleproof.kube": {"probes.kubernetes"}, "probes.kubernetes": {"scaleproof.kube"}}
    assert upward(loop) == ["scaleproof.kube (2 Kubernetes access) imports probes.kubernetes (3 probes)"]
    assert cycles(loop) == [["probes.kubernetes", "scaleproof.kube"]]
    assert layer_of("scaleproof.journal") == 0 and layer_of("scaleproof.report.markdown") == len(LAYERS) - 1
