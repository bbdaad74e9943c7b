"""The only module that talks to the MLflow model registry.

A sweep's best trial becomes a new version of a registered model with the alias `challenger`; it takes the
alias `champion` only when it beats the current champion (`promote_if_better`), or when a person says so
(`promote`, which refuses to replace a better champion unless forced). Aliases only: MLflow's stages are
deprecated.

What is recorded where:
  * on the model version, as tags: the trial's CV metrics (`cv_weighted_accuracy`, ... set at registration
    by the caller), the held-out metrics of `evaluate_version` (`heldout_weighted_accuracy`, ... plus the
    data's name and fingerprint) and the last promotion decision (`promotion.*`). Tags are what the
    registry UI shows next to a version and what `promote` reads back later, from the registry alone.
  * on the version's source run (the trial's run), as artifacts: the ROC, PR and confusion-matrix PNGs of
    each evaluation, under `evaluation/<model>/v<version>/`. The registry stores no files of its own, and
    adding them to the logged model would change the package people download and serve; the run is where
    the MLflow UI shows a trial's files.

Every public function takes `tracking_uri` (default: store.tracking_uri(), i.e. $MLFLOW_TRACKING_URI or the
embedded store) and makes it MLflow's process-wide URI, because `mlflow.pyfunc.load_model("models:/...")`
reads only that one.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep import store
from seqsweep.data.dataset import Dataset
from seqsweep.errors import RegistryError

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
#: Metrics a promotion can be decided on (higher is better for all of them).
PROMOTION_METRICS = ("weighted_accuracy", "roc_auc", "pr_auc")
CV_PREFIX = "cv_"  # tags set at registration from the trial's k-fold scores
HELDOUT_PREFIX = "heldout_"  # tags set by evaluate_version
TAG_HELDOUT_DATA = "heldout_data"
TAG_HELDOUT_FINGERPRINT = "heldout_fingerprint"
TAG_HELDOUT_ROWS = "heldout_rows"
PROMOTION_PREFIX = "promotion."


@dataclass(frozen=True)
class PromotionDecision:
    """What a promotion did and why.

    basis: "held-out" (scores measured now on the given data), "cv" (k-fold scores recorded on the
    versions), or "none" (no comparable scores, or no champion to compare with).
    """

    promoted: bool
    reason: str
    challenger_score: float | None
    champion_score: float | None
    champion_version_before: int | None
    metric: str
    basis: str
    model_name: str = ""
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------------
# Plumbing: the client, errors, version lookup


def _client(tracking_uri: str | None = None):
    import mlflow

    uri = store.tracking_uri(tracking_uri)
    if mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _registry_errors(what: str) -> Iterator[None]:
    """MLflow's exceptions (often pages long) -> one-line RegistryError saying what we were doing."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise RegistryError(f"{what}: {_first_line(exc)}") from None


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
            raise RegistryError(f"model {name!r}: {_first_line(exc)}") from None
    names = _model_names(c)
    known = ", ".join(names) if names else "none registered yet"
    raise RegistryError(f"no registered model {name!r} (models: {known})")


def _versions(c, name: str) -> list:
    """All versions of `name`, oldest first (with their aliases)."""
    out = []
    token = None
    with _registry_errors(f"model {name!r}"):
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


def _get_version(c, name: str, version: int | str):
    """The ModelVersion, or RegistryError "model 'x' has no version 7 (versions: 1, 2)"."""
    from mlflow.exceptions import MlflowException

    _registered_model(c, name)
    v = _version_number(version, name)
    try:
        return c.get_model_version(name, str(v))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"model {name!r} version {v}: {_first_line(exc)}") from None
    have = ", ".join(str(mv.version) for mv in _versions(c, name)) or "none"
    raise RegistryError(f"model {name!r} has no version {v} (versions: {have})")


def _champion_version(c, name: str) -> int | None:
    v = _registered_model(c, name).aliases.get(CHAMPION)
    return None if v is None else int(v)


def _tag_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # full precision; repr(nan) == 'nan' parses back with float()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _float_tag(tags: dict[str, str], key: str) -> float | None:
    raw = tags.get(key)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _set_tags(c, name: str, version: int | str, tags: dict[str, Any]) -> None:
    with _registry_errors(f"model {name!r} version {version}: cannot record tags"):
        for key, value in tags.items():
            c.set_model_version_tag(name, str(version), key, _tag_value(value))


# --------------------------------------------------------------------------------------------------------
# Registration and evaluation


def register_trial_model(
    model_uri: str, *, model_name: str, tags: dict[str, Any], tracking_uri: str | None = None
):
    """Register `model_uri` (e.g. a ModelInfo.model_uri ``models:/m-...``) as a new version of `model_name`
    (created on first use) with `tags` (e.g. the trial's cv_* metrics and job name), alias `challenger`.

    Returns the new ModelVersion.
    """
    import mlflow

    c = _client(tracking_uri)
    _check_name(model_name)
    with _registry_errors(f"cannot register {model_uri!r} as model {model_name!r}"):
        mv = mlflow.register_model(model_uri, model_name, tags={k: _tag_value(v) for k, v in tags.items()})
        c.set_registered_model_alias(model_name, CHALLENGER, mv.version)
        mv = c.get_model_version(model_name, mv.version)
    log.info("registered %s as %s version %s (alias %s)", model_uri, model_name, mv.version, CHALLENGER)
    return mv


def _load_version(name: str, version: int):
    import mlflow

    uri = f"models:/{name}/{version}"
    with _registry_errors(f"cannot load {uri}"):
        return mlflow.pyfunc.load_model(uri)


def _model_input(model, dataset: Dataset):
    """The Dataset as the DataFrame the served model takes (so evaluation goes through the served path)."""
    import pandas as pd

    from seqsweep.data import decode

    df = pd.DataFrame({"sequence": decode(dataset.X)})
    schema = model.metadata.get_input_schema()
    wants_accessibility = schema is not None and "accessibility" in schema.input_names()
    if wants_accessibility:
        if dataset.a is None:
            raise RegistryError(
                f"{dataset.source}: the model needs accessibility values, and this dataset has none"
            )
        df["accessibility"] = dataset.a.astype(np.float64)
    return df


def _plots(out_dir: Path, title: str, y: np.ndarray, p: np.ndarray, w: np.ndarray, m: dict[str, float]) -> None:
    """roc.png, pr.png and confusion.png in `out_dir`.

    Figures are built with matplotlib's object API (a bare Figure saves to PNG through Agg by itself), not
    pyplot: no global backend switch, no figure registry to leak from a long-running process.
    """
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve, roc_curve

    def save(fig: Figure, name: str) -> None:
        fig.savefig(out_dir / name, dpi=100)  # layout="constrained" below: one draw, unlike bbox_inches="tight"

    if len(np.unique(y)) == 2:  # curves need both classes
        fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
        fig = Figure(figsize=(4.5, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(fpr, tpr, label=f"ROC AUC {m['roc_auc']:.3f}")
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
        ax.set(xlabel="false positive rate (weighted)", ylabel="true positive rate (weighted)", title=title)
        ax.legend(loc="lower right")
        save(fig, "roc.png")

        precision, recall, _ = precision_recall_curve(y, p, sample_weight=w)
        fig = Figure(figsize=(4.5, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(recall, precision, label=f"PR AUC {m['pr_auc']:.3f}")
        ax.set(xlabel="recall (weighted)", ylabel="precision (weighted)", title=title, ylim=(0, 1.02))
        ax.legend(loc="upper right")
        save(fig, "pr.png")

    counts = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]], dtype=np.int64)
    fig = Figure(figsize=(4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > counts.max() / 2 else "black")
    ax.set(
        xticks=[0, 1], yticks=[0, 1], xticklabels=["0", "1"], yticklabels=["0", "1"],
        xlabel="predicted label (probability > 0.5)", ylabel="true label",
        title=f"{title}\nrow counts; weighted accuracy {m['weighted_accuracy']:.3f}",
    )
    save(fig, "confusion.png")


def evaluate_version(
    model_name: str, version: int | str, dataset: Dataset, *, tracking_uri: str | None = None
) -> dict[str, float]:
    """Score version `version` of `model_name` on `dataset`, loaded as users load it (pyfunc, models:/ URI).

    Returns seqsweep.metrics.evaluate_proba's dict (weighted_accuracy, roc_auc, pr_auc, precision, recall,
    f1, tn, fp, fn, tp), weighted by dataset.w. Records them on the version as `heldout_*` tags (with the
    data's source, fingerprint and row count) and logs ROC/PR/confusion PNGs to the version's source run.
    """
    from seqsweep.data import fingerprint
    from seqsweep.metrics import evaluate_proba

    c = _client(tracking_uri)
    mv = _get_version(c, model_name, version)
    v = int(mv.version)
    model = _load_version(model_name, v)
    df = _model_input(model, dataset)
    p = model.predict(df)["probability"].to_numpy(dtype=np.float64)
    metrics = evaluate_proba(dataset.y, p, dataset.w)
    tags: dict[str, Any] = {f"{HELDOUT_PREFIX}{k}": float(val) for k, val in metrics.items()}
    tags[TAG_HELDOUT_DATA] = dataset.source
    tags[TAG_HELDOUT_FINGERPRINT] = fingerprint(dataset)
    tags[TAG_HELDOUT_ROWS] = len(dataset)
    _set_tags(c, model_name, v, tags)
    if mv.run_id:
        artifact_dir = f"evaluation/{model_name}/v{v}"
        with tempfile.TemporaryDirectory(prefix="seqsweep-eval-") as tmp:
            _plots(Path(tmp), f"{model_name} v{v} on {Path(dataset.source).name}", dataset.y, p, dataset.w, metrics)
            (Path(tmp) / "metrics.json").write_text(
                json.dumps({"data": dataset.source, "rows": len(dataset), **metrics}, indent=2) + "\n"
            )
            with _registry_errors(f"model {model_name!r} version {v}: cannot log plots to run {mv.run_id}"):
                c.log_artifacts(mv.run_id, tmp, artifact_path=artifact_dir)
        log.info("evaluation plots of %s v%s: run %s, artifacts %s/", model_name, v, mv.run_id, artifact_dir)
    else:
        log.warning("%s v%s has no source run; evaluation plots not stored", model_name, v)
    return metrics


# --------------------------------------------------------------------------------------------------------
# Promotion


def _check_metric(metric: str) -> str:
    if metric not in PROMOTION_METRICS:
        raise RegistryError(f"promotion metric must be one of {', '.join(PROMOTION_METRICS)}, got {metric!r}")
    return metric


def _cv_score(mv, metric: str, role: str) -> float:
    key = f"{CV_PREFIX}{metric}"
    score = _float_tag(mv.tags, key)
    if score is None:
        raise RegistryError(
            f"model {mv.name!r} version {mv.version} ({role}) has no tag {key!r} to compare without held-out "
            "data; pass test data (--test) to compare on it instead"
        )
    return score


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _record(c, decision: PromotionDecision) -> None:
    _set_tags(
        c,
        decision.model_name,
        decision.version,
        {
            f"{PROMOTION_PREFIX}decision": "promoted" if decision.promoted else "not promoted",
            f"{PROMOTION_PREFIX}reason": decision.reason,
            f"{PROMOTION_PREFIX}metric": decision.metric,
            f"{PROMOTION_PREFIX}basis": decision.basis,
            f"{PROMOTION_PREFIX}challenger_score": _fmt(decision.challenger_score),
            f"{PROMOTION_PREFIX}champion_score": _fmt(decision.champion_score),
            f"{PROMOTION_PREFIX}champion_version_before": decision.champion_version_before or "-",
            f"{PROMOTION_PREFIX}time": datetime.now().astimezone().isoformat(timespec="seconds"),
        },
    )


def _move_champion(c, name: str, version: int) -> None:
    with _registry_errors(f"model {name!r}: cannot point alias {CHAMPION!r} at version {version}"):
        c.set_registered_model_alias(name, CHAMPION, str(version))
    log.info("%s: alias %s -> version %s", name, CHAMPION, version)


def promote_if_better(
    model_name: str,
    challenger_version: int | str,
    *,
    test_data: Dataset | None,
    metric: str = "weighted_accuracy",
    min_improvement: float = 0.0,
    tracking_uri: str | None = None,
) -> PromotionDecision:
    """Give `challenger_version` the alias `champion` when it beats the current champion.

    * no champion yet: the challenger becomes champion (evaluated first when test_data is given);
    * test_data given: both versions are scored on it now, and the champion moves only if
      challenger > champion + min_improvement. Strictly greater: on a tie there is no evidence that the
      challenger is better, and moving the production alias for nothing costs a redeploy and muddles history;
    * no test_data: the `cv_<metric>` tags recorded at registration are compared with the same rule. The
      reason says so, since those scores may come from different folds of different data.

    The alias moves only after every evaluation succeeded: if one raises, aliases are untouched. The
    decision, both scores and the reason are recorded as `promotion.*` tags on the challenger version.
    """
    metric = _check_metric(metric)
    c = _client(tracking_uri)
    challenger = _get_version(c, model_name, challenger_version)
    v = int(challenger.version)
    champion_v = _champion_version(c, model_name)

    def decide(promoted: bool, reason: str, ch: float | None, cp: float | None, basis: str) -> PromotionDecision:
        return PromotionDecision(promoted, reason, ch, cp, champion_v, metric, basis, model_name, v)

    if champion_v == v:
        decision = decide(False, f"version {v} is already the {CHAMPION}; nothing to do", None, None, "none")
        _record(c, decision)
        return decision

    # Evaluate everything first; nothing below this block may run if an evaluation raises.
    if test_data is not None:
        basis = "held-out"
        where = f"held-out {metric} on {test_data.source} ({len(test_data)} rows)"
        ch_score = evaluate_version(model_name, v, test_data, tracking_uri=tracking_uri)[metric]
        cp_score = (
            None if champion_v is None
            else evaluate_version(model_name, champion_v, test_data, tracking_uri=tracking_uri)[metric]
        )
    else:
        basis = "cv"
        where = f"{CV_PREFIX}{metric} recorded at registration (no held-out data given)"
        ch_score = _cv_score(challenger, metric, "challenger")
        cp_score = None if champion_v is None else _cv_score(_get_version(c, model_name, champion_v), metric, CHAMPION)

    if champion_v is None:
        decision = decide(
            True, f"no {CHAMPION} yet: version {v} becomes the {CHAMPION} ({where}: {_fmt(ch_score)})",
            ch_score, None, basis,
        )
    elif math.isnan(ch_score) or math.isnan(cp_score):
        decision = decide(
            False,
            f"cannot compare version {v} ({_fmt(ch_score)}) with the {CHAMPION} version {champion_v} "
            f"({_fmt(cp_score)}): {where} is undefined (nan); the {CHAMPION} stays",
            ch_score, cp_score, basis,
        )
    elif ch_score > cp_score + min_improvement:
        decision = decide(
            True,
            f"version {v} beats the {CHAMPION} version {champion_v} on {where}: "
            f"{_fmt(ch_score)} > {_fmt(cp_score)} + min_improvement {min_improvement:g}",
            ch_score, cp_score, basis,
        )
    else:
        decision = decide(
            False,
            f"version {v} does not beat the {CHAMPION} version {champion_v} on {where}: "
            f"{_fmt(ch_score)} <= {_fmt(cp_score)} + min_improvement {min_improvement:g}; the {CHAMPION} stays",
            ch_score, cp_score, basis,
        )
    if decision.promoted:
        _move_champion(c, model_name, v)
    _record(c, decision)
    log.info("%s v%s: %s", model_name, v, decision.reason)
    return decision


def _recorded_comparison(challenger, champion, metric: str) -> tuple[str, float, float] | None:
    """(basis, challenger score, champion score) from the tags both versions have, held-out preferred.

    Held-out scores are comparable only when both were measured on the same data (same fingerprint).
    """
    held = f"{HELDOUT_PREFIX}{metric}"
    ch, cp = _float_tag(challenger.tags, held), _float_tag(champion.tags, held)
    same_data = challenger.tags.get(TAG_HELDOUT_FINGERPRINT) == champion.tags.get(TAG_HELDOUT_FINGERPRINT)
    if ch is not None and cp is not None and same_data:
        return "held-out", ch, cp
    cv = f"{CV_PREFIX}{metric}"
    ch, cp = _float_tag(challenger.tags, cv), _float_tag(champion.tags, cv)
    if ch is not None and cp is not None:
        return "cv", ch, cp
    return None


def promote(
    model_name: str,
    version: int | str,
    *,
    force: bool = False,
    metric: str = "weighted_accuracy",
    tracking_uri: str | None = None,
) -> PromotionDecision:
    """Point `champion` at `version` by hand (`seqsweep promote NAME VERSION [--force]`).

    Without force it refuses when the current champion has the better recorded score (held-out scores on
    the same data when both versions have them, else the cv_ scores); the decision's reason says which
    scores. With force the alias moves regardless, and the reason records what was overridden.
    """
    metric = _check_metric(metric)
    c = _client(tracking_uri)
    mv = _get_version(c, model_name, version)
    v = int(mv.version)
    champion_v = _champion_version(c, model_name)

    def decide(promoted: bool, reason: str, ch=None, cp=None, basis="none") -> PromotionDecision:
        return PromotionDecision(promoted, reason, ch, cp, champion_v, metric, basis, model_name, v)

    if champion_v == v:
        return decide(False, f"version {v} is already the {CHAMPION} of {model_name!r}; nothing to do")
    if champion_v is None:
        decision = decide(True, f"no {CHAMPION} yet: version {v} becomes the {CHAMPION}")
    else:
        cmp = _recorded_comparison(mv, _get_version(c, model_name, champion_v), metric)
        if cmp is None:
            decision = decide(
                True,
                f"version {v} replaces the {CHAMPION} version {champion_v} on request "
                f"(no comparable recorded {metric} scores)",
            )
        else:
            basis, ch, cp = cmp
            what = f"recorded {basis} {metric}"
            if cp > ch and not force:
                decision = decide(
                    False,
                    f"refused: the {CHAMPION} version {champion_v} has the better {what} "
                    f"({_fmt(cp)} > {_fmt(ch)} for version {v}); use --force to promote anyway",
                    ch, cp, basis,
                )
            elif cp > ch:
                decision = decide(
                    True,
                    f"forced: version {v} replaces the {CHAMPION} version {champion_v} although the {CHAMPION} "
                    f"has the better {what} ({_fmt(cp)} > {_fmt(ch)})",
                    ch, cp, basis,
                )
            else:
                decision = decide(
                    True,
                    f"version {v} replaces the {CHAMPION} version {champion_v} on request; {what}: "
                    f"{_fmt(ch)} vs {_fmt(cp)}",
                    ch, cp, basis,
                )
    if decision.promoted:
        _move_champion(c, model_name, v)
    _record(c, decision)
    return decision


# --------------------------------------------------------------------------------------------------------
# Listing and showing

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
    c = _client(tracking_uri)
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
                    row[f"{prefix}{m}"] = _float_tag(mv.tags, f"{prefix}{m}")
            row["heldout_data"] = mv.tags.get(TAG_HELDOUT_DATA)
            row["created"] = _created(mv.creation_timestamp)
            row["run_id"] = mv.run_id
            rows.append(row)
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *rows])


def format_versions(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of list_versions' rows."""
    if not rows:
        return "no registered model versions"
    header = ["model", "version", "aliases", "cv_wacc", "cv_roc_auc", "heldout_wacc", "heldout_roc_auc", "created"]
    body = [
        [
            r["name"],
            str(r["version"]),
            ",".join(r["aliases"]) or "-",
            _fmt(r["cv_weighted_accuracy"]),
            _fmt(r["cv_roc_auc"]),
            _fmt(r["heldout_weighted_accuracy"]),
            _fmt(r["heldout_roc_auc"]),
            r["created"],
        ]
        for r in rows
    ]
    return _table(header, body)


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


def _user_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(tags.items()) if not k.startswith("mlflow.")}


def show(ref: str, *, tracking_uri: str | None = None) -> dict[str, Any]:
    """Everything about one version: ref 'NAME@ALIAS' or 'NAME/VERSION'.

    Keys: name, version, aliases, tags, created, source, model_id, run (id, name, status, params, tags of
    the trial run that produced it) and sweep (id, name, tags of its parent run, e.g. the job).
    """
    from mlflow.exceptions import MlflowException

    c = _client(tracking_uri)
    name, alias, version = _parse_ref(ref)
    if alias is not None:
        rm = _registered_model(c, name)
        if alias not in rm.aliases:
            have = ", ".join(sorted(rm.aliases)) or "none"
            raise RegistryError(f"model {name!r} has no alias {alias!r} (aliases: {have})")
        mv = _get_version(c, name, rm.aliases[alias])
    else:
        mv = _get_version(c, name, version)
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
        try:
            run = c.get_run(mv.run_id)
        except MlflowException as exc:
            out["run"] = {"id": mv.run_id, "error": _first_line(exc)}
        else:
            out["run"] = {
                "id": mv.run_id,
                "name": run.info.run_name,
                "status": run.info.status,
                "params": dict(sorted(run.data.params.items())),
                "tags": _user_tags(run.data.tags),
            }
            parent_id = run.data.tags.get("mlflow.parentRunId")
            if parent_id:
                try:
                    parent = c.get_run(parent_id)
                    out["sweep"] = {"id": parent_id, "name": parent.info.run_name, "tags": _user_tags(parent.data.tags)}
                except MlflowException as exc:
                    out["sweep"] = {"id": parent_id, "error": _first_line(exc)}
    return out


def _clip(value: Any, width: int = 160) -> str:
    # A sweep run's tags can hold a whole job file; one line each is enough here (show() keeps them whole).
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_show(d: dict[str, Any]) -> str:
    """show()'s dict as indented text."""
    lines = [
        f"{d['name']} version {d['version']}",
        f"  aliases:  {', '.join(d['aliases']) or '-'}",
        f"  created:  {d['created']}",
        f"  source:   {d['source']}",
    ]
    if d["tags"]:
        lines.append("  tags:")
        lines += [f"    {k} = {_clip(v)}" for k, v in d["tags"].items()]
    run = d.get("run")
    if run:
        lines.append(f"  run:      {run['id']}" + (f" ({run['name']}, {run['status']})" if "name" in run else ""))
        if "error" in run:
            lines.append(f"    (cannot read the run: {run['error']})")
        for k, v in run.get("params", {}).items():
            lines.append(f"    param {k} = {_clip(v)}")
        for k, v in run.get("tags", {}).items():
            lines.append(f"    tag {k} = {_clip(v)}")
    sweep = d.get("sweep")
    if sweep:
        lines.append(f"  sweep:    {sweep['id']}" + (f" ({sweep['name']})" if sweep.get("name") else ""))
        if "error" in sweep:
            lines.append(f"    (cannot read the sweep run: {sweep['error']})")
        for k, v in sweep.get("tags", {}).items():
            lines.append(f"    tag {k} = {_clip(v)}")
    return "\n".join(lines)
