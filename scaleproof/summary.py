"""The end of `chaos run`: the headline figures and the verdict on the console (issue 22), so nobody
needs a second command to know the outcome. `scaleproof verdict JOURNAL` stays the exit code.

Pure: lines from the evidence block the control has just written (and the journal's continuous
samples); the control prints them with `scaleproof.progress.step`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["HEADLINES", "summary_lines"]

#: the figures a person reads first, per experiment kind (others stay in the evidence and the report)
HEADLINES: dict[str, tuple[str, ...]] = {
    "pod-kill": ("kills", "kills_unrecovered", "mttr_mean_s", "mttr_p95_s", "mttr_max_s", "failed_requests"),
    "hpa-scale": ("time_to_scale_s", "max_ready_replicas", "hpa_flaps", "failed_requests", "error_rate"),
    "vector-shards": (),  # every metric: the shard figures are the headline
}
WIDTH = 200  # a reason longer than this is cut on the console (`scaleproof verdict` prints it whole)
EXIT_CODES = "exit codes of `scaleproof verdict`: 0 pass, 1 fail, 2 inconclusive, 3 unreadable, 5 refused"


def _value(m: Mapping[str, Any]) -> str:
    v = m.get("value")
    if v is None:
        return "n/a"  # why: in the verdict's reasons below
    unit = m.get("unit") or ""
    if isinstance(v, float):
        v = round(v, 3)
    return f"{v} {unit}".strip() if unit not in ("ratio",) else f"{v}"


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def _per_kill(block: Mapping[str, Any]) -> str | None:
    tls = (block.get("timelines") or {}).get("kills") or []
    counts = [t.get("failed_requests") for t in tls]
    if not tls or any(c is None for c in counts):
        return None
    total = (block.get("metrics") or {}).get("failed_requests", {}).get("value")
    return f"failed requests per kill: {counts} (sum {sum(counts)}; run total {total})"


def _continuous(during: Sequence[Mapping[str, Any]] | None) -> str | None:
    if not during:
        return None
    breached = [s for s in during if s and s.get("steady_state_met") is False]
    probes = sorted(
        {
            str((p.get("activity") or {}).get("name"))
            for s in breached
            for p in s.get("probes") or []
            if p.get("tolerance_met") is False or p.get("status") == "failed"
        }
    )
    return f"continuous hypothesis: {len(during)} samples, {len(breached)} breached" + (
        f" ({', '.join(probes)})" if probes else ""
    )


def _stabilisation(journal: Mapping[str, Any] | None) -> str | None:
    """hpa-scale's reset: the HPA's scale-down window before the run, 0 during it, and who restores it."""
    for rec in (journal or {}).get("run") or []:
        out = rec.get("output")
        w = out.get("scale_down_stabilization") if isinstance(out, Mapping) else None
        if isinstance(w, Mapping) and w.get("changed"):
            return (
                f"HPA scale-down stabilisation: {w.get('before_s')} s before the run, 0 s during it "
                f"(scale-up untouched); restored by {w.get('restored_by')}"
            )
    return None


def summary_lines(block: Mapping[str, Any], journal: Mapping[str, Any] | None = None) -> list[str]:
    """A few lines: the figures, the continuous samples, the criteria, the verdict with its reasons."""
    kind = str((block.get("experiment") or {}).get("kind") or block.get("kind") or "")
    metrics = block.get("metrics") or {}
    names = HEADLINES.get(kind) or tuple(sorted(metrics))
    lines = [f"summary ({kind or 'experiment'}):"]
    figures = [f"{n} = {_value(metrics[n])}" for n in names if n in metrics and not block.get("refused")]
    if figures:
        lines.append("  " + "; ".join(figures))
    if kind == "pod-kill" and (per_kill := _per_kill(block)):
        lines.append("  " + per_kill)
    if kind == "hpa-scale" and (stab := _stabilisation(journal)):
        lines.append("  " + stab)
    if cont := _continuous(((journal or {}).get("steady_states") or {}).get("during")):
        lines.append("  " + cont)
    for c in block.get("criteria") or []:
        mark = {True: "met", False: "NOT met", None: "not evaluable"}[c.get("passed")]
        lines.append(f"  criterion {c.get('expr')}: {mark} (value {c.get('value')})")
    outcome = str(block.get("verdict") or "unknown").upper()
    reasons = [_cut(str(r)) for r in block.get("verdict_reasons") or []]
    lines.append(f"VERDICT: {outcome}" + (f": {reasons[0]}" if reasons else ""))
    lines += [f"  also: {r}" for r in reasons[1:4]]
    if len(reasons) > 4:
        lines.append(f"  … {len(reasons) - 4} more reason(s): `scaleproof verdict` lists them all")
    lines.append(f"  ({EXIT_CODES})")
    return lines
