"""Sweep jobs: YAML -> a frozen, strict pydantic `JobSpec`.

A job file (jobs/*.yaml) is the permanent record of a sweep. Every section is strict: unknown keys and wrong
types are rejected with one line naming the file and the key. Relative paths are resolved against the
project home (see `seqsweep.store.home`), so a job means the same thing from any working directory, and
inside Ray workers whose working directory differs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seqsweep import store
from seqsweep.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSpec(_Strict):
    """Generate `data.train` on first use from the synthetic generator of the job's task type (the default
    data of `make sweep`): JUND-like binding sites (binary), 20 co-bound targets (multilabel), or promoter /
    enhancer / background sequences of 150-500 bp (multiclass, a CSV)."""

    n: int = Field(20000, ge=100)
    positive_rate: float = Field(0.02, gt=0, lt=1)  # binary only
    tasks: int = Field(20, ge=2)  # multilabel only
    seed: int = 0


class HoldoutSpec(_Strict):
    """Carve a held-out part out of `data.train` by whole genomic blocks (no neighbour leaks across it), or hold
    out whole chromosomes (`chromosomes`, the field's convention: DeepSEA held out chr8 and chr9)."""

    fraction: float = Field(0.2, gt=0, lt=1)
    block_size: int = Field(1_000_000, ge=1)
    seed: int = 0
    chromosomes: list[str] | None = Field(None, min_length=1)


class NegativesSpec(_Strict):
    """Negative windows for a peak file: drawn from the genome outside every peak and `exclude` region, with at
    most `max_n` N, `ratio` per positive, GC-matched to the positives (`match: gc`); seeded. Or `bed`: your own."""

    ratio: float = Field(10.0, gt=0)
    match: Literal["gc", "none"] = "gc"
    exclude: list[Path] = Field(default_factory=list)
    max_n: float = Field(0.1, ge=0, le=1)
    seed: int = 0
    bed: Path | None = None


class BinsSpec(_Strict):
    """Multilabel peaks (a folder or a mapping of BED files): windows every `stride` bases, labelled per target
    by its peaks covering >= `overlap` of the window's central `bin` bases (DeepSEA: 1,000-bp windows around
    200-bp bins, half covered); `over: peaks` keeps windows that overlap some peak, `genome` all of them."""

    stride: int = Field(200, ge=1)
    bin: int = Field(200, ge=1)
    overlap: float = Field(0.5, gt=0, le=1)
    over: Literal["peaks", "genome"] = "peaks"
    max_n: float = Field(0.1, ge=0, le=1)


class SignalSpec(_Strict):
    """A bigWig whose mean over each window is the window's accessibility (train.use_accessibility)."""

    accessibility: Path


Placement = Literal["right", "left", "center"]


class LengthSpec(_Strict):
    """Pad (with N) and trim every sequence to `to` positions; see seqsweep.data.encoding.Length."""

    to: int = Field(ge=1)
    pad: Placement = "right"
    trim: Placement = "right"


class DataSpec(_Strict):
    train: Path | None = None
    labels: Path | None = None
    test: Path | None = None
    holdout: HoldoutSpec | None = None
    synthetic: SyntheticSpec | None = None
    length: LengthSpec | None = None
    # peaks on a reference genome (instead of `train`)
    genome: Path | None = None
    # one BED/narrowPeak file (binary), or a folder of them or a mapping {target: file} (multilabel, binned)
    peaks: Path | dict[str, Path] | None = None
    window: int | None = Field(None, ge=1)
    negatives: NegativesSpec | None = None
    bins: BinsSpec | None = None
    signal: SignalSpec | None = None

    @model_validator(mode="after")
    def _one_heldout_source(self) -> "DataSpec":
        if self.test is not None and self.holdout is not None:
            raise ValueError("give either 'test' (a held-out file) or 'holdout' (carved from train), not both")
        if self.peaks is None and self.train is None:
            raise ValueError("give 'train' (a dataset) or 'genome' and 'peaks' (peaks on a reference genome)")
        if self.peaks is not None:
            if self.train is not None:
                raise ValueError("give either 'train' or 'genome' + 'peaks', not both")
            if self.genome is None or self.window is None:
                raise ValueError("'peaks' needs 'genome' (a FASTA) and 'window' (bases per window)")
            for key in ("labels", "length", "test"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is for a 'train' dataset, not for 'peaks' on a genome")
        else:
            for key in ("window", "negatives", "signal", "bins"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is for 'peaks' on a genome; this job has none")
        return self


def _no_repeats(values: list[str] | None, what: str) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError(f"lists {what} twice: {values}")
    return values


class BinaryTask(_Strict):
    """One label in {0, 1} per sequence (the default)."""

    type: Literal["binary"] = "binary"


class MultilabelTask(_Strict):
    """Several 0/1 labels per sequence (ChIP-seq targets): label_<name> columns, a shard's (N, T) y, or `labels`."""

    type: Literal["multilabel"]
    labels: list[str] | None = Field(None, min_length=1)  # the label columns that are tasks (default: all)

    _unique = field_validator("labels")(lambda v: _no_repeats(v, "a column"))


class MulticlassTask(_Strict):
    """One class out of C per sequence: class ids or names in one label column (or one-hot label columns)."""

    type: Literal["multiclass"]
    classes: list[str] | None = Field(None, min_length=2)  # the class order (default: sorted)

    _unique = field_validator("classes")(lambda v: _no_repeats(v, "a class"))


class NextBaseTask(_Strict):
    """Predict the base (k = 1) or k-mer that follows a context window cut from every sequence of the data."""

    type: Literal["next_base"]
    context: int = Field(200, ge=4)
    k: int = Field(1, ge=1, le=4)
    stride: int = Field(50, ge=1)


TaskSpec = Annotated[Union[BinaryTask, MultilabelTask, MulticlassTask, NextBaseTask], Field(discriminator="type")]


class SearchSpec(_Strict):
    num_trials: int = Field(12, ge=1)
    max_concurrent: int = Field(2, ge=1)
    sampler: Literal["tpe", "random", "gp", "cmaes"] = "tpe"
    seed: int = 0
    scheduler: Literal["asha", "none"] = "asha"
    grace_period: int = Field(2, ge=1)
    reduction_factor: float = Field(2.0, gt=1)
    metric: Literal["cv_weighted_accuracy", "cv_roc_auc", "cv_pr_auc", "cv_accuracy"] = "cv_weighted_accuracy"
    # What ASHA compares at its rungs (default: `metric`). With rare positives, weighted accuracy after an epoch
    # or two is ~0.5 for most configurations while their ROC AUC already ranks them (docs/performance.md, search efficiency).
    prune_metric: Literal["cv_weighted_accuracy", "cv_roc_auc", "cv_pr_auc", "cv_accuracy"] | None = None
    # Random configurations tried first, before the sampler has seen anything (Optuna's n_startup_trials).
    startup_trials: int = Field(4, ge=1)
    # Which completed trial the sweep keeps (Optuna still maximises `metric`): 'mean' the highest CV mean;
    # 'lower_bound' the highest mean minus `rank_se` standard errors over the folds, so that a trial which
    # scored high on one lucky fold split does not win (docs/design.md#ranking).
    rank_by: Literal["mean", "lower_bound"] = "lower_bound"
    rank_se: float = Field(1.0, ge=0)


class CVSpec(_Strict):
    folds: int = Field(5, ge=2)
    seed: int = 0
    # None: 'genomic_block' for next_base (overlapping windows must stay on one side), 'none' otherwise
    group_by: Literal["none", "genomic_block", "chromosome"] | None = None
    block_size: int = Field(100_000, ge=1)


class TrainKnobs(_Strict):
    """How a configuration is trained: set for every trial in a job's `train`, searchable in a search space.

    The one definition of these knobs: seqsweep.train.TrainConfig and the search-space checks derive theirs
    from it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1.0e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "adamw"] = "adamw"
    lr_schedule: Literal["constant", "cosine", "onecycle"] = "constant"
    # Flip a random half of each batch to its reverse complement (both strands of every site).
    rc_augment: bool = False
    # 'weighted': draw each epoch's rows by weight (rare positives; see seqsweep.train.CVTrainer)
    sampling: Literal["shuffle", "weighted"] = "shuffle"
    # Shift each training window by up to this many bases either way, drawn per row and epoch, read from the
    # genome (windows over a genome only: data.genome)
    jitter: int = Field(0, ge=0)
    # A data budget: an epoch trains on this many windows of each fold (the next ones of a seeded permutation,
    # so every window is seen once before any twice); null: all of them. ASHA then prunes on windows seen.
    windows_per_epoch: int | None = Field(None, ge=1)
    # Score each fold on at most this many of its validation windows (a seeded subset, the same every epoch);
    # null: all of them. For genome-wide data, where a fold's validation part holds millions of windows.
    validation_windows: int | None = Field(None, ge=1)

    def knobs(self) -> dict[str, Any]:
        """The knob values alone (a subclass's other fields left out)."""
        return {k: getattr(self, k) for k in TrainKnobs.model_fields}


class TrainSpec(TrainKnobs):
    max_epochs: int = Field(10, ge=1)
    use_accessibility: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Training steps in bfloat16 mixed precision: 'auto' uses it where the hardware has bf16 matrix units
    # (CUDA, or a CPU with AMX) and the architecture gains from it; see seqsweep.train.resolve_precision.
    precision: Literal["auto", "float32", "bfloat16"] = "auto"


class ResourcesSpec(_Strict):
    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)
    # Threads torch uses inside one trial; default: the trial's CPUs (at least 1).
    threads: int | None = Field(None, ge=1)
    max_retries: int = Field(1, ge=0)
    # One worker process serves many trials (a fresh one costs seconds, docs/design.md#ray-workers); false gives
    # every trial a fresh process (isolation of memory and CUDA state, trials spread at once over a cluster).
    reuse_workers: bool = True


class RaySpec(_Strict):
    address: str | None = None


class TrackingSpec(_Strict):
    experiment: str | None = None
    uri: str | None = None


class RegistrySpec(_Strict):
    model_name: str | None = None
    metric: Literal["weighted_accuracy", "roc_auc", "pr_auc", "accuracy"] = "weighted_accuracy"
    min_improvement: float = Field(0.0, ge=0)
    enabled: bool = True  # register the best trial and consider it for promotion
    # The registered model: the fold models of the top_k trials (by search.rank_by), kept when their
    # out-of-fold CV score ranks at least as high as the best trial's; 1 is the best trial alone. null: 3 when
    # the training part's rarest class has fewer than 1,000 rows, else 1 (seqsweep.final_model).
    top_k: int | None = Field(None, ge=1, le=10)
    # Resamples of the held-out rows (whole genomic blocks of cv.block_size when cv.group_by is genomic_block)
    # for the 95% intervals; the champion moves only when challenger - champion's interval is above
    # min_improvement. 0: no intervals, the point scores decide.
    bootstrap: int = Field(1000, ge=0)
    # After registration and the promotion decision: what the version learned (seqsweep.explain: attributions,
    # TF-MoDISco motifs matched to JASPAR, logos) recorded on it. null: on for a small version (sequences of at
    # most 1,000 bp, at most 5M parameters over its fold models, at least 100 positives per output to explain;
    # never next_base). A failure is a warning; it never changes the promotion.
    explain: bool | None = None
    explain_rows: int = Field(1000, ge=1)  # at most this many positives (per output) are explained


class JobSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataSpec
    task: TaskSpec = BinaryTask()
    search_space: Path
    search: SearchSpec = SearchSpec()
    cv: CVSpec = CVSpec()
    train: TrainSpec = TrainSpec()
    resources: ResourcesSpec = ResourcesSpec()
    ray: RaySpec = RaySpec()
    tracking: TrackingSpec = TrackingSpec()
    registry: RegistrySpec = RegistrySpec()
    # Where the job came from (set by load_job; not a YAML key).
    source: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _metrics_fit_the_task(self) -> "JobSpec":
        single = self.task.type in ("multiclass", "next_base")
        for key, value in (("search.metric", self.search.metric), ("search.prune_metric", self.search.prune_metric),
                           ("registry.metric", self.registry.metric)):
            if value in ("cv_accuracy", "accuracy") and not single:
                raise ValueError(f"'{key}' {value!r} is for multiclass and next_base tasks; this job's task.type is {self.task.type}")
        return self

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or self.name

    @property
    def model_name(self) -> str:
        return self.registry.model_name or self.name

    def resolved(self) -> dict[str, Any]:
        """The job as a plain dict with absolute paths: what gets logged next to every sweep."""
        return self.model_dump(mode="json")


# Keys that older job files may still hold, with what replaced them (shown after "unknown key").
RENAMED_KEYS = {"train.amp": " (replaced by 'train.precision': auto | float32 | bfloat16)"}


def _format_validation_error(path: str, err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<top level>"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key" + RENAMED_KEYS.get(key, "")
    elif first["type"] == "missing":
        msg = "required key is missing"
    value = first.get("input")
    shown = "" if first["type"] in ("missing", "extra_forbidden") or isinstance(value, dict) else f", got {value!r}"
    more = len(err.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: '{key}': {msg}{shown}{tail}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; errors become one line naming the file (and the line, when YAML knows it)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506  a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from None


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected key.path=value")
    try:
        # YAML typing for the value, so `--set search.num_trials=8` gives an int and `x=null` gives None.
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    for text in overrides:
        keys, value = _parse_override(text)
        node = out
        for k in keys[:-1]:
            child = node.get(k)
            if child is None:
                child = node[k] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: '{k}' is not a section")
            node = child
        node[keys[-1]] = value
    return out


def _absolute(p: Path | None, base: Path) -> Path | None:
    if p is None:
        return None
    p = Path(p).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def load_job(path: str | Path, overrides: list[str] | None = None) -> JobSpec:
    """Read, override, validate and resolve a job file. Raises ConfigError with one line on any problem."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a job must be a mapping of sections (name, data, search_space, ...)")
    raw = apply_overrides(raw, overrides or [])
    try:
        job = JobSpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(str(path), err)) from None

    base = store.home()
    data = job.data.model_copy(
        update={
            "train": _absolute(job.data.train, base),
            "labels": _absolute(job.data.labels, base),
            "test": _absolute(job.data.test, base),
            "genome": _absolute(job.data.genome, base),
            "peaks": {k: _absolute(v, base) for k, v in job.data.peaks.items()} if isinstance(job.data.peaks, dict)
            else _absolute(job.data.peaks, base),
            "negatives": None if job.data.negatives is None else job.data.negatives.model_copy(update={
                "exclude": [_absolute(p, base) for p in job.data.negatives.exclude],
                "bed": _absolute(job.data.negatives.bed, base)}),
            "signal": None if job.data.signal is None else job.data.signal.model_copy(
                update={"accessibility": _absolute(job.data.signal.accessibility, base)}),
        }
    )
    return job.model_copy(
        update={"data": data, "search_space": _absolute(job.search_space, base), "source": path.resolve()}
    )
