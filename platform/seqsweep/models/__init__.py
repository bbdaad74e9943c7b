"""The architecture zoo: DNA-sequence classifiers registered by name.

    from seqsweep.models import create_model, list_models
    model = create_model("deepbind", seq_len=101, filters=64)
    logits = model(x)  # x (B, 4, L) float one-hot in A,C,G,T order -> (B,) logits

A new architecture is one file with a `@register_model("name")` class plus one import below; its
hyperparameters are its constructor's keyword arguments, typed with models/hparams.py's rules. The tests are
parametrized over `list_models()`, so it is tested for free.
"""

from seqsweep.models._common import ModelInputError, SequenceModel, check_input
from seqsweep.models._registry import (
    architectures_taking,
    count_parameters,
    create_model,
    describe_models,
    list_models,
    model_hparams,
    model_rules,
    register_model,
)

# Imported for their @register_model side effect.
from seqsweep.models import cnn, hybrid, kmer, mlp, recurrent  # noqa: E402,F401  isort: skip

__all__ = [
    "ModelInputError",
    "SequenceModel",
    "architectures_taking",
    "check_input",
    "count_parameters",
    "create_model",
    "describe_models",
    "list_models",
    "model_hparams",
    "model_rules",
    "register_model",
]
