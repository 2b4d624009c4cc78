"""Run Locust headless as a bounded subprocess, stop it, and read its per-second stats.

Locust must not run inside the `chaos` process (its gevent monkey-patching hung the run), so it is a
subprocess in its own session/process group: stop = SIGTERM to the group (Locust then writes its final
stats), SIGKILL after a deadline. Every run is bounded: users ≤ MAX_USERS, `--run-time` ≤ MAX_RUN_TIME_S,
host on 127.0.0.0/8 (or an explicitly allowed cluster address).

Per-second stats (`per_second`): exact 1 s buckets from Locust's final `--json-file`
(`num_reqs_per_sec`/`num_fail_per_sec`, keyed by the Unix second the request completed) when present,
else differences of the cumulative counters of `<prefix>_stats_history.csv` (`--csv-full-history`).
Locust's own `Requests/s`/`Failures/s` history columns are 10 s trailing averages lagging 2 s, so
they are never used for outage windows.

CLI: `python -m loadgen.runner run --host http://127.0.0.1:30080 --users 10 --run-time 60 --csv DIR/load`
(foreground, bounded) and `python -m loadgen.runner stats DIR/load` (per-second JSON).
"""

from __future__ import annotations

import csv
import ipaddress
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlparse

import click

from scaleproof.command import ExitCodeCommand, call
from scaleproof.errors import LoadError
from scaleproof.procgroup import CHILDREN as _CHILDREN  # the group leaders started here (undo stops them too)
from scaleproof.procgroup import stop

__all__ = [
    "MAX_RUN_TIME_S",
    "MAX_USERS",
    "LoadHandle",
    "PerSecond",
    "allowed_hosts",
    "build_command",
    "check_host",
    "main",
    "load_queries",
    "per_second",
    "start",
    "stop",
]

logger = logging.getLogger(__name__)

MAX_USERS = 200
MAX_RUN_TIME_S = 3600
# the reference app's load; the framework has no default load (a team gives its own, see actions.load)
SEARCHAPP_LOCUSTFILE = str(Path(__file__).with_name("searchapp_locustfile.py"))
MIX_LOCUSTFILE = str(Path(__file__).with_name("mix_locustfile.py"))


class LoadHandle(TypedDict):
    pid: int
    pgid: int
    cmd: list[str]
    csv_prefix: str
    json_file: str
    log: str
    started: float
    users: int
    run_time_s: int
    host: str


class PerSecond(TypedDict, total=False):
    t: float
    users: int
    requests: int
    failures: int
    rps: float
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    source: str


def allowed_hosts(
    configuration: Mapping[str, Any] | None, given: Iterable[str] | str | None = None
) -> list[str]:
    """The hosts besides loopback that may receive load (`check_host`): `given` (an action's
    `allowed_hosts`) else configuration `load_allowed_hosts`, a comma-separated string or a list."""
    raw = given if given is not None else (configuration or {}).get("load_allowed_hosts", "")
    if raw is None:
        return []
    if isinstance(raw, list | tuple | set):
        return [str(h) for h in raw]
    return [h.strip() for h in str(raw).split(",") if h.strip()]


def check_host(host: str, allowed: Iterable[str] = ()) -> str:
    """Return the host URL if its address is on 127.0.0.0/8 (or `localhost`), or matches an entry of
    `allowed` (exact hostname/IP or CIDR). Raises LoadError otherwise: load goes nowhere else."""
    u = urlparse(host)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise LoadError(f"load host must be an http(s) URL with a host, got {host!r}")
    name = u.hostname
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if name == "localhost" or (ip is not None and ip in ipaddress.ip_network("127.0.0.0/8")):
        return host
    for entry in allowed:
        entry = str(entry).strip()
        if not entry:
            continue
        if entry == name:
            return host
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return host
            except ValueError:
                continue
    raise LoadError(
        f"refusing to send load to {name}: only 127.0.0.0/8 or an explicitly allowed cluster address "
        "(configuration `load_allowed_hosts`) may receive load"
    )


def build_command(
    host: str,
    users: int,
    spawn_rate: float,
    run_time_s: int,
    csv_prefix: str,
    locustfile: str | None = None,
    allowed_hosts: Iterable[str] = (),
    python: str | None = None,
) -> list[str]:
    """The bounded Locust command line (validated)."""
    check_host(host, allowed_hosts)
    if not isinstance(users, int) or isinstance(users, bool) or not 1 <= users <= MAX_USERS:
        raise LoadError(f"users must be an integer in 1..{MAX_USERS}, got {users!r}")
    if not 0 < float(spawn_rate) <= MAX_USERS:
        raise LoadError(f"spawn_rate must be in (0, {MAX_USERS}], got {spawn_rate!r}")
    if (
        not isinstance(run_time_s, int)
        or isinstance(run_time_s, bool)
        or not 1 <= run_time_s <= MAX_RUN_TIME_S
    ):
        raise LoadError(f"run_time_s must be an integer in 1..{MAX_RUN_TIME_S}, got {run_time_s!r}")
    return [
        python or sys.executable,
        "-m",
        "locust",
        "-f",
        locustfile or SEARCHAPP_LOCUSTFILE,
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        f"{float(spawn_rate):g}",
        "--run-time",
        f"{run_time_s}s",
        "--stop-timeout",
        "5",
        "--csv",
        csv_prefix,
        "--csv-full-history",
        "--json-file",
        csv_prefix + "_final",
        "--only-summary",
        "--loglevel",
        "INFO",
    ]


def start(
    host: str,
    users: int = 10,
    spawn_rate: float = 5.0,
    run_time_s: int = 120,
    csv_prefix: str = "load",
    locustfile: str | None = None,
    allowed_hosts: Iterable[str] = (),
    env: dict[str, str] | None = None,
) -> LoadHandle:
    """Start Locust in its own session (process group = its pid); returns the handle at once."""
    cmd = build_command(host, users, spawn_rate, run_time_s, csv_prefix, locustfile, allowed_hosts)
    Path(csv_prefix).parent.mkdir(parents=True, exist_ok=True)
    log = csv_prefix + "_locust.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(log, "ab") as fh:
        try:
            proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=full_env
            )
        except OSError as exc:
            raise LoadError(f"cannot start Locust ({cmd[0]} -m locust): {exc}") from exc
    _CHILDREN[proc.pid] = proc
    return {
        "pid": proc.pid,
        "pgid": proc.pid,
        "cmd": cmd,
        "csv_prefix": csv_prefix,
        "json_file": csv_prefix + "_final.json",
        "log": log,
        "started": time.time(),
        "users": users,
        "run_time_s": run_time_s,
        "host": host,
    }


FALLBACK_QUERIES = [
    "how do kubernetes pods recover",
    "horizontal pod autoscaler cpu target",
    "vector database sharding",
    "readiness probe failure",
    "replica set owner reference",
    "search latency under load",
    "weaviate shards per node",
    "chaos engineering steady state",
]


def load_queries(n: int, seed: int) -> list[str]:
    """`n` query strings: `loadgen.corpus.queries(n, seed)` when the corpus helper is installed, else
    a seeded pick from a small built-in list (the load keeps running without the helper)."""
    try:
        from loadgen.corpus import queries  # type: ignore[attr-defined]

        qs = [q if isinstance(q, str) else str(q.get("query", q)) for q in queries(n, seed)]
        if qs:
            return qs
    except Exception:  # corpus helper missing or broken
        logger.debug("loadgen.corpus.queries unavailable; using the fallback queries")
    import random

    rng = random.Random(seed)
    return [rng.choice(FALLBACK_QUERIES) for _ in range(n)]


# ----------------------------------------------------------------------------------------------- stats
def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f


def read_history(csv_prefix: str) -> list[dict[str, Any]]:
    """Aggregated rows of `<prefix>_stats_history.csv` (one per ~second), by timestamp."""
    path = Path(csv_prefix + "_stats_history.csv")
    if not path.exists():
        return []
    rows: dict[int, dict[str, Any]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("Name") != "Aggregated":
                continue
            ts = _num(row.get("Timestamp"))
            if ts is None:
                continue
            rows[int(ts)] = row  # keep the last row of a second
    return [rows[k] for k in sorted(rows)]


def _json_buckets(json_file: Path) -> tuple[dict[int, int], dict[int, int]] | None:
    if not json_file.exists():
        return None
    try:
        entries = json.loads(json_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    reqs: dict[int, int] = {}
    fails: dict[int, int] = {}
    for e in entries if isinstance(entries, list) else []:
        for src, dst in (("num_reqs_per_sec", reqs), ("num_fail_per_sec", fails)):
            for k, v in (e.get(src) or {}).items():
                dst[int(float(k))] = dst.get(int(float(k)), 0) + int(v)
    return reqs, fails


def per_second(csv_prefix: str) -> list[PerSecond]:
    """Per-second load records `{"t", "users", "requests", "failures", "rps", "failures_per_s",
    "p50_ms", "p95_ms", "source"}` (t = start of the 1 s bucket, Unix seconds)."""
    hist = read_history(csv_prefix)
    users = {int(float(r["Timestamp"])): int(_num(r.get("User Count")) or 0) for r in hist}
    pct = {int(float(r["Timestamp"])): (_num(r.get("50%")), _num(r.get("95%"))) for r in hist}
    buckets = _json_buckets(Path(csv_prefix + "_final.json"))
    out: list[PerSecond] = []
    if buckets is not None and (buckets[0] or buckets[1]):
        reqs, fails = buckets
        secs = sorted(set(reqs) | set(fails) | set(users))
        last_users = 0
        for s in range(secs[0], secs[-1] + 1) if secs else []:
            last_users = users.get(s, last_users)
            n, f = reqs.get(s, 0), fails.get(s, 0)
            p50, p95 = pct.get(s, (None, None))
            out.append(
                {
                    "t": float(s),
                    "users": last_users,
                    "requests": n,
                    "failures": f,
                    "rps": float(n),
                    "failures_per_s": float(f),
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "source": "locust-json",
                }
            )
        return out
    prev_req = prev_fail = 0
    prev_t: int | None = None
    for r in hist:
        t = int(float(r["Timestamp"]))
        tot_req = int(_num(r.get("Total Request Count")) or 0)
        tot_fail = int(_num(r.get("Total Failure Count")) or 0)
        if prev_t is not None:
            dt = max(1, t - prev_t)
            n, f = max(0, tot_req - prev_req), max(0, tot_fail - prev_fail)
            p50, p95 = pct.get(t, (None, None))
            out.append(
                {
                    "t": float(prev_t),
                    "users": users.get(t, 0),
                    "requests": n,
                    "failures": f,
                    "rps": n / dt,
                    "failures_per_s": f / dt,
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "source": "csv-delta",
                }
            )
        prev_t, prev_req, prev_fail = t, tot_req, tot_fail
    return out


# ------------------------------------------------------------------------------------------------- CLI
@click.group(
    "python -m loadgen.runner",
    help=__doc__.split("\n\n")[0],
    context_settings={"help_option_names": ["-h", "--help"]},
)
def cli() -> None:
    pass


@cli.command(
    "run",
    cls=ExitCodeCommand,
    short_help="run Locust in the foreground (bounded), then print per-second stats",
    help="Run Locust in the foreground (bounded), then print per-second stats. Exit 2 on a refused "
    "or failed load.",
)
@click.option("--host", required=True)
@click.option("--users", type=int, default=10, show_default=True)
@click.option("--spawn-rate", type=float, default=5.0, show_default=True)
@click.option("--run-time", type=int, default=60, show_default=True, help="seconds")
@click.option("--csv", "prefix", required=True, help="CSV prefix, e.g. journals/runs/x/load")
@click.option("--allow-host", multiple=True, help="extra allowed address/CIDR (repeatable)")
def run_command(
    host: str, users: int, spawn_rate: float, run_time: int, prefix: str, allow_host: tuple[str, ...]
) -> int:
    try:
        h = start(host, users, spawn_rate, run_time, prefix, allowed_hosts=list(allow_host))
        proc = _CHILDREN[h["pid"]]
        try:
            proc.wait(timeout=run_time + 30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            stop(h["pid"])
        stop(h["pid"])
        print(json.dumps(per_second(prefix), indent=1))
        return 0
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


@cli.command(
    "stats",
    cls=ExitCodeCommand,
    short_help="print per-second stats of a finished run as JSON",
    help="Print the per-second stats of a finished run (CSV PREFIX) as JSON.",
)
@click.argument("prefix")
def stats_command(prefix: str) -> int:
    try:
        print(json.dumps(per_second(prefix), indent=1))
        return 0
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m loadgen.runner ARGS...` from Python: the exit code."""
    return call(cli, argv, "python -m loadgen.runner")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
