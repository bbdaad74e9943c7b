"""The only code that talks to the MLflow model registry: registered models, versions, aliases, version tags.

Every public function takes `tracking_uri` (default: store.tracking_uri(), i.e. $MLFLOW_TRACKING_URI or the
embedded store) and makes it MLflow's process-wide URI, because `mlflow.pyfunc.load_model("models:/...")`
reads only that one. A version's source run is read through seqsweep.tracking (the tracking store's side).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from seqsweep import locks
from seqsweep.errors import RegistryError, first_line
from seqsweep.registry.tags import (
    CHALLENGER,
    CHAMPION,
    CV_PREFIX,
    HELDOUT_PREFIX,
    TAG_HELDOUT_DATA,
    float_tag,
    tag_value,
)
from seqsweep.tracking import runs

log = logging.getLogger(__name__)


def open_client(tracking_uri: str | None = None):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=runs.use_tracking_uri(tracking_uri))


@contextmanager
def registry_errors(what: str) -> Iterator[None]:
    """MLflow's exceptions (often pages long) -> one-line RegistryError saying what we were doing."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise RegistryError(f"{what}: {first_line(exc)}") from None


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise RegistryError(f"model name must be a non-empty string, got {name!r}")
    if "'" in name or "/" in name or "@" in name:
        # "/" and "@" would make models:/NAME/VERSION and NAME@ALIAS references ambiguous
        raise RegistryError(f"model name must not contain ', / or @, got {name!r}")
    return name


def _model_names(c) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = c.search_registered_models(max_results=100, page_token=token)
        names += [m.name for m in page]
        token = page.token
        if not token:
            return sorted(names)


def _registered_model(c, name: str):
    from mlflow.exceptions import MlflowException

    _check_name(name)
    try:
        return c.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"model {name!r}: {first_line(exc)}") from None
    names = _model_names(c)
    known = ", ".join(names) if names else "none registered yet"
    raise RegistryError(f"no registered model {name!r} (models: {known})")


def _versions(c, name: str) -> list:
    """All versions of `name`, oldest first (with their aliases)."""
    out = []
    token = None
    with registry_errors(f"model {name!r}"):
        while True:
            page = c.search_model_versions(f"name = '{name}'", page_token=token)
            out += list(page)
            token = page.token
            if not token:
                break
    return sorted(out, key=lambda mv: int(mv.version))


def _version_number(version: int | str, name: str) -> int:
    try:
        v = int(str(version).strip())
    except ValueError:
        raise RegistryError(f"model {name!r}: version must be a positive integer, got {version!r}") from None
    if v < 1:
        raise RegistryError(f"model {name!r}: version must be a positive integer, got {version!r}")
    return v


def get_version(c, name: str, version: int | str):
    """The ModelVersion, or RegistryError "model 'x' has no version 7 (versions: 1, 2)"."""
    from mlflow.exceptions import MlflowException

    _registered_model(c, name)
    v = _version_number(version, name)
    try:
        return c.get_model_version(name, str(v))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"model {name!r} version {v}: {first_line(exc)}") from None
    have = ", ".join(str(mv.version) for mv in _versions(c, name)) or "none"
    raise RegistryError(f"model {name!r} has no version {v} (versions: {have})")


def champion_version(c, name: str) -> int | None:
    v = _registered_model(c, name).aliases.get(CHAMPION)
    return None if v is None else int(v)


def set_tags(c, name: str, version: int | str, tags: dict[str, Any]) -> None:
    with registry_errors(f"model {name!r} version {version}: cannot record tags"):
        for key, value in tags.items():
            c.set_model_version_tag(name, str(version), key, tag_value(value))


def move_champion(c, name: str, version: int) -> None:
    with registry_errors(f"model {name!r}: cannot point alias {CHAMPION!r} at version {version}"):
        c.set_registered_model_alias(name, CHAMPION, str(version))
    log.info("%s: alias %s -> version %s", name, CHAMPION, version)


def load_version(name: str, version: int):
    """The version as users load it (pyfunc, models:/ URI); the caller has set the process-wide URI."""
    import mlflow

    uri = f"models:/{name}/{version}"
    with registry_errors(f"cannot load {uri}"):
        return mlflow.pyfunc.load_model(uri)


def load_model(model_uri: str, tracking_uri: str | None = None):
    """Any MLflow model URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/..., a directory), loaded as pyfunc.

    RegistryError (one line) when it cannot be loaded.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    runs.use_tracking_uri(tracking_uri)  # models:/ URIs resolve through the process-wide registry URI
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegistryError(f"cannot load model {model_uri!r}: {first}") from None


# --------------------------------------------------------------------------------------------------------
# Registration


@locks.registry_lock  # one registration or promotion at a time across processes (locks.py)
def register_trial_model(
    model_uri: str, *, model_name: str, tags: dict[str, Any], tracking_uri: str | None = None
):
    """Register `model_uri` (e.g. a ModelInfo.model_uri ``models:/m-...``) as a new version of `model_name`
    (created on first use) with `tags` (e.g. the trial's cv_* metrics and job name), alias `challenger`.

    Returns the new ModelVersion.
    """
    import mlflow

    c = open_client(tracking_uri)
    _check_name(model_name)
    with registry_errors(f"cannot register {model_uri!r} as model {model_name!r}"):
        mv = mlflow.register_model(model_uri, model_name, tags={k: tag_value(v) for k, v in tags.items()})
        c.set_registered_model_alias(model_name, CHALLENGER, mv.version)
        mv = c.get_model_version(model_name, mv.version)
    log.info("registered %s as %s version %s (alias %s)", model_uri, model_name, mv.version, CHALLENGER)
    return mv


# --------------------------------------------------------------------------------------------------------
# Listing and showing (cli/format.py turns these into text)

_LISTED_METRICS = ("weighted_accuracy", "roc_auc", "pr_auc")


def _created(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(sep=" ", timespec="seconds")


def list_versions(name: str | None = None, *, tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """One row per model version (of `name`, or of every registered model), sorted by name then version.

    Row: name, version, aliases, cv_* and heldout_* metrics (None when not recorded), heldout_data, created,
    run_id.
    """
    c = open_client(tracking_uri)
    names = [_registered_model(c, name).name] if name is not None else _model_names(c)
    rows: list[dict[str, Any]] = []
    for n in names:
        # search_model_versions leaves ModelVersion.aliases empty on some stores; the model's map is reliable
        by_version: dict[int, list[str]] = {}
        for alias, v in _registered_model(c, n).aliases.items():
            by_version.setdefault(int(v), []).append(alias)
        for mv in _versions(c, n):
            v = int(mv.version)
            row: dict[str, Any] = {"name": n, "version": v, "aliases": sorted(by_version.get(v, []))}
            for prefix in (CV_PREFIX, HELDOUT_PREFIX):
                for m in _LISTED_METRICS:
                    row[f"{prefix}{m}"] = float_tag(mv.tags, f"{prefix}{m}")
            row["heldout_data"] = mv.tags.get(TAG_HELDOUT_DATA)
            row["created"] = _created(mv.creation_timestamp)
            row["run_id"] = mv.run_id
            rows.append(row)
    return rows


def _parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """'NAME@ALIAS' | 'NAME/VERSION' (optionally prefixed 'models:/') -> (name, alias, version)."""
    text = ref.strip()
    if text.startswith("models:/"):
        text = text[len("models:/"):]
    if "@" in text:
        name, alias = text.split("@", 1)
        if name and alias:
            return name, alias, None
    elif "/" in text:
        name, version = text.rsplit("/", 1)
        if name and version:
            return name, None, version
    raise RegistryError(f"model reference must be NAME@ALIAS or NAME/VERSION, got {ref!r}")


def show(ref: str, *, tracking_uri: str | None = None) -> dict[str, Any]:
    """Everything about one version: ref 'NAME@ALIAS' or 'NAME/VERSION'.

    Keys: name, version, aliases, tags, created, source, model_id, run (id, name, status, params, tags of
    the trial run that produced it) and sweep (id, name, tags of its parent run, e.g. the job).
    """
    c = open_client(tracking_uri)
    name, alias, version = _parse_ref(ref)
    if alias is not None:
        rm = _registered_model(c, name)
        if alias not in rm.aliases:
            have = ", ".join(sorted(rm.aliases)) or "none"
            raise RegistryError(f"model {name!r} has no alias {alias!r} (aliases: {have})")
        mv = get_version(c, name, rm.aliases[alias])
    else:
        mv = get_version(c, name, version)
    out: dict[str, Any] = {
        "name": name,
        "version": int(mv.version),
        "aliases": sorted(mv.aliases or []),
        "tags": dict(sorted(mv.tags.items())),
        "created": _created(mv.creation_timestamp),
        "source": mv.source,
        "model_id": getattr(mv, "model_id", None),
        "run": None,
        "sweep": None,
    }
    if mv.run_id:
        out["run"], out["sweep"] = runs.run_and_sweep(c, mv.run_id)
    return out
