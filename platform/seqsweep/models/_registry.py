"""The architecture registry: architectures are registered by decorator and built by name (timm-style).

    @register_model("cnn")
    class CNN(SequenceModel): ...

    model = create_model("cnn", seq_len=101, filters=64)

An architecture's hyperparameters are the keyword arguments of its constructor, with their defaults; the
registry reads them from the signature, so there is no second list to keep in sync. The search space is
checked against these signatures before Ray starts (config.load_job), and `create_model` checks them again
so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import functools
import inspect
import logging

from torch import nn

from seqsweep.errors import ModelError
from seqsweep.models import hparams

log = logging.getLogger(__name__)

# Constructor arguments every architecture takes that are properties of the data, not hyperparameters.
DATA_ARGS = ("seq_len", "use_accessibility", "n_outputs")

_MODELS: dict[str, type[nn.Module]] = {}


def register_model(name: str):
    """Class decorator: register an nn.Module subclass as architecture `name`.

    The constructor must take `seq_len`, `use_accessibility` and `n_outputs` (the head's width, from the
    task), and every other argument must be a
    keyword with a default (that default is what `model_hparams` reports and what a sweep falls back on).
    """

    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"register_model({name!r}) decorates nn.Module subclasses, got {cls!r}")
        if name in _MODELS:
            raise ModelError(
                f"architecture {name!r} is already registered (by {_MODELS[name].__qualname__}); "
                f"cannot register {cls.__qualname__} under the same name"
            )
        params = inspect.signature(cls.__init__).parameters
        for arg in DATA_ARGS:
            if arg not in params:
                raise TypeError(f"architecture {name!r}: {cls.__qualname__}.__init__ must take {arg!r}")
        for p in list(params.values())[1:]:  # [0] is self
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty:
                # **kwargs would hide unknown hyperparameters; a missing default leaves a sweep nothing
                # to fall back on when its search space does not mention the parameter.
                raise TypeError(
                    f"architecture {name!r}: constructor argument {p.name!r} must be a keyword with a default"
                )
        cls.architecture = name  # so error messages and checkpoints can name it
        cls.__init__ = _checked(name, cls)
        _MODELS[name] = cls
        return cls

    return decorator


def _checked(name: str, cls: type[nn.Module]):
    """cls.__init__, preceded by hparams.check of every argument against the rule its type declares."""
    init = cls.__init__
    rules = hparams.rules(cls)
    signature = inspect.signature(init)

    @functools.wraps(init)  # inspect.signature (model_hparams) still reads the constructor's own signature
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(list(bound.arguments.items())[1:])  # [0] is self
        hparams.check(name, rules, values)
        init(self, **values)

    return __init__


def model_rules(name: str) -> dict[str, str]:
    """{hyperparameter: its rule, as text} of architecture `name` (data arguments left out)."""
    rules = hparams.rules(_lookup(name))
    return {k: str(rules[k]) for k in model_hparams(name) if k in rules}


def list_models() -> list[str]:
    """The registered architecture names, sorted."""
    return sorted(_MODELS)


def _lookup(name: str) -> type[nn.Module]:
    if not isinstance(name, str) or name not in _MODELS:
        raise ModelError(f"unknown architecture {name!r}; available: {', '.join(list_models())}")
    return _MODELS[name]


def model_hparams(name: str) -> dict[str, object]:
    """The hyperparameters of architecture `name` and their defaults, in constructor order.

    `seq_len`, `use_accessibility` and `n_outputs` are left out: they come from the data and the task, not from
    the search space.
    """
    params = list(inspect.signature(_lookup(name).__init__).parameters.values())[1:]
    return {p.name: p.default for p in params if p.name not in DATA_ARGS}


def architectures_taking(param: str) -> list[str]:
    """The architectures whose constructor takes hyperparameter `param`, sorted."""
    return [name for name in list_models() if param in model_hparams(name)]


def create_model(
    name: str, *, seq_len: int = 101, use_accessibility: bool = False, n_outputs: int = 1, **hparams
) -> nn.Module:
    """Build architecture `name` for sequences of length `seq_len`, with an output head of `n_outputs`.

    Raises ModelError for an unknown architecture, a hyperparameter it does not take, or a bad value.
    """
    cls = _lookup(name)
    known = model_hparams(name)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        quoted = ", ".join(repr(p) for p in unknown)
        takers = "; ".join(
            f"{p!r} is taken by: {', '.join(architectures_taking(p))}"
            if architectures_taking(p)
            else f"{p!r} is taken by no architecture"
            for p in unknown
        )
        raise ModelError(
            f"architecture {name!r} does not take {quoted}; it takes: {', '.join(sorted(known))}; {takers}"
        )
    model = cls(seq_len=seq_len, use_accessibility=use_accessibility, n_outputs=n_outputs, **hparams)
    log.debug("created %s (seq_len=%s, use_accessibility=%s, n_outputs=%s, %s)", name, seq_len, use_accessibility,
              n_outputs, hparams)
    return model


def describe_models() -> str:
    """A plain-text table of the architectures: name, one-line description, hyperparameters=defaults [rule]."""
    rows = [("architecture", "description", "hyperparameters")]
    for name in list_models():
        doc = inspect.getdoc(_MODELS[name]) or ""
        summary = doc.splitlines()[0].strip() if doc else ""
        rules = model_rules(name)
        hps = ", ".join(f"{k}={v!r}" + (f" [{rules[k]}]" if k in rules else "") for k, v in model_hparams(name).items())
        rows.append((name, summary, hps))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters (logged with every trial)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
