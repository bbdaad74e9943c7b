"""The benchmark measures of issue #5. Each is a function (quick, threads) -> dict, run in its own process.

A measure returns {"rows": [...], "details": {...}, "notes": [...]}: the rows go into the printed table and
latest.json (variant, value, unit, ratio and what the ratio compares), the details hold every raw timing.
Compared variants are always run side by side in the same process, interleaved (A B then B A when there are
repeats), and timings keep the fastest repeat: the machine is shared, and other work only ever slows a run.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from common import (
    JUND_VALID,
    TMP,
    TreeMemorySampler,
    bench_home,
    jund_or_synthetic,
    mib,
    ray_runtime,
    run_sweep,
    say,
    seed_store,
    stratified_subset,
    synthetic_dir,
    write_job,
)

FOLDS = 5


def row(variant: str, value: float | None, unit: str, ratio: float | None = None, ratio_of: str = "") -> dict[str, Any]:
    return {
        "variant": variant,
        "value": None if value is None else round(float(value), 4),
        "unit": unit,
        "ratio": None if ratio is None else round(float(ratio), 3),
        "ratio_of": ratio_of,
    }


def _interleaved(reps: int, variants: list[str]) -> list[str]:
    """A B C, then C B A, ...: each variant sees early and late machine conditions equally."""
    order: list[str] = []
    for r in range(reps):
        order += variants if r % 2 == 0 else variants[::-1]
    return order


# ==============================================================================================================
# 1. trial_throughput: CVTrainer vs the homework loop, one epoch of 5 folds
# ==============================================================================================================
def _homework_child_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def trial_throughput(quick: bool, threads: int) -> dict[str, Any]:
    import multiprocessing

    import torch

    torch.set_num_threads(threads)
    # The homework loop runs in a fresh interpreter of its own (spawned, kept for the whole measure): CVTrainer
    # tunes glibc's malloc for its process (seqsweep.allocator), and a loop users write runs without that.
    homework_pool = multiprocessing.get_context("spawn").Pool(1, initializer=_homework_child_init, initargs=(threads,))
    try:
        return _trial_throughput(quick, threads, homework_pool)
    finally:
        homework_pool.terminate()


def _trial_throughput(quick: bool, threads: int, homework_pool) -> dict[str, Any]:
    import homework
    from seqsweep import cv
    from seqsweep.train import CVTrainer, TrainConfig

    ds, source = jund_or_synthetic()
    default_batch = TrainConfig("cnn").batch_size
    # the homework's notebook-style networks compute what seqsweep's do (same weights -> same logits)
    plain_gap = {arch: homework.check_plain_model(arch, ds.seq_len) for arch in ("cnn", "deepbind", "lstm", "cnn_bilstm")}
    if max(plain_gap.values()) > 1e-4:
        raise RuntimeError(f"bench/homework.py: plain models differ from seqsweep's: {plain_gap}")
    # --quick trains on stratified subsets; the full run on every row (the LSTM included: ~7 s a fold-epoch).
    sizes = {"cnn": 5000, "deepbind": 5000, "cnn_bilstm": 5000, "lstm": 1500} if quick else {}
    reps = 2

    rows, details, notes = [], {}, []
    for arch in ("cnn", "deepbind", "lstm", "cnn_bilstm"):
        sub = stratified_subset(ds, sizes.get(arch, len(ds)))
        folds = cv.make_folds(sub.y, FOLDS, seed=0)
        train_rows = sum(len(tr) for tr, _ in folds)
        # seqsweep at its default precision ('auto': bf16 mixed precision where the CPU has AMX and the
        # architecture gains, see seqsweep.train.resolve_precision) and pinned to float32, to tell the two apart
        variants = ["seqsweep", "homework", "seqsweep_fp32"]
        order = _interleaved(reps, variants)
        if not quick and arch == "deepbind":
            # deepbind also at the homework's batch size, once, to tell the data path from the batch size
            variants.append("seqsweep_b100")
            order.insert(len(order) // 2, "seqsweep_b100")
        runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        resolved = "?"
        for variant in order:
            if variant == "homework":
                r = homework_pool.apply(homework.train_folds_one_epoch, (sub, folds, arch))
            else:
                batch = homework.BATCH_SIZE if variant == "seqsweep_b100" else default_batch
                precision = "float32" if variant == "seqsweep_fp32" else "auto"
                t0 = time.perf_counter()
                trainer = CVTrainer(sub, folds, TrainConfig(arch, {}, batch_size=batch, epochs=1), num_threads=threads,
                                    precision=precision)
                build_s = time.perf_counter() - t0
                if variant == "seqsweep":
                    resolved = trainer.precision
                t0 = time.perf_counter()
                m = trainer.step_epoch()
                r = {"build_s": build_s, "epoch_s": time.perf_counter() - t0, "train_rows": train_rows,
                     "cv_weighted_accuracy": m["cv_weighted_accuracy"], "precision": trainer.precision}
            runs[variant].append(r)
            say(f"{arch:10s} {variant:14s} {r['epoch_s']:7.2f} s/epoch ({train_rows / r['epoch_s']:8.0f} samples/s)")
        best = {v: min(x["epoch_s"] for x in runs[v]) for v in variants}
        rate = {v: train_rows / best[v] for v in variants}
        label = f"{arch} ({len(sub)} rows{', subset' if len(sub) < len(ds) else ''})"
        rows.append(row(f"{label} homework loop b{homework.BATCH_SIZE}", rate["homework"], "samples/s"))
        rows.append(row(f"{label} seqsweep CVTrainer b{default_batch} float32", rate["seqsweep_fp32"], "samples/s",
                        rate["seqsweep_fp32"] / rate["homework"], "x homework"))
        if resolved != "float32":
            rows.append(row(f"{label} seqsweep CVTrainer b{default_batch} {resolved} (default 'auto')",
                            rate["seqsweep"], "samples/s", rate["seqsweep"] / rate["homework"], "x homework"))
        if "seqsweep_b100" in rate:
            rows.append(row(f"{label} seqsweep CVTrainer b{homework.BATCH_SIZE} {resolved}", rate["seqsweep_b100"],
                            "samples/s", rate["seqsweep_b100"] / rate["homework"], "x homework"))
        details[arch] = {"rows": len(sub), "train_rows_per_epoch": train_rows, "runs": runs}
    if quick:
        notes.append("--quick: stratified subsets (5,000 rows; 1,500 for lstm), class-balancing weights recomputed")
    notes.append(
        f"data: {source}; {FOLDS} folds; torch threads {threads} for both; samples/s = training rows of the 5 folds "
        f"/ seconds of one epoch, which for both loops includes scoring each fold's validation rows; model "
        f"building timed apart; best of {reps} interleaved run(s). seqsweep at its default batch size "
        f"{default_batch} (TrainConfig / job train.batch_size), AdamW (weight decay 0), at its default precision 'auto' "
        f"(bfloat16 mixed precision on a CPU with AMX for the conv and recurrent models) and pinned to float32; "
        f"homework: batch 100, Adam, float32, in a process of its own with glibc's default malloc settings, the same "
        f"networks written notebook-style (nn.Conv1d / max-pool on (B, C, L), each strand scanned apart; "
        f"bench/homework.py, checked to give the same logits); both score validation rows in float32."
    )
    return {"rows": rows, "details": {"source": source, "threads": threads, "plain_model_max_logit_gap": plain_gap,
                                      **details}, "notes": notes}


# ==============================================================================================================
# 2. sweep_overhead: a fixed list of trials in a plain loop vs through Ray Tune + Optuna + MLflow
# ==============================================================================================================
FIXED_CNN_SPACE = """\
architecture: cnn
learning_rate: [1.0e-3]
batch_size: [256]
"""


def _fixed_job(home: Path, name: str, train_dir: Path, *, trials: int, epochs: int, concurrent: int, cpu: int,
               threads: int, space: str = FIXED_CNN_SPACE, extra: str = "", registry: bool = False) -> Path:
    return write_job(home, name, space, f"""\
data: {{train: {train_dir}}}
search: {{num_trials: {trials}, max_concurrent: {concurrent}, sampler: random, seed: 0, scheduler: none, startup_trials: 1}}
cv: {{folds: {FOLDS}, seed: 0}}
train: {{max_epochs: {epochs}, rc_augment: false, device: cpu}}
resources: {{cpu: {cpu}, threads: {threads}}}
registry: {{enabled: {'true' if registry else 'false'}, model_name: {name}}}
""" + extra)


def _plain_loop(job_path: Path, threads: int) -> tuple[float, list[float]]:
    """The same trials as the sweep, in this process: load data, make folds, CVTrainer per trial, epochs."""
    from seqsweep import config, sweep
    from seqsweep.search_space import load_search_space, split_config
    from seqsweep.train import CVTrainer, TrainConfig

    job = config.load_job(job_path)
    t0 = time.perf_counter()
    prepared = sweep.prepare_data(job)
    space = load_search_space(job.search_space)
    arch = space.architectures[0]
    _, model_kw, train_kw = split_config(space.fixed_config(arch))
    per_trial = []
    for _ in range(job.search.num_trials):
        t = time.perf_counter()
        cfg = TrainConfig(arch, model_kw, learning_rate=train_kw.get("learning_rate", job.train.learning_rate),
                          batch_size=train_kw.get("batch_size", job.train.batch_size), epochs=job.train.max_epochs,
                          optimizer=job.train.optimizer, rc_augment=job.train.rc_augment, seed=job.cv.seed)
        trainer = CVTrainer(prepared.train, prepared.folds, cfg, num_threads=threads)
        trainer.fit()
        per_trial.append(time.perf_counter() - t)
    return time.perf_counter() - t0, per_trial


def _epoch_seconds(home: Path, train_dir: Path, threads: int) -> float:
    """Seconds per epoch of the fixed cnn trial on this machine now: a plain trial of 4 epochs (model building
    included) after an untimed 1-epoch one, which pays this process's one-time costs (torch._dynamo, imported
    by the first torch optimizer, ~1-2 s)."""
    _plain_loop(_fixed_job(home, "calib_warm", train_dir, trials=1, epochs=1, concurrent=1, cpu=threads,
                           threads=threads), threads)
    _, timed = _plain_loop(_fixed_job(home, "calib", train_dir, trials=1, epochs=4, concurrent=1, cpu=threads,
                                      threads=threads), threads)
    return timed[0] / 4


_PHASES = ("until_first_s", "after_last_s", "per_trial_s")


def _sweep_phases(result, called: float, returned: float) -> dict[str, float]:
    """Where a sweep's time outside training goes, from the driver's clock (trials one at a time): from
    sweep.run's call until the first trial trains (Ray Tune starting the trial's worker, which imports torch;
    the driver's set-up), after the last trial ended (its model's logging, the report), and per trial the
    rest (Tune's hand-over between trials, the time a started trial spends outside `trial_seconds`)."""
    recs = sorted(result.records, key=lambda r: r.started)
    inside = [r.last.get("trial_seconds", 0.0) for r in recs]
    first = recs[0].started + (recs[0].ended - recs[0].started - inside[0])  # when the first trial began training
    spans = sum(r.ended - r.started for r in recs)
    gaps = sum(b.started - a.ended for a, b in zip(recs, recs[1:]))
    # the first trial's own start-up (worker imports before run_trial) is per sweep, not per trial
    per_trial = (spans - sum(inside) - (first - recs[0].started) + gaps) / max(1, len(recs) - 1)
    return {"until_first_s": first - called, "after_last_s": returned - recs[-1].ended, "per_trial_s": per_trial}


def sweep_overhead(quick: bool, threads: int) -> dict[str, Any]:
    import optuna

    from seqsweep import store, tracking

    train_dir = synthetic_dir(4000)
    # 8 trials as in the issue's own measurement: per-sweep costs (the first worker's start, the final report)
    # are spread over a realistic number of trials. The two trial sizes, ~2 s and ~10 s, are set in
    # epochs from a timed plain trial below: the machine's speed drifts (an epoch of this cnn took 0.3-0.9 s
    # within one day), so a fixed epoch count gave trials of 3-9 s for the "10 s" size.
    sizes = [("short", 2.0)] + ([] if quick else [("long", 10.0)])
    # The machine's speed drifts by up to ~30% within minutes (the same plain loop 75 s, then 54 s). Runs go
    # in adjacent pairs, plain then sweep, then sweep then plain, ...; the ratio is the median of the pairs'
    # ratios, not best against best.
    reps = 1 if quick else 3
    trials = 4 if quick else 8
    rows, details, notes = [], {}, []
    ray_init: list[float] = []
    # Start-up as sweep.run pays it: a fresh MLflow store opened on a thread while the local Ray starts
    # (sweep.open_store_while_ray_starts), then the Optuna study's storage; against the same one after the other.
    # Each in a fresh home, interleaved, after a first untimed one (imports), fastest of 2.
    import ray

    from seqsweep import runtime, sweep

    def start_up(overlapped: bool) -> float:
        with bench_home("overhead-startup"):
            uri = store.tracking_uri()
            t0 = time.perf_counter()
            if overlapped:
                sweep.open_store_while_ray_starts(lambda: runtime.init_ray(None), uri, "overhead_startup")
            else:
                tracking.open_store(uri, "overhead_startup")
                runtime.init_ray(None)
            optuna.storages.RDBStorage(f"sqlite:///{store.mlruns_dir() / 'optuna.db'}")
            seconds = time.perf_counter() - t0
            ray.shutdown()
            return seconds

    start_up(True)
    startups: dict[str, list[float]] = {"overlapped": [], "sequential": []}
    for variant in _interleaved(2, list(startups)):
        startups[variant].append(start_up(variant == "overlapped"))
    startup_s, sequential_s = min(startups["overlapped"]), min(startups["sequential"])
    say(f"start-up of a sweep (a fresh store): {startup_s:.1f} s overlapped, {sequential_s:.1f} s one after the other")
    with bench_home("overhead") as home:
        # Fixed start-up cost 1, measured once: a fresh tracking store (MLflow + Optuna schema migrations).
        uri = store.tracking_uri()
        t0 = time.perf_counter()
        tracking.open_store(uri, f"overhead_{sizes[0][0]}")
        mlflow_store_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        optuna.storages.RDBStorage(f"sqlite:///{store.mlruns_dir() / 'optuna.db'}")
        optuna_store_s = time.perf_counter() - t0
        say(f"fresh store: MLflow {mlflow_store_s:.1f} s, Optuna {optuna_store_s:.1f} s")
        # Every timed plain loop runs warm: the calibration's first trainer pays this process's one-time costs.
        epoch_s = _epoch_seconds(home, train_dir, threads)
        lists = [(name, max(1, round(target / epoch_s))) for name, target in sizes]
        say(f"calibration: {epoch_s:.2f} s per epoch -> " + ", ".join(f"{n} {e} epochs" for n, e in lists))
        jobs = {name: _fixed_job(home, f"overhead_{name}", train_dir, trials=trials, epochs=epochs, concurrent=1,
                                 cpu=threads, threads=threads) for name, epochs in lists}
        for name, epochs in lists:
            runs: dict[str, list[dict[str, Any]]] = {"plain": [], "sweep": []}
            for variant in _interleaved(reps, ["plain", "sweep"]):
                if variant == "plain":
                    # Ray is down here: its driver threads and idle workers would slow a 2-thread loop in
                    # this process (measured: 2-3x), which is not the plain loop's own cost.
                    wall, per_trial = _plain_loop(jobs[name], threads)
                    runs["plain"].append({"wall_s": wall, "trial_s": per_trial})
                else:
                    # Fixed start-up cost 2: Ray, started here (as sweep.run would) and timed apart.
                    with ray_runtime() as init_s:
                        ray_init.append(init_s)
                        result, wall = run_sweep(jobs[name])
                        returned = time.time()
                    inside = [r.last.get("trial_seconds", float("nan")) for r in result.records]
                    runs["sweep"].append({"wall_s": wall, "ray_init_s": init_s, "trial_training_s": inside,
                                          **_sweep_phases(result, returned - wall, returned)})
                say(f"{name:5s} {variant:5s} {wall:6.1f} s for {trials} trials of {epochs} epochs")
            pairs = list(zip(runs["plain"], runs["sweep"]))  # run i of each variant ran next to each other
            ratios = [sw["wall_s"] / pl["wall_s"] for pl, sw in pairs]
            mid = sorted(range(len(pairs)), key=lambda i: ratios[i])[len(pairs) // 2]  # the median pair
            plain, swept = pairs[mid][0]["wall_s"], pairs[mid][1]["wall_s"]
            fixed_s = startup_s
            overheads = [(sw["wall_s"] - sum(sw["trial_training_s"])) / trials for sw in runs["sweep"]]
            tag = f"{name}: {trials} trials x {epochs} ep (~{plain / trials:.1f} s each)"
            rows.append(row(f"{tag}, plain CVTrainer loop", plain, "s"))
            rows.append(row(f"{tag}, seqsweep sweep (excl. start-up)", swept, "s", ratios[mid], "x plain"))
            rows.append(row(f"{tag}, seqsweep sweep (incl. start-up)", swept + fixed_s, "s",
                            (swept + fixed_s) / plain, "x plain"))
            rows.append(row(f"{tag}, platform overhead per trial", float(np.median(overheads)), "s"))
            phases = {k: float(np.median([sw[k] for sw in runs["sweep"]])) for k in _PHASES}
            rows.append(row(f"{tag}, of which per sweep: until the first trial trains", phases["until_first_s"], "s"))
            rows.append(row(f"{tag}, of which per sweep: after the last trial", phases["after_last_s"], "s"))
            rows.append(row(f"{tag}, of which per trial: outside its training (marginal)", phases["per_trial_s"], "s"))
            details[name] = {"epochs": epochs, "runs": runs, "pair_ratios": ratios, "median_pair": mid,
                             "plain_trial_s_mean": plain / trials}
    rows.append(row("start-up: ray.init (local runtime)", min(ray_init), "s"))
    rows.append(row("start-up: fresh MLflow + Optuna sqlite stores", mlflow_store_s + optuna_store_s, "s"))
    rows.append(row("start-up of a sweep: a fresh store, then Ray (as before)", sequential_s, "s"))
    rows.append(row("start-up of a sweep: a fresh store opened while Ray starts", startup_s, "s",
                    startup_s / sequential_s, "x one after the other"))
    notes.append(
        f"synthetic data, 4,000 rows, {FOLDS} folds, cnn defaults, batch 256; every trial the same configuration "
        f"for the epochs that make a ~2 s and a ~10 s trial at the speed of a timed plain trial just before "
        f"({epoch_s:.2f} s per epoch: " + ", ".join(f"{n} {e}" for n, e in lists) + " epochs) "
        f"(a search space of single-valued choices); max_concurrent 1, resources.cpu = threads = {threads}, "
        "scheduler none, registry disabled (registration is timed in `inference`). The plain loop loads the data, "
        "makes the folds and trains, with Ray down; the sweep also checkpoints every trial and logs its model to "
        "MLflow. 'excl. start-up' = sweep.run wall time with Ray already up and the store already created; "
        "'incl.' adds the start-up as sweep.run pays it: a fresh store opened on a thread while Ray starts (timed "
        "in a home of its own; the parts, timed apart, are shown too). Platform overhead per trial = (sweep wall - sum of "
        f"in-trial training seconds) / trials, median over runs. {reps} adjacent plain/sweep pair(s) per trial "
        "size (ABBA order); the rows show the pair with the median ratio."
    )
    details.update({"ray_init_s": ray_init, "mlflow_store_s": mlflow_store_s, "optuna_store_s": optuna_store_s,
                    "startup_s": startups,
                    "calibration_epoch_s": epoch_s, "target_trial_s": dict(sizes)})
    return {"rows": rows, "details": details, "notes": notes}


# ==============================================================================================================
# 3. concurrency_scaling: trials/hour at max_concurrent 2 (1 thread each) vs 1 (1 or 2 threads)
# ==============================================================================================================
def _trial_span_s(result) -> float:
    """Seconds from the first trial run's start to the last one's end, from the sweep's MLflow child runs."""
    import mlflow

    from seqsweep import tracking

    runs = mlflow.MlflowClient(result.uri).search_runs(
        [result.experiment_id],
        filter_string=f"tags.`{tracking.TAG_SWEEP}` = '{result.sweep_id}' and tags.`{tracking.TAG_KIND}` = 'trial'",
    )
    return (max(r.info.end_time for r in runs) - min(r.info.start_time for r in runs)) / 1000


def concurrency_scaling(quick: bool, threads: int) -> dict[str, Any]:
    if quick:
        return {"rows": [row("skipped in --quick", None, "")], "details": {}, "notes": ["full run only"]}
    train_dir = synthetic_dir(4000)
    # Trials of ~10 s at 1 thread (as sweep_overhead's long ones, calibrated the same way), long enough that the
    # per-sweep start (~3-7 s until the first trial trains) is not most of what is measured.
    trials, reps = 8, 2
    variants = {"1x1": (1, 1, 1), "2x1": (2, 1, 1), "1x2": (1, 2, 2)}  # name: (max_concurrent, cpu, threads)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    with bench_home("concurrency") as home:
        seed_store(home)
        epoch_s = _epoch_seconds(home, train_dir, 1)
        epochs = max(2, round(10.0 / epoch_s))
        say(f"calibration: {epoch_s:.2f} s per epoch at 1 thread -> {epochs} epochs per trial")
        jobs = {v: _fixed_job(home, f"conc_{v}", train_dir, trials=trials, epochs=epochs, concurrent=c, cpu=cpu,
                              threads=th) for v, (c, cpu, th) in variants.items()}
        with ray_runtime():
            for v in _interleaved(reps, list(variants)):
                cpu0 = os.times()
                result, wall = run_sweep(jobs[v])
                cpu1 = os.times()
                inside = [r.last.get("trial_seconds", float("nan")) for r in result.records]
                span = _trial_span_s(result)
                # The driver's own CPU time (all its threads: Tune's loop, Optuna, the MLflow writer and model
                # logging, one-time imports): what the trials cannot use of the 2 cores.
                driver = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
                runs[v].append({"wall_s": wall, "trial_span_s": span, "trial_training_s": inside, "driver_cpu_s": driver})
                say(f"{v}: {wall:6.1f} s for {trials} trials ({trials * 3600 / wall:6.0f} trials/h); "
                    f"first trial start to last trial end {span:6.1f} s")
    # The machine's speed drifts within minutes: each ratio is taken within a pass (A B C, then C B A) and
    # averaged over the passes; the rates shown are the passes' means.
    def rate(v: str, key: str = "wall_s") -> float:
        return float(np.mean([trials * 3600 / r[key] for r in runs[v]]))

    def speedup(a: str, b: str, key: str = "wall_s") -> float:  # how many times faster a ran than b
        return float(np.mean([rb[key] / ra[key] for ra, rb in zip(runs[a], runs[b])]))

    rows = [
        row("max_concurrent 1 x 1 thread", rate("1x1"), "trials/h"),
        row("max_concurrent 1 x 2 threads", rate("1x2"), "trials/h", speedup("1x2", "1x1"), "x 1x1"),
        row("max_concurrent 2 x 1 thread", rate("2x1"), "trials/h", speedup("2x1", "1x1"), "x 1x1"),
        row("max_concurrent 2 x 1 thread vs 1 x 2", rate("2x1"), "trials/h", speedup("2x1", "1x2"), "x 1x2"),
        row("steady state, 1 x 1 thread", rate("1x1", "trial_span_s"), "trials/h"),
        row("steady state, 2 x 1 thread", rate("2x1", "trial_span_s"), "trials/h",
            speedup("2x1", "1x1", "trial_span_s"), "x 1x1"),
        row("driver process CPU during a 2 x 1 sweep", float(np.mean([r["driver_cpu_s"] for r in runs["2x1"]])),
            "s", float(np.mean([r["driver_cpu_s"] / (2 * r["wall_s"]) for r in runs["2x1"]])), "of the 2 cores"),
    ]
    notes = [f"{trials} identical cnn trials x {epochs} epochs (~10 s each at 1 thread: {epoch_s:.2f} s per epoch in a "
             f"timed plain trial just before), synthetic 4,000 rows, {FOLDS} folds, Ray already up, "
             f"store pre-created; trials/h from sweep wall time; {reps} interleaved passes (A B C C B A), each ratio "
             "taken within a pass and averaged over the passes. "
             "'steady state' counts from the first trial's start to the last trial's end (the MLflow child runs), "
             "leaving out the once-per-sweep start (data, stores, the first worker's imports) and final report, "
             "which a long sweep amortises. 'driver process CPU' = the user + system time of this process (the "
             "sweep's driver, all threads) during the sweep, and its share of the 2 cores over the sweep's wall time."]
    return {"rows": rows, "details": {"runs": runs, "epochs": epochs, "calibration_epoch_s": epoch_s}, "notes": notes}


# ==============================================================================================================
# 4. search_efficiency: TPE + ASHA vs random search without pruning, at the same epoch budget, several seeds
# ==============================================================================================================
def _trajectory(result, budget: int) -> list[tuple[int, float]]:
    """Best-so-far curve: trials in the order Optuna proposed them, (cumulative epochs, best final metric),
    cut when the next trial would pass `budget` epochs."""
    spent, best, curve = 0, float("-inf"), []
    for r in sorted(result.records, key=lambda r: r.number):
        epochs = int(r.last.get("epoch", 0))
        if spent + epochs > budget:
            break
        spent += epochs
        value = r.last.get(result.metric)
        if value is not None and value > best:
            best = float(value)
        curve.append((spent, best))
    return curve


def _best_at(curve: list[tuple[int, float]], epochs: int) -> float:
    """The best-so-far value after `epochs` epochs of a curve (-inf before its first trial ends)."""
    return max((b for e, b in curve if e <= epochs), default=float("-inf"))


def _mean_curve(curves: list[list[tuple[int, float]]], budget: int) -> list[float]:
    """The seeds' best-so-far values averaged at every epoch 0..budget (-inf until every seed has a trial)."""
    return [float(np.mean([_best_at(c, e) for c in curves])) for e in range(budget + 1)]


def _epochs_to(curve: Iterable[tuple[int, float]], value: float) -> int | None:
    """The first epoch at which a best-so-far curve of (epochs, best) reaches `value` (None: never within it)."""
    return next((e for e, b in curve if b >= value - 1e-12), None)


SEARCH_SETTINGS = {  # name: (sampler, scheduler, ASHA's metric (null: the search metric), label)
    "random": ("random", "none", "null", "random, no pruning"),
    "tpe_asha": ("tpe", "asha", "null", "TPE + ASHA"),
    "tpe_asha_auc": ("tpe", "asha", "cv_roc_auc", "TPE + ASHA pruning on cv_roc_auc"),
}


def _search_problem(home: Path, tag: str, data_yaml: str, cv_yaml: str, *, seeds: tuple[int, ...], budget: int,
                    max_epochs: int) -> dict[str, Any]:
    space = (Path(__file__).resolve().parents[1] / "search_spaces" / "quick.yaml").read_text()
    curves: dict[str, list[list[tuple[int, float]]]] = {n: [] for n in SEARCH_SETTINGS}
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in SEARCH_SETTINGS}
    for seed in seeds:
        for name, (sampler, scheduler, prune_metric, _) in SEARCH_SETTINGS.items():
            # ASHA stops most trials early, so it gets twice the trials; those past the budget are not counted.
            trials = budget // max_epochs if name == "random" else 2 * budget // max_epochs
            job = write_job(home, f"search_{tag}_{name}_{seed}", space, f"""\
data: {data_yaml}
search: {{num_trials: {trials}, max_concurrent: 2, sampler: {sampler}, seed: {seed}, scheduler: {scheduler},
          grace_period: 2, reduction_factor: 2, startup_trials: 4, prune_metric: {prune_metric}}}
cv: {cv_yaml}
train: {{max_epochs: {max_epochs}, device: cpu}}
resources: {{cpu: 1, threads: 1}}
registry: {{enabled: false}}
""")
            result, wall = run_sweep(job)
            curve = _trajectory(result, budget)
            curves[name].append(curve)
            stopped = sum(int(r.last.get("epoch", 0)) < max_epochs for r in result.records)
            runs[name].append({"seed": seed, "wall_s": wall, "trials_run": len(result.records),
                               "trials_in_budget": len(curve), "stopped_early": stopped,
                               "best": curve[-1][1] if curve else None, "curve": curve})
            say(f"{tag} seed {seed} {name:8s}: best {curve[-1][1]:.4f} in {len(curve)} trials within {budget} "
                f"epochs ({stopped} of {len(result.records)} stopped early); {wall:.0f} s")
    mean = {n: _mean_curve(curves[n], budget) for n in SEARCH_SETTINGS}
    r_best = mean["random"][budget]
    r_epochs = _epochs_to(enumerate(mean["random"]), r_best)
    half = budget // 2
    n = len(seeds)
    rows = [
        row(f"{tag}: random, no pruning: best cv_weighted_accuracy at {budget} epochs (mean of {n} seeds)",
            r_best, ""),
        row(f"{tag}: random: epochs until its mean best", r_epochs, "epochs"),
    ]
    per_seed: dict[str, list[float | None]] = {}
    for name, (*_, label) in SEARCH_SETTINGS.items():
        if name == "random":
            continue
        m = mean[name]
        t_epochs = _epochs_to(enumerate(m), r_best)
        rows += [
            row(f"{tag}: {label}: best at {budget} epochs (mean)", m[budget], "", m[budget] - r_best, "difference"),
            row(f"{tag}: {label}: best at {half} epochs (mean)", m[half], "", m[half] - r_best,
                "difference to random at budget"),
            row(f"{tag}: {label}: epochs until random's mean best", t_epochs, "epochs",
                t_epochs / r_epochs if t_epochs is not None and r_epochs else None, "x random"),
        ]
        per_seed[name] = []
        for cr, ct in zip(curves["random"], curves[name]):
            te = _epochs_to(ct, _best_at(cr, budget))
            per_seed[name].append(None if te is None else round(te / budget, 3))
    details = {"seeds": list(seeds), "budget_epochs": budget, "max_epochs": max_epochs, "runs": runs,
               "fraction_of_budget_to_random_best_per_seed": per_seed,
               "mean_curve": {k: [round(v, 4) if math.isfinite(v) else None for v in c] for k, c in mean.items()}}
    return {"rows": rows, "details": details}


def search_efficiency(quick: bool, threads: int) -> dict[str, Any]:
    if quick:
        return {"rows": [row("skipped in --quick", None, "")], "details": {}, "notes": ["full run only"]}
    rows, details = [], {}
    with bench_home("search") as home:
        seed_store(home)
        with ray_runtime():
            synth = _search_problem(home, "synthetic", f"{{train: {synthetic_dir(6000, positive_rate=0.02)}}}",
                                    "{folds: 3, seed: 0}", seeds=(0, 1, 2), budget=96, max_epochs=6)
            rows += synth["rows"]
            details["synthetic"] = synth["details"]
            if (JUND_VALID / "shard-0-X.joblib").exists():
                # As jobs/jund.yaml: 1 Mb blocks held out (never tuned on), folds grouped by 100 kb blocks.
                jund = _search_problem(
                    home, "JUND",
                    f"{{train: {JUND_VALID}, holdout: {{fraction: 0.2, block_size: 1000000, seed: 0}}}}",
                    "{folds: 3, seed: 0, group_by: genomic_block, block_size: 100000}",
                    seeds=(0,), budget=40, max_epochs=4)
                rows += jund["rows"]
                details["JUND"] = jund["details"]
            else:
                rows.append(row("JUND: skipped (../shared/data/jund-chr22/valid absent)", None, ""))
    notes = ["search_spaces/quick.yaml (deepbind, cnn, mlp), max_concurrent 2 x 1 thread, ASHA grace_period 2 and "
             "reduction_factor 2 (jobs/quickstart.yaml), 4 random start-up trials. Synthetic: 6,000 rows (2% "
             "positives), 3 folds, max_epochs 6, budget 96 trial-epochs (16 full trials), seeds 0-2. JUND: the "
             "jobs/jund.yaml split (held-out 1 Mb blocks never tuned on, folds grouped by 100 kb), 3 folds, "
             "max_epochs 4, budget 40 trial-epochs, seed 0. Trials are counted in Optuna's order until the budget "
             "is spent; a trial's score is its last reported epoch (what the sweep ranks by). The best-so-far "
             "curves are averaged over seeds; 'epochs until random's mean best' is where TPE + ASHA's averaged "
             "curve first reaches random search's averaged best at the full budget (target: half of random's)."]
    return {"rows": rows, "details": details, "notes": notes}


# ==============================================================================================================
# 5. inference: a registered 5-fold ensemble through mlflow.pyfunc and `seqsweep predict`
# ==============================================================================================================
INFER_SPACE = "architecture: deepbind\nlearning_rate: [1.0e-3]\n"


def inference(quick: bool, threads: int) -> dict[str, Any]:
    import mlflow
    import pandas as pd
    import torch

    from seqsweep import data
    from seqsweep.predict import predict_file

    n = 10_000 if quick else 100_000
    train_dir = synthetic_dir(3000)
    details: dict[str, Any] = {"sequences": n}
    with bench_home("inference") as home:
        seed_store(home)
        name = "bench_infer"
        job = _fixed_job(home, name, train_dir, trials=1, epochs=1, concurrent=1, cpu=threads, threads=threads,
                         space=INFER_SPACE, registry=True)
        # rc_augment on: the champion averages both strands at prediction time, as jobs/jund.yaml's would.
        result, wall = run_sweep(job, ["train.rc_augment=true", "data.holdout={fraction: 0.2, block_size: 10100, seed: 0}"])
        details["register_sweep_s"] = wall
        say(f"trained + registered a 5-fold deepbind ensemble in {wall:.1f} s (version {result.model_version})")
        client = mlflow.MlflowClient()
        try:
            client.get_model_version_by_alias(name, "champion")
            uri = f"models:/{name}@champion"
        except mlflow.exceptions.MlflowException:
            uri = f"models:/{name}/{result.model_version}"
            details["note"] = "no champion alias after the first sweep; used the version"
        details["model_uri"] = uri

        ds, source = jund_or_synthetic()
        base = data.decode(ds.X[: min(len(ds), n)])
        seqs = (base * (n // len(base) + 1))[:n]
        X = data.encode(seqs)
        frame = pd.DataFrame({"sequence": seqs})
        torch.set_num_threads(threads)

        t0 = time.perf_counter()
        model = mlflow.pyfunc.load_model(uri)
        load_s = time.perf_counter() - t0
        ensemble = model.unwrap_python_model().ensemble
        say(f"mlflow.pyfunc.load_model {load_s:.1f} s")

        # --quick skips the one-hot reference (the same predict_proba without string encoding) to save time.
        order = ["pyfunc"] if quick else ["pyfunc", "one-hot"]
        timings: dict[str, list[float]] = {v: [] for v in dict.fromkeys(order)}
        for variant in order:
            t0 = time.perf_counter()
            if variant == "pyfunc":
                out = model.predict(frame)
                assert len(out) == n
            else:
                ensemble.predict_proba(X)
            timings[variant].append(time.perf_counter() - t0)
            say(f"{variant:8s} {n / timings[variant][-1]:8.0f} seq/s")

        csv = home / "input.csv"
        pd.DataFrame({"id": [f"s{i}" for i in range(n)], "sequence": seqs}).to_csv(csv, index=False)
        file_s = None
        if not quick:  # --quick times the CLI only, which runs predict_file in a fresh process
            t0 = time.perf_counter()
            predict_file(uri, csv, home / "pred_api.csv", progress=False)
            file_s = time.perf_counter() - t0
            say(f"predict_file {n / file_s:8.0f} seq/s (incl. model load, CSV in and out)")

        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, "-m", "seqsweep", "predict", "--model", uri, "--input", str(csv),
               "--out", str(home / "pred_cli.csv"), "--quiet"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=1200)
        cli_s = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"seqsweep predict exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
        say(f"CLI      {n / cli_s:8.0f} seq/s (incl. process start)")
        # the CLI's probabilities must be the in-process model's (same weights, same averaging)
        cli = pd.read_csv(home / "pred_cli.csv")["probability"].to_numpy()
        details["cli_vs_pyfunc_max_abs_diff"] = float(np.max(np.abs(out["probability"].to_numpy() - cli)))

    pyfunc_rate = n / min(timings["pyfunc"])
    rows = [
        row("pyfunc model.predict (DataFrame of strings)", pyfunc_rate, "seq/s"),
        *([row("Ensemble.predict_proba on one-hot (no strings)", n / min(timings["one-hot"]), "seq/s",
               (n / min(timings["one-hot"])) / pyfunc_rate, "x pyfunc")] if "one-hot" in timings else []),
        *([row("predict_file CSV -> CSV (incl. load)", n / file_s, "seq/s", (n / file_s) / pyfunc_rate, "x pyfunc")]
          if file_s else []),
        row("`seqsweep predict` CLI (incl. process start)", n / cli_s, "seq/s", (n / cli_s) / pyfunc_rate, "x pyfunc"),
        row("mlflow.pyfunc.load_model(models:/...@champion)", load_s, "s"),
    ]
    details.update({"source": source, "timings_s": timings, "load_s": load_s, "predict_file_s": file_s, "cli_s": cli_s})
    notes = [f"{n:,} sequences of length 101 ({source}, tiled), a 5-fold deepbind ensemble (128 filters, both strands) "
             f"(strand-invariant, so rc averaging adds no pass: one scan with 256 filter orientations per fold model), "
             f"torch threads {threads}; one run each. model.predict is one call on the whole "
             "DataFrame; predict_file and the CLI go through it in batches of 8,192."]
    return {"rows": rows, "details": details, "notes": notes}


# ==============================================================================================================
# 6. memory: peak RSS of a sweep at max_concurrent 2 (driver + Ray processes)
# ==============================================================================================================
def memory(quick: bool, threads: int) -> dict[str, Any]:
    import resource

    ds_path = JUND_VALID if (JUND_VALID / "shard-0-X.joblib").exists() else synthetic_dir(34527, positive_rate=0.02)
    block = 1_000_000 if ds_path == JUND_VALID else 20200
    arch, trials, epochs = ("cnn", 2, 1) if quick else ("deepbind", 4, 2)
    space = f"architecture: {arch}\nlearning_rate: [1.0e-3]\n"
    have_proc = Path("/proc/self/smaps_rollup").exists()
    with bench_home("memory") as home:
        seed_store(home)
        job = _fixed_job(home, "bench_memory", ds_path, trials=trials, epochs=epochs, concurrent=2, cpu=1, threads=1,
                         space=space, registry=True)
        overrides = [f"data.holdout={{fraction: 0.2, block_size: {block}, seed: 0}}"]
        if have_proc:
            with TreeMemorySampler() as sampler:
                _, wall = run_sweep(job, overrides)
            say(f"sweep {wall:.1f} s; peak PSS {mib(sampler.peak_pss_kib)} MiB over {sampler.peak_processes} processes")
        else:
            _, wall = run_sweep(job, overrides)
            say(f"sweep {wall:.1f} s")
    self_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows, details = [], {"wall_s": wall, "ru_maxrss_self_kib": self_max, "ru_maxrss_children_kib": kids_max}
    if have_proc:
        rows += [
            row("peak total PSS, driver + Ray processes", mib(sampler.peak_pss_kib), "MiB"),
            row("peak total RSS (double-counts shared pages)", mib(sampler.peak_rss_kib), "MiB"),
            row("peak driver RSS", mib(sampler.peak_driver_rss_kib), "MiB"),
        ]
        details.update({"peak_processes": sampler.peak_processes, "samples": sampler.samples})
    rows.append(row("largest single child (ru_maxrss)", mib(kids_max), "MiB"))
    notes = [f"{'JUND' if ds_path == JUND_VALID else 'synthetic'} split with a 20% holdout, {trials} {arch} trials x "
             f"{epochs} epoch(s), {FOLDS} folds, max_concurrent 2 x 1 thread, registration included; the sampler "
             "reads /proc/<pid>/smaps_rollup of the driver and all its descendants every 0.25 s (psutil is not "
             "installed). PSS splits shared pages (torch libraries, Ray's object store) between processes; RSS "
             "counts them once per process."]
    return {"rows": rows, "details": details, "notes": notes}


# ==============================================================================================================
# 7. task_heads: the cost of a multi-task head, 690 sigmoid outputs (DanQ's targets) against 1
# ==============================================================================================================
def task_heads(quick: bool, threads: int) -> dict[str, Any]:
    """One CVTrainer epoch of the same architecture and data with a binary head and a 690-task multilabel
    head (random labels at a 2% positive rate, class-balancing weights per task), interleaved; the epoch
    includes scoring every task of every validation fold, as a trial does."""
    from seqsweep import cv
    from seqsweep.data import Dataset
    from seqsweep.data.encoding import multilabel_weights
    from seqsweep.tasks import Task
    from seqsweep.train import CVTrainer, TrainConfig

    ds, source = jund_or_synthetic()
    sub = stratified_subset(ds, 5000 if quick else len(ds))
    rng = np.random.default_rng(0)
    T = 690
    y = (rng.random((len(sub), T)) < 0.02).astype(np.uint8)
    y[rng.integers(0, len(sub), T), np.arange(T)] = 1  # every task holds a positive
    many = Dataset(X=sub.X, y=y, w=multilabel_weights(y, np.ones_like(y, dtype=bool)), ids=sub.ids,
                   task=Task("multilabel", tuple(f"t{t}" for t in range(T))))
    folds = cv.make_folds(sub.y, 3, seed=0)
    train_rows = sum(len(tr) for tr, _ in folds)
    rows, details = [], {}
    for arch in ("cnn_bilstm", "deepbind"):
        runs: dict[str, list[float]] = {"1 output": [], f"{T} outputs": []}
        for variant in _interleaved(2, list(runs)):
            data = sub if variant == "1 output" else many
            trainer = CVTrainer(data, folds, TrainConfig(arch, {}, epochs=1), num_threads=threads)
            t0 = time.perf_counter()
            trainer.step_epoch()
            runs[variant].append(time.perf_counter() - t0)
            say(f"{arch:10s} {variant:12s} {runs[variant][-1]:7.2f} s/epoch")
        best = {v: min(t) for v, t in runs.items()}
        rate = {v: train_rows / best[v] for v in runs}
        rows.append(row(f"{arch} ({len(sub)} rows) binary head, 1 output", rate["1 output"], "samples/s"))
        rows.append(row(f"{arch} ({len(sub)} rows) multilabel head, {T} outputs", rate[f"{T} outputs"], "samples/s",
                        rate[f"{T} outputs"] / rate["1 output"], "x 1 output"))
        details[arch] = runs
    notes = [f"data: {source}, {len(sub)} rows of length {sub.seq_len}; 3 folds; one epoch including the "
             f"validation scores of every task (ROC AUC, PR AUC, weighted accuracy per task); default "
             f"hyperparameters, batch 256, precision 'auto'; threads {threads}; best of 2 interleaved runs"]
    return {"rows": rows, "details": {"source": source, "threads": threads, **details}, "notes": notes}


# ==============================================================================================================
# 8. explain: what a registered 5-fold deepbind learned, on 1,000 sequences (issue 25)
# ==============================================================================================================
EXPLAIN_SPACE = "architecture: deepbind\nlearning_rate: [3.0e-3]\n"


def explain(quick: bool, threads: int) -> dict[str, Any]:
    """A 5-fold deepbind (create_model's defaults: 128 filters of 9 over both strands) trained and registered
    by a real sweep on planted-JASPAR data (registry.explain off), then `explain_version` on 1,000 of its
    positives (--quick: 300): ISM, TF-MoDISco, TomTom against JASPAR, logos, the report, recorded."""
    import torch

    from seqsweep import data
    from seqsweep.data.planted import DEFAULT_MOTIFS, synth_planted
    from seqsweep.explain import explain_version

    n = 300 if quick else 1000
    train_dir = TMP / "seqsweep-bench-data" / "planted-5000"
    if not (train_dir / "shard-0-X.joblib").exists():
        synth_planted(train_dir, motif_ids=DEFAULT_MOTIFS, n=5000, positive_rate=0.3, length=101, seed=0)
    details: dict[str, Any] = {"sequences": n, "motifs_planted": list(DEFAULT_MOTIFS)}
    with bench_home("explain") as home:
        seed_store(home)
        name = "bench_explain"
        job = _fixed_job(home, name, train_dir, trials=1, epochs=3 if quick else 8, concurrent=1, cpu=threads,
                         threads=threads, space=EXPLAIN_SPACE, registry=True)
        result, wall = run_sweep(job, ["registry.explain=false"])
        details["register_sweep_s"] = wall
        say(f"trained + registered a 5-fold deepbind ensemble in {wall:.1f} s (version {result.model_version})")
        ds = data.load(train_dir)
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        r = explain_version(f"{name}/{result.model_version}", data=ds, n=n)
        total = time.perf_counter() - t0
        say(f"explain {n} sequences: {total:.1f} s ({r.method}); " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items()))
        found = {m.name: (m.n_seqlets, m.best.describe() if m.best else "-") for m in r.motifs["probability"]}
        say(f"motifs: {found}")
    rows = [row(f"explain_version, {n} sequences, 5-fold deepbind (incl. load and recording)", total, "s")]
    rows += [row(f"  {stage}", secs, "s") for stage, secs in r.timings.items()]
    details.update({"method": r.method, "timings_s": r.timings, "total_s": total, "motifs": found,
                    "top_motif": r.top_motif})
    notes = [f"{n} positives of 5,000 planted-JASPAR windows of 101 bp ({', '.join(DEFAULT_MOTIFS)}), a 5-fold deepbind "
             f"(128 filters of 9, both strands) trained {3 if quick else 8} epochs; method {r.method} "
             f"({r.method_why}); torch threads {threads}; one run. tomtom's first call in a fresh install also "
             "compiles memelite's numba kernels (cached on disk afterwards)."]
    return {"rows": rows, "details": details, "notes": notes}


MEASURES: dict[str, Callable[[bool, int], dict[str, Any]]] = {
    "trial_throughput": trial_throughput,
    "sweep_overhead": sweep_overhead,
    "concurrency_scaling": concurrency_scaling,
    "search_efficiency": search_efficiency,
    "inference": inference,
    "memory": memory,
    "task_heads": task_heads,
    "explain": explain,
}
