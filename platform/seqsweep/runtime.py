"""What a sweep runs on: the Ray runtime (started or joined), ASHA, Optuna's sampler and its sqlite study.

sweep.py builds its Tuner from these; each is set up once per sweep, on the driver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket

import optuna
from ray.tune.search.optuna import OptunaSearch

from seqsweep import processes
from seqsweep.config import JobSpec
from seqsweep.errors import ClusterError, ConfigError

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------------------------------------------
def check_address(address: str) -> None:
    """Fail in seconds, with one line, when a Ray address does not answer (ray.init would retry for minutes)."""
    hostport = address.split("://", 1)[-1]
    if address in ("auto", "local") or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return
    except (OSError, ValueError) as exc:
        raise ClusterError(f"ray.address {address!r} is unreachable: {exc}") from None


# What every Ray worker of a sweep needs in its environment: no MLflow telemetry, no warnings flooding the log.
WORKER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """Set the environment variables in `values` that are not set yet, for the duration of the block: processes
    started inside (the local Ray runtime and its workers) inherit them; the caller's environment is restored."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def init_ray(address: str | None, *, verbose: bool = False) -> bool:
    """Start a local Ray runtime, or join the cluster at `address` / $RAY_ADDRESS. Returns True if we started it."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    common = dict(
        include_dashboard=False,
        log_to_driver=verbose,
        logging_level=logging.INFO if verbose else logging.WARNING,
    )
    if address:
        check_address(address)
        try:
            # A cluster's workers were started elsewhere: the variables travel in the job's runtime_env.
            ray.init(address=address, runtime_env={"env_vars": WORKER_ENV}, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"ray.address {address!r}: cannot join the cluster: {str(exc).splitlines()[0]}") from None
        processes.sigterm_as_ctrl_c()  # ray.init took SIGTERM over (a C++ handler that aborts)
        return True
    # Locally the workers inherit the environment of the runtime started here, so no runtime_env: with one,
    # every task and actor waits for a worker started through Ray's runtime-env agent instead of one Ray
    # prestarted (docs/design.md#ray-workers). Workers find the package the driver uses the same way.
    with _environ(WORKER_ENV):
        ray.init(address="local", **common)
    processes.sigterm_as_ctrl_c()  # ray.init took SIGTERM over (a C++ handler that aborts)
    return True


def warm_up_driver(log_models: bool) -> None:
    """One-time work of the driver's first model logging and of the final report, done in a background thread
    while the first trials train: MLflow's package scan (pyfunc_model.warm_up) and importing matplotlib for the
    sweep's plots (docs/design.md#warm-up)."""
    if log_models:
        from seqsweep.pyfunc_model import warm_up

        warm_up()
    try:
        import matplotlib.backends.backend_agg  # noqa: F401  what the plots' PNGs are drawn with
        import matplotlib.figure  # noqa: F401
    except Exception as e:  # best effort: the report imports it again and says what failed
        log.debug("matplotlib warm-up skipped: %s", e)


def scheduler(job: JobSpec):
    """ASHA on search.prune_metric (default: the search metric), or FIFO (no pruning)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if job.search.scheduler != "asha":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="training_iteration",
        metric=job.search.prune_metric or job.search.metric,
        mode="max",
        max_t=job.train.max_epochs,
        grace_period=min(job.search.grace_period, job.train.max_epochs),
        reduction_factor=job.search.reduction_factor,
    )


def sampler(job: JobSpec):
    import optuna

    s = job.search
    if s.sampler == "tpe":
        # group=True lets TPE model each architecture's own parameters jointly in a define-by-run space.
        return optuna.samplers.TPESampler(seed=s.seed, n_startup_trials=s.startup_trials, multivariate=True, group=True)
    if s.sampler == "random":
        return optuna.samplers.RandomSampler(seed=s.seed)
    if s.sampler == "gp":
        return optuna.samplers.GPSampler(seed=s.seed, n_startup_trials=s.startup_trials)
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise ConfigError("search.sampler 'cmaes' needs the 'cmaes' package (pip install cmaes)") from None
    return optuna.samplers.CmaEsSampler(seed=s.seed, n_startup_trials=s.startup_trials)


def optuna_storage(url: str):
    """The sweep's Optuna study storage (sqlite under mlruns/), in WAL mode with synchronous=NORMAL.

    Tune's loop writes to the study at every epoch report (trial.report, for pruning) and when a trial starts
    and ends, and the trial waits meanwhile (function trainables report synchronously). sqlite's default
    rollback journal syncs the file at every commit, several times slower (docs/design.md#optuna-storage). A
    crash can then lose the last commits, never the database; --resume copes with a study behind Tune's state.
    """
    import optuna
    import sqlalchemy

    storage = optuna.storages.RDBStorage(url)

    @sqlalchemy.event.listens_for(storage.engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections opened while Optuna created its tables get the pragmas too
    return storage


class ResumableOptunaSearch(OptunaSearch):
    """OptunaSearch whose study lives in sqlite, made safe for resuming after a killed driver.

    Tune snapshots its state every few seconds, while the Optuna study is written at once. After a SIGKILL the
    snapshot can predate the end of a trial the study already closed; Tune then runs that trial again, and
    plain OptunaSearch crashes the sweep on its first report. Such reports are ignored here (the trial's
    result is already in the study, and MLflow already has its run).
    """

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.info("trial %s already finished in the Optuna study; its rerun is not reported", trial_id)
