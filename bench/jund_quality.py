"""JUND search quality (issue #7): the anchors, and the sweep's per-architecture table, on one split.

    python bench/jund_quality.py anchors              # train the anchors (about 15 min on 2 cores)
    python bench/jund_quality.py sweep                # score the latest `seqsweep sweep jobs/jund.yaml`
    python bench/jund_quality.py compare              # best trial vs top-k vs refit by nested CV (training rows only)
    python bench/jund_quality.py splits --seeds 20    # the k-mer anchor on 20 held-out splits: how far the split alone moves it
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
repository's mlruns/), groups its trials by architecture, and scores each architecture's best CV trial and the
sweep's registered model on the held-out rows (reporting only: the champion was chosen by CV).

Every held-out score comes with a 95% interval from 1000 resamples of the held-out rows by whole 100 kb
blocks (seqsweep.registry.evaluation.heldout_bootstrap, what promotion uses), every CV score with its
standard error over the 5 folds and a t interval.

`compare` answers which final model generalises better, by nested CV on the training rows only (the held-out
rows are not read). For outer fold j, the model trained on the other folds is the trial's fold-j model (a
"refit" on that outer training part); the fold ensemble of that part is the mean of the models trained
without folds j and i, for each i != j (k(k-1)/2 = 10 models per configuration, trained here); the top-k
ensembles average those over the sweep's top k trials. Each candidate is scored on fold j; the 5 outer
folds give its CV mean, standard error and the paired differences. Results merge into
bench/results/jund_quality.json.

`splits` measures the noise floor of the held-out estimate: the k-mer regression anchor (a fixed recipe, C
chosen by CV on the training rows) is rebuilt for held-out seeds 0..N-1 of the job's split (the same
fraction and block size, other blocks), and each split's CV and held-out scores are kept. Nothing is chosen
on any held-out part; the spread is what a different but equally valid split would have said.
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


def _heldout(prep, p) -> dict[str, Any]:
    """Held-out scores of probabilities p, with their 95% intervals (bootstrap over 100 kb blocks)."""
    from seqsweep.registry.evaluation import heldout_bootstrap

    test = prep.test
    boot = heldout_bootstrap(test, {"m": np.asarray(p, dtype=np.float64)}, groups=prep.test_groups, replicates=1000)
    out: dict[str, Any] = _scores(test.y, p, test.w)
    out["ci"] = {k.split(":")[1]: [e.low, e.high] for k, e in boot.estimates.items()}
    out["bootstrap"] = {"replicates": boot.replicates, "groups": boot.groups}
    return out


def _cv(folds_scores: dict[str, list[float]]) -> dict[str, Any]:
    """CV means with their standard error and t interval over the folds: {metric: {mean, se, ci, folds}}."""
    from seqsweep.intervals import cv_estimate

    out = {}
    for name, v in folds_scores.items():
        e = cv_estimate(v)
        out[name] = {"mean": e.value, "se": e.se, "ci": [e.low, e.high], "folds": [float(x) for x in v]}
    return out


def _fold_scores_of(metrics: dict[str, float], names=("weighted_accuracy", "roc_auc", "pr_auc")) -> dict[str, list[float]]:
    """fold{k}_<name> of a trainer's (or trial run's) metrics, in fold order."""
    out = {}
    for name in names:
        ks = sorted(int(k[4:].split("_", 1)[0]) for k in metrics if k.startswith("fold") and k.endswith(f"_{name}")
                    and k[4:].split("_", 1)[0].isdigit() and k[4:].split("_", 1)[1] == name)
        out[name] = [float(metrics[f"fold{k}_{name}"]) for k in ks]
    return out


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


# --------------------------------------------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------------------------------------------
def _homework(arch: str, prep, epochs: int, seed: int = 0) -> dict[str, Any]:
    """The homework loop (bench/homework.py), trained on all training rows, one model, scored on held-out."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from homework import BATCH_SIZE, OneHotDataset
    from seqsweep.models import create_model

    train, test = prep.train, prep.test
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
    return {"heldout": _heldout(prep, np.concatenate(out)), "epochs": epochs}


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


def _kmer_logreg(prep, features=None) -> dict[str, Any]:
    """features: (train, test) k-mer counts of prep's rows when already counted, else counted here."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import MaxAbsScaler

    from seqsweep.metrics import evaluate_proba

    train, test, folds = prep.train, prep.test, prep.folds
    Ftr, Fte = features if features is not None else (kmer_features(train.X), kmer_features(test.X))

    def fit(rows, C):
        scaler = MaxAbsScaler().fit(Ftr[rows])
        clf = LogisticRegression(C=C, max_iter=3000).fit(scaler.transform(Ftr[rows]), train.y[rows], sample_weight=train.w[rows])
        return lambda F: clf.predict_proba(scaler.transform(F))[:, 1]

    grid = (0.001, 0.01, 0.1, 1.0)
    cv, per_fold = {}, {}
    for C in grid:  # chosen by the grouped CV on the training rows only
        scores = [evaluate_proba(train.y[va], fit(tr, C)(Ftr[va]), train.w[va]) for tr, va in folds]
        per_fold[C] = {m: [s[m] for s in scores] for m in ("weighted_accuracy", "roc_auc", "pr_auc")}
        accs = per_fold[C]["weighted_accuracy"]
        cv[C] = (float(np.mean(accs)), float(np.std(accs)))
        _say(f"kmer_logreg C={C}: cv weighted accuracy {cv[C][0]:.3f} ± {cv[C][1]:.3f}")
    best_c = max(grid, key=lambda C: cv[C][0])
    p = fit(np.arange(len(train)), best_c)(Fte)
    return {"C": best_c, "cv_weighted_accuracy": cv[best_c][0], "cv_weighted_accuracy_std": cv[best_c][1],
            "cv": _cv(per_fold[best_c]), "heldout": _heldout(prep, p)}


def _deepbind_hand_tuned(prep, epochs: int) -> dict[str, Any]:
    from seqsweep.train import CVTrainer, TrainConfig

    train, test, folds = prep.train, prep.test, prep.folds
    cfg = TrainConfig("deepbind", {"filters": 128, "kernel_size": 9, "pool": "max"}, learning_rate=1e-3,
                      batch_size=100, epochs=epochs, rc_augment=True, optimizer="adam")
    trainer = CVTrainer(train, folds, cfg)
    m = trainer.fit()[-1]
    return {"config": "128 filters x 9, global max pool, RC augmentation, Adam 1e-3, batch 100",
            "epochs": epochs, "cv_weighted_accuracy": m["cv_weighted_accuracy"],
            "cv_weighted_accuracy_std": m["cv_weighted_accuracy_std"], "cv_roc_auc": m["cv_roc_auc"],
            "cv_pr_auc": m["cv_pr_auc"], "cv": _cv(_fold_scores_of(m)), "heldout": _heldout(prep, trainer.predict_proba(test.X))}


def anchors(job_path: Path, only: list[str] | None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    _, prep = _prepared(job_path)
    runs = {
        "homework_mlp": lambda: _homework("mlp", prep, HOMEWORK_EPOCHS),
        "homework_cnn": lambda: _homework("cnn", prep, HOMEWORK_EPOCHS),
        "homework_lstm": lambda: _homework("lstm", prep, HOMEWORK_EPOCHS),
        "kmer_logreg": lambda: _kmer_logreg(prep),
        "deepbind_hand_tuned": lambda: _deepbind_hand_tuned(prep, 10),
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
def _latest_sweep(job):
    """(client, experiment, the newest finished parent run of the job, its trial runs)."""
    import mlflow

    from seqsweep import store, tracking

    mlflow.set_tracking_uri(store.tracking_uri())
    c = mlflow.MlflowClient()
    exp = c.get_experiment_by_name(job.experiment_name)
    if exp is None:
        raise SystemExit(f"no experiment {job.experiment_name!r} in {store.tracking_uri()}: run `seqsweep sweep` first")
    parents = c.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{tracking.TAG_KIND}` = 'sweep' and tags.`{tracking.TAG_JOB}` = '{job.name}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not parents:
        raise SystemExit(f"no finished sweep of job {job.name!r} in {store.tracking_uri()}")
    parent = parents[0]
    trials = c.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{tracking.TAG_SWEEP}` = '{parent.data.tags[tracking.TAG_SWEEP]}' and tags.`{tracking.TAG_KIND}` = 'trial'",
        max_results=5000,
    )
    return c, exp, parent, trials


def _records(trials):
    """The trial runs as the sweep's TrialRecords (what its ranking reads)."""
    from seqsweep import tracking
    from seqsweep.tracking.callback import _parse_param

    return [
        tracking.TrialRecord(number=int(r.data.tags.get("seqsweep.trial_number", 0)), trial_id=r.info.run_id,
                             run_id=r.info.run_id, config={k: _parse_param(v) for k, v in r.data.params.items()},
                             status=r.data.tags.get(tracking.TAG_STATUS, "?"), last=dict(r.data.metrics),
                             model_uri=r.data.tags.get("seqsweep.model_uri"))
        for r in trials
    ]


def sweep_table(job_path: Path) -> dict[str, Any]:
    import mlflow
    import pandas as pd

    from seqsweep import tracking
    from seqsweep.data import decode

    job, prep = _prepared(job_path)
    c, exp, parent, trials = _latest_sweep(job)
    sweep_id = parent.data.tags[tracking.TAG_SWEEP]
    champion = None
    try:
        mv = c.get_model_version_by_alias(job.registry.model_name, "champion")
        champion = {"version": int(mv.version), "run_id": mv.run_id, "sweep": mv.tags.get("sweep"),
                    **{k: mv.tags.get(k) for k in mv.tags if k.startswith("heldout_") and not k.endswith(("_data", "_fingerprint"))}}
    except mlflow.exceptions.MlflowException:
        pass

    metric = "cv_weighted_accuracy"
    test = prep.test
    df = pd.DataFrame({"sequence": decode(test.X)})
    rows = []
    by_arch: dict[str, list] = {}
    for r in trials:
        by_arch.setdefault(r.data.params.get("architecture", "?"), []).append(r)
    ranking = tracking.Ranking(metric, job.search.rank_by, job.search.rank_se)
    records = {rec.run_id: rec for rec in _records(trials)}
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
        # completed trials first (what the sweep ranks), by the sweep's own ranking; an architecture whose
        # trials were all pruned shows its best mean at the epoch it was stopped
        pool = done or scored
        if pool:
            best = max(pool, key=lambda r: ranking.score(records[r.info.run_id]) if done else r.data.metrics[metric])
            m = best.data.metrics
            row.update({k: m.get(k) for k in ("cv_weighted_accuracy", "cv_weighted_accuracy_std", "cv_roc_auc", "cv_pr_auc")})
            row["cv"] = _cv(_fold_scores_of(m))
            row["trial"] = int(best.data.tags.get("seqsweep.trial_number", 0))
            row["best_run_id"] = best.info.run_id
            row["best_status"] = best.data.tags.get(tracking.TAG_STATUS)
            row["best_epochs"] = epochs[best.info.run_id]
        if done:
            uri = best.data.tags.get("seqsweep.model_uri")
            if uri:
                _say(f"{arch}: scoring trial run {best.info.run_id} on {len(test)} held-out rows")
                p = mlflow.pyfunc.load_model(uri).predict(df)["probability"].to_numpy(dtype=np.float64)
                row["heldout"] = _heldout(prep, p)
        rows.append(row)

    registered = None
    versions = [v for v in c.search_model_versions(f"name = '{job.registry.model_name}'") if v.tags.get("sweep") == sweep_id]
    if versions:
        v = versions[0]
        _say(f"{job.registry.model_name} v{v.version} (this sweep's registered model): scoring {len(test)} held-out rows")
        p = mlflow.pyfunc.load_model(f"models:/{job.registry.model_name}/{v.version}").predict(df)["probability"].to_numpy(dtype=np.float64)
        cv_tags = {k: float(val) for k, val in v.tags.items() if k.startswith("cv_")}
        registered = {"version": int(v.version), "final": v.tags.get("final"), "trials": v.tags.get("trial"),
                      "cv": cv_tags, "heldout": _heldout(prep, p), "decision": v.tags.get("promotion.reason"),
                      "final_compared": {k: v.tags.get(k) for k in v.tags if k.startswith("final.")}}
    wall = (parent.info.end_time - parent.info.start_time) / 1000 if parent.info.end_time else None
    return {"sweep": {"parent_run_id": parent.info.run_id, "sweep_id": sweep_id, "wall_s": wall,
                      "trials": len(trials), "champion": champion, "registered": registered, "architectures": rows,
                      "rank_by": ranking.describe()}, "split": prep.info}


# --------------------------------------------------------------------------------------------------------------
# Best trial vs top-k vs refit, by nested CV on the training rows
# --------------------------------------------------------------------------------------------------------------
def compare(job_path: Path, top_k: int) -> dict[str, Any]:
    import torch

    from seqsweep import tracking
    from seqsweep.ensemble import predict_proba
    from seqsweep.final_model import fetch_oof
    from seqsweep import store
    from seqsweep.train import CVTrainer
    from seqsweep.trainable import TrialSettings, build_train_config

    torch.set_num_threads(1)
    job, prep = _prepared(job_path)
    train, folds = prep.train, prep.folds
    _, _, parent, trials = _latest_sweep(job)
    ranking = tracking.Ranking(job.search.metric, job.search.rank_by, job.search.rank_se)
    members = tracking.ranked_records(_records(trials), ranking)[:top_k]
    oof = fetch_oof(store.tracking_uri())
    settings = TrialSettings(train=job.train, threads=1, seed=job.cv.seed)
    k = len(folds)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    val_of = [va for _, va in folds]
    n = len(train)
    refit, fold_ens = [], []  # per member: (N,) out-of-fold p; {outer j: p on fold j}
    t0, c0 = time.perf_counter(), _cpu_s()
    for r in members:
        p = oof(r)
        if p is None:
            raise SystemExit(f"trial #{r.number} has no out-of-fold predictions (cv_predictions on its run)")
        refit.append(np.asarray(p, dtype=np.float64))
        cfg, epochs = build_train_config(r.config, settings)
        # the models trained without folds i and j: a fold ensemble of the outer training part of i and of j
        pair_folds = []
        for i, j in pairs:
            out = np.union1d(val_of[i], val_of[j])
            pair_folds.append((np.setdiff1d(np.arange(n), out), out))
        _say(f"trial #{r.number} ({r.config.get('architecture')}): {len(pairs)} models without two folds, {epochs} epochs")
        trainer = CVTrainer(train, pair_folds, cfg, num_threads=1, precision=job.train.precision)
        trainer.fit()
        by_outer: dict[int, list[np.ndarray]] = {j: [] for j in range(k)}
        for m, (i, j) in zip(trainer.models, pairs):
            for outer in (i, j):
                rows = val_of[outer]
                by_outer[outer].append(predict_proba([m], train.X[rows], task=train.task, rc_average=cfg.strand_average))
        fold_ens.append({j: np.mean(ps, axis=0) for j, ps in by_outer.items()})
    seconds = time.perf_counter() - t0

    from seqsweep.final_model import fold_metrics
    names = ["weighted_accuracy", "roc_auc", "pr_auc"]

    def per_fold(p_of_outer) -> dict[str, list[float]]:
        out = {m: [] for m in names}
        for j, rows in enumerate(val_of):
            s = fold_metrics(train.task, train.y[rows], train.w[rows], p_of_outer(j), [(None, np.arange(len(rows)))], names)
            for m in names:
                out[m].append(float(s[m][0]))
        return out

    cands = {
        "best trial, refit": per_fold(lambda j: refit[0][val_of[j]]),
        "best trial, fold ensemble": per_fold(lambda j: fold_ens[0][j]),
        f"top-{len(members)} trials, refits": per_fold(lambda j: np.mean([p[val_of[j]] for p in refit], axis=0)),
        f"top-{len(members)} trials, fold ensembles": per_fold(lambda j: np.mean([fe[j] for fe in fold_ens], axis=0)),
    }
    from seqsweep.intervals import paired_difference

    base = cands["best trial, fold ensemble"]
    out = {name: {"cv": _cv(v), "minus_best_fold_ensemble": {
        m: {"mean": d.value, "se": d.se, "ci": [d.low, d.high]} for m in names for d in [paired_difference(v[m], base[m])]}}
        for name, v in cands.items()}
    return {"compare": {"sweep_id": parent.data.tags[tracking.TAG_SWEEP], "folds": k, "trials": [r.number for r in members],
                        "configs": [r.config for r in members], "candidates": out,
                        "wall_s": round(seconds, 1), "cpu_s": round(_cpu_s() - c0, 1)}, "split": prep.info}


def split_noise(job_path: Path, seeds: int) -> dict[str, Any]:
    """The k-mer anchor on held-out seeds 0..seeds-1: per split its CV and held-out scores, and their spread."""
    from seqsweep.config import load_job
    from seqsweep.prepare import prepare_data

    if seeds < 2:
        raise SystemExit("splits: --seeds must be at least 2 (the spread over splits needs two)")
    from scipy import sparse

    t0 = time.time()
    rows = []
    counts, row_of = None, {}  # a window's k-mer counts do not depend on the split: counted once, by id
    for seed in range(seeds):
        job = load_job(job_path, [f"data.holdout.seed={seed}"])
        prep = prepare_data(job)
        if counts is None:
            counts = sparse.vstack([kmer_features(prep.train.X), kmer_features(prep.test.X)]).tocsr()
            row_of = {id_: i for i, id_ in enumerate(np.concatenate([prep.train.ids, prep.test.ids]))}
        a = _kmer_logreg(prep, features=tuple(counts[[row_of[i] for i in ds.ids]] for ds in (prep.train, prep.test)))
        ho = a["heldout"]
        rows.append({"seed": seed, "test_positives": prep.info["test_positives"], "C": a["C"],
                     "cv": {m: a["cv"][m]["mean"] for m in ("weighted_accuracy", "roc_auc")},
                     "heldout": {m: ho[m] for m in ("weighted_accuracy", "roc_auc")},
                     "heldout_ci": {m: ho["ci"][m] for m in ("weighted_accuracy", "roc_auc")}})
        _say(f"split seed {seed}: cv {rows[-1]['cv']['weighted_accuracy']:.3f} / {rows[-1]['cv']['roc_auc']:.3f}, "
             f"held-out {ho['weighted_accuracy']:.3f} / {ho['roc_auc']:.3f} ({rows[-1]['test_positives']} sites)")
    summary = {}
    for m in ("weighted_accuracy", "roc_auc"):
        cv_, ho_ = np.array([r["cv"][m] for r in rows]), np.array([r["heldout"][m] for r in rows])
        gap = ho_ - cv_
        summary[m] = {"cv_mean": float(cv_.mean()), "cv_sd": float(cv_.std(ddof=1)), "heldout_mean": float(ho_.mean()),
                      "heldout_sd": float(ho_.std(ddof=1)), "heldout_min": float(ho_.min()), "heldout_max": float(ho_.max()),
                      "gap_mean": float(gap.mean()), "gap_sd": float(gap.std(ddof=1)),
                      "gap_within_0.03": int((np.abs(gap) <= 0.03).sum())}
    summary["weighted_accuracy"]["heldout_at_least_0.70"] = int(sum(r["heldout"]["weighted_accuracy"] >= 0.70 for r in rows))
    summary["roc_auc"]["heldout_at_least_0.78"] = int(sum(r["heldout"]["roc_auc"] >= 0.78 for r in rows))
    return {"splits": {"model": "kmer_logreg", "seeds": seeds, "wall_s": time.time() - t0, "rows": rows, "summary": summary}}


# --------------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------------
def _f(x, nd=3) -> str:
    return "" if x is None else f"{float(x):.{nd}f}"


def _ci(x, ci=None, nd=3) -> str:
    """0.698 [0.621, 0.771], or the number alone without an interval."""
    if x is None:
        return ""
    if not ci or ci[0] is None or not math.isfinite(ci[0]):
        return _f(x, nd)
    return f"{_f(x, nd)} [{_f(ci[0], nd)}, {_f(ci[1], nd)}]"


def _cv_cell(cv: dict | None, name: str) -> str:
    e = (cv or {}).get(name)
    return _ci(e["mean"], e["ci"]) if e else ""


def _ho_cell(ho: dict | None, name: str) -> str:
    ho = ho or {}
    return _ci(ho.get(name), ho.get("ci", {}).get(name))


def markdown(doc: dict[str, Any]) -> str:
    lines = []
    sw = doc.get("sweep")
    an = doc.get("anchors") or {}
    reg = (sw or {}).get("registered")
    if reg or an:
        lines += [
            "The search's model against the anchors. CV: mean over the 5 grouped folds of the training part [95% t "
            "interval]; held-out: the 20% of chr22 never used for tuning [95% interval, 1000 resamples of its 100 kb "
            "blocks].",
            "",
            "| model | cv weighted acc. | cv ROC AUC | held-out weighted acc. | held-out ROC AUC | held-out PR AUC |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        if reg:
            c = reg.get("cv", {})
            cv_w = _ci(c.get("cv_weighted_accuracy"), [c.get("cv_weighted_accuracy_ci_low"), c.get("cv_weighted_accuracy_ci_high")])
            lines.append(f"| **the sweep's model**: {reg.get('final')} (v{reg.get('version')}) | {cv_w} | {_f(c.get('cv_roc_auc'))} | "
                         f"{_ho_cell(reg.get('heldout'), 'weighted_accuracy')} | {_ho_cell(reg.get('heldout'), 'roc_auc')} | "
                         f"{_ho_cell(reg.get('heldout'), 'pr_auc')} |")
        for name, a in an.items():
            cv = a.get("cv")
            cv_w = _cv_cell(cv, "weighted_accuracy") or (_f(a.get("cv_weighted_accuracy")) if a.get("cv_weighted_accuracy") is not None else "")
            lines.append(f"| {name} | {cv_w} | {_cv_cell(cv, 'roc_auc')} | {_ho_cell(a.get('heldout'), 'weighted_accuracy')} | "
                         f"{_ho_cell(a.get('heldout'), 'roc_auc')} | {_ho_cell(a.get('heldout'), 'pr_auc')} |")
        lines.append("")
    if sw:
        lines += [
            f"Sweep `{sw.get('sweep_id')}`: {sw.get('trials')} trials in {_f((sw.get('wall_s') or 0) / 60, 1)} min wall; "
            f"ranked by {sw.get('rank_by', 'the cv mean')}. Each architecture's best trial:",
            "",
            "| architecture | trials (done / pruned / failed) | best trial | cv weighted acc. | cv ROC AUC | held-out weighted acc. | held-out ROC AUC | compute (trial-min, epochs) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sw["architectures"]:
            ho = r.get("heldout", {})
            cv = _cv_cell(r.get("cv"), "weighted_accuracy")
            if cv and r.get("best_status") != "completed":
                cv += f" (pruned at epoch {r.get('best_epochs')})"
            lines.append(
                f"| {r['architecture']} | {r['trials']} ({r['completed']} / {r['pruned']} / {r['failed']}) | "
                f"{'#' + str(r['trial']) if r.get('trial') else ''} | {cv} | {_cv_cell(r.get('cv'), 'roc_auc')} | "
                f"{_ho_cell(ho, 'weighted_accuracy')} | {_ho_cell(ho, 'roc_auc')} | {_f(r['trial_seconds'] / 60, 1)}, {r['epochs']} |"
            )
        lines.append("")
    cmp_ = doc.get("compare")
    if cmp_:
        trials = ", ".join(f"#{t}" for t in cmp_["trials"])
        lines += [
            f"Which final model generalises better, by nested CV on the training part only (sweep `{cmp_['sweep_id']}`, "
            f"trials {trials}; {_f(cmp_['cpu_s'] / 60, 1)} CPU-min): each candidate built from the {cmp_['folds'] - 1} folds other "
            f"than fold j, scored on fold j; the differences are paired over the {cmp_['folds']} outer folds.",
            "",
            "| final model | cv weighted acc. | cv ROC AUC | cv PR AUC | minus the best trial's fold ensemble: weighted acc. | ROC AUC |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, c in cmp_["candidates"].items():
            d = c["minus_best_fold_ensemble"]
            dw, dr = d["weighted_accuracy"], d["roc_auc"]
            diff = (lambda e: "" if abs(e["mean"]) < 1e-12 and (e["ci"][0] or 0) == 0 else
                    f"{e['mean']:+.3f} [{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]")
            lines.append(f"| {name} | {_cv_cell(c['cv'], 'weighted_accuracy')} | {_cv_cell(c['cv'], 'roc_auc')} | "
                         f"{_cv_cell(c['cv'], 'pr_auc')} | {diff(dw)} | {diff(dr)} |")
        lines.append("")
    sp = doc.get("splits")
    if sp:
        w, r = sp["summary"]["weighted_accuracy"], sp["summary"]["roc_auc"]
        n = sp["seeds"]
        lines += [
            f"The same k-mer regression recipe on {n} held-out splits of the same design (held-out seeds 0..{n - 1}; "
            f"{_f(sp['wall_s'] / 60, 1)} min). Across splits the held-out weighted accuracy is {_f(w['heldout_mean'])} "
            f"± {_f(w['heldout_sd'])} (sd; {_f(w['heldout_min'])} to {_f(w['heldout_max'])}) and the ROC AUC "
            f"{_f(r['heldout_mean'])} ± {_f(r['heldout_sd'])} ({_f(r['heldout_min'])} to {_f(r['heldout_max'])}); "
            f"the CV estimate moves far less ({_f(w['cv_mean'])} ± {_f(w['cv_sd'])}, {_f(r['cv_mean'])} ± {_f(r['cv_sd'])}). "
            f"Held-out minus CV: {w['gap_mean']:+.3f} ± {_f(w['gap_sd'])} weighted accuracy, within 0.03 on "
            f"{w['gap_within_0.03']} of {n} splits; held-out ROC AUC >= 0.78 on {r['heldout_at_least_0.78']} of {n}, "
            f"weighted accuracy >= 0.70 on {w['heldout_at_least_0.70']} of {n}.",
            "",
            "| held-out seed | held-out sites | cv weighted acc. | cv ROC AUC | held-out weighted acc. | held-out ROC AUC |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in sp["rows"]:
            ci = row["heldout_ci"]
            lines.append(f"| {row['seed']} | {row['test_positives']} | {_f(row['cv']['weighted_accuracy'])} | {_f(row['cv']['roc_auc'])} | "
                         f"{_ci(row['heldout']['weighted_accuracy'], ci['weighted_accuracy'])} | {_ci(row['heldout']['roc_auc'], ci['roc_auc'])} |")
        lines.append("")
    split = doc.get("split")
    if split:
        lines += [f"Split: {split['rows']} training rows ({split['positives']} positives), "
                  f"{split['test_rows']} held-out rows ({split['test_positives']} positives)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/jund_quality.py", description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("anchors", "sweep", "compare", "splits", "markdown"))
    p.add_argument("--job", type=Path, default=JOB, help="the job whose split (and sweep) to use (default jobs/jund.yaml)")
    p.add_argument("--only", nargs="+", help="anchors: only these (homework_mlp homework_cnn homework_lstm kmer_logreg deepbind_hand_tuned)")
    p.add_argument("--top-k", type=int, default=3, help="compare: the sweep's top k trials (default 3)")
    p.add_argument("--seeds", type=int, default=20, help="splits: how many held-out seeds (default 20)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.what != "markdown":
        if args.what == "anchors":
            new = anchors(args.job, args.only)
            doc.setdefault("anchors", {}).update(new["anchors"])
        elif args.what == "sweep":
            new = sweep_table(args.job)
            doc["sweep"] = new["sweep"]
        elif args.what == "splits":
            new = split_noise(args.job, args.seeds)
            doc["splits"] = new["splits"]
        else:
            new = compare(args.job, args.top_k)
            doc["compare"] = new["compare"]
        if "split" in new:  # the job's own split (seed of jobs/jund.yaml); `splits` ranges over seeds
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
