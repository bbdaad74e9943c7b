"""The task jobs' champions against their baselines, on each job's own held-out part (never tuned on).

    python bench/tasks_quality.py [--jobs multitask regulatory next_base]   # after `make sweep JOB=jobs/<job>.yaml`

For each job: the same data, split and folds as its sweep (seqsweep.prepare.prepare_data); its champion
(`models:/<name>@champion` in the local store) scored through MLflow's pyfunc, as users load it; and baselines
fitted on the training part only (bench/baselines.py):
  multitask   per-task logistic regression on k-mer counts (k <= 6, both strands)
  regulatory  multinomial logistic regression on k-mer counts
  next_base   the commonest training base, and Markov chains of order 1..8 on the last bases of each context
Writes bench/results/tasks_quality.json and docs/results-tasks.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

RESULTS = BENCH / "results" / "tasks_quality.json"
DOC = ROOT / "docs" / "results-tasks.md"
JOBS = ("multitask", "regulatory", "next_base")
KEYS = ("weighted_accuracy", "roc_auc", "pr_auc", "accuracy", "top_k_accuracy")


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _scalars(d: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(d[k]), 4) for k in KEYS if k in d and np.ndim(d[k]) == 0}


def _champion(job, test) -> dict[str, Any] | None:
    """The registered champion of the job's model, scored on `test` through pyfunc; None when there is none."""
    import mlflow
    import pandas as pd

    from seqsweep import store
    from seqsweep.metrics import evaluate_task
    from seqsweep.registry.evaluation import model_scores

    mlflow.set_tracking_uri(store.tracking_uri(job.tracking.uri))
    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(job.model_name, "champion")
    except mlflow.exceptions.MlflowException:
        return None
    model = mlflow.pyfunc.load_model(f"models:/{job.model_name}@champion")
    t0 = time.perf_counter()
    p = model_scores(test.task, model.predict(pd.DataFrame({"sequence": test.sequences()})))
    found = evaluate_task(test.task, test.y, p, test.w)
    run = client.get_run(mv.run_id)
    return {
        "version": int(mv.version),
        "sweep": mv.tags.get("sweep"),
        "trial": mv.tags.get("trial"),
        "architecture": run.data.params.get("architecture") or run.data.tags.get("architecture"),
        "params": dict(run.data.params),
        "cv": {k[3:]: round(float(v), 4) for k, v in mv.tags.items() if k.startswith("cv_") and not k.endswith("_std")},
        "heldout": _scalars(found),
        "predict_s": round(time.perf_counter() - t0, 2),
    }


def _baselines(job, train, test) -> dict[str, dict[str, float]]:
    from baselines import frequency_baseline, kmer_logistic, markov_baseline

    from seqsweep.metrics import evaluate_task

    out: dict[str, dict[str, float]] = {}
    if job.task.type == "next_base":
        C = train.task.n_outputs
        p0 = np.broadcast_to(frequency_baseline(train.y, C), (len(test), C))
        out["commonest training base (order 0)"] = _scalars(evaluate_task(test.task, test.y, p0, test.w))
        for order in range(1, 9):
            p = markov_baseline(train.X, train.y, test.X, order, job.task.k)
            out[f"Markov chain, order {order}"] = _scalars(evaluate_task(test.task, test.y, p, test.w))
        return out
    t0 = time.perf_counter()
    p = kmer_logistic(train, test, k=6)
    if job.task.type == "multilabel":
        p = np.where(np.isnan(p), 0.5, p)  # a task with one training class: no model, chance
    name = "per-task k-mer logistic regression" if job.task.type == "multilabel" else "multinomial k-mer logistic regression"
    out[name] = {**_scalars(evaluate_task(test.task, test.y, p, test.w)), "fit_s": round(time.perf_counter() - t0, 1)}
    return out


def measure(job_name: str) -> dict[str, Any]:
    from seqsweep.config import load_job
    from seqsweep.prepare import prepare_data

    job = load_job(ROOT / "jobs" / f"{job_name}.yaml")
    prepared = prepare_data(job)
    train, test = prepared.train, prepared.test
    _say(f"{job_name}: {len(train)} training rows, {len(test)} held out, task {train.task.type} ({train.task.n_outputs} outputs)")
    entry: dict[str, Any] = {
        "job": f"jobs/{job_name}.yaml",
        "task": train.task.type,
        "outputs": train.task.n_outputs,
        "train_rows": len(train),
        "heldout_rows": len(test),
        "champion": _champion(job, test),
        "baselines": _baselines(job, train, test),
    }
    if entry["champion"] is None:
        entry["note"] = f"no champion yet: run `make sweep JOB=jobs/{job_name}.yaml` first"
    return entry


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return out.stdout.strip()


def _cell(d: dict[str, float] | None, key: str) -> str:
    return "-" if not d or key not in d else f"{d[key]:.3f}"


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Task jobs: champions against baselines",
        "",
        f"Generated by `make bench-tasks` (`bench/tasks_quality.py`) from `bench/results/tasks_quality.json`, "
        f"measured {doc['date']} at commit {doc['commit']}. Each job's held-out part is carved from its data by "
        "whole genomic blocks (`data.holdout`) and never used by the search; baselines are fitted on the "
        "training part only. Weighted accuracy with class-balancing weights is balanced accuracy; for "
        "multilabel every number is the mean over the targets; accuracy and top-k accuracy are unweighted.",
        "",
    ]
    for name, e in doc["jobs"].items():
        lines += [f"## {name} ({e['task']}, {e['outputs']} outputs)", "",
                  f"`{e['job']}`: {e['train_rows']:,} training rows, {e['heldout_rows']:,} held out.", ""]
        keys = [k for k in KEYS if any(k in (r or {}) for r in [*(e["baselines"].values()), (e["champion"] or {}).get("heldout")])]
        lines.append("| model | " + " | ".join(f"held-out {k.replace('_', ' ')}" for k in keys) + " |")
        lines.append("|---|" + "---|" * len(keys))
        ch = e["champion"]
        if ch:
            label = f"champion v{ch['version']}: {ch['architecture']} (sweep {ch['sweep']}, trial {ch['trial']})"
            lines.append(f"| **{label}** | " + " | ".join(f"**{_cell(ch['heldout'], k)}**" for k in keys) + " |")
        for bname, b in e["baselines"].items():
            lines.append(f"| {bname} | " + " | ".join(_cell(b, k) for k in keys) + " |")
        lines.append("")
        if ch:
            cv = ", ".join(f"{k} {v:.3f}" for k, v in sorted(ch["cv"].items()))
            lines += [f"The champion's cross-validation scores on the training part: {cv}.", ""]
        if e.get("note"):
            lines += [e["note"], ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/tasks_quality.py", description=__doc__.splitlines()[0])
    p.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS))
    p.add_argument("--markdown", action="store_true", help="regenerate docs/results-tasks.md from the JSON; run nothing")
    args = p.parse_args(argv)
    doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"jobs": {}}
    if not args.markdown:
        for name in args.jobs:
            doc["jobs"][name] = measure(name)
        doc["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        doc["commit"] = _commit()
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    DOC.write_text(markdown(doc))
    print(DOC.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
