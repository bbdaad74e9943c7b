"""What a model version learned: attributions, motifs matched to JASPAR, variant effects, recorded on the version.

    result = explain_version("models:/jund@champion")           # the version's held-out positives
    result = explain_version("jund/3", data="seqs.csv", variants="variants.csv")

    attributions.py  the version as served wrapped as an nn.Module; DeepLIFT/SHAP (when it converges) or ISM
    motifs.py        TF-MoDISco seqlets and motifs; TomTom against JASPAR (jaspar.py: pyjaspar's bundled sqlite)
    variants.py      the variant table (checked row by row) and the effect of each variant on each output
    report.py        motifs.csv, logos, report.md / report.html, summary.json

Which sequences are explained: the positives (binary; for multilabel the positives of each of the `top_tasks`
tasks with the most of them; for multiclass the rows of each class) of the given data, else of the version's
held-out data (rebuilt from the job its sweep recorded), else of its training data; at most `n` per output,
a seeded sample. Everything is computed before anything is written: bad input (an unknown model, a broken
variant row) leaves the version untouched. Then the version gets `explain.*` tags and its source run the
artifacts under `explain/<model>/v<version>/` (the MLflow UI shows the logos there).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsweep.errors import DataError, RegistryError, SeqsweepError

log = logging.getLogger(__name__)

TAG_PREFIX = "explain."
DEFAULT_ROWS = 2000
DEFAULT_TOP_TASKS = 3
MAX_CLASSES = 10
EXAMPLES = 3  # attribution logos of the top-scoring sequences per output
#: registry.explain: null turns explain on for a "small" version: sequences of at most this many bases ...
SMALL_LENGTH = 1000
#: ... fold models of at most this many parameters in all ...
SMALL_PARAMETERS = 5_000_000
#: ... and at least this many positives to explain (TF-MoDISco needs about 100 seqlets to form a motif).
MIN_POSITIVES = 100


@dataclass
class ExplainResult:
    name: str
    version: int
    method: str
    method_why: str
    rows: int
    data: str
    motifs: dict[str, list] = field(default_factory=dict)  # output -> [motifs.Motif] with their JASPAR matches
    top_motif: dict[str, str] = field(default_factory=dict)  # output -> "MA0491.3 JUND q=1e-05" (or why none)
    variants: pd.DataFrame | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    artifacts: str = ""
    seconds: float = 0.0
    recorded: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage: attributions, modisco, tomtom, report


def is_small(ensemble, n_positive: int) -> tuple[bool, str]:
    """registry.explain: null's rule, and why."""
    params = sum(sum(p.numel() for p in m.parameters()) for m in ensemble.models)
    if ensemble.task.type == "next_base":
        return False, "a next_base model (it predicts bases, not binding)"
    if ensemble.seq_len > SMALL_LENGTH:
        return False, f"sequences of {ensemble.seq_len} bp (> {SMALL_LENGTH})"
    if params > SMALL_PARAMETERS:
        return False, f"{params:,} parameters over its fold models (> {SMALL_PARAMETERS:,})"
    if n_positive < MIN_POSITIVES:
        return False, f"{n_positive} positives to explain (< {MIN_POSITIVES}, too few for TF-MoDISco)"
    return True, f"{ensemble.seq_len} bp, {params:,} parameters, {n_positive} positives"


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("tangermeme", "modisco", "memelite", "pyjaspar", "logomaker"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "?"
    return out


# ------------------------------------------------------------------------------------------------------------
# Which rows


def _labels_of(ds, task) -> list[tuple[str, int, np.ndarray]]:
    """(output name, output index, row indices) per output to explain, in the order explained."""
    y = np.asarray(ds.y)
    if task.type == "binary":
        return [("probability", 0, np.flatnonzero(y.reshape(len(ds), -1)[:, 0] == 1))]
    if task.type == "multilabel":
        known = np.asarray(ds.w).reshape(y.shape) > 0
        return [(name, k, np.flatnonzero((y[:, k] == 1) & known[:, k])) for k, name in enumerate(task.names)]
    return [(name, k, np.flatnonzero(y == k)) for k, name in enumerate(task.names)]


def select_outputs(ds, task, *, top_tasks: int = DEFAULT_TOP_TASKS) -> list[tuple[str, int, np.ndarray]]:
    """Binary: the positives; multilabel: the `top_tasks` tasks with the most positives; multiclass: each class
    (the MAX_CLASSES largest)."""
    outs = [o for o in _labels_of(ds, task) if len(o[2])]
    if task.type == "multilabel":
        outs = sorted(outs, key=lambda o: -len(o[2]))[:top_tasks]
    elif task.single_label:
        outs = sorted(outs, key=lambda o: -len(o[2]))[:MAX_CLASSES]
    return outs


def _sample(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    if len(rows) <= n:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=n, replace=False))


def _encoded(ensemble, ds) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows' one-hot as the model takes it (padded and trimmed as trained), and accessibility."""
    if ds.seq_len == ensemble.seq_len and ds.spans is None:
        X = ds.onehot()
    else:
        X, _spans = ensemble.encode(ds.sequences())
    return np.asarray(X, dtype=np.uint8), ds.a


# ------------------------------------------------------------------------------------------------------------
# Where the data comes from


def _job_data(info: dict[str, Any], tracking_uri: str | None):
    """The version's held-out data (else its training data), rebuilt from the job its sweep recorded."""
    import json

    from seqsweep.config import JobSpec
    from seqsweep.prepare import prepare_data
    from seqsweep.tracking import runs

    sweep_run = info["tags"].get("sweep_run_id")
    where = f"model {info['name']!r} version {info['version']}"
    if not sweep_run:
        raise RegistryError(f"{where} has no sweep_run_id tag to find its data: pass --data PATH")
    with tempfile.TemporaryDirectory(prefix="seqsweep-explain-job-") as tmp:
        path = runs.download_run_file(runs.use_tracking_uri(tracking_uri), sweep_run, "job.json", tmp)
        if path is None:
            raise RegistryError(f"{where}: its sweep run {sweep_run} has no job.json: pass --data PATH")
        raw = json.loads(Path(path).read_text())
    try:
        job = JobSpec.model_validate(raw)
    except ValueError as exc:
        raise RegistryError(f"{where}: its sweep's job.json no longer validates ({str(exc).splitlines()[0]}): "
                            "pass --data PATH") from None
    prepared = prepare_data(job)
    if prepared.test is not None:
        return prepared.test, f"{prepared.test.source} (held-out part)"
    return prepared.train, f"{prepared.train.source} (training data: the job has no held-out data)"


def _load_data(path, task):
    from seqsweep import data
    from seqsweep.data.labels import LabelSpec

    spec = LabelSpec(type=task.type, classes=tuple(task.names) if task.single_label else None)
    return data.load(path, task=spec)


# ------------------------------------------------------------------------------------------------------------


def explain_version(
    model_ref: str,
    *,
    data: Any = None,
    n: int = DEFAULT_ROWS,
    variants: str | Path | None = None,
    genome: str | Path | None = None,
    method: str = "auto",
    top_tasks: int = DEFAULT_TOP_TASKS,
    seed: int = 0,
    tracking_uri: str | None = None,
    record: bool = True,
    out_dir: str | Path | None = None,
    data_label: str | None = None,
) -> ExplainResult:
    """Explain one model version (models:/NAME@ALIAS, models:/NAME/VERSION, NAME@ALIAS or NAME/VERSION) on
    `data` (a Dataset, a path, or None: the version's own held-out data) and, when `record`, record it on
    the version. `out_dir` keeps the report's files there (else a temporary directory); `data_label` names
    a Dataset passed as `data` in the report and tags (default: its source)."""
    from seqsweep import registry
    from seqsweep.explain import attributions, motifs as motif_lib, report
    from seqsweep.explain.jaspar import RELEASE
    from seqsweep.explain.variants import read_variants, variant_effects
    from seqsweep.registry import client
    from seqsweep.tracking import runs

    started = time.time()
    if n < 1:
        raise DataError(f"--n must be at least 1, got {n}")
    if method not in attributions.METHODS:
        raise DataError(f"attribution method must be one of {', '.join(attributions.METHODS)}, got {method!r}")
    store = vcf = table = None
    if variants is not None and genome is not None:  # a VCF on a genome: checked against it before any work
        from seqsweep.data.genome import genome as open_genome
        from seqsweep.explain.variants import read_vcf

        store = open_genome(genome)
        vcf = read_vcf(variants, store)
    elif variants is not None:
        table = read_variants(variants)  # bad rows fail before any work
    elif genome is not None:
        raise DataError("--genome: give --variants (a VCF) to score against the genome")
    ref = model_ref[len("models:/"):] if model_ref.startswith("models:/") else model_ref
    info = registry.show(ref, tracking_uri=tracking_uri)  # RegistryError for an unknown model/alias/version
    name, version = info["name"], int(info["version"])
    ensemble = client.load_version(name, version).unwrap_python_model().ensemble
    task = ensemble.task

    if data is None:
        ds, described = _job_data(info, tracking_uri)
    elif isinstance(data, (str, Path)):
        ds, described = _load_data(data, task), str(data)
    else:
        ds, described = data, data_label or data.source
    if ds.task.to_dict() != task.to_dict():
        raise DataError(f"{described}: holds {ds.task.type} labels {list(ds.task.names)}, the model predicts "
                        f"{task.type} {list(task.names)}")
    outputs = select_outputs(ds, task, top_tasks=top_tasks)
    if not outputs:
        raise DataError(f"{described}: no positive rows to explain")

    result = ExplainResult(name=name, version=version, method="", method_why="", rows=0, data=described)
    chosen = method
    explained: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for out_name, k, rows in outputs:
        idx = _sample(rows, n, seed)
        X, a = _encoded(ensemble, ds.subset(idx))  # only the sampled rows: a genome's windows stay tokens
        t0 = time.perf_counter()
        attr = attributions.attribute(ensemble, X, a, target=k, method=chosen, seed=seed)
        t1 = time.perf_counter()
        if not result.method:
            result.method, result.method_why, chosen = attr.method, attr.why, attr.method  # probe once
        discovered = motif_lib.discover(X, attr.hypothetical)
        t2 = time.perf_counter()
        found = motif_lib.match(discovered)
        t3 = time.perf_counter()
        for stage, dt in (("attributions", t1 - t0), ("modisco", t2 - t1), ("tomtom", t3 - t2)):
            result.timings[stage] = result.timings.get(stage, 0.0) + dt
        result.motifs[out_name] = found
        positive = [m for m in found if m.sign > 0 and m.best is not None]
        result.top_motif[out_name] = (positive[0].best.describe() + f" ({positive[0].name}, {positive[0].n_seqlets} seqlets)"
                                      if positive else f"none (TF-MoDISco found no motif in {len(idx)} sequences)")
        result.rows += len(idx)
        explained[out_name] = (idx, X, attr.contributions(X))
    if vcf is not None:
        from seqsweep.explain.variants import vcf_table

        table = vcf_table(vcf, store, ensemble.seq_len)
    if table is not None:
        result.variants = variant_effects(ensemble, table)
    result.seconds = time.time() - started

    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="seqsweep-explain-")
        out = Path(tmp.name)
    else:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        _write(out, result, ensemble, explained, RELEASE)
        result.tags = _tags(result, info)
        if record:
            artifact_dir = f"explain/{name}/v{version}"
            c = client.open_client(tracking_uri)
            if info.get("run") and info["run"].get("id"):
                run_id = info["run"]["id"]
                with client.registry_errors(f"model {name!r} version {version}: cannot log the report to run {run_id}"):
                    runs.log_artifacts(c, run_id, out, artifact_dir)
                result.artifacts = f"runs:/{run_id}/{artifact_dir}"
                result.tags[f"{TAG_PREFIX}artifacts"] = result.artifacts
            client.set_tags(c, name, version, result.tags)
            result.recorded = True
        result.timings["report"] = time.perf_counter() - t0
    finally:
        if tmp is not None:
            tmp.cleanup()
    log.info("explained %s v%s in %.0fs: %s", name, version, result.seconds, result.top_motif)
    return result


def after_sweep(job, prepared, version: str, *, uri: str) -> tuple[ExplainResult | None, str]:
    """The sweep's explain step (registry.explain), run after registration and the promotion decision: the
    result (None when skipped or failed) and one line saying what happened. Never raises: a failure here must
    not fail a sweep whose version is already registered and decided on."""
    from seqsweep.registry import client

    setting = job.registry.explain
    if setting is False:
        return None, ""
    ds = prepared.test if prepared.test is not None else prepared.train
    label = f"{ds.source} ({'held-out part' if prepared.test is not None else 'training data: the job has no held-out data'})"
    try:
        if setting is None:
            n_positive = min((len(o[2]) for o in select_outputs(ds, ds.task)), default=0)
            if ds.task.type == "next_base" or n_positive < MIN_POSITIVES:  # decided without loading the model
                why = "a next_base model" if ds.task.type == "next_base" else f"{n_positive} positives to explain (< {MIN_POSITIVES})"
                return None, f"explain skipped for version {version}: {why}; registry.explain: true runs it"
            client.open_client(uri)
            ensemble = client.load_version(job.model_name, int(version)).unwrap_python_model().ensemble
            small, why = is_small(ensemble, n_positive)
            if not small:
                return None, f"explain skipped for version {version}: not a small model ({why}); registry.explain: true runs it"
        r = explain_version(f"{job.model_name}/{version}", data=ds, n=job.registry.explain_rows, tracking_uri=uri,
                            data_label=label)
    except Exception as exc:  # noqa: BLE001 - any failure (a library's too) is a warning, never a failed sweep
        log.warning("explain of %s version %s failed: %s: %s", job.model_name, version, type(exc).__name__, exc)
        return None, f"explain of version {version} failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); the version and its promotion stand"
    tops = "; ".join(f"{o}: {t}" for o, t in r.top_motif.items())
    return r, f"explained version {version} ({r.method}, {r.rows} sequences, {r.seconds:.0f}s): top motif {tops}"


def _write(out: Path, result: ExplainResult, ensemble, explained, release: str) -> None:
    from seqsweep.explain import report

    (out / "logos").mkdir(exist_ok=True)
    (out / "examples").mkdir(exist_ok=True)
    logos, examples = [], []
    for out_name, motifs in result.motifs.items():
        for m in motifs:
            rel = f"logos/{report._safe(out_name)}_{m.name}.png"
            report.motif_logo(m, out / rel, out_name)
            logos.append(rel)
        idx, X, contrib = explained[out_name]
        p = ensemble.predict_proba(X).reshape(len(X), -1)
        k = 0 if p.shape[1] == 1 else list(ensemble.task.names).index(out_name)
        for rank, i in enumerate(np.argsort(-p[:, k], kind="stable")[:EXAMPLES]):
            rel = f"examples/{report._safe(out_name)}_{rank + 1}.png"
            report.example_logo(contrib[i], out / rel, f"{out_name}: row {int(idx[i])}, p={p[i, k]:.3f}")
            examples.append(rel)
    summary = {
        "model": f"{result.name} v{result.version}", "data": result.data, "rows": result.rows,
        "method": result.method, "method_why": result.method_why, "seconds": result.seconds,
        "jaspar": release, "versions": _versions(), "top_motif": result.top_motif,
        "motifs": {o: [{"name": m.name, "sign": m.sign, "seqlets": m.n_seqlets, "consensus": m.consensus,
                        "matches": [vars(x) for x in m.matches]} for m in ms] for o, ms in result.motifs.items()},
    }
    from seqsweep.explain.report import motifs_table, write_report

    write_report(out, summary, motifs_table(result.motifs), logos, examples, result.variants)


def _tags(result: ExplainResult, info: dict[str, Any]) -> dict[str, Any]:
    tags: dict[str, Any] = {
        f"{TAG_PREFIX}method": result.method,
        f"{TAG_PREFIX}method_why": result.method_why[:500],
        f"{TAG_PREFIX}data": result.data[:500],
        f"{TAG_PREFIX}rows": result.rows,
        f"{TAG_PREFIX}seconds": round(result.seconds, 1),
        f"{TAG_PREFIX}motifs": sum(len(v) for v in result.motifs.values()),
    }
    first = next(iter(result.top_motif))
    tags[f"{TAG_PREFIX}top_motif"] = result.top_motif[first]
    if len(result.top_motif) > 1 or first != "probability":
        for o, t in result.top_motif.items():
            tags[f"{TAG_PREFIX}top_motif.{o}"] = t
    lines = []
    for o, ms in result.motifs.items():
        for m in ms:
            hits = ", ".join(x.describe() for x in m.matches)
            lines.append(f"{'' if o == 'probability' else o + ' '}{m.name} ({m.n_seqlets} seqlets, {m.consensus}): {hits}")
    tags[f"{TAG_PREFIX}matches"] = "; ".join(lines)[:5000] or "none"
    return tags


__all__ = ["ExplainResult", "SeqsweepError", "explain_version", "is_small", "select_outputs"]
