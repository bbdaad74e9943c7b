"""sweep.open_store_while_ray_starts: the tracking store opens on a thread while Ray starts, and a failure of either
leaves neither behind half-done."""

from __future__ import annotations

import threading
import time

import pytest

from seqsweep import sweep, tracking
from seqsweep.errors import ClusterError, TrackingError


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))  # the store lock lives under it


def test_the_store_opens_while_ray_starts(monkeypatch):
    opened = threading.Event()

    def open_store(uri, experiment):
        time.sleep(0.3)
        opened.set()
        return "7"

    def start_ray():
        assert not opened.is_set()  # the store is still opening: the two overlap
        return True

    monkeypatch.setattr(tracking, "open_store", open_store)
    assert sweep.open_store_while_ray_starts(start_ray, "sqlite:///x.db", "tiny") == ("7", True)
    assert opened.is_set()


def test_a_store_that_fails_shuts_the_started_ray_down(monkeypatch):
    import ray

    shut = []

    def open_store(uri, experiment):
        raise TrackingError("tracking store x: no")

    monkeypatch.setattr(tracking, "open_store", open_store)
    monkeypatch.setattr(ray, "shutdown", lambda: shut.append(True))
    with pytest.raises(TrackingError, match="no"):
        sweep.open_store_while_ray_starts(lambda: True, "sqlite:///x.db", "tiny")
    assert shut == [True]


def test_ray_failing_waits_for_the_store_and_reports_rays_error(monkeypatch):
    done = []

    def open_store(uri, experiment):
        time.sleep(0.3)
        done.append(True)
        return "7"

    def start_ray():
        raise ClusterError("ray.address 'x': cannot join the cluster")

    monkeypatch.setattr(tracking, "open_store", open_store)
    with pytest.raises(ClusterError, match="cannot join"):
        sweep.open_store_while_ray_starts(start_ray, "sqlite:///x.db", "tiny")
    assert done == [True]  # the store was not left half-created by an exiting process


def test_a_trial_worker_does_not_import_pandas():
    """What a trial's worker imports (the trainable, the trainer) leaves pandas out: ~0.4 s of every sweep's
    first trial (docs/design.md#sweep-overhead)."""
    import subprocess
    import sys

    code = "import sys, seqsweep.trainable, seqsweep.train; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
