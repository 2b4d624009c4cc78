"""Ingest loader: posts documents in batches to the search app's ``POST /documents``.

Why retries with bounds: during chaos runs a replica may be draining or the store may be failing
over, and the app then answers 503; a batch is retried with exponential backoff, but never more than
``max_attempts`` times nor past its deadline, so a broken cluster fails the run instead of hanging.
Client errors (4xx) are never retried: the data or the request is wrong.

Why the host check: this tool writes data; it only talks to loopback (the local cluster's NodePort or
a port-forward) unless an explicitly allowed cluster-internal host is given.

CLI: ``python -m loadgen.ingest --url http://127.0.0.1:30080 [--n 100|10000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from typing import TypedDict
from urllib.parse import urlsplit

from .corpus import Document, generate_corpus, load_documents

__all__ = [
    "IngestError",
    "IngestResult",
    "Transport",
    "UrlNotAllowed",
    "check_url",
    "corpus_of_size",
    "ingest",
    "main",
    "urllib_transport",
]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")

# (url, json_body_bytes, timeout_s) -> (status, body_bytes); raises OSError on connection failure.
Transport = Callable[[str, bytes, float], tuple[int, bytes]]


class IngestError(RuntimeError):
    """A batch could not be ingested (4xx, or retries/deadline exhausted)."""


class UrlNotAllowed(ValueError):
    """The base URL's host is neither loopback nor an explicitly allowed cluster-internal host."""


class IngestResult(TypedDict):
    """Counts and durations of one ingest run (durations in seconds)."""

    documents: int
    ingested: int
    batches: int
    attempts: int
    retries: int
    duration_s: float
    docs_per_s: float
    batch_s_min: float
    batch_s_mean: float
    batch_s_max: float
    batch_s_p50: float  # the write cost per batch (e.g. replication 1 vs 2, same ingest)
    batch_s_p95: float


def _is_cluster_internal(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        host = host.lower().rstrip(".")
        return host.endswith(_CLUSTER_SUFFIXES) or ("." not in host and host != "")
    return ip.is_private and not ip.is_loopback


def check_url(base_url: str, allow_hosts: Iterable[str] = ()) -> str:
    """Return the normalised base URL, or raise UrlNotAllowed.

    Allowed: ``localhost`` and 127.0.0.0/8 (and ::1) always; a host listed in ``allow_hosts`` only if
    it is cluster-internal (RFC 1918 address, ``*.svc[.cluster.local]`` or a bare service name).
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlNotAllowed(f"base URL must be http(s)://host[:port], got {base_url!r}")
    host = parts.hostname.lower()
    loopback = host == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not loopback:
        allowed = {h.lower() for h in allow_hosts}
        if host not in allowed:
            raise UrlNotAllowed(
                f"refusing to send data to {host!r}: only localhost/127.0.0.0/8, or a cluster-internal host "
                "passed explicitly with --allow-host, are permitted"
            )
        if not _is_cluster_internal(host):
            raise UrlNotAllowed(f"{host!r} is not a cluster-internal address (private IP or *.svc name)")
    return base_url.rstrip("/")


def urllib_transport(url: str, body: bytes, timeout_s: float) -> tuple[int, bytes]:
    """POST JSON with the standard library; HTTP errors are returned, connection errors raised."""
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - URL checked by check_url
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post_batch(
    url: str,
    batch: Sequence[Document],
    *,
    transport: Transport,
    timeout_s: float,
    max_attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> tuple[int, int]:
    """Post one batch with bounded retries; returns (ingested, attempts)."""
    body = json.dumps({"documents": list(batch)}).encode("utf-8")
    deadline = clock() + timeout_s
    last = ""
    for attempt in range(1, max_attempts + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        try:
            status, raw = transport(url, body, remaining)
        except (OSError, http.client.HTTPException) as exc:  # refused/reset/timeout/truncated
            last = f"connection error: {exc}"
        else:
            if 200 <= status < 300:
                try:
                    return int(json.loads(raw)["ingested"]), attempt
                except (ValueError, KeyError, TypeError) as exc:
                    raise IngestError(f"unexpected response from {url}: {raw[:200]!r}") from exc
            text = raw[:300].decode("utf-8", "replace")
            if status not in RETRY_STATUSES:
                raise IngestError(f"{url} answered {status} (not retried): {text}")
            last = f"HTTP {status}: {text}"
        if attempt < max_attempts:
            pause = min(backoff_s * 2 ** (attempt - 1), 5.0, max(0.0, deadline - clock()))
            logger.warning(
                "batch attempt %d/%d failed (%s); retrying in %.2fs", attempt, max_attempts, last, pause
            )
            sleep(pause)
    raise IngestError(f"batch of {len(batch)} failed after {attempt} attempt(s) within {timeout_s}s: {last}")


def ingest(
    base_url: str,
    documents: Sequence[Document],
    batch_size: int = 50,
    timeout_s: float = 30,
    *,
    max_attempts: int = 5,
    backoff_s: float = 0.25,
    allow_hosts: Iterable[str] = (),
    transport: Transport | None = None,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> IngestResult:
    """Post ``documents`` to ``{base_url}/documents`` in batches; each batch must finish within ``timeout_s``.

    Returns counts and durations; raises IngestError on a 4xx or when a batch exhausts its attempts or
    deadline, UrlNotAllowed for a forbidden host.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    url = check_url(base_url, allow_hosts) + "/documents"
    send = transport or urllib_transport
    total = len(documents)
    ingested = batches = attempts = 0
    batch_times: list[float] = []
    t0 = clock()
    for start in range(0, total, batch_size):
        batch = documents[start : start + batch_size]
        b0 = clock()
        n, tries = _post_batch(
            url,
            batch,
            transport=send,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            sleep=sleep,
            clock=clock,
        )
        batch_times.append(clock() - b0)
        ingested += n
        batches += 1
        attempts += tries
        if progress is not None:
            progress(start + len(batch), total)
    return _result(total, ingested, batches, attempts, clock() - t0, batch_times)


def _result(
    total: int, ingested: int, batches: int, attempts: int, duration: float, batch_times: Sequence[float]
) -> IngestResult:
    return {
        "documents": total,
        "ingested": ingested,
        "batches": batches,
        "attempts": attempts,
        "retries": attempts - batches,
        "duration_s": round(duration, 3),
        "docs_per_s": round(ingested / duration, 1) if duration > 0 else 0.0,
        "batch_s_min": round(min(batch_times), 4) if batch_times else 0.0,
        "batch_s_mean": round(sum(batch_times) / len(batch_times), 4) if batch_times else 0.0,
        "batch_s_max": round(max(batch_times), 4) if batch_times else 0.0,
        "batch_s_p50": _quantile(batch_times, 0.5),
        "batch_s_p95": _quantile(batch_times, 0.95),
    }


def _quantile(xs: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0.0 for no batch."""
    s = sorted(xs)
    if not s:
        return 0.0
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (k - lo), 4)


def corpus_of_size(n: int, seed: int = 0) -> list[Document]:
    """The first ``n`` real documents, topped up with synthetic ones when ``n`` exceeds the real corpus."""
    real = load_documents()
    if n <= len(real):
        return real[:n]
    return real + generate_corpus(n - len(real), seed=seed, documents=real)


def _progress_printer(every: int) -> Callable[[int, int], None]:
    state = {"next": every}

    def report(done: int, total: int) -> None:
        if done >= state["next"] or done == total:
            print(
                f"ingest: {done}/{total} documents ({100 * done / total:.0f}%)", file=sys.stderr, flush=True
            )
            while state["next"] <= done:
                state["next"] += every

    return report


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints the IngestResult as JSON on stdout. Exit 0 ok, 1 ingest failed, 2 usage."""
    parser = argparse.ArgumentParser(prog="python -m loadgen.ingest", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="base URL of the search app, e.g. http://127.0.0.1:30080"
    )
    parser.add_argument("--n", type=int, default=None, help="number of documents (default: the real corpus)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic top-up (default 0)")
    parser.add_argument("--corpus", default=None, help="JSONL file to ingest instead of the bundled corpus")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline per batch in seconds")
    parser.add_argument("--max-attempts", type=int, default=5)
    parser.add_argument(
        "--allow-host", action="append", default=[], help="cluster-internal host to permit (repeatable)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.n is not None and args.n < 1:
        parser.error("--n must be >= 1")
    if args.corpus:
        docs: list[Document] = load_documents(args.corpus)
        if args.n is not None:
            docs = docs[: args.n]
    else:
        docs = corpus_of_size(args.n if args.n is not None else len(load_documents()), seed=args.seed)
    progress = _progress_printer(max(args.batch_size, len(docs) // 20)) if len(docs) > 1000 else None
    try:
        result = ingest(
            args.url,
            docs,
            batch_size=args.batch_size,
            timeout_s=args.timeout,
            max_attempts=args.max_attempts,
            allow_hosts=args.allow_host,
            progress=progress,
        )
    except UrlNotAllowed as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return 2
    except IngestError as exc:
        print(f"ingest: failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
