"""The subcommands: each takes the parsed arguments, prints its result on stdout, and returns the exit code."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from seqsweep import processes, store
from seqsweep.errors import ConfigError, SeqsweepError


def err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _with_ci(value: float, low: float, high: float) -> str:
    return f"{value:.3f}" if low != low else f"{value:.3f} [{low:.3f}, {high:.3f}]"


# ------------------------------------------------------------------------------------------------------------
# sweep
# ------------------------------------------------------------------------------------------------------------
def cmd_sweep(args: argparse.Namespace) -> int:
    from seqsweep import sweep
    from seqsweep.cli.format import final_summary, leaderboard, ranking_summary
    from seqsweep.config import load_job

    job = load_job(args.job, args.set)
    if args.dry_run:
        report = sweep.dry_run(job)
        d = report.data
        print(f"job {job.name}: OK ({args.job})")
        labels = f", {d['positives']} positives" if d["task"] in ("binary", "multilabel") else ""
        print(f"data: {d['rows']} rows{labels}, length {d['length']}, held-out rows {d['test_rows']}, {report.folds} folds")
        print(f"task: {d['task']}; output head: {report.head}")
        for arch, n in report.architectures.items():
            print(f"  {arch:<12} builds ({n:,} parameters)")
        for note in report.warnings:
            print(f"NOTE: {note}")
        return 0

    processes.sigterm_as_ctrl_c()
    err(f"sweep {job.name}: {job.search.num_trials} trials, {job.cv.folds}-fold CV, "
        f"up to {job.search.max_concurrent} at a time, tracking {store.redact(store.tracking_uri(job.tracking.uri))}")
    try:
        result = sweep.run(job, resume=args.resume, verbose=args.verbose, emit=err)
    except KeyboardInterrupt:
        result = None
    if result is None or result.interrupted:
        how = "terminated (SIGTERM)" if processes.received() else "interrupted"
        err(f"{how}. Continue this sweep with: seqsweep sweep {args.job} --resume")
        return processes.interrupt_exit_code()

    print()
    print(leaderboard(result))
    print()
    n = {s: sum(r.status == s for r in result.records) for s in ("completed", "pruned", "failed")}
    print(f"{len(result.records)} trials: {n['completed']} completed, {n['pruned']} pruned, {n['failed']} failed "
          f"in {result.seconds:.0f}s (sweep {result.sweep_id})")
    for r in result.failed:
        print(f"  FAILED trial {r.number} {r.config}: {r.error}")
    for note in result.notes:
        print(f"NOTE: {note}")
    for line in ranking_summary(result) + final_summary(result):
        print(line)
    if result.best is None:
        print("no trial completed: nothing was registered" + (" (every trial failed)" if result.failed else ""))
    if result.model_version:
        d = result.decision
        if result.heldout:
            scores = ", ".join(f"{m} {_with_ci(*v)}" for m, v in result.heldout.items())
            print(f"held-out, version {result.model_version}: {scores} (95% intervals, bootstrap)")
        print(f"registered {job.model_name} version {result.model_version} as 'challenger'; "
              f"{'PROMOTED to champion' if d.promoted else 'champion unchanged'}: {d.reason}")
    print(f"MLflow: {store.redact(result.uri)} experiment '{job.experiment_name}' (run `make ui` and open http://127.0.0.1:5000)")
    return result.exit_code


# ------------------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------------------
def cmd_data_check(args: argparse.Namespace) -> int:
    from seqsweep import data
    from seqsweep.data.encoding import Length
    from seqsweep.data.labels import LabelSpec

    if str(args.path).endswith((".yaml", ".yml")):
        return _check_job(args.path)
    length = None if args.length is None else Length(to=args.length, pad=args.pad)
    ds = data.load(args.path, labels=args.labels, task=LabelSpec(args.task), length=length)
    print(data.format_summary(data.summary(ds)))
    return 0


def _check_job(path: str) -> int:
    """`seqsweep data check JOB.yaml`: the job's data as a sweep would prepare it, summarised (for windows on a
    genome: its contigs, the peaks and negatives, their GC, and the chromosomes of each part)."""
    from seqsweep import data
    from seqsweep.config import load_job
    from seqsweep.prepare import prepare_data

    job = load_job(path)
    prepared = prepare_data(job)
    print(data.format_summary(data.summary(prepared.train)))
    if job.data.genome is not None:
        from seqsweep.data.peaks import describe

        d = describe(prepared.train)
        print(f"genome            {d['genome']}: {d['contigs']} contigs, {d['bases']:,} bases")
        for name, g in d["gc"].items():
            print(f"GC of {name:<11} {g['mean']:.3f} +- {g['sd']:.3f} over {g['rows']:,} windows ({100 * g['n_fraction']:.2f}% N)")
    info = prepared.info
    for key in ("train_chromosomes", "test_chromosomes"):
        if info.get(key):
            print(f"{key.replace('_', ' '):<17} {info[key]}")
    for k in range(len(prepared.folds)):
        if f"fold{k}_validation_chromosomes" in info:
            print(f"fold {k} validates {info[f'fold{k}_validation_chromosomes']}")
    if prepared.test is not None:
        print(f"held out          {len(prepared.test):,} rows, {prepared.test.n_positive:,} positives")
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from seqsweep import data

    if args.task == "peaks":
        from seqsweep.data.synth_genome import synth_genome

        files = synth_genome(args.out, seed=args.seed)
        print("wrote " + ", ".join(str(p) for p in files.values()))
    elif args.task == "multilabel":
        ds = data.synth_multilabel(args.out, n=args.n, n_tasks=args.tasks, seed=args.seed)
        print(f"wrote {len(ds)} sequences with {ds.task.n_outputs} tasks ({ds.n_positive} positive labels) to {args.out}")
    elif args.task == "multiclass":
        df = data.synth_multiclass(args.out, n=args.n, seed=args.seed)
        counts = ", ".join(f"{k} {v}" for k, v in df["label"].value_counts().sort_index().items())
        print(f"wrote {len(df)} sequences of {df['sequence'].str.len().min()}-{df['sequence'].str.len().max()} bp ({counts}) to {args.out}")
    else:
        ds = data.synth(args.out, n=args.n, positive_rate=args.positive_rate, seed=args.seed)
        print(f"wrote {len(ds)} sequences ({ds.n_positive} positives) to {args.out}")
    return 0


# ------------------------------------------------------------------------------------------------------------
# models and registry
# ------------------------------------------------------------------------------------------------------------
def cmd_models_list(args: argparse.Namespace) -> int:
    from seqsweep import models

    if args.name is None:
        from seqsweep.tasks import HEAD_TEXT

        print("Architectures (seqsweep.models):")
        print(models.describe_models())
        print(f"\n{HEAD_TEXT}")
        db = Path(store.tracking_uri()[len("sqlite:///"):]) if store.tracking_uri().startswith("sqlite:///") else None
        if db is not None and not db.exists():
            return 0
    from seqsweep import registry
    from seqsweep.cli.format import format_versions

    rows = registry.list_versions(args.name)
    if args.name is None:
        print("\nRegistered models:" if rows else "\nRegistered models: none yet (run `make sweep`)")
    if rows:
        print(format_versions(rows))
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    from seqsweep import registry
    from seqsweep.cli.format import format_show

    print(format_show(registry.show(args.ref)))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from seqsweep.explain import explain_version

    r = explain_version(args.model, data=args.data, n=args.n, variants=args.variants, genome=args.genome, method=args.method,
                        top_tasks=args.top_tasks, seed=args.seed, out_dir=args.out)
    print(f"{r.name} version {r.version}: {r.rows} sequences of {r.data} explained by {r.method} in {r.seconds:.0f}s")
    print(f"  ({r.method_why})")
    for output, motifs in r.motifs.items():
        print(f"{output}: {len(motifs)} motif(s); top: {r.top_motif[output]}")
        for m in motifs:
            hits = ", ".join(x.describe() for x in m.matches) or "-"
            print(f"  {m.name:<6} {'+' if m.sign > 0 else '-'} {m.n_seqlets:>5} seqlets  {m.consensus:<24} {hits}")
    if r.variants is not None:
        print("variant effects, largest first (delta probability, delta log-odds):")
        for v in r.variants.head(10).itertuples(index=False):
            print(f"  {v.id:<16} {v.position:>5} {v.ref}>{v.alt} {v.output:<12} {v.delta_probability:+.4f} {v.delta_log_odds:+.3f}")
    if r.artifacts:
        print(f"recorded on the version: tags explain.*, report {r.artifacts}/report.html")
    if args.out:
        print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from seqsweep import registry

    d = registry.promote(args.name, args.version, force=args.force)
    print(("promoted" if d.promoted else "not promoted") + f": {d.reason}")
    return 0 if d.promoted else 1


def cmd_predict(args: argparse.Namespace) -> int:
    from seqsweep import predict

    if (args.input is None) == (args.genome is None and args.regions is None) or (args.genome is None) != (args.regions is None):
        raise ConfigError("predict: give --input FILE, or --genome FASTA with --regions BED")
    if args.genome is not None:
        n = predict.predict_regions(args.model, args.genome, args.regions, args.out, signal=args.signal,
                                    batch_size=args.batch_size, progress=not args.quiet)
        print(f"wrote {args.out} ({n:,} regions)")
        return 0
    metrics = predict.predict_file(args.model, args.input, args.out, batch_size=args.batch_size,
                                   progress=not args.quiet)
    print(f"wrote {args.out}")
    for k in ("weighted_accuracy", "roc_auc", "pr_auc", "accuracy", "top_k_accuracy", "precision", "recall", "f1"):
        if k in metrics:
            print(f"  {k:<18} {metrics[k]:.4f}")
    return 0


def _exec(argv: list[str]) -> int:
    err("$ " + " ".join(argv))
    # MLflow's servers start helpers (uvicorn, gunicorn) found through PATH: put this interpreter's bin/ first,
    # so `.venv/bin/seqsweep serve` works without an activated virtual environment.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    # In a process group of its own, and every signal passed to the whole group: MLflow's servers leave
    # workers behind when only their parent is signalled.
    return processes.run_foreground(argv)


def cmd_serve(args: argparse.Namespace) -> int:
    from seqsweep import predict

    os.environ.setdefault("MLFLOW_TRACKING_URI", store.tracking_uri())
    return _exec(predict.serve_command(args.model, port=args.port, host=args.host))


def _mlflow_bin() -> str:
    return shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"


def cmd_ui(args: argparse.Namespace) -> int:
    uri = store.tracking_uri()
    argv = [_mlflow_bin(), "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    if store.uses_embedded_store(uri):
        store.artifacts_dir().mkdir(parents=True, exist_ok=True)
        argv += ["--default-artifact-root", store.artifacts_dir().as_uri()]
    return _exec(argv)


def cmd_dashboard(args: argparse.Namespace) -> int:
    exe = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    if exe is None:
        raise SeqsweepError("optuna-dashboard is not installed: pip install optuna-dashboard")
    db = store.mlruns_dir() / "optuna.db"
    if not db.exists():
        raise SeqsweepError(f"{db}: no Optuna studies yet (run a sweep first)")
    return _exec([exe, f"sqlite:///{db}", "--host", args.host, "--port", str(args.port)])
