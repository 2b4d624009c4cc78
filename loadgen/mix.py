"""A declarative request mix, for teams without a locustfile of their own.

`SCALEPROOF_REQUESTS` (configuration `requests`) lists weighted requests, separated by commas:

    GET /get 9, POST /api/orders {"qty": 1, "sku": "a"} 1, GET /healthz

Each entry is `METHOD PATH [JSON-BODY] [WEIGHT]` (weight defaults to 1). Commas inside the JSON body
are fine: entries are split only at top-level commas. `loadgen/mix_locustfile.py` turns the parsed
mix into Locust tasks in the load subprocess; the chaos process parses the same text first, so a bad
line stops the run before any fault.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from scaleproof.errors import LoadError

__all__ = ["ENV_VAR", "METHODS", "MixRequest", "parse_mix", "split_entries"]

ENV_VAR = "SCALEPROOF_REQUESTS"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class MixRequest(TypedDict):
    method: str
    path: str
    body: Any
    weight: int


def split_entries(text: str) -> list[str]:
    """Split at commas outside JSON braces/brackets and strings."""
    entries: list[str] = []
    cur: list[str] = []
    depth, in_str, escaped = 0, False, False
    for ch in text:
        if in_str:
            escaped = (ch == "\\") and not escaped
            if ch == '"' and not escaped:
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 0:
            entries.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    entries.append("".join(cur).strip())
    return [e for e in entries if e]


def _entry(raw: str) -> MixRequest:
    head, _, rest = raw.partition(" ")
    method = head.strip().upper()
    if method not in METHODS:
        raise ValueError(f"method {head!r} is not one of {', '.join(sorted(METHODS))}")
    rest = rest.strip()
    path, _, rest = rest.partition(" ")
    if not path.startswith("/"):
        raise ValueError(f"path {path or '(missing)'!r} must start with '/'")
    rest = rest.strip()
    weight = 1
    tail = rest.rsplit(" ", 1)
    if tail[-1].isdigit() and not (len(tail) == 1 and rest.startswith(("{", "["))):
        weight = int(tail[-1])
        rest = tail[0].strip() if len(tail) == 2 else ""
    if weight < 1:
        raise ValueError(f"weight must be >= 1, got {weight}")
    body: Any = None
    if rest:
        try:
            body = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ValueError(f"body {rest!r} is not JSON ({exc.msg} at column {exc.colno})") from exc
    return {"method": method, "path": path, "body": body, "weight": weight}


def parse_mix(text: str | None) -> list[MixRequest]:
    """The parsed mix. Raises LoadError naming the configuration field and the bad entry."""
    if not text or not text.strip():
        raise LoadError("configuration `requests` (SCALEPROOF_REQUESTS) is empty: give e.g. 'GET / 1'")
    out: list[MixRequest] = []
    for i, raw in enumerate(split_entries(text), 1):
        try:
            out.append(_entry(raw))
        except ValueError as exc:
            raise LoadError(
                f"configuration `requests` (SCALEPROOF_REQUESTS), entry {i} {raw!r}: {exc}; "
                "expected `METHOD /path [JSON-body] [weight]`"
            ) from exc
    return out
