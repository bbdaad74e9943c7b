"""Helpers shared by the benchmark measures: the machine, data, private seqsweep homes, process memory.

Nothing here writes inside the repository: every home, store and generated dataset lives under /tmp
(`tempfile.gettempdir()`), and is removed when the measure ends unless --keep is given.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

REPO = Path(__file__).resolve().parents[1]
JUND_VALID = REPO.parent / "shared" / "data" / "jund-chr22" / "valid"
TMP = Path(tempfile.gettempdir())


def say(msg: str) -> None:
    """Progress line on stdout (the parent shows it as it comes); results go to latest.json."""
    print(f"  {msg}", flush=True)


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --------------------------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform as _stdlib_platform  # the stdlib module (the repo's platform/ is no package)

    return _stdlib_platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", None)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    import torch

    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": _ram_gib(),
        "gpu": torch.cuda.is_available(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_threads_default": torch.get_num_threads(),
        "ray": _version("ray"),
        "mlflow": _version("mlflow"),
        "optuna": _version("optuna"),
        "numpy": np.__version__,
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "load_average": loadavg(),
        "jund_data": str(JUND_VALID) if JUND_VALID.is_dir() else None,
    }


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------
def jund_or_synthetic():
    """(Dataset, label): the real JUND split when present, else a synthetic set of the same size."""
    from seqsweep import data

    if (JUND_VALID / "shard-0-X.joblib").exists():
        return data.load(JUND_VALID), "jund-chr22/valid"
    out = TMP / "seqsweep-bench-data" / "synthetic-34527"
    if (out / "shard-0-X.joblib").exists():
        return data.load(out), "synthetic (JUND absent)"
    return data.synth(out, n=34527, positive_rate=0.02, seed=0), "synthetic (JUND absent)"


def synthetic_dir(n: int, positive_rate: float = 0.05, seed: int = 0) -> Path:
    """A synthetic shard directory under /tmp, generated once and reused by later measures."""
    from seqsweep import data

    out = TMP / "seqsweep-bench-data" / f"synthetic-{n}-{positive_rate}-{seed}"
    if not (out / "shard-0-X.joblib").exists():
        tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        data.synth(tmp, n=n, positive_rate=positive_rate, seed=seed)
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    return out


def stratified_subset(ds, n: int, seed: int = 0):
    """n rows with the class ratio kept (whole dataset when n >= its size), class-balancing weights recomputed.

    The weights are recomputed because a subset shifts the ratio a little, and the shipped weights then no
    longer balance the classes (docs/design.md#subsets).
    """
    from seqsweep.data import Dataset, class_balancing_weights

    if n >= len(ds):
        return ds
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(ds.y == 1), np.flatnonzero(ds.y == 0)
    n_pos = max(1, int(round(n * len(pos) / len(ds))))
    idx = np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n - n_pos, replace=False)]))
    sub = ds.subset(idx)
    return Dataset(X=sub.X, y=sub.y, w=class_balancing_weights(sub.y), ids=sub.ids, a=sub.a, source=sub.source)


# --------------------------------------------------------------------------------------------------------------
# Private seqsweep homes
# --------------------------------------------------------------------------------------------------------------
KEEP_HOMES = False  # set by run.py --keep


@contextmanager
def bench_home(name: str) -> Iterator[Path]:
    """A fresh SEQSWEEP_HOME under /tmp with its own mlruns/ (sqlite store), made current for this process."""
    home = Path(tempfile.mkdtemp(prefix=f"seqsweep-bench-{name}-", dir=TMP))
    saved = {k: os.environ.get(k) for k in ("SEQSWEEP_HOME", "MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    os.environ["SEQSWEEP_HOME"] = str(home)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlruns/mlflow.db"
    os.environ.pop("RAY_ADDRESS", None)  # always a private local Ray runtime
    (home / "mlruns").mkdir()
    try:
        yield home
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if KEEP_HOMES:
            say(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def seed_store(home: Path) -> None:
    """Give `home` an already-migrated empty MLflow store (a fresh one costs ~13 s of schema migrations).

    Measures that time the store's creation (sweep_overhead) do not call this.
    """
    import mlflow

    template = TMP / f"seqsweep-bench-empty-mlflow-{mlflow.__version__}.db"
    if not template.exists():
        tmp = template.with_suffix(f".{os.getpid()}.tmp")
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()
        tmp.replace(template)
    shutil.copyfile(template, home / "mlruns" / "mlflow.db")


def write_job(home: Path, name: str, space: str, body: str) -> Path:
    """Write search_spaces/<name>.yaml and jobs/<name>.yaml into `home`; returns the job path."""
    (home / "search_spaces").mkdir(exist_ok=True)
    (home / "jobs").mkdir(exist_ok=True)
    (home / "search_spaces" / f"{name}.yaml").write_text(textwrap.dedent(space))
    job = home / "jobs" / f"{name}.yaml"
    job.write_text(f"name: {name}\nsearch_space: search_spaces/{name}.yaml\n" + textwrap.dedent(body))
    return job


def run_sweep(job_path: Path, overrides: list[str] | None = None):
    """seqsweep.sweep.run on a job file; returns (SweepResult, wall seconds). Raises when a trial failed."""
    from seqsweep import config, sweep

    job = config.load_job(job_path, overrides or [])
    t0 = time.perf_counter()
    result = sweep.run(job)
    wall = time.perf_counter() - t0
    if result.failed or result.interrupted:
        errors = "; ".join(f"trial {r.number}: {r.error}" for r in result.failed)[:500]
        raise RuntimeError(f"sweep {job.name}: {len(result.failed)} failed trial(s), interrupted={result.interrupted} {errors}")
    return result, wall


@contextmanager
def ray_runtime() -> Iterator[float]:
    """Start the local Ray runtime the way seqsweep does (runtime.init_ray); yields the seconds it took.

    While it is up, sweep.run reuses it instead of starting (and stopping) its own, so the sweeps timed inside
    exclude Ray's start-up, which is measured here once.
    """
    import ray

    from seqsweep import runtime

    t0 = time.perf_counter()
    runtime.init_ray(None)
    seconds = time.perf_counter() - t0
    try:
        yield seconds
    finally:
        ray.shutdown()


# --------------------------------------------------------------------------------------------------------------
# Memory of a process tree (psutil when installed, else /proc)
# --------------------------------------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the fields after the last ')' are fixed
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _descendants(root: int) -> list[int]:
    kids, out, todo = _children_map(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _mem_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; PSS splits shared pages (Ray's object store, torch libraries) between processes."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = pss = int(line.split()[1])
        except OSError:
            pass
    return rss, pss


class TreeMemorySampler:
    """Samples the RSS and PSS of this process and all its descendants (Ray's raylet, GCS, workers)."""

    def __init__(self, interval_s: float = 0.25):
        self.interval_s = interval_s
        self.peak_rss_kib = self.peak_pss_kib = self.peak_driver_rss_kib = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.method = "/proc smaps_rollup"

    def _sample(self) -> None:
        me = os.getpid()
        pids = _descendants(me)
        rss_total = pss_total = 0
        for pid in pids:
            rss, pss = _mem_kib(pid)
            rss_total += rss
            pss_total += pss
            if pid == me:
                self.peak_driver_rss_kib = max(self.peak_driver_rss_kib, rss)
        self.peak_rss_kib = max(self.peak_rss_kib, rss_total)
        self.peak_pss_kib = max(self.peak_pss_kib, pss_total)
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> "TreeMemorySampler":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def mib(kib: int) -> float:
    return round(kib / 1024, 1)
