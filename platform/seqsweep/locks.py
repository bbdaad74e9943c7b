"""Locks between seqsweep processes sharing one project home (two sweeps at once, a sweep and `promote`).

All are `flock` locks on files under mlruns/: the kernel drops them when their process dies, even by SIGKILL,
so a lock never outlives its owner and "is the lock free?" answers "is its owner gone?".

* `store_lock`: creating the embedded stores. Two processes migrating a fresh sqlite database at once break
  it ("table _alembic_tmp_latest_metrics already exists"); the second waits, then finds the tables made.
* `registry_lock`: registering a version and deciding a promotion (read the champion, evaluate, move the
  alias) happen one process at a time, so a champion is always compared with the champion of the moment.
  For the embedded store the lock file sits next to mlflow.db; for a remote tracking server it is a file in
  this machine's temp directory, so sweeps driven from other machines are not serialised by it.
* `own_sweep` / `sweep_running`: a sweep's driver holds its sweep's lock while it runs; another process
  closes that sweep's RUNNING runs as KILLED, or resumes it, only when the lock is free (its driver is gone).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from seqsweep import store
from seqsweep.errors import ConfigError

log = logging.getLogger(__name__)

#: How long a sqlite connection waits for another process's write to end before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 120_000


@contextlib.contextmanager
def hold(path: Path, what: str) -> Iterator[None]:
    """Hold the exclusive lock on `path` (created if missing) for the block, waiting for it if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for %s (another seqsweep process holds %s)", what, path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def store_lock() -> contextlib.AbstractContextManager[None]:
    return hold(store.mlruns_dir() / ".store.lock", "the store")


def _registry_lock_path(tracking_uri: str | None) -> Path:
    uri = store.tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):].split("?", 1)[0]).parent / ".registry.lock"  # next to the database
    # a remote store: one lock per store URI for the processes of this machine
    return Path(tempfile.gettempdir()) / f"seqsweep-registry-{hashlib.sha256(uri.encode()).hexdigest()[:16]}.lock"


def registry_lock(fn):
    """Run `fn` (a registry operation taking `tracking_uri=`) holding the lock of that registry."""

    @functools.wraps(fn)
    def locked(*args, **kwargs):
        with hold(_registry_lock_path(kwargs.get("tracking_uri")), "the model registry"):
            return fn(*args, **kwargs)

    return locked


def _sweep_lock(job_name: str, sweep_id: str) -> Path:
    return store.tune_dir() / f"{job_name}-{sweep_id}.lock"


_owned: dict[Path, int] = {}


def own_sweep(job_name: str, sweep_id: str) -> None:
    """Take the lock of sweep `sweep_id` of `job_name` until release_sweeps(); ConfigError if its driver runs."""
    path = _sweep_lock(job_name, sweep_id)
    if path in _owned:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"sweep {sweep_id} of job {job_name!r} is still running in another seqsweep process "
            f"(it holds {path}); stop it first or wait for it to end"
        ) from None
    _owned[path] = fd


def release_sweeps() -> None:
    """Let go of every sweep lock this process took."""
    while _owned:
        os.close(_owned.popitem()[1])


def sweep_running(job_name: str, sweep_id: str) -> bool:
    """True while a live process holds the lock of this sweep (False for sweeps of older seqsweep versions)."""
    try:
        fd = os.open(_sweep_lock(job_name, sweep_id), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


_busy_timeout_installed = False


def wait_on_busy_sqlite() -> None:
    """Make every sqlite connection of this process (MLflow's, Optuna's) wait up to SQLITE_BUSY_TIMEOUT_MS
    for another process's write, instead of the sqlite3 module's 5 s, before failing "database is locked"."""
    global _busy_timeout_installed
    if _busy_timeout_installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _busy_timeout(dbapi_connection, _record) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

    _busy_timeout_installed = True
