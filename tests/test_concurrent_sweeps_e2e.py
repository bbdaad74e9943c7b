"""Two sweeps at once on one fresh embedded store: a different job, then the same job, as two `make sweep`.

Sweeps of `alpha` and `beta` start together on a store that does not exist yet; a second sweep of `alpha`
(another search seed) starts while the first one trains. All three finish; every trial has its run, none is
closed as KILLED by the other sweep of its job; nothing reports "database is locked"; `alpha` ends with two
versions, and the second is champion exactly when it beat the first on held-out data beyond noise.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import mlflow
import pytest

from e2e_helpers import env_for, write_tiny_job

pytestmark = pytest.mark.e2e


def _start(home, job, *extra):
    return subprocess.Popen([sys.executable, "-m", "seqsweep", "sweep", str(job), *extra], cwd=home,
                            env=env_for(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _latest(home, job_name):
    path = home / "mlruns" / "tune" / f"{job_name}.latest.json"
    try:
        return json.loads(path.read_text())["sweep_id"]
    except (OSError, ValueError, KeyError):
        return None


def test_two_sweeps_at_once_on_one_store(tmp_path):
    home = tmp_path
    # alpha trains long enough (trials one at a time) that the second alpha sweep starts while it runs
    alpha = write_tiny_job(home, name="alpha", trials=3, epochs=30)
    alpha.write_text(alpha.read_text().replace("max_concurrent: 2", "max_concurrent: 1"))
    beta = write_tiny_job(home, name="beta", trials=2, epochs=2)
    procs = {"alpha-1": _start(home, alpha), "beta": _start(home, beta)}  # both create the store
    seen_during: list[str] = []  # alpha-1's parent run status, seen after alpha-2 began its sweep
    try:
        deadline = time.time() + 600
        while (first := _latest(home, "alpha")) is None:
            assert time.time() < deadline and procs["alpha-1"].poll() is None, procs["alpha-1"].communicate()[1][-3000:]
            time.sleep(0.2)
        procs["alpha-2"] = _start(home, alpha, "--set", "search.seed=1")
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home}/mlruns/mlflow.db")  # the store exists now
        while any(p.poll() is None for p in procs.values()):
            assert time.time() < deadline, "the sweeps did not finish in 10 minutes"
            if procs["alpha-1"].poll() is None and _latest(home, "alpha") not in (None, first):
                # alpha-2 is past the point where a sweep closes the runs its job's last sweep left RUNNING
                exp = client.get_experiment_by_name("alpha")
                parent = client.search_runs([exp.experiment_id], f"tags.`seqsweep.sweep` = '{first}' and "
                                                                 "tags.`seqsweep.kind` = 'sweep'")[0]
                seen_during.append(parent.info.status)
            time.sleep(0.5)
        outs = {k: p.communicate() for k, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()

    for k, p in procs.items():
        out, err = outs[k]
        assert p.returncode == 0, f"{k}:\n{err[-3000:]}"
        assert "database is locked" not in err and "Traceback" not in err, f"{k}:\n{err[-3000:]}"
    assert seen_during, "alpha-1 ended before alpha-2 started its sweep: the overlap was not tested"
    assert "KILLED" not in seen_during and seen_during[0] == "RUNNING", seen_during  # FINISHED as it ends

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home}/mlruns/mlflow.db")
    for name, sweeps, trials in (("alpha", 2, 3), ("beta", 1, 2)):
        runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
        parents = [r for r in runs if r.data.tags.get("seqsweep.kind") == "sweep"]
        assert len(parents) == sweeps
        for parent in parents:
            sid = parent.data.tags["seqsweep.sweep"]
            mine = [r for r in runs if r.data.tags.get("seqsweep.kind") == "trial" and r.data.tags["seqsweep.sweep"] == sid]
            assert len(mine) == trials, (name, sid, [r.info.run_name for r in mine])
            for r in [parent, *mine]:
                assert r.info.status == "FINISHED" and r.data.tags.get("seqsweep.status") != "killed", (
                    name, r.info.run_name, r.info.status, r.data.tags.get("seqsweep.status"))

    # alpha: one version per sweep; the first decision found no champion, the second compared with it
    versions = client.search_model_versions("name = 'alpha'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    assert {v.tags["sweep"] for v in versions} == {p.data.tags["seqsweep.sweep"] for p in client.search_runs(
        [client.get_experiment_by_name("alpha").experiment_id], "tags.`seqsweep.kind` = 'sweep'")}
    before = {int(v.version): v.tags["promotion.champion_version_before"] for v in versions}
    first = [v for v, b in before.items() if b == "-"]
    assert len(first) == 1 and before[3 - first[0]] == str(first[0]), before
    # the second decision compared both on the same held-out resamples: champion moved iff better beyond noise
    second = next(v for v in versions if v.tags["promotion.champion_version_before"] != "-")
    beyond_noise = float(second.tags["promotion.difference_ci_low"]) > 0
    champion = int(client.get_registered_model("alpha").aliases["champion"])
    assert champion == (int(second.version) if beyond_noise else first[0]), (champion, second.tags)
    assert (second.tags["promotion.decision"] == "promoted") == beyond_noise
    assert client.get_registered_model("beta").aliases["champion"] == 1
