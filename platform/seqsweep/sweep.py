"""One sweep, end to end: job -> data -> folds -> Ray Tune + Optuna -> MLflow -> registry.

    job = load_job("jobs/quickstart.yaml")
    result = run(job)            # or run(job, resume=True) to continue the latest sweep of this job

Everything that can be checked is checked before Ray starts (job, search space against each architecture's
signature, data, folds, the tracking store), so bad input costs a second and leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seqsweep import locks, runtime, store, tracking
from seqsweep.config import JobSpec
from seqsweep.errors import ConfigError, SeqsweepError
from seqsweep.prepare import PreparedData, length_of, prepare_data
from seqsweep.search_space import SearchSpace, load_search_space
from seqsweep.trainable import TrialSettings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------------
# Sweep state (for --resume)
# --------------------------------------------------------------------------------------------------------------
def _state_file(job: JobSpec) -> Path:
    return store.tune_dir() / f"{job.name}.latest.json"


def _read_state(job: JobSpec) -> dict[str, Any] | None:
    path = _state_file(job)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _write_state(job: JobSpec, state: dict[str, Any]) -> None:
    path = _state_file(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def _save_results_locally(tune_path: Path, records: list[tracking.TrialRecord], metric: str) -> Path:
    """Every trial's config, status, last metrics and checkpoint, as JSON next to the Tune state."""
    tune_path.mkdir(parents=True, exist_ok=True)
    out = tune_path / "seqsweep_results.json"
    rows = [
        {
            "trial": r.number,
            "trial_id": r.trial_id,
            "status": r.status,
            "config": r.config,
            "metrics": {k: v for k, v in r.last.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
            "checkpoint": r.checkpoint,
            "error": r.error,
        }
        for r in sorted(records, key=lambda r: r.number)
    ]
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"metric": metric, "trials": rows}, indent=2, default=str))
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    sweep_id: str
    uri: str
    experiment_id: str
    parent_run_id: str
    metric: str
    records: list[tracking.TrialRecord]
    tune_path: str
    seconds: float
    decision: Any = None
    model_version: str | None = None
    interrupted: bool = False
    store_failed: bool = False
    notes: list[str] = field(default_factory=list)
    ranking: tracking.Ranking | None = None  # search.rank_by (None: the mean of `metric`)
    final: Any = None  # final_model.FinalChoice: what was registered, and what it was compared with
    heldout: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # the version's (score, CI)
    explained: Any = None  # explain.ExplainResult of the registered version (registry.explain), or None

    @property
    def failed(self) -> list[tracking.TrialRecord]:
        return [r for r in self.records if r.status == "failed"]

    @property
    def best(self) -> tracking.TrialRecord | None:
        return tracking.best_record(self.records, self.metric, self.ranking)

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed or self.interrupted or self.store_failed or self.best is None) else 0


@dataclass(frozen=True)
class SweepSetup:
    """What `run` checked and prepared before Ray started, handed to `_run_on_ray`."""

    job: JobSpec
    space: SearchSpace
    uri: str  # the tracking store's
    experiment_id: str
    prepared: PreparedData
    state: dict[str, Any] | None  # the earlier sweep's state (from _read_state) when resuming, else None
    started: float  # time.time() when `run` was called
    verbose: bool
    emit: Callable[[str], None]


@dataclass(frozen=True)
class DryRunReport:
    data: dict[str, Any]
    folds: int
    architectures: dict[str, int]  # architecture -> parameter count of the model built
    head: str = ""  # the output head every architecture gets from the task
    warnings: list[str] = field(default_factory=list)


def dry_run(job: JobSpec) -> DryRunReport:
    """Validate job, search space and data; build and run one model per architecture; start nothing."""
    import torch

    from seqsweep import models
    from seqsweep.search_space import split_config

    space = load_search_space(job.search_space)
    prepared = prepare_data(job)
    check_space_fits(space, prepared, job)
    task = prepared.train.task
    built = {}
    x = torch.from_numpy(prepared.train.onehot(slice(0, 2)).astype(np.float32)).transpose(1, 2)  # (2, L, 4) -> (2, 4, L)
    a = torch.zeros(2) if job.train.use_accessibility else None
    expected = (2,) if task.type == "binary" else (2, task.n_outputs)
    for arch in space.architectures:
        _, model_kw, _ = split_config(space.fixed_config(arch))
        model = models.create_model(
            arch, seq_len=prepared.train.seq_len, use_accessibility=job.train.use_accessibility,
            n_outputs=task.n_outputs, **model_kw,
        )
        with torch.no_grad():
            out = model(x, a)
        if tuple(out.shape) != expected:
            raise SeqsweepError(f"architecture {arch!r} returned shape {tuple(out.shape)}, expected {expected}")
        built[arch] = sum(p.numel() for p in model.parameters())
    return DryRunReport(data=prepared.info, folds=len(prepared.folds), architectures=built, head=task.head,
                        warnings=prepared.warnings)


def check_space_fits(space: SearchSpace, prepared: PreparedData, job: JobSpec) -> None:
    """The search space's model parameters against the data's sequence length (e.g. a kernel longer than
    data.length.to), before Ray starts."""
    from seqsweep.search_space import check_buildable

    try:
        check_buildable(space, seq_len=prepared.train.seq_len)
    except ConfigError as exc:
        where = f"data.length.to {job.data.length.to}" if job.data.length is not None else f"sequence length {prepared.train.seq_len}"
        raise ConfigError(f"{exc} (the data has {where})") from None


def run(
    job: JobSpec,
    *,
    resume: bool = False,
    verbose: bool = False,
    emit: Callable[[str], None] = lambda line: None,
) -> SweepResult:
    """Run (or resume) the job's sweep. Raises SeqsweepError subclasses for bad input, before anything starts."""
    started = time.time()
    space: SearchSpace = load_search_space(job.search_space)
    uri = store.tracking_uri(job.tracking.uri)
    if uri.startswith(("http://", "https://")):
        # MLflow's defaults retry a dead server for minutes per call; a sweep should notice in seconds.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    tracking.check_reachable(uri)
    address = job.ray.address or os.environ.get("RAY_ADDRESS") or None
    if address:
        runtime.check_address(address)

    state = _read_state(job) if resume else None
    if resume and state is None:
        raise ConfigError(f"{job.source}: --resume: no earlier sweep of job {job.name!r} under {store.tune_dir()}")

    prepared = prepare_data(job)
    check_space_fits(space, prepared, job)
    for note in prepared.warnings:
        log.warning("%s", note)
    locks.wait_on_busy_sqlite()  # another sweep may be writing to the same sqlite stores
    if not verbose:
        # Tune's new output engine prints its configuration box even at verbose=0; the legacy engine is silent.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        warnings.filterwarnings("ignore", module="optuna")
        warnings.filterwarnings("ignore", message=".*ExperimentalWarning.*")
    # Ray starts (or is joined) before any run is created: a cluster that cannot be reached leaves no trace.
    # The tracking store opens meanwhile, on a thread: creating a fresh one (MLflow's schema migrations) and
    # ray.init (mostly waiting on the processes it starts) take ~3 s each, so start-up costs the longer of the
    # two rather than their sum (docs/design.md#start-up).
    experiment_id, started_ray = open_store_while_ray_starts(
        lambda: runtime.init_ray(address, verbose=verbose), uri, job.experiment_name
    )
    try:
        setup = SweepSetup(job=job, space=space, uri=uri, experiment_id=experiment_id, prepared=prepared, state=state,
                           started=started, verbose=verbose, emit=emit)
        return _run_on_ray(setup)
    finally:
        locks.release_sweeps()  # this sweep is over: another process may now close or resume it
        if started_ray:
            import ray

            ray.shutdown()


def open_store_while_ray_starts(start_ray: Callable[[], bool], uri: str, experiment: str) -> tuple[str, bool]:
    """(the id of `experiment`, whether Ray was started here): the store is opened on a thread while
    `start_ray` runs on this one (ray.init sets its SIGTERM handler only from the main thread). Either failing
    raises, after the other has finished (a store is never left half-created) and with Ray shut down again."""
    from concurrent.futures import ThreadPoolExecutor

    def open_store() -> str:
        with locks.store_lock():  # a fresh store is created by one process at a time
            return tracking.open_store(uri, experiment)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqsweep-store") as pool:
        opening = pool.submit(open_store)
        try:
            started_ray = start_ray()
        except BaseException:
            opening.exception()  # wait for it; Ray's error is the one to report
            raise
        try:
            return opening.result(), started_ray
        except BaseException:
            if started_ray:
                import ray

                ray.shutdown()
            raise


def _restore_tuner(tune_path: Path, trainable, callbacks: list) -> Any:
    from ray import tune

    tuner = tune.Tuner.restore(str(tune_path), trainable=trainable, resume_errored=False, restart_errored=True)
    # The restored run config holds the callbacks pickled at the first start, and Tune has no public way to
    # give a restored Tuner fresh ones (ray-project/ray#41364): set them on its private TunerInternal.
    tuner._local_tuner.get_run_config().callbacks = callbacks
    return tuner


def _run_on_ray(setup: SweepSetup) -> SweepResult:
    from ray import tune

    job, uri, experiment_id, state = setup.job, setup.uri, setup.experiment_id, setup.state
    metric = job.search.metric
    ranking = tracking.Ranking(metric, job.search.rank_by, job.search.rank_se)

    # A sweep of this job that a killed driver left RUNNING is closed now, so the UI never shows it running;
    # one whose driver still runs (another sweep of the same job, at the same time) is left alone.
    previous = _read_state(job)
    if (previous is not None and state is None and previous.get("uri") == store.redact(uri)
            and not locks.sweep_running(job.name, previous["sweep_id"])):
        n = tracking.close_stale_runs(uri, previous["experiment_id"], previous["sweep_id"])
        if n:
            log.info("closed %d run(s) of the interrupted sweep %s as KILLED", n, previous["sweep_id"])

    if state is not None:
        sweep_id = state["sweep_id"]
        locks.own_sweep(job.name, sweep_id)  # refuses a sweep whose driver still runs elsewhere
        parent_run_id = tracking.find_sweep_run(uri, experiment_id, sweep_id) or state["parent_run_id"]
        # Runs a killed driver left RUNNING are closed first; then the parent reopens for the resumed trials.
        tracking.close_stale_runs(uri, experiment_id, sweep_id)
        tracking.reopen_sweep_run(uri, parent_run_id)
    else:
        sweep_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid() % 10000:04d}"
        locks.own_sweep(job.name, sweep_id)
        parent_run_id = tracking.start_sweep_run(
            uri,
            experiment_id,
            sweep_id=sweep_id,
            job=job,
            search_space_text=Path(job.search_space).read_text(),
            data_info=setup.prepared.info,
        )
    tune_name = f"{job.name}-{sweep_id}"
    tune_path = store.tune_dir() / tune_name
    study_name = tune_name
    optuna_uri = f"sqlite:///{store.mlruns_dir() / 'optuna.db'}"
    _write_state(
        job,
        {
            "sweep_id": sweep_id,
            "uri": store.redact(uri),
            "experiment_id": experiment_id,
            "parent_run_id": parent_run_id,
            "tune_path": str(tune_path),
            "study_name": study_name,
            "optuna_storage": optuna_uri,
        },
    )

    callback = tracking.SweepCallback(
        uri=uri,
        experiment_id=experiment_id,
        parent_run_id=parent_run_id,
        sweep_id=sweep_id,
        metric=metric,
        ranking=ranking,
        num_trials=job.search.num_trials,
        example_sequences=setup.prepared.train.subset(np.arange(min(5, len(setup.prepared.train)))).sequences(),
        emit=setup.emit,
    )
    threads = job.resources.threads or max(1, int(job.resources.cpu))
    from seqsweep.final_model import resolve_top_k

    # the trials keep their out-of-fold predictions when the final model may be an ensemble of them
    save_oof = resolve_top_k(job.registry.top_k, setup.prepared.train) > 1
    settings = TrialSettings(train=job.train, threads=threads, seed=job.cv.seed, length=length_of(job), save_oof=save_oof)

    interrupted = False
    study = None
    from seqsweep.trainable import run_trial

    # with_parameters puts the dataset and folds in Ray's object store once, not once per trial.
    trainable = tune.with_parameters(
        run_trial, dataset=setup.prepared.train, folds=setup.prepared.folds, settings=settings
    )
    trainable = tune.with_resources(trainable, {"cpu": job.resources.cpu, "gpu": job.resources.gpu})
    run_config = tune.RunConfig(
        name=tune_name,
        storage_path=str(store.tune_dir()),
        callbacks=[callback],
        failure_config=tune.FailureConfig(max_failures=job.resources.max_retries),
        verbose=2 if setup.verbose else 0,
    )
    if state is not None and tune.Tuner.can_restore(str(tune_path)):
        tuner = _restore_tuner(tune_path, trainable, [callback])
    else:
        import optuna

        with locks.store_lock():  # optuna.db's tables are created by one process at a time
            storage = runtime.optuna_storage(optuna_uri)
        searcher = runtime.ResumableOptunaSearch(
            space=setup.space.define_by_run(),
            metric=metric,
            mode="max",
            sampler=runtime.sampler(job),
            storage=storage,
            study_name=study_name,
        )
        scheduler = runtime.scheduler(job)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                # The searcher and ASHA carry their own metrics (ASHA's may be search.prune_metric); Tune refuses
                # a metric here as well as in the scheduler.
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=job.search.num_trials,
                max_concurrent_trials=job.search.max_concurrent,
                reuse_actors=job.resources.reuse_workers,
            ),
            run_config=run_config,
        )
    threading.Thread(target=runtime.warm_up_driver, args=(callback.log_models,), name="seqsweep-warm-up", daemon=True).start()
    try:
        tuner.fit()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # The callback writes to MLflow on a thread of its own; what follows reads run ids and model URIs.
        callback.flush()
    try:
        import optuna

        study = optuna.load_study(study_name=study_name, storage=optuna_uri)
    except KeyError:
        study = None

    records = list(callback.trials.values())
    # Tune returns normally after a Ctrl-C (it saves its state first): the sweep is unfinished when fewer
    # trials than asked for reached an end.
    ended = sum(r.status != "running" for r in records)
    if ended < job.search.num_trials:
        interrupted = True
    result = SweepResult(
        sweep_id=sweep_id,
        uri=uri,
        experiment_id=experiment_id,
        parent_run_id=parent_run_id,
        metric=metric,
        records=records,
        tune_path=str(tune_path),
        seconds=time.time() - setup.started,
        interrupted=interrupted,
        ranking=ranking,
    )
    if interrupted:
        # Nothing stays RUNNING: the parent and unfinished trials are KILLED until `--resume` reopens the parent.
        tracking.close_stale_runs(uri, experiment_id, sweep_id)
        return result

    if callback.store_error is not None:
        # The store went away mid-sweep: nothing is lost; the results go next to the Tune state instead.
        saved = _save_results_locally(tune_path, records, metric)
        result.notes.append(
            f"the tracking store {store.redact(uri)} failed during the sweep ({callback.store_error}); "
            f"every trial's parameters and metrics are in {saved}, its models in the Tune checkpoints under "
            f"{tune_path}; nothing was registered. When the store is back, rerun the sweep or register by hand."
        )
        result.store_failed = True
        return result

    extra_metrics: dict[str, float] = {"sweep_seconds": result.seconds}
    extra_tags: dict[str, str] = {}
    best = result.best
    if best is not None and best.model_uri and job.registry.enabled:
        from seqsweep import final_model

        reg = final_model.register_and_promote(
            job, setup.prepared, records, result.ranking, uri=uri, sweep_id=sweep_id, parent_run_id=parent_run_id,
            example_sequences=callback.example_sequences,
        )
        result.final, result.model_version, result.decision = reg.choice, reg.version, reg.decision
        result.heldout = reg.heldout
        extra_metrics.update(reg.metrics)
        extra_tags.update(reg.tags)
    tracking.finish_sweep_run(
        uri,
        parent_run_id,
        records,
        metric=metric,
        study=study,
        extra_metrics=extra_metrics,
        extra_tags=extra_tags,
        ranking=result.ranking,
    )
    if result.model_version and job.registry.explain is not False:
        # After registration and the promotion decision, so it never delays or changes them (registry.explain).
        from seqsweep import explain

        setup.emit(f"explaining version {result.model_version} (registry.explain) ...")
        result.explained, note = explain.after_sweep(job, setup.prepared, result.model_version, uri=uri)
        if note:
            result.notes.append(note)
    return result
