"""Search spaces: YAML in Optuna's abbreviated form -> an Optuna define-by-run function.

    architecture: [cnn, deepbind, lstm]          # a list is a categorical choice
    learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
    hidden_size: [32, 64, 128]
    dropout: {low: 0.0, high: 0.5}                # floats when low/high are floats
    cnn.filters: {low: 32, high: 128, step: 32}   # ints when low/high are ints
    deepbind.pool: [max, maxavg]
    epochs: 8                                     # a plain value is fixed, not searched

Training parameters (learning_rate, weight_decay, batch_size, epochs, optimizer, lr_schedule, rc_augment,
sampling) apply to every trial. Model parameters are either shared (hidden_size, dropout, or any parameter
that every listed architecture takes) or prefixed with the architecture (`cnn.filters`): Optuna refuses one
name with two distributions, and a prefixed parameter is only asked for when its architecture is chosen
(define-by-run).

Everything is checked against each architecture's constructor signature before Ray starts, so a typo fails in
a second with a message naming the key, not an hour later inside a worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from seqsweep import models
from seqsweep.config import TrainKnobs, read_yaml
from seqsweep.errors import ConfigError, ModelError


def _train_params() -> tuple[dict[str, tuple[type, ...]], dict[str, tuple[str, ...]]]:
    """The training parameters a search space may set, derived from config.TrainKnobs (their one definition):
    name -> accepted Python types, and name -> allowed values for the Literal ones."""
    types: dict[str, tuple[type, ...]] = {"epochs": (int,)}  # per trial, capped by train.max_epochs
    allowed: dict[str, tuple[str, ...]] = {}
    for name, info in TrainKnobs.model_fields.items():
        ann = info.annotation
        inner = [a for a in get_args(ann) if a is not type(None)]
        if len(inner) == 1 and type(None) in get_args(ann):  # `int | None`: a value is the int
            ann = inner[0]
        if get_origin(ann) is Literal:
            types[name], allowed[name] = (str,), get_args(ann)
        else:
            types[name] = (float, int) if ann is float else (ann,)
    return types, allowed


#: Parameters of the training loop (not of the model), with the types they must have.
TRAIN_PARAMS, TRAIN_CHOICES = _train_params()
_NUMBER_AS_STRING = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


@dataclass(frozen=True)
class Param:
    """One entry of a search space: a categorical, an int/float range, or a fixed value."""

    name: str
    kind: str  # "categorical" | "int" | "float" | "fixed"
    choices: tuple[Any, ...] = ()
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    value: Any = None

    def suggest(self, trial: Any) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return self.value

    def values(self) -> list[Any]:
        """A few representative values (for --dry-run model builds)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "fixed":
            return [self.value]
        return [self.low, self.high]


@dataclass(frozen=True)
class SearchSpace:
    path: Path
    architectures: tuple[str, ...]
    train: dict[str, Param] = field(default_factory=dict)
    shared: dict[str, Param] = field(default_factory=dict)
    per_arch: dict[str, dict[str, Param]] = field(default_factory=dict)

    def define_by_run(self) -> "DefineByRun":
        """The function OptunaSearch calls with an optuna Trial; returns the fixed (non-searched) values."""
        return DefineByRun(self)

    def fixed_config(self, arch: str) -> dict[str, Any]:
        """One concrete configuration per architecture (first value of everything), for dry runs."""
        cfg: dict[str, Any] = {"architecture": arch}
        for p in [*self.train.values(), *self.shared.values(), *self.per_arch.get(arch, {}).values()]:
            cfg[p.name] = p.values()[0]
        return cfg


@dataclass(frozen=True)
class DefineByRun:
    """A picklable define-by-run function (Tune pickles its searcher, and with it this, for --resume)."""

    space: SearchSpace

    def __call__(self, trial: Any) -> dict[str, Any]:
        space = self.space
        fixed: dict[str, Any] = {}
        if len(space.architectures) > 1:
            arch = trial.suggest_categorical("architecture", list(space.architectures))
        else:
            arch = fixed["architecture"] = space.architectures[0]
        # Shared parameters first, then only the chosen architecture's own (prefixed) ones.
        for p in [*space.train.values(), *space.shared.values(), *space.per_arch.get(arch, {}).values()]:
            v = p.suggest(trial)
            if p.kind == "fixed":
                fixed[p.name] = v
        return fixed


def split_config(config: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A trial config -> (architecture, model kwargs, training kwargs). Prefixes are stripped."""
    arch = config["architecture"]
    model_kw: dict[str, Any] = {}
    train_kw: dict[str, Any] = {}
    for key, value in config.items():
        if key == "architecture":
            continue
        if key in TRAIN_PARAMS:
            train_kw[key] = value
        elif "." in key:
            prefix, name = key.split(".", 1)
            if prefix == arch:
                model_kw[name] = value
        else:
            model_kw[key] = value
    return arch, model_kw, train_kw


def _refuse_number_as_string(path: Path, what: str, v: Any) -> None:
    """YAML reads `1e-4` (no decimal point) as a string: say so, instead of a confusing type error later."""
    if isinstance(v, str) and _NUMBER_AS_STRING.match(v.strip()):
        raise ConfigError(
            f"{path}: {what} is the string {v!r}: YAML reads {v} as a string; "
            f"write it with a decimal point, e.g. {float(v):.1e}"
        )


def _check_number(path: Path, key: str, field_name: str, v: Any) -> None:
    _refuse_number_as_string(path, f"'{key}.{field_name}'", v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{path}: '{key}.{field_name}' must be a number, got {v!r}")


def parse_param(path: Path, key: str, spec: Any) -> Param:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{path}: '{key}' is an empty list of choices")
        for v in spec:
            _refuse_number_as_string(path, f"'{key}' choice", v)
        return Param(key, "categorical", choices=tuple(spec))
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log", "step"}
        if unknown:
            raise ConfigError(f"{path}: '{key}': unknown field {sorted(unknown)[0]!r} (allowed: low, high, log, step)")
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{path}: '{key}' needs both 'low' and 'high', got {sorted(spec)}")
        low, high = spec["low"], spec["high"]
        _check_number(path, key, "low", low)
        _check_number(path, key, "high", high)
        step = spec.get("step")
        if step is not None:
            _check_number(path, key, "step", step)
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{path}: '{key}.log' must be true or false, got {log!r}")
        if low > high:
            raise ConfigError(f"{path}: '{key}' needs low <= high, got low={low!r}, high={high!r}")
        if log and low <= 0:
            raise ConfigError(f"{path}: '{key}' is on a log scale and needs low > 0, got low={low!r}")
        if log and step is not None:
            raise ConfigError(f"{path}: '{key}' cannot have both log: true and a step")
        is_int = all(isinstance(v, int) for v in (low, high)) and (step is None or isinstance(step, int))
        return Param(key, "int" if is_int else "float", low=low, high=high, log=log, step=step)
    _refuse_number_as_string(path, f"'{key}'", spec)
    if spec is None:
        raise ConfigError(f"{path}: '{key}' has no value")
    return Param(key, "fixed", value=spec)


def _check_train_param(path: Path, p: Param) -> None:
    types = TRAIN_PARAMS[p.name]
    for v in p.values():
        ok = isinstance(v, types) and not (isinstance(v, bool) and bool not in types)
        if float in types and isinstance(v, int) and not isinstance(v, bool):
            ok = True
        if not ok:
            want = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{path}: '{p.name}' must be {want}, got {v!r}")
    allowed = TRAIN_CHOICES.get(p.name)
    if allowed:
        for v in p.values():
            if v not in allowed:
                raise ConfigError(f"{path}: '{p.name}' must be one of {', '.join(allowed)}, got {v!r}")
    if p.name in ("batch_size", "epochs") and min(p.values()) < 1:
        raise ConfigError(f"{path}: '{p.name}' must be >= 1, got {min(p.values())!r}")


def load_search_space(path: str | Path) -> SearchSpace:
    """Parse and check a search space. Raises ConfigError with one line naming the file and key."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: a search space must be a mapping of parameter names to ranges or choices")
    available = models.list_models()

    arch_spec = raw.get("architecture")
    if arch_spec is None:
        raise ConfigError(f"{path}: 'architecture' is required (a name or a list of names from: {', '.join(available)})")
    archs = tuple(arch_spec) if isinstance(arch_spec, list) else (arch_spec,)
    if not archs:
        raise ConfigError(f"{path}: 'architecture' is an empty list")
    for a in archs:
        if a not in available:
            raise ConfigError(f"{path}: 'architecture': unknown architecture {a!r}; available: {', '.join(available)}")
    if len(set(archs)) != len(archs):
        raise ConfigError(f"{path}: 'architecture' lists an architecture twice: {list(archs)}")
    hparams = {a: models.model_hparams(a) for a in archs}

    train: dict[str, Param] = {}
    shared: dict[str, Param] = {}
    per_arch: dict[str, dict[str, Param]] = {a: {} for a in archs}
    for key, spec in raw.items():
        if key == "architecture":
            continue
        if not isinstance(key, str):
            raise ConfigError(f"{path}: parameter names must be strings, got {key!r}")
        param = parse_param(path, key, spec)
        if key in TRAIN_PARAMS:
            _check_train_param(path, param)
            train[key] = param
            continue
        if "." in key:
            prefix, name = key.split(".", 1)
            if prefix not in available:
                raise ConfigError(
                    f"{path}: '{key}': unknown architecture prefix {prefix!r}; available: {', '.join(available)}"
                )
            if prefix not in archs:
                raise ConfigError(
                    f"{path}: '{key}': architecture {prefix!r} is not among the searched architectures "
                    f"({', '.join(archs)}); add it to 'architecture' or remove the key"
                )
            if name not in hparams[prefix]:
                takers = models.architectures_taking(name)
                hint = f"; {name!r} is taken by: {', '.join(takers)}" if takers else ""
                raise ConfigError(
                    f"{path}: '{key}': architecture {prefix!r} does not take {name!r}; "
                    f"it takes: {', '.join(sorted(hparams[prefix]))}{hint}"
                )
            per_arch[prefix][key] = param
            continue
        missing = [a for a in archs if key not in hparams[a]]
        if missing:
            takers = [a for a in models.architectures_taking(key)]
            if takers:
                raise ConfigError(
                    f"{path}: '{key}' is not taken by every searched architecture (not by: {', '.join(missing)}); "
                    f"prefix it, e.g. {', '.join(f'{t}.{key}' for t in takers[:3])}"
                )
            raise ConfigError(
                f"{path}: '{key}': no architecture takes this parameter; training parameters are "
                f"{', '.join(TRAIN_PARAMS)}; model parameters are listed by `seqsweep models list`"
            )
        shared[key] = param

    space = SearchSpace(path=path, architectures=archs, train=train, shared=shared, per_arch=per_arch)
    check_buildable(space)
    return space


def check_buildable(space: SearchSpace, seq_len: int = 101) -> None:
    """Check the bounds of every model parameter against the architecture's own value checks (cheap)."""
    for arch in space.architectures:
        params = [*space.shared.values(), *space.per_arch[arch].values()]
        for p in params:
            name = p.name.split(".", 1)[1] if "." in p.name else p.name
            for v in p.values():
                try:
                    models.create_model(arch, seq_len=seq_len, **{name: v})
                except ModelError as exc:
                    raise ConfigError(f"{space.path}: '{p.name}' value {v!r}: {exc}") from None
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"{space.path}: '{p.name}' value {v!r} is not valid for {arch!r}: {exc}") from None
