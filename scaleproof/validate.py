"""`scaleproof validate EXPERIMENT`: every problem with a run's inputs, one line each, before any run.

Three layers of checks, each line naming the configuration entry (and its `SCALEPROOF_*` variable):

1. configuration: types (`env_var_type`), ranges and cross-field rules (`min_ready ≤ replicas`,
   `method_deadline_s < load_run_time_s`), Kubernetes name syntax, label selector syntax, URLs, and
   `SCALEPROOF_*` variables no experiment reads (a typo would silently keep the default);
2. targets (unless `--offline`): the API is reachable with this identity, the Deployment, HPA and
   Service exist in the namespace, the selector selects the Deployment's pods and matches pods;
3. reachability (unless `--offline`): the app, Prometheus and the vector store answer their readiness
   endpoints (one bounded GET each).

`chaos run` loads the configuration before any scaleproof code runs, and a `SCALEPROOF_USERS=ten`
ended in a traceback from chaoslib's `convert_to_type`. This module is also a `chaostoolkit.cli_plugins`
entry point (`chaos scaleproof-validate`), which chaostoolkit imports when `chaos` starts: importing it
wraps chaoslib's `load_configuration` (the one step before any control) so that a type error becomes
chaoslib's own `InvalidExperiment` with our lines, which `chaos run`/`chaos validate` print cleanly
and exit 1 on. The wrapper changes nothing for a configuration that loads.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import yaml

__all__ = [
    "RANGES",
    "check_configuration",
    "check_reachability",
    "check_targets",
    "configuration_refusal",
    "chaos_validate_command",
    "install_chaoslib_guard",
    "validate_experiment",
    "validate_command",
]

REPO = Path(__file__).resolve().parents[1]

# entry -> (minimum, maximum) inclusive; the unit is the entry's suffix (_s: seconds)
RANGES: dict[str, tuple[float, float]] = {
    "users": (1, 1000),
    "replicas": (1, 100),
    "min_ready": (0, 100),
    "kills": (1, 1000),
    "kill_count": (1, 100),
    "kill_interval_s": (0, 3600),
    "max_error_rate": (0.0, 1.0),
    "load_run_time_s": (10, 86400),
    "method_deadline_s": (1, 86400),
    "documents": (1, 1_000_000),
    "target_replicas": (1, 100),
    "scale_timeout_s": (10, 3600),
    "min_nodes": (1, 100),
    "queries": (1, 100_000),
}
NAMES = ("deployment", "hpa", "service")
OPTIONAL_NAMES = ("hpa",)
STORES = ("weaviate", "qdrant")
URLS = ("app_url", "prometheus_url", "weaviate_url", "qdrant_url")
OPTIONAL_URLS = ("prometheus_url",)  # evidence, not the verdict: empty runs without it
READY_PATHS = {
    "app_url": "/readyz",
    "prometheus_url": "/-/ready",
    "weaviate_url": "/v1/.well-known/ready",
    "qdrant_url": "/readyz",
}
# variables read by scaleproof code itself, not through an experiment's configuration
INTERNAL_VARS = frozenset(
    {
        "SCALEPROOF_KUBECONFIG",
        # credential fallbacks when no `secrets` are given (scaleproof/credentials.py)
        "SCALEPROOF_KUBE_CONTEXT",
        "SCALEPROOF_PROMETHEUS_TOKEN",
        "SCALEPROOF_VECTORSTORE_API_KEY",
        "SCALEPROOF_RUN_DIR",
        "SCALEPROOF_STATE_DIR",
        "SCALEPROOF_RUNTIME_DIR",
        "SCALEPROOF_CACHE_DIR",
        "SCALEPROOF_PIP",
        "SCALEPROOF_TOP_K",
        "SCALEPROOF_REQUEST_TIMEOUT_S",
        "SCALEPROOF_QUERY_SEED",
        "SCALEPROOF_QUERY_COUNT",
        # test switches (the e2e fixture refresh, the console fixture), read by tests, not experiments
        "SCALEPROOF_RECORD_EVENTS",
        "SCALEPROOF_REGEN_CONSOLE",
    }
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_TYPES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "int": ("an integer", int),
    "integer": ("an integer", int),
    "float": ("a number", float),
    "number": ("a number", float),
}


# ------------------------------------------------------------------------------------ configuration
def _where(key: str, entry: Mapping[str, Any], env: Mapping[str, str]) -> str:
    var = entry.get("key") if isinstance(entry, Mapping) else None
    if var and var in env:
        return f"{key} ({var}={env[var]!r})"
    return f"{key} (default)" if var else key


def _typed(key: str, entry: Any, env: Mapping[str, str], problems: list[str]) -> tuple[bool, Any]:
    """(ok, value) of one configuration entry after the env override and its declared type."""
    if not (isinstance(entry, Mapping) and entry.get("type") == "env"):
        return True, entry
    var = str(entry.get("key"))
    if var not in env and "default" not in entry:
        problems.append(f"{key}: environment variable {var} is required (no default): set {var}=...")
        return False, None
    raw = env.get(var, entry.get("default"))
    kind = entry.get("env_var_type")
    if kind in _TYPES:
        label, conv = _TYPES[kind]
        try:
            value = conv(str(raw)) if not isinstance(raw, bool) else None
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(str(raw))
            return True, value
        except (TypeError, ValueError):
            problems.append(f"{_where(key, entry, env)}: must be {label}, got {raw!r}")
            return False, None
    return True, raw


def _selector_problems(selector: str) -> str | None:
    """Why an equality/set-based label selector is malformed or empty, else None."""
    if not selector.strip():
        return "must be a non-empty label selector (e.g. app.kubernetes.io/name=searchapp)"
    for term in re.split(r",(?![^()]*\))", selector):
        term = term.strip()
        m = re.match(r"^(!)?([^=!\s()]+)\s*(?:(==|=|!=)\s*(\S*)|\s+(in|notin)\s+\(([^)]*)\))?$", term)
        if not m:
            return f"term {term!r} is not a label selector term (key=value, key!=value, key in (a,b), key)"
        if not _LABEL_KEY.match(m.group(2)):
            return f"label key {m.group(2)!r} is not a valid Kubernetes label key"
        values = [m.group(4)] if m.group(3) else [v.strip() for v in (m.group(6) or "").split(",")]
        if any(v is not None and not _LABEL_VALUE.match(v) for v in values):
            return f"a value in term {term!r} is not a valid label value"
    return None


def _url_problem(value: str) -> str | None:
    u = urlparse(value)
    if u.scheme not in ("http", "https") or not u.hostname:
        return f"must be an http(s) URL with a host, got {value!r}"
    try:
        u.port  # noqa: B018 - raises on a non-numeric or out-of-range port
    except ValueError:
        return f"has an invalid port: {value!r}"
    return None


def _known_vars() -> set[str]:
    out = set(INTERNAL_VARS)
    for path in (REPO / "experiments").glob("*.yaml"):
        try:
            conf = (yaml.safe_load(path.read_text()) or {}).get("configuration") or {}
        except (OSError, yaml.YAMLError):
            continue
        out |= {str(e.get("key")) for e in conf.values() if isinstance(e, Mapping) and e.get("key")}
    return out


def check_configuration(
    config_info: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Problems with the experiment's `configuration` block under `env`, and the values that loaded."""
    env = os.environ if env is None else env
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, entry in config_info.items():
        ok, value = _typed(key, entry, env, problems)
        if ok:
            values[key] = value
    for key, (lo, hi) in RANGES.items():
        if key in values and isinstance(values[key], int | float) and not lo <= values[key] <= hi:
            problems.append(
                f"{_where(key, config_info[key], env)}: must be between {lo:g} and {hi:g}, got {values[key]}"
            )
    _cross_checks(config_info, values, env, problems)
    _string_checks(config_info, values, env, problems)
    declared = {str(e.get("key")) for e in config_info.values() if isinstance(e, Mapping) and e.get("key")}
    known = _known_vars() | declared
    for var in sorted(v for v in env if v.startswith("SCALEPROOF_") and v not in known):
        close = difflib.get_close_matches(var, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{var}: set, but no experiment reads it{hint}; it would be ignored")
    return problems, values


_NODE_COMMANDS = ("node_fault_command", "node_restore_command")
#: whole seconds >= 0, or empty for the pods' own value
_OPTIONAL_SECONDS = ("toleration_seconds", "peer_grace_period_s")


def _node_fault_checks(
    info: Mapping[str, Any], values: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> None:
    """The fault's settings, refused before any load: node-loss's mode (actions.nodeloss.fault_mode
    judges the node), and the optional whole seconds (a toleration, a peer's grace period)."""
    from scaleproof.kobjects import whole_seconds

    for key in (k for k in _OPTIONAL_SECONDS if k in values):
        try:
            whole_seconds(values[key])
        except ValueError as exc:
            problems.append(f"{_where(key, info[key], env)}: {exc}")
    fault = values.get("node_fault")
    if fault is not None and fault not in ("auto", "local", "command"):
        problems.append(
            f"{_where('node_fault', info['node_fault'], env)}: choose auto, local or command, got {fault!r}"
        )
    elif fault == "command" and not all(str(values.get(k) or "").strip() for k in _NODE_COMMANDS):
        problems.append(
            f"{_where('node_fault', info['node_fault'], env)}: 'command' needs both node_fault_command and "
            "node_restore_command (SCALEPROOF_NODE_FAULT_COMMAND / SCALEPROOF_NODE_RESTORE_COMMAND, "
            "e.g. your cloud CLI's stop and start of the instance; $SCALEPROOF_NODE names the node)"
        )


def _cross_checks(
    info: Mapping[str, Any], values: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> None:
    def num(k: str) -> float | None:
        v = values.get(k)
        return float(v) if isinstance(v, int | float) else None

    if (mr := num("min_ready")) is not None and (r := num("replicas")) is not None and mr > r:
        problems.append(f"{_where('min_ready', info['min_ready'], env)}: must be ≤ replicas ({r:g})")
    if (kc := num("kill_count")) is not None and (r := num("replicas")) is not None and kc > r:
        problems.append(
            f"{_where('kill_count', info['kill_count'], env)}: must be ≤ replicas ({r:g}): "
            "no more pods can be killed at once than the workload runs"
        )
    md, lr = num("method_deadline_s"), num("load_run_time_s")
    if md is not None and lr is not None and md >= lr:
        problems.append(
            f"{_where('method_deadline_s', info['method_deadline_s'], env)}: must be shorter than "
            f"load_run_time_s ({lr:g} s): the load has to outlast the faults"
        )
    _node_fault_checks(info, values, env, problems)
    k, ki = num("kills"), num("kill_interval_s")
    if k is not None and ki is not None and md is not None and (k - 1) * ki > md:
        problems.append(
            f"{_where('kills', info['kills'], env)} with "
            f"{_where('kill_interval_s', info['kill_interval_s'], env)}: {k:g} kills {ki:g} s apart need "
            f"at least {(k - 1) * ki:g} s, more than method_deadline_s ({md:g} s)"
        )


def _string_checks(
    info: Mapping[str, Any], values: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> None:
    from scaleproof.kube import FORBIDDEN_NAMESPACES

    ns = values.get("namespace")
    if "namespace" in values:
        if not isinstance(ns, str) or not _DNS_LABEL.match(ns) or len(ns) > 63:
            problems.append(f"{_where('namespace', info['namespace'], env)}: not a valid namespace name")
        elif ns in FORBIDDEN_NAMESPACES:
            problems.append(f"{_where('namespace', info['namespace'], env)}: system namespace refused")
    for key in NAMES:
        v = values.get(key)
        if key in OPTIONAL_NAMES and not v:
            continue  # `hpa: ""`: a fixed-size Deployment (README), nothing to pin or reset
        if key in values and (not isinstance(v, str) or not _DNS_LABEL.match(v) or len(v) > 63):
            problems.append(f"{_where(key, info[key], env)}: not a valid Kubernetes object name, got {v!r}")
    if "selector" in values:
        why = _selector_problems(str(values["selector"] or ""))
        if why:
            problems.append(f"{_where('selector', info['selector'], env)}: {why}")
    for key in URLS:
        if key in OPTIONAL_URLS and not values.get(key):
            continue  # empty: run without it (the README's `SCALEPROOF_PROMETHEUS_URL=`)
        if key in values and (why := _url_problem(str(values[key] or ""))):
            problems.append(f"{_where(key, info[key], env)}: {why}")
    for u in str(values.get("weaviate_metrics_urls") or "").split(","):
        if u.strip() and (why := _url_problem(u.strip())):
            problems.append(f"{_where('weaviate_metrics_urls', info['weaviate_metrics_urls'], env)}: {why}")
    store = values.get("store")
    if "store" in values and store not in STORES:
        problems.append(
            f"{_where('store', info['store'], env)}: must be one of {', '.join(STORES)}, got {store!r}"
        )
    if values.get("app_url") and not _url_problem(str(values["app_url"])):
        from loadgen.runner import allowed_hosts, check_host
        from scaleproof.errors import ScaleproofError

        try:
            check_host(str(values["app_url"]), allowed_hosts(values))
        except ScaleproofError as exc:
            problems.append(f"{_where('app_url', info['app_url'], env)}: {exc}")
    coll = values.get("collection")
    if "collection" in values and not re.match(r"^[A-Z][_0-9A-Za-z]*$", str(coll or "")):
        problems.append(
            f"{_where('collection', info['collection'], env)}: a collection (Weaviate class) name starts "
            f"with an upper-case letter and has only letters, digits and _, got {coll!r}"
        )


def configuration_refusal(
    config_info: Mapping[str, Any], configuration: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> list[str]:
    """What `scaleproof validate --offline` says about the configuration `chaos run` loaded, with the
    same lines. An entry `chaos run --var` overrode (its loaded value differs from what the variable
    or the default gives) is judged by its loaded value."""
    env = os.environ if env is None else env
    _, values = check_configuration(config_info, env)
    info = {
        k: (configuration[k] if k in configuration and k in values and values[k] != configuration[k] else e)
        for k, e in config_info.items()
    }
    return check_configuration(info, env)[0]


# ------------------------------------------------------------------------------------------ targets
def check_targets(values: Mapping[str, Any], configuration: Mapping[str, Any] | None = None) -> list[str]:
    """The identity reaches the API; the named objects exist; the selector selects the Deployment's pods."""
    from scaleproof import kube
    from scaleproof.errors import NotFound, ScaleproofError

    ns, sel = values.get("namespace"), values.get("selector")
    if not ns:
        return []
    cfg = {
        **(configuration or {}),
        **{k: v for k, v in values.items() if k in ("kubeconfig", "kube_context")},
    }
    problems: list[str] = []
    try:
        k = kube.apis(cfg)
        kube.call(k.version.get_code, what="server version", timeout_s=5)
    except ScaleproofError as exc:
        return [f"kubernetes: {exc}"]
    if dep_name := values.get("deployment"):
        try:
            dep = kube.deployment(str(dep_name), str(ns), cfg)
            tpl = ((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}
            if sel and not _selects(str(sel), tpl.get("labels") or {}):
                problems.append(
                    f"selector: {sel!r} does not select the pods of deployment {ns}/{dep_name} "
                    f"(template labels {tpl.get('labels')})"
                )
        except NotFound:
            problems.append(f"deployment: {ns}/{dep_name} not found (does namespace {ns!r} exist?)")
        except ScaleproofError as exc:
            problems.append(f"deployment: {exc}")
    if hpa_name := values.get("hpa"):
        try:
            spec = kube.hpa(str(hpa_name), str(ns), cfg).get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            if dep_name and ref.get("name") != dep_name:
                problems.append(
                    f"hpa: {ns}/{hpa_name} scales {ref.get('name')!r}, not deployment {dep_name!r}"
                )
            problems += _hpa_bound_problems(values, str(hpa_name), spec)
        except NotFound:
            problems.append(f"hpa: {ns}/{hpa_name} not found")
        except ScaleproofError as exc:
            problems.append(f"hpa: {exc}")
    if svc := values.get("service"):
        try:
            body = kube.call(
                k.discovery.list_namespaced_endpoint_slice,
                str(ns),
                label_selector=f"kubernetes.io/service-name={svc}",
                what=f"endpointslices of service {ns}/{svc}",
            )
            if not body.get("items"):
                problems.append(f"service: {ns}/{svc} has no EndpointSlice (does the Service exist?)")
        except ScaleproofError as exc:
            problems.append(f"service: {exc}")
    if sel and not _selector_problems(str(sel)):
        problems += _selector_target_problems(str(ns), str(sel), str(dep_name or ""), cfg)
    return problems


def _hpa_bound_problems(values: Mapping[str, Any], hpa_name: str, spec: Mapping[str, Any]) -> list[str]:
    """A claim of more replicas than the HPA may ever run cannot hold: say so before the run."""
    top = spec.get("maxReplicas")
    if not isinstance(top, int):
        return []
    return [
        f"{key}: {values[key]} replicas claimed, but hpa {hpa_name} allows at most {top} "
        f"(raise its maxReplicas or lower SCALEPROOF_{key.upper()})"
        for key in ("replicas", "target_replicas")
        if isinstance(values.get(key), int) and values[key] > top
    ]


def _selector_target_problems(ns: str, sel: str, deployment: str, cfg: Mapping[str, Any]) -> list[str]:
    """The selector matches pods, and (with a deployment) only that Deployment's pods."""
    from scaleproof import kube
    from scaleproof.errors import ScaleproofError

    try:
        if not kube.list_pods(ns, sel, cfg):
            return [f"selector: {sel!r} matches no pod in namespace {ns!r}"]
        if deployment:
            kube.check_owned(ns, sel, deployment, cfg)
    except ScaleproofError as exc:
        return [f"selector: {exc}"]
    return []


def check_load_config(values: Mapping[str, Any], import_check: bool = True) -> list[str]:
    """The load the experiment would start (request mix or locustfile, load_env) parses and imports."""
    if not any(k in values for k in ("requests", "locustfile")):
        return []
    from loadgen.spec import check_load
    from scaleproof.errors import ScaleproofError

    try:
        check_load(configuration=values, import_check=import_check)
    except (ScaleproofError, ValueError) as exc:
        return [f"load: {exc}"]
    return []


def _selects(selector: str, labels: Mapping[str, str]) -> bool:
    """Equality terms only (what our experiments use); set-based terms are not judged here."""
    for term in selector.split(","):
        if "!=" in term:
            k, _, v = term.partition("!=")
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, _, v = term.replace("==", "=").partition("=")
            if labels.get(k.strip()) != v.strip():
                return False
    return True


def check_reachability(values: Mapping[str, Any], timeout_s: float = 3.0) -> list[str]:
    """One bounded GET on the readiness endpoint of each configured URL."""
    import requests

    problems = []
    for key in URLS:
        url = values.get(key)
        if not url or _url_problem(str(url)):
            continue
        path = str(values.get("ready_path") or READY_PATHS[key]) if key == "app_url" else READY_PATHS[key]
        target = str(url).rstrip("/") + "/" + path.lstrip("/")
        try:
            r = requests.get(target, timeout=timeout_s)
            if r.status_code >= 400:
                problems.append(f"{key}: {target} answered HTTP {r.status_code}")
        except requests.RequestException as exc:
            hint = " (or set SCALEPROOF_PROMETHEUS_URL= to run without the Prometheus view)"
            problems.append(
                f"{key}: {target} unreachable ({type(exc).__name__}); is it deployed and exposed?"
                + (hint if key == "prometheus_url" else "")
            )
    return problems


# ------------------------------------------------------------------------------------------- driver
def validate_experiment(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None, offline: bool = False
) -> list[str]:
    """Every problem, one line each (empty when the experiment can run)."""
    try:
        exp = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        return [f"experiment: cannot read {path}: {exc.strerror}"]
    except yaml.YAMLError as exc:
        return [f"experiment: {path} is not valid YAML: {exc}"]
    if not isinstance(exp, Mapping):
        return [f"experiment: {path} is not a Chaos Toolkit experiment (no mapping at the top)"]
    problems, values = check_configuration(exp.get("configuration") or {}, env)
    if not problems and (shape := _shape_problem(exp)):
        problems.append(shape)
    if not problems:
        problems += check_load_config(values, import_check=not offline)
    if offline or problems:  # no cluster call with a configuration that is already wrong
        return problems
    problems += check_targets(values)
    problems += check_reachability(values)
    return problems


def _shape_problem(exp: Mapping[str, Any]) -> str | None:
    """Chaos Toolkit's own validation (what `chaos validate` says: title, method, providers)."""
    from chaoslib.exceptions import InvalidExperiment
    from chaoslib.experiment import ensure_experiment_is_valid

    try:
        ensure_experiment_is_valid(dict(exp))
    except InvalidExperiment as exc:
        return f"experiment: not a valid Chaos Toolkit experiment: {exc}"
    return None


@click.command("validate")
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--offline", is_flag=True, help="Only the configuration: no Kubernetes API, no HTTP.")
def validate_command(experiment: str, offline: bool) -> None:
    """Check EXPERIMENT's configuration, targets and endpoints; one line per problem, exit 1 on any."""
    problems = validate_experiment(experiment, offline=offline)
    for line in problems:
        click.echo(f"{experiment}: {line}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{experiment}: ok" + (" (configuration only)" if offline else ""))


chaos_validate_command = click.Command(
    "scaleproof-validate",
    callback=validate_command.callback,
    params=validate_command.params,
    help=validate_command.help,
)


# ----------------------------------------------------------------------------------- chaoslib guard
def install_chaoslib_guard() -> bool:
    """Make chaoslib's configuration loader raise `InvalidExperiment` with our lines instead of a bare
    ValueError (which `chaos run` shows as a traceback). Idempotent; False when chaoslib is absent."""
    try:
        import chaoslib.experiment as ce
        import chaoslib.run as cr
        from chaoslib.exceptions import InvalidExperiment
    except ImportError:  # pragma: no cover - installed with the project
        return False
    original = getattr(ce.load_configuration, "_scaleproof_original", ce.load_configuration)

    def load_configuration(config_info: Any, extra_vars: Any = None, *args: Any, **kw: Any) -> Any:
        try:
            return original(config_info, extra_vars, *args, **kw)
        except (TypeError, ValueError) as exc:
            env = dict(os.environ)
            problems, _ = check_configuration(
                {k: v for k, v in (config_info or {}).items() if k not in (extra_vars or {})}, env
            )
            typed = [p for p in problems if "must be" in p or "required" in p] or [f"{exc}"]
            raise InvalidExperiment("invalid configuration:\n  " + "\n  ".join(typed)) from None

    load_configuration._scaleproof_original = original  # type: ignore[attr-defined]
    ce.load_configuration = load_configuration
    cr.load_configuration = load_configuration
    return True


install_chaoslib_guard()
