"""sweep._open_store_while: the tracking store opens on a thread while Ray starts, and a failure of either
leaves neither behind half-done."""

from __future__ import annotations

import threading
import time

import pytest

from seqsweep import sweep, tracking
from seqsweep.config import load_job
from seqsweep.errors import ClusterError, TrackingError

from e2e_helpers import write_tiny_job


@pytest.fixture
def job(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    return load_job(write_tiny_job(tmp_path))


def test_the_store_opens_while_ray_starts(job, monkeypatch):
    opened = threading.Event()

    def open_store(uri, experiment):
        time.sleep(0.3)
        opened.set()
        return "7"

    def start_ray():
        assert not opened.is_set()  # the store is still opening: the two overlap
        return True

    monkeypatch.setattr(tracking, "open_store", open_store)
    assert sweep._open_store_while(start_ray, "sqlite:///x.db", job) == ("7", True)
    assert opened.is_set()


def test_a_store_that_fails_shuts_the_started_ray_down(job, monkeypatch):
    import ray

    shut = []

    def open_store(uri, experiment):
        raise TrackingError("tracking store x: no")

    monkeypatch.setattr(tracking, "open_store", open_store)
    monkeypatch.setattr(ray, "shutdown", lambda: shut.append(True))
    with pytest.raises(TrackingError, match="no"):
        sweep._open_store_while(lambda: True, "sqlite:///x.db", job)
    assert shut == [True]


def test_ray_failing_waits_for_the_store_and_reports_rays_error(job, monkeypatch):
    done = []

    def open_store(uri, experiment):
        time.sleep(0.3)
        done.append(True)
        return "7"

    def start_ray():
        raise ClusterError("ray.address 'x': cannot join the cluster")

    monkeypatch.setattr(tracking, "open_store", open_store)
    with pytest.raises(ClusterError, match="cannot join"):
        sweep._open_store_while(start_ray, "sqlite:///x.db", job)
    assert done == [True]  # the store was not left half-created by an exiting process
