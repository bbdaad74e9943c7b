"""JUND search quality (issue #7): the anchors, and the sweep's per-architecture table, on one split.

    python bench/jund_quality.py anchors              # train the anchors (about 15 min on 2 cores)
    python bench/jund_quality.py sweep                # score the latest `seqsweep sweep jobs/jund.yaml`
    python bench/jund_quality.py markdown             # bench/results/jund_quality.json as Markdown; runs nothing

Both use the split of jobs/jund.yaml (seqsweep.sweep.prepare_data): the same held-out 1 Mb blocks of chr22
and the same CV folds grouped by 100 kb blocks. Nothing is chosen on the held-out rows: the anchors are fixed
recipes or tuned by CV on the training rows, and the sweep's champion is its best CV trial.

Anchors (what a user gets without seqsweep):
  homework_{mlp,cnn,lstm}  the field's homework models and loop (bench/homework.py: per-sample Dataset,
                           DataLoader batch 100, Adam 1e-3, weighted BCE), 10 epochs on all training rows.
  kmer_logreg              k-mer counts (k = 1..6, both strands; the kmer model's counting), max-abs scaled,
                           + logistic regression with class-balancing weights; C chosen by the grouped CV.
  deepbind_hand_tuned      DeepBind-style CNN, 128 filters of width 9, global max pool, reverse-complement
                           augmentation, 10 epochs; the mean of its 5 CV fold models scores the held-out rows.

`sweep` reads the newest finished parent run of job `jund` in the MLflow store (SEQSWEEP_HOME or the
repository's mlruns/), groups its trials by architecture, and scores each architecture's best CV trial on the
held-out rows (reporting only: the champion was chosen by CV). Results merge into
bench/results/jund_quality.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "platform"))

RESULTS = BENCH / "results" / "jund_quality.json"
JOB = ROOT / "jobs" / "jund.yaml"
HOMEWORK_EPOCHS = 10


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _prepared(job_path: Path):
    from seqsweep.config import load_job
    from seqsweep.prepare import prepare_data

    job = load_job(job_path)
    return job, prepare_data(job)


def _scores(y, p, w) -> dict[str, float]:
    from seqsweep.metrics import evaluate_proba

    m = evaluate_proba(y, p, w)
    return {k: float(m[k]) for k in ("weighted_accuracy", "roc_auc", "pr_auc")}


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


# --------------------------------------------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------------------------------------------
def _homework(arch: str, train, test, epochs: int, seed: int = 0) -> dict[str, Any]:
    """The homework loop (bench/homework.py), trained on all training rows, one model, scored on held-out."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from homework import BATCH_SIZE, OneHotDataset
    from seqsweep.models import create_model

    torch.manual_seed(seed)
    model = create_model(arch, seq_len=train.seq_len)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(OneHotDataset(train.X, train.y, train.w.astype(np.float32)), batch_size=BATCH_SIZE, shuffle=True)
    for _ in range(epochs):
        model.train()
        for x, y, w in loader:
            loss = (F.binary_cross_entropy_with_logits(model(x), y, reduction="none") * w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        out = [torch.sigmoid(model(x)).numpy() for x, _, _ in DataLoader(OneHotDataset(test.X, test.y, test.w), batch_size=1000)]
    return {"heldout": _scores(test.y, np.concatenate(out), test.w), "epochs": epochs}


def kmer_features(X: np.ndarray, k_max: int = 6, batch_size: int = 4096):
    """Sparse (N, F) counts of every k-mer (k = 1..k_max) of X (N, L, 4) one-hot, a k-mer and its reverse
    complement in one column, windows holding an N skipped: the counting of seqsweep's `kmer` model (tested
    against hand counts), so the anchor and the model see the same features. The regression scales them."""
    import torch
    from scipy import sparse

    from seqsweep.models import create_model

    counter = create_model("kmer", seq_len=X.shape[1], k_max=k_max)
    blocks = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            x = torch.as_tensor(np.asarray(X[start : start + batch_size]), dtype=torch.float32).transpose(1, 2)
            blocks.append(sparse.csr_matrix(counter.spectrum(x).numpy()))
    return sparse.vstack(blocks).tocsr()


def _kmer_logreg(train, test, folds) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import MaxAbsScaler

    from seqsweep.metrics import evaluate_proba

    Ftr, Fte = kmer_features(train.X), kmer_features(test.X)

    def fit(rows, C):
        scaler = MaxAbsScaler().fit(Ftr[rows])
        clf = LogisticRegression(C=C, max_iter=3000).fit(scaler.transform(Ftr[rows]), train.y[rows], sample_weight=train.w[rows])
        return lambda F: clf.predict_proba(scaler.transform(F))[:, 1]

    grid = (0.001, 0.01, 0.1, 1.0)
    cv = {}
    for C in grid:  # chosen by the grouped CV on the training rows only
        accs = [evaluate_proba(train.y[va], fit(tr, C)(Ftr[va]), train.w[va])["weighted_accuracy"] for tr, va in folds]
        cv[C] = (float(np.mean(accs)), float(np.std(accs)))
        _say(f"kmer_logreg C={C}: cv weighted accuracy {cv[C][0]:.3f} ± {cv[C][1]:.3f}")
    best_c = max(grid, key=lambda C: cv[C][0])
    p = fit(np.arange(len(train)), best_c)(Fte)
    return {"C": best_c, "cv_weighted_accuracy": cv[best_c][0], "cv_weighted_accuracy_std": cv[best_c][1],
            "heldout": _scores(test.y, p, test.w)}


def _deepbind_hand_tuned(train, test, folds, epochs: int) -> dict[str, Any]:
    from seqsweep.train import CVTrainer, TrainConfig

    cfg = TrainConfig("deepbind", {"filters": 128, "kernel_size": 9, "pool": "max"}, learning_rate=1e-3,
                      batch_size=100, epochs=epochs, rc_augment=True, optimizer="adam")
    trainer = CVTrainer(train, folds, cfg)
    m = trainer.fit()[-1]
    return {"config": "128 filters x 9, global max pool, RC augmentation, Adam 1e-3, batch 100",
            "epochs": epochs, "cv_weighted_accuracy": m["cv_weighted_accuracy"],
            "cv_weighted_accuracy_std": m["cv_weighted_accuracy_std"], "cv_roc_auc": m["cv_roc_auc"],
            "cv_pr_auc": m["cv_pr_auc"], "heldout": _scores(test.y, trainer.predict_proba(test.X), test.w)}


def anchors(job_path: Path, only: list[str] | None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    _, prep = _prepared(job_path)
    train, test, folds = prep.train, prep.test, prep.folds
    runs = {
        "homework_mlp": lambda: _homework("mlp", train, test, HOMEWORK_EPOCHS),
        "homework_cnn": lambda: _homework("cnn", train, test, HOMEWORK_EPOCHS),
        "homework_lstm": lambda: _homework("lstm", train, test, HOMEWORK_EPOCHS),
        "kmer_logreg": lambda: _kmer_logreg(train, test, folds),
        "deepbind_hand_tuned": lambda: _deepbind_hand_tuned(train, test, folds, 10),
    }
    out = {}
    for name, fn in runs.items():
        if only and name not in only:
            continue
        _say(f"anchor {name} ...")
        t0, c0 = time.perf_counter(), _cpu_s()
        out[name] = fn()
        out[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        out[name]["cpu_s"] = round(_cpu_s() - c0, 1)
        _say(f"anchor {name}: {out[name]}")
    return {"anchors": out, "split": prep.info}


# --------------------------------------------------------------------------------------------------------------
# The sweep's table
# --------------------------------------------------------------------------------------------------------------
def sweep_table(job_path: Path) -> dict[str, Any]:
    import mlflow
    import pandas as pd

    from seqsweep import store, tracking
    from seqsweep.data import decode

    job, prep = _prepared(job_path)
    mlflow.set_tracking_uri(store.tracking_uri())
    c = mlflow.MlflowClient()
    exp = c.get_experiment_by_name(job.tracking.experiment)
    if exp is None:
        raise SystemExit(f"no experiment {job.tracking.experiment!r} in {store.tracking_uri()}: run `seqsweep sweep {job_path}` first")
    parents = c.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{tracking.TAG_KIND}` = 'sweep' and tags.`{tracking.TAG_JOB}` = '{job.name}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not parents:
        raise SystemExit(f"no finished sweep of job {job.name!r} in {store.tracking_uri()}")
    parent = parents[0]
    sweep_id = parent.data.tags[tracking.TAG_SWEEP]
    trials = c.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{tracking.TAG_SWEEP}` = '{sweep_id}' and tags.`{tracking.TAG_KIND}` = 'trial'",
        max_results=5000,
    )
    champion = None
    try:
        mv = c.get_model_version_by_alias(job.registry.model_name, "champion")
        champion = {"version": int(mv.version), "run_id": mv.run_id,
                    "heldout_weighted_accuracy": mv.tags.get("heldout_weighted_accuracy"),
                    "heldout_roc_auc": mv.tags.get("heldout_roc_auc"), "heldout_pr_auc": mv.tags.get("heldout_pr_auc")}
    except mlflow.exceptions.MlflowException:
        pass

    metric = "cv_weighted_accuracy"
    test = prep.test
    df = pd.DataFrame({"sequence": decode(test.X)})
    rows = []
    by_arch: dict[str, list] = {}
    for r in trials:
        by_arch.setdefault(r.data.params.get("architecture", "?"), []).append(r)
    for arch, runs in sorted(by_arch.items()):
        status = [r.data.tags.get(tracking.TAG_STATUS, "?") for r in runs]
        done = [r for r in runs if r.data.tags.get(tracking.TAG_STATUS) == "completed" and math.isfinite(r.data.metrics.get(metric, math.nan))]
        epochs = {r.info.run_id: len(c.get_metric_history(r.info.run_id, metric)) for r in runs}
        row: dict[str, Any] = {
            "architecture": arch, "trials": len(runs), "completed": len(done),
            "pruned": status.count("pruned"), "failed": status.count("failed"),
            "epochs": int(sum(epochs.values())),
            "trial_seconds": round(sum(float(r.data.tags.get("duration_s", 0) or 0) for r in runs), 1),
        }
        scored = [r for r in runs if math.isfinite(r.data.metrics.get(metric, math.nan))]
        # completed trials first (what the sweep ranks); an architecture whose trials were all pruned shows
        # its best score at the epoch it was stopped
        pool = done or scored
        if pool:
            best = max(pool, key=lambda r: r.data.metrics[metric])
            m = best.data.metrics
            row.update({k: m.get(k) for k in ("cv_weighted_accuracy", "cv_weighted_accuracy_std", "cv_roc_auc", "cv_pr_auc")})
            row["best_run_id"] = best.info.run_id
            row["best_status"] = best.data.tags.get(tracking.TAG_STATUS)
            row["best_epochs"] = epochs[best.info.run_id]
        if done:
            row["champion"] = champion is not None and champion["run_id"] == best.info.run_id
            uri = best.data.tags.get("seqsweep.model_uri")
            if uri:
                _say(f"{arch}: scoring trial run {best.info.run_id} on {len(test)} held-out rows")
                p = mlflow.pyfunc.load_model(uri).predict(df)["probability"].to_numpy(dtype=np.float64)
                row["heldout"] = _scores(test.y, p, test.w)
        rows.append(row)
    wall = (parent.info.end_time - parent.info.start_time) / 1000 if parent.info.end_time else None
    return {"sweep": {"parent_run_id": parent.info.run_id, "sweep_id": sweep_id, "wall_s": wall,
                      "trials": len(trials), "champion": champion, "architectures": rows}, "split": prep.info}


# --------------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------------
def _f(x, nd=3) -> str:
    return "" if x is None else f"{float(x):.{nd}f}"


def markdown(doc: dict[str, Any]) -> str:
    lines = []
    sw = doc.get("sweep")
    if sw:
        lines += [
            f"Sweep `{sw.get('sweep_id')}`: {sw.get('trials')} trials in {_f((sw.get('wall_s') or 0) / 60, 1)} min wall.",
            "",
            "| architecture | trials (done / pruned / failed) | best cv weighted acc. | cv ROC AUC | cv PR AUC | held-out weighted acc. | held-out ROC AUC | held-out PR AUC | compute (trial-min, epochs) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sw["architectures"]:
            ho = r.get("heldout", {})
            name = f"**{r['architecture']}** (champion)" if r.get("champion") else r["architecture"]
            cv = f"{_f(r.get('cv_weighted_accuracy'))} ± {_f(r.get('cv_weighted_accuracy_std'))}" if r.get("cv_weighted_accuracy") is not None else ""
            if cv and r.get("best_status") != "completed":
                cv += f" (pruned at epoch {r.get('best_epochs')})"
            lines.append(
                f"| {name} | {r['trials']} ({r['completed']} / {r['pruned']} / {r['failed']}) | {cv} | {_f(r.get('cv_roc_auc'))} | "
                f"{_f(r.get('cv_pr_auc'))} | {_f(ho.get('weighted_accuracy'))} | {_f(ho.get('roc_auc'))} | {_f(ho.get('pr_auc'))} | "
                f"{_f(r['trial_seconds'] / 60, 1)}, {r['epochs']} |"
            )
        lines.append("")
    an = doc.get("anchors")
    if an:
        lines += [
            "| anchor | cv weighted acc. | held-out weighted acc. | held-out ROC AUC | held-out PR AUC | compute (CPU-min) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, a in an.items():
            ho = a.get("heldout", {})
            cv = f"{_f(a.get('cv_weighted_accuracy'))} ± {_f(a.get('cv_weighted_accuracy_std'))}" if a.get("cv_weighted_accuracy") is not None else ""
            lines.append(f"| {name} | {cv} | {_f(ho.get('weighted_accuracy'))} | {_f(ho.get('roc_auc'))} | {_f(ho.get('pr_auc'))} | {_f(a['cpu_s'] / 60, 1)} |")
    split = doc.get("split")
    if split:
        lines += ["", f"Split: {split['rows']} training rows ({split['positives']} positives), "
                      f"{split['test_rows']} held-out rows ({split['test_positives']} positives)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/jund_quality.py", description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("anchors", "sweep", "markdown"))
    p.add_argument("--job", type=Path, default=JOB, help="the job whose split (and sweep) to use (default jobs/jund.yaml)")
    p.add_argument("--only", nargs="+", help="anchors: only these (homework_mlp homework_cnn homework_lstm kmer_logreg deepbind_hand_tuned)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.what != "markdown":
        new = anchors(args.job, args.only) if args.what == "anchors" else sweep_table(args.job)
        if args.what == "anchors":
            doc.setdefault("anchors", {}).update(new["anchors"])
        else:
            doc["sweep"] = new["sweep"]
        doc["split"] = new["split"]
        doc["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(args.out)
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
