"""Genome-scale data: the memory of one trial as the data grows, and a next_base sweep over a genome at stride 1.

    python bench/genome_scale.py memory   [--genome-mb 200] [--sizes 100000 1000000 4000000] [--old REV]
    python bench/genome_scale.py next_base [--genome-mb 50]
    python bench/genome_scale.py datapath [--archs cnn deepbind lstm cnn_bilstm] [--reps 4]
    python bench/genome_scale.py loader [--genome-mb 200]
    python bench/genome_scale.py labels [--windows 4400000] [--targets 919] [--density 0.02]

`memory`: a synthetic genome FASTA (uniform random bases, 4 contigs) is written under /tmp and cached as
tokens; for each size N, N windows of 1,000 bp are drawn at random over it with 10% positives, and one trial's
CVTrainer (5 folds, deepbind at the job defaults; `--batch-size`, 256) is built and trains 8 batches, in a
fresh process per measure. Reported per process: peak RSS (ru_maxrss), and at the end from /proc/self/smaps_rollup its private
memory (what the trial alone holds) and the shared file-backed pages (the memory-mapped genome, counted once
per node whatever the number of trials), plus training windows/s of those batches. The same is measured for
the path before the token store (REV, default the commit before it: one-hot X (N, L, 4) uint8 and the
trainer's float32 copy of it) where it fits in memory (N * L * 20 bytes under 60% of RAM).

`next_base`: a synthetic genome of `--genome-mb` Mb, a next_base job at stride 1 (every position a window),
with a data budget (train.windows_per_epoch, train.validation_windows), run as a real sweep (Ray Tune, Optuna,
MLflow) in a private home; reports the windows, the driver's peak RSS and the wall time.

`datapath`: the data path alone, on JUND (101 bp, 34,527 rows), in one process: one CVTrainer's fold 0 trains an
epoch and scores its validation rows with batches made from the token store (the working tree) and with batches
indexed from a float32 (N, 4, L) copy of the data made once (the path before the token store), interleaved
(A B, B A, ...) on the same models, fastest repeat kept. Everything else (models, optimizer, metrics) is the
same code, so the ratio is the data path's cost. bench/compare_commits.py compares whole commits instead.

`loader`: windows per second the data path feeds a trainer at 1,000 bp over the genome's memory-mapped cache
(batches of 256 random windows, each shifted by up to 20 bases (train.jitter) and half of them reverse-
complemented, made one-hot on the CPU), against the windows per second one deepbind fold model trains on
(the job defaults, float32, 1 thread): the loader must never be the bottleneck.

`labels`: the memory of a DeepSEA-size label set held sparsely (4.4M windows x 919 targets at 2% positives,
drawn at random), against the dense matrices it replaces (computed, not allocated), and the time to make one
batch of 256 rows dense with its weights.

Results: bench/results/genome_scale.json (each subcommand replaces its own entry).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results" / "genome_scale.json"
WORK = Path(tempfile.gettempdir()) / "seqsweep-genome-bench"
sys.path.insert(0, str(BENCH))
from common import loadavg, machine_info, say  # noqa: E402

L = 1000

# One trial's memory at N windows. {new} selects the data path: the token store (True) or, at an older commit,
# one-hot X built from the same windows (False). Prints one JSON line.
CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(1)
N, L, NEW, CACHE, NAMES, TOTAL, B = {n}, {L}, {new}, {cache!r}, {names!r}, {total}, {batch}
from seqsweep import cv
from seqsweep.train import CVTrainer, TrainConfig
from seqsweep.data import Dataset, class_balancing_weights

def smaps():
    out = {{}}
    for line in open("/proc/self/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out

rng = np.random.default_rng(0)
starts = np.sort(rng.integers(0, TOTAL - L, N)).astype(np.int64)
y = (rng.random(N) < 0.1).astype(np.uint8)
w = class_balancing_weights(y)
base = smaps()
t0 = time.perf_counter()
if NEW:
    from seqsweep.data.genome import TokenStore
    tokens = np.memmap(CACHE, dtype=np.uint8, mode="r", shape=(TOTAL,))
    offsets = np.array([0, TOTAL], dtype=np.int64)
    store = TokenStore(tokens, ("genome",), offsets, np.zeros(1, dtype=np.int64), "bench", CACHE, "bench")
    ds = Dataset(store=store, starts=starts, length=L, y=y, w=w)
else:
    tokens = np.memmap(CACHE, dtype=np.uint8, mode="r", shape=(TOTAL,))
    onehot = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), dtype=np.uint8)])
    X = np.empty((N, L, 4), dtype=np.uint8)
    for a in range(0, N, 10000):
        X[a:a + 10000] = onehot[np.lib.stride_tricks.sliding_window_view(tokens, L)[starts[a:a + 10000]]]
    ds = Dataset(X=X, y=y, w=w, ids=np.array(["r"] * N))
    del X
load_s = time.perf_counter() - t0
folds = cv.make_folds(y, 5, seed=0)
cfg = TrainConfig("deepbind", {{}}, epochs=1, batch_size=B)
trainer = CVTrainer(ds, folds, cfg, num_threads=1, precision="float32")
built = smaps()
model, k = trainer.models[0], 0
order, flip = trainer._epoch_order(0, len(trainer.train_idx[0]))
t1 = time.perf_counter()
n_batches = 8
for b in range(n_batches):
    rows = order[b * B:(b + 1) * B]
    x, yb, wb, a, mask = trainer._batch(rows, None)
    logits = model(x, a)
    loss, _, _ = trainer._weighted_loss(trainer.task, logits, yb, wb, trainer._w_mean[0])
    trainer._optimizer_step(0, loss)
train_s = time.perf_counter() - t1
end = smaps()
print(json.dumps({{
    "n": N, "path": "token store" if NEW else "one-hot X + float32 copy",
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "private_mib": end.get("Private_Clean", 0) + end.get("Private_Dirty", 0),
    "private_after_imports_mib": base.get("Private_Clean", 0) + base.get("Private_Dirty", 0),
    "shared_file_mib": end.get("Shared_Clean", 0) + end.get("Shared_Dirty", 0),
    "rss_mib": end.get("Rss", 0), "pss_mib": end.get("Pss", 0),
    "rss_after_trainer_mib": built.get("Rss", 0),
    "load_s": load_s, "windows_per_s": n_batches * B / train_s, "batch_size": B,
}}))
"""


def write_genome(path: Path, mb: int, contigs: int = 4, seed: int = 0) -> None:
    """A FASTA of `mb` million uniform random bases in `contigs` contigs, 60 letters a line."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    per = mb * 1_000_000 // contigs
    with open(path, "wb") as f:
        for c in range(contigs):
            f.write(f">chr{c + 1}\n".encode())
            for a in range(0, per, 6_000_000):
                n = min(6_000_000, per - a)
                body = letters[rng.integers(0, 4, n)]
                lines = np.full((n // 60 + (n % 60 > 0)) * 61, ord("\n"), dtype=np.uint8)
                full = n // 60
                lines[: full * 61].reshape(full, 61)[:, :60] = body[: full * 60].reshape(full, 60)
                if n % 60:
                    lines[full * 61 : full * 61 + n % 60] = body[full * 60 :]
                    lines = lines[: full * 61 + n % 60 + 1]
                f.write(lines.tobytes())


def _genome(mb: int):
    from seqsweep.data.genome import genome

    WORK.mkdir(parents=True, exist_ok=True)
    fa = WORK / f"synthetic-{mb}mb.fa"
    if not fa.exists():
        say(f"writing a {mb} Mb genome FASTA to {fa}")
        write_genome(fa, mb)
    t0 = time.perf_counter()
    store = genome(fa, cache_dir=WORK / "cache")
    return fa, store, time.perf_counter() - t0


def _child(checkout: Path, n: int, new: bool, cache: str, names, total: int, batch: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout / "platform"), SEQSWEEP_HOME=str(WORK))
    code = CHILD.format(n=n, L=L, new=new, cache=cache, names=list(names), total=total, batch=batch)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{checkout} n={n}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _save(key: str, entry: dict) -> None:
    doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    doc[key] = entry
    doc["machine"] = machine_info()
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(RESULTS)


def cmd_memory(args) -> int:
    fa, store, build_s = _genome(args.genome_mb)
    total = len(store)
    say(f"genome {total:,} bases, cache {store.cache} (opened/built in {build_s:.1f} s)")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows = []
    with tempfile.TemporaryDirectory(prefix="seqsweep-rev-") as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.old], cwd=ROOT, check=True, capture_output=True)
        try:
            for n in args.sizes:
                for new in (True, False):
                    if not new and n * L * 20 > 0.6 * ram:
                        rows.append({"n": n, "path": "one-hot X + float32 copy", "skipped": f"needs ~{n * L * 20 / 2**30:.0f} GiB"})
                        say(f"n={n:>9,} old path skipped: needs ~{n * L * 20 / 2**30:.0f} GiB")
                        continue
                    r = _child(ROOT if new else old, n, new, store.cache, store.names, total, args.batch_size)
                    rows.append(r)
                    say(f"n={n:>9,} {r['path']:26s} peak RSS {r['peak_rss_mib']:8.0f} MiB  private {r['private_mib']:8.0f} MiB  "
                        f"shared file {r['shared_file_mib']:6.0f} MiB  {r['windows_per_s']:7.0f} windows/s")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    _save(f"memory_batch{args.batch_size}", {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "genome_bases": total,
                     "window": L, "old": args.old, "cache_build_or_open_s": build_s, "load_average": loadavg(), "rows": rows})
    return 0


JOB = """name: genome_next_base
data: {{train: {fasta}}}
task: {{type: next_base, context: 100, k: 1, stride: 1}}
search_space: {space}
search: {{num_trials: 2, max_concurrent: 1, metric: cv_accuracy, prune_metric: cv_accuracy, grace_period: 1}}
cv: {{folds: 3, seed: 0, block_size: 1000000}}
train: {{max_epochs: 2, windows_per_epoch: 20000, validation_windows: 20000}}
resources: {{cpu: 1}}
registry: {{model_name: genome_next_base, metric: accuracy, top_k: 1}}
"""


def cmd_next_base(args) -> int:
    import resource

    fa, store, build_s = _genome(args.genome_mb)
    home = Path(tempfile.mkdtemp(prefix="seqsweep-genome-home-"))
    (home / "space.yaml").write_text("architecture: [cnn]\ncnn.filters: [16]\nlearning_rate: 1.0e-3\n")
    job = home / "job.yaml"
    job.write_text(JOB.format(fasta=fa, space=home / "space.yaml"))
    env = dict(os.environ, SEQSWEEP_HOME=str(home), SEQSWEEP_GENOME_CACHE=str(WORK / "cache"))
    env.pop("RAY_ADDRESS", None)
    say(f"next_base sweep at stride 1 over {len(store):,} bases ({home})")
    t0 = time.perf_counter()
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "seqsweep"), "sweep", str(job)], env=env, capture_output=True,
                         text=True, timeout=3600)
    wall = time.perf_counter() - t0
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    text = out.stdout + out.stderr
    say(text[-1500:])
    windows = next((ln for ln in text.splitlines() if "next_base windows" in ln), "")
    _save("next_base", {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "genome_bases": len(store),
                        "exit_code": out.returncode, "wall_s": wall, "largest_child_peak_rss_mib": child_peak,
                        "windows_line": windows, "job": job.read_text(), "summary_tail": text[-2500:],
                        "load_average": loadavg()})
    return out.returncode


def cmd_datapath(args) -> int:
    import torch

    from common import jund_or_synthetic
    from seqsweep import cv
    from seqsweep.ensemble import onehot_to_tensor
    from seqsweep.train import CVTrainer, TrainConfig

    torch.set_num_threads(1)
    ds, source = jund_or_synthetic()
    folds = cv.make_folds(ds.y, 5, seed=0)
    rows = {}
    for arch in args.archs:
        t = CVTrainer(ds, folds, TrainConfig(arch, {}, epochs=args.reps + 1), num_threads=1)
        X = onehot_to_tensor(ds.X, t.device)  # (N, 4, L) float32: what the trainer used to hold
        tokens_x = t._x
        variants = {"float32 copy": lambda r, shift=None: X[r], "token store": tokens_x}
        times: dict[str, list[float]] = {k: [] for k in variants}
        for rep in range(args.reps):
            for name in (list(variants) if rep % 2 == 0 else list(variants)[::-1]):
                t._x = variants[name]
                t0 = time.perf_counter()
                t._train_fold(0)
                t._val_logits(0)
                times[name].append(time.perf_counter() - t0)
        best = {k: min(v) for k, v in times.items()}
        rows[arch] = {"best_s": best, "throughput_ratio_tokens_over_copy": best["float32 copy"] / best["token store"],
                      "runs": times}
        say(f"{arch:10s} float32 copy {best['float32 copy']:6.2f} s  token store {best['token store']:6.2f} s  "
            f"throughput ratio {rows[arch]['throughput_ratio_tokens_over_copy']:.3f}")
    _save("datapath", {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "data": str(source),
                       "load_average": loadavg(), "archs": rows})
    return 0


def cmd_loader(args) -> int:
    import torch

    from seqsweep.data import Dataset
    from seqsweep.data.encoding import class_balancing_weights
    from seqsweep.ensemble import tokens_to_tensor
    from seqsweep.models import create_model

    torch.set_num_threads(1)
    _, store, _ = _genome(args.genome_mb)
    rng = np.random.default_rng(0)
    n, B, jitter = 200_000, 256, 20
    starts = np.sort(rng.integers(jitter, len(store) - L - jitter, n)).astype(np.int64)
    y = (rng.random(n) < 0.1).astype(np.uint8)
    ds = Dataset(store=store, starts=starts, length=L, y=y, w=class_balancing_weights(y))
    lo, hi = ds.shift_bounds()
    cpu = torch.device("cpu")

    def batch(rows):
        shift = np.clip(rng.integers(-jitter, jitter + 1, len(rows)), lo[rows], hi[rows])
        x = tokens_to_tensor(ds.tokens(rows, shift), cpu)
        flip = torch.from_numpy(rng.random(len(rows)) < 0.5)
        return torch.where(flip[:, None, None], x.flip(-2, -1), x)

    order = rng.permutation(n)
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < 10 and (k + 1) * B <= n:
        batch(order[k * B : (k + 1) * B])
        k += 1
    loader = k * B / (time.perf_counter() - t0)
    model = create_model("deepbind", seq_len=L)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    xs = [batch(order[i * B : (i + 1) * B]) for i in range(6)]
    t0 = time.perf_counter()
    for x in xs:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).reshape(-1), torch.zeros(B))
        opt.zero_grad()
        loss.backward()
        opt.step()
    trainer = len(xs) * B / (time.perf_counter() - t0)
    say(f"loader {loader:,.0f} windows/s (1 kb, jitter {jitter}, RC); deepbind trains {trainer:,.0f} windows/s: "
        f"the loader is {loader / trainer:.0f}x faster")
    _save("loader", {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "window": L, "batch": B,
                     "jitter": jitter, "loader_windows_per_s": loader, "deepbind_train_windows_per_s": trainer,
                     "load_average": loadavg()})
    return 0


def cmd_labels(args) -> int:
    import resource

    from seqsweep.data.sparse import SparseLabels, TaskWeights

    rng = np.random.default_rng(0)
    n, T, p = args.windows, args.targets, args.density
    t0 = time.perf_counter()
    indptr = np.zeros(n + 1, dtype=np.int64)
    parts = []
    for a in range(0, n, 200_000):
        b = min(n, a + 200_000)
        k = rng.binomial(T, p, b - a)
        indptr[a + 1 : b + 1] = k
        # k distinct tasks per row: the first k of a random ordering of the T tasks, row by row
        parts.append(np.argsort(rng.random((b - a, T)).astype(np.float32), axis=1)[np.arange(T)[None, :] < k[:, None]].astype(np.int32))
    np.cumsum(indptr, out=indptr)
    y = SparseLabels(indptr, np.concatenate(parts), T)
    w = TaskWeights.balanced(y)
    build = time.perf_counter() - t0
    rows = rng.integers(0, n, 256)
    t1 = time.perf_counter()
    for _ in range(20):
        y.dense(rows), w.dense(rows)
    batch_ms = (time.perf_counter() - t1) / 20 * 1000
    entry = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "windows": n, "targets": T, "density": p,
             "positives": y.sum(), "sparse_gib": (y.nbytes + w.w_pos.nbytes + w.w_neg.nbytes) / 2**30,
             "dense_uint8_labels_gib": n * T / 2**30, "dense_float32_labels_and_weights_gib": 2 * 4 * n * T / 2**30,
             "build_s": build, "dense_batch_of_256_ms": batch_ms,
             "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "load_average": loadavg()}
    say(f"{n:,} windows x {T} targets, {entry['positives']:,} positives: sparse {entry['sparse_gib']:.2f} GiB against "
        f"{entry['dense_uint8_labels_gib']:.1f} GiB dense uint8 labels and {entry['dense_float32_labels_and_weights_gib']:.1f} GiB "
        f"of float32 labels + weights; a batch of 256 made dense in {batch_ms:.2f} ms")
    _save("labels", entry)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/genome_scale.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--genome-mb", type=int, default=200)
    m.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 4_000_000])
    m.add_argument("--old", default="fec55ee", help="the commit before the token store")
    m.add_argument("--batch-size", type=int, default=256, help="the trial's batch (the job default: 256)")
    m.set_defaults(func=cmd_memory)
    nb = sub.add_parser("next_base")
    nb.add_argument("--genome-mb", type=int, default=50)
    nb.set_defaults(func=cmd_next_base)
    lb = sub.add_parser("labels")
    lb.add_argument("--windows", type=int, default=4_400_000)
    lb.add_argument("--targets", type=int, default=919)
    lb.add_argument("--density", type=float, default=0.02)
    lb.set_defaults(func=cmd_labels)
    ld = sub.add_parser("loader")
    ld.add_argument("--genome-mb", type=int, default=200)
    ld.set_defaults(func=cmd_loader)
    dp = sub.add_parser("datapath")
    dp.add_argument("--archs", nargs="+", default=["cnn", "deepbind", "lstm", "cnn_bilstm"])
    dp.add_argument("--reps", type=int, default=4)
    dp.set_defaults(func=cmd_datapath)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
