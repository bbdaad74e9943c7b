"""A sweep joins an existing two-node Ray cluster (started here, stopped here) and runs trials on both nodes.

The cluster uses Ray's token authentication with a token made for this test, so the test never depends on
(or writes) a token in the home directory. Only the processes this test starts are stopped.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest

from e2e_helpers import env_for, run_cli, seed_store, write_tiny_job

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_node_cluster(tmp_path):
    env = env_for(tmp_path)
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    host = subprocess.Popen([sys.executable, str(Path(__file__).with_name("ray_cluster_host.py"))], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = host.stdout.readline()
        assert line, "the Ray cluster did not start"
        info = json.loads(line)
        yield info, env
    finally:
        host.stdin.close()  # the host shuts down exactly the nodes it started
        try:
            host.wait(timeout=60)
        except subprocess.TimeoutExpired:
            host.kill()


def test_sweep_runs_trials_on_both_nodes(tmp_path, two_node_cluster):
    info, env = two_node_cluster
    # A fresh worker per trial: with reuse, a trial of a second or two can end before the other node's worker
    # has started, and a loaded machine then serves every trial from the first node's worker.
    job = write_tiny_job(tmp_path, name="cluster", trials=4, epochs=2)
    job.write_text(job.read_text().replace("resources: {cpu: 1}", "resources: {cpu: 1, reuse_workers: false}"))
    seed_store(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "seqsweep", "sweep", str(job), "--set", f"ray.address={info['address']}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    c = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    exp = c.get_experiment_by_name("cluster")
    trials = [r for r in c.search_runs([exp.experiment_id]) if r.data.tags.get("seqsweep.kind") == "trial"]
    assert len(trials) == 4
    nodes = {r.data.tags["ray.node_id"] for r in trials}
    # two nodes of one CPU each and two concurrent one-CPU trials: both nodes must have served trials
    assert len(nodes) == 2, nodes
    assert nodes == set(info["nodes"])
    assert {r.data.tags["data.store"].split(" (")[0] for r in trials} == {"tokens in memory"}

    # A genome: its token cache is built once by the driver, and each node's trials memory-map the file (the
    # store travels to the workers as its path, never as one-hot or as bytes).
    rng = np.random.default_rng(0)
    fasta = tmp_path / "genome.fa"
    fasta.write_text("".join(f">chr{c}\n" + "".join(rng.choice(list("ACGT"), 20_000)) + "\n" for c in (1, 2)))
    (tmp_path / "search_spaces" / "genome.yaml").write_text("architecture: [cnn]\ncnn.filters: [4, 8]\ncnn.kernel_size: [5]\n")
    genome_job = tmp_path / "jobs" / "genome.yaml"
    genome_job.write_text(
        "name: genome\n"
        f"data: {{train: {fasta}}}\n"
        "task: {type: next_base, context: 40, k: 1, stride: 1}\n"
        "search_space: search_spaces/genome.yaml\n"
        "search: {num_trials: 2, max_concurrent: 2, metric: cv_accuracy, scheduler: none, seed: 0}\n"
        "cv: {folds: 2, seed: 0, block_size: 10000}\n"
        "train: {max_epochs: 1, windows_per_epoch: 2000, validation_windows: 1000}\n"
        "resources: {cpu: 1, reuse_workers: false}\n"
        "registry: {model_name: genome, metric: accuracy}\n"
    )
    proc = subprocess.run([sys.executable, "-m", "seqsweep", "sweep", str(genome_job), "--set", f"ray.address={info['address']}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = c.get_experiment_by_name("genome")
    trials = [r for r in c.search_runs([exp.experiment_id]) if r.data.tags.get("seqsweep.kind") == "trial"]
    assert len(trials) == 2
    assert {r.data.tags["ray.node_id"] for r in trials} == set(info["nodes"])
    stores = {r.data.tags["data.store"] for r in trials}
    assert len(stores) == 1 and stores.pop().startswith(f"memory-mapped {tmp_path}/data/genomes/genome-")


def test_unreachable_ray_address_is_one_line_exit_2(tmp_path):
    job = write_tiny_job(tmp_path, name="noray")
    proc = run_cli(tmp_path, "sweep", str(job), "--set", "ray.address=127.0.0.1:9")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("seqsweep: error: ray.address '127.0.0.1:9' is unreachable")
    assert "Traceback" not in proc.stderr
