"""A job's data, ready for a sweep: generated if asked for, loaded for the job's task, split, folded.

    prepared = prepare_data(job)   # train, test (held out, or None), folds, info (what MLflow records)

Everything here runs before Ray starts, so a bad file, a label that does not fit `task.type` or folds that
cannot hold both classes cost a second and leave nothing behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep import cv, data, store
from seqsweep.config import JobSpec
from seqsweep.data.encoding import Length, multilabel_weights
from seqsweep.data.labels import LabelSpec
from seqsweep.data.sparse import TaskWeights, is_sparse
from seqsweep.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    train: data.Dataset
    test: data.Dataset | None
    folds: list[tuple[np.ndarray, np.ndarray]]
    info: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # What a held-out bootstrap resamples: the test rows' genomic blocks when CV groups by them, else None (rows)
    test_groups: np.ndarray | None = None


def label_spec(job: JobSpec, classes: tuple[str, ...] | None = None, classes_from: str = "task.classes") -> LabelSpec:
    """The job's `task` as the data layer reads labels for it."""
    t = job.task
    columns = tuple(t.labels) if t.type == "multilabel" and t.labels else None
    if classes is None and t.type == "multiclass" and t.classes:
        classes = tuple(t.classes)
    return LabelSpec(type=t.type, columns=columns, classes=classes, classes_from=classes_from)


def length_of(job: JobSpec) -> Length | None:
    spec = job.data.length
    return None if spec is None else Length(to=spec.to, pad=spec.pad, trim=spec.trim)


def _generate(job: JobSpec) -> None:
    """The job's synthetic data, into data.train, on first use (data.synthetic)."""
    spec, syn = job.data, job.data.synthetic
    if not spec.train.resolve().is_relative_to(store.generated_data_dir()):
        # a typo in data.train must not become a sweep on 20,000 made-up rows
        raise DataError(f"{spec.train}: no such file or directory (data.synthetic generates data only "
                        f"under {store.generated_data_dir()}/)")
    log.info("generating the synthetic %s dataset into %s", job.task.type, spec.train)
    if job.task.type == "binary":
        data.synth(spec.train, n=syn.n, positive_rate=syn.positive_rate, seed=syn.seed)
    elif job.task.type == "multilabel":
        data.synth_multilabel(spec.train, n=syn.n, n_tasks=syn.tasks, seed=syn.seed)
    elif job.task.type == "multiclass":
        data.synth_multiclass(spec.train, n=syn.n, seed=syn.seed)
    else:
        raise ConfigError(f"{job.source}: 'data.synthetic' generates binary, multilabel or multiclass data, not next_base")


def _balanced(ds: data.Dataset) -> bool:
    """True when the weights are class-balancing (each class, per task, holds an equal share of the weight),
    as in the JUND shards or when seqsweep made them."""
    if is_sparse(ds.y):
        return True  # TaskWeights are class-balancing by construction
    y, w = np.asarray(ds.y), np.asarray(ds.w, dtype=np.float64)
    if ds.task.type == "multilabel":
        for t in range(y.shape[1]):
            m = w[:, t] > 0
            pos, tot = w[m & (y[:, t] == 1), t].sum(), w[m, t].sum()
            if tot > 0 and pos > 0 and abs(pos / tot - 0.5) > 1e-3:
                return False
        return True
    classes = np.unique(y)
    shares = np.array([w[y == c].sum() for c in classes]) / max(w.sum(), 1e-300)
    return bool(w.sum() > 0 and np.allclose(shares, 1.0 / len(classes), atol=1e-3))


def _rebalanced(ds: data.Dataset) -> data.Dataset:
    # A subset changes the class ratio a little; class-balancing weights must then be recomputed, or
    # "always positive" stops scoring 0.5 (docs/design.md#subsets).
    if is_sparse(ds.y):
        w = TaskWeights.balanced(ds.y)
    elif ds.task.type == "multilabel":
        w = multilabel_weights(ds.y, np.asarray(ds.w) > 0)
    else:
        w = data.class_balancing_weights(ds.y)
    return ds.replace(w=w)


def _first_record(path: Path) -> str:
    """The name of a FASTA's first record (up to the first space), or '' when it has none."""
    import gzip

    with (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)) as f:
        for line in f:
            if line.startswith(">"):
                return line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
    return ""


def _windows(job: JobSpec, path, labels=None) -> data.Dataset:
    """next_base windows cut from every sequence of `path` (its labels, if any, are not used).

    A FASTA whose records are contigs (not `chr:start-end` windows) is a genome: its tokens are cached once
    and memory-mapped, and the windows are offsets into them. Other inputs are read as sequences, windows
    with coordinates joined into contigs (seqsweep.data.windows)."""
    from seqsweep.data.genome import genome
    from seqsweep.data.windows import next_base_windows, windows_over

    t = job.task
    if data.loaders.data_kind(Path(path)) == "fasta" and data.genomic_coordinates([_first_record(Path(path))]) is None:
        # records that are contigs: decided from the first header, before any cache is built for a FASTA of windows
        store = genome(path)
        return windows_over(store, context=t.context, k=t.k, stride=t.stride, block_size=job.cv.block_size,
                            source=str(path))
    df = data.read_sequences(path, labels=labels)
    return next_base_windows(
        df["id"].to_numpy(dtype=str), df["sequence"].tolist(), context=t.context, k=t.k, stride=t.stride,
        block_size=job.cv.block_size, source=str(path),
    )


def _multitarget(spec) -> bool:
    return isinstance(spec.peaks, dict) or Path(spec.peaks).is_dir()


def _load_peaks(job: JobSpec) -> data.Dataset:
    """Binary windows on a genome's peaks, negatives drawn from the rest (seqsweep.data.peaks); or, for a folder
    or mapping of peak files, DeepSEA-style binned multilabel targets (seqsweep.data.bins)."""
    from seqsweep.data.peaks import peak_dataset

    spec = job.data
    if _multitarget(spec):
        from seqsweep.data.bins import binned_dataset

        if job.task.type != "multilabel":
            raise ConfigError(f"{job.source}: 'data.peaks' names several targets (a folder or a mapping): set task.type: multilabel")
        if spec.negatives is not None:
            raise ConfigError(f"{job.source}: 'data.negatives' is for one peak file; binned targets take their negatives from the other targets' bins")
        ds = binned_dataset(spec.genome, spec.peaks, spec.window, bins=spec.bins)
        if spec.signal is not None:
            from seqsweep.data.peaks import window_signal

            ds = ds.replace(a=window_signal(spec.signal.accessibility, ds.store, ds.starts, ds.length))
        return ds
    if spec.bins is not None:
        raise ConfigError(f"{job.source}: 'data.bins' is for several targets (data.peaks a folder or a mapping)")
    if job.task.type == "multilabel":  # one BED with a label_<target> column per target
        from seqsweep.data.peaks import labelled_dataset

        return labelled_dataset(spec.genome, spec.peaks, spec.window)
    if job.task.type == "multiclass":
        from seqsweep.data.peaks import class_dataset

        return class_dataset(spec.genome, spec.peaks, spec.window, classes=job.task.classes, negatives=spec.negatives)
    if job.task.type != "binary":
        raise ConfigError(f"{job.source}: 'data.peaks' (one file) makes binary data (peaks against the rest of the genome) or multiclass (classes in the name column); "
                          f"task.type is {job.task.type}")
    return peak_dataset(spec.genome, spec.peaks, spec.window, negatives=spec.negatives, signal=spec.signal)


def _load_train(job: JobSpec) -> data.Dataset:
    spec, t = job.data, job.task
    if spec.peaks is not None:
        return _load_peaks(job)
    if t.type == "next_base":
        return _windows(job, spec.train, spec.labels)
    return data.load(spec.train, labels=spec.labels, task=label_spec(job), length=length_of(job))


def _load_test(job: JobSpec, train: data.Dataset) -> data.Dataset:
    spec, t = job.data, job.task
    if t.type == "next_base":
        return _windows(job, spec.test)
    classes = train.task.names if train.task.single_label else None
    test = data.load(spec.test, task=label_spec(job, classes, "the training data"), length=length_of(job))
    if test.seq_len != train.seq_len:
        raise DataError(f"{spec.test}: sequences have length {test.seq_len}, the training data {train.seq_len}")
    if t.type == "multilabel" and test.task.names != train.task.names:
        raise DataError(
            f"{spec.test}: holds tasks {', '.join(test.task.names)}; the training data {', '.join(train.task.names)}: "
            "held-out data needs the same tasks"
        )
    return test


def _unscorable(ds: data.Dataset, folds) -> list[str]:
    """Multilabel tasks that no validation fold can score (one class only in each): excluded from every mean."""
    if ds.task.type != "multilabel":
        return []
    from seqsweep.metrics import scorable_tasks

    ever = np.zeros(ds.task.n_outputs, dtype=bool)
    for _, va in folds:
        if is_sparse(ds.y):
            pos = ds.y[va].positives()
            ever |= (pos > 0) & (pos < len(va))
        else:
            ever |= scorable_tasks(ds.y[va], ds.w[va])
    return [n for n, ok in zip(ds.task.names, ever) if not ok]


def _names(values) -> str:
    text = ",".join(str(v) for v in values)
    return text if len(text) <= 500 else text[:497] + "..."


def _generate_peaks(job: JobSpec) -> None:
    """The synthetic genome, peaks and bigWig of jobs/peaks.yaml, on first use (data.synthetic)."""
    from seqsweep.data.synth_genome import synth_genome

    from seqsweep.data.synth_genome import synth_targets

    spec, syn = job.data, job.data.synthetic
    folder = job.task.type == "multilabel"  # data.peaks names a folder of targets
    out = spec.peaks if folder else spec.peaks.parent
    if not out.resolve().is_relative_to(store.generated_data_dir()):
        raise DataError(f"{spec.peaks}: no such file (data.synthetic generates data only under {store.generated_data_dir()}/)")
    log.info("generating the synthetic genome, peaks and signal into %s", out)
    if folder:
        synth_targets(out.parent, seed=syn.seed)  # genome.fa beside the folder peaks/
    else:
        synth_genome(out, seed=syn.seed)


def prepare_data(job: JobSpec) -> PreparedData:
    spec = job.data
    if spec.synthetic is not None and isinstance(spec.peaks, Path) and not spec.peaks.exists():
        _generate_peaks(job)
    elif spec.synthetic is not None and spec.train is not None and not spec.train.exists():
        _generate(job)
    full = _load_train(job)
    if job.train.use_accessibility and full.a is None:
        raise ConfigError(f"{job.source}: 'train.use_accessibility' is true but {spec.train} has no accessibility values")

    test = None
    train = full
    if spec.holdout is not None and spec.holdout.chromosomes is not None:
        tr_idx, te_idx = cv.chromosome_split(cv.dataset_chromosomes(full), spec.holdout.chromosomes, y=full.y,
                                             task=full.task, w=full.w)
        train, test = full.subset(tr_idx), full.subset(te_idx)
        if _balanced(full):
            train, test = _rebalanced(train), _rebalanced(test)
    elif spec.holdout is not None:
        if job.task.type == "next_base" and spec.holdout.block_size % job.cv.block_size:
            raise ConfigError(
                f"{job.source}: 'data.holdout.block_size' {spec.holdout.block_size} must be a multiple of "
                f"'cv.block_size' {job.cv.block_size} for next_base, so no held-out window overlaps a training one"
            )
        tr_idx, te_idx = cv.holdout_split(
            None, full.y, fraction=spec.holdout.fraction, block_size=spec.holdout.block_size, seed=spec.holdout.seed,
            task=full.task, w=full.w, blocks=cv.dataset_blocks(full, spec.holdout.block_size),
        )
        train, test = full.subset(tr_idx), full.subset(te_idx)
        if _balanced(full):
            train, test = _rebalanced(train), _rebalanced(test)
    elif spec.test is not None:
        test = _load_test(job, full)

    group_by = job.cv.group_by or ("genomic_block" if job.task.type == "next_base" else "none")
    groups = None
    if group_by == "genomic_block":
        groups = cv.dataset_blocks(train, job.cv.block_size)
    elif group_by == "chromosome":
        groups = cv.dataset_chromosomes(train)
    folds = cv.make_folds(train.y, job.cv.folds, seed=job.cv.seed, groups=groups, task=train.task, w=train.w)
    notes = []
    lost = _unscorable(train, folds)
    if lost:
        notes.append(
            f"{len(lost)} of {train.task.n_outputs} tasks hold one class only in every validation fold and are "
            f"excluded from the task means (cv_*): {', '.join(lost[:10])}{' ...' if len(lost) > 10 else ''}"
        )
    info = {
        "train": str(spec.train) if spec.peaks is None else f"{_names(spec.peaks) if isinstance(spec.peaks, dict) else spec.peaks} on {spec.genome}",
        "task": train.task.type,
        "outputs": train.task.n_outputs,
        "rows": len(train),
        "positives": train.n_positive,
        "length": train.seq_len,
        "fingerprint": data.fingerprint(train),
        "test_rows": len(test) if test is not None else 0,
        "test_positives": test.n_positive if test is not None else 0,
        "test_fingerprint": data.fingerprint(test) if test is not None else "",
    }
    if spec.genome is not None or group_by == "chromosome" or (spec.holdout is not None and spec.holdout.chromosomes):
        # which chromosomes trained, validated and tested each model (MLflow: data.* on the sweep run)
        tr_chroms = cv.dataset_chromosomes(train)
        info["train_chromosomes"] = _names(np.unique(tr_chroms))
        info["test_chromosomes"] = _names(np.unique(cv.dataset_chromosomes(test))) if test is not None else ""
        if group_by == "chromosome":
            for k, (_, va) in enumerate(folds):
                info[f"fold{k}_validation_chromosomes"] = _names(np.unique(tr_chroms[va]))
        folds_text = " | ".join(info[f"fold{k}_validation_chromosomes"] for k in range(len(folds))
                                if f"fold{k}_validation_chromosomes" in info)
        notes.append(f"chromosomes: training {info['train_chromosomes']}"
                     + (f" (the folds validate {folds_text})" if folds_text else "")
                     + (f"; held out {info['test_chromosomes']}" if info["test_chromosomes"] else ""))
    test_groups = None
    if test is not None and group_by == "genomic_block":
        try:
            test_groups = cv.dataset_blocks(test, job.cv.block_size)
        except DataError:  # ids without coordinates: the bootstrap resamples rows
            test_groups = None
    return PreparedData(train=train, test=test, folds=folds, info=info, warnings=notes, test_groups=test_groups)
