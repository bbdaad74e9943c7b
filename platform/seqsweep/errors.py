"""The errors seqsweep raises for bad input. The CLI turns each into one line on stderr and exit code 2.

Messages state the rule that was broken and echo the offending file, key, row or value, e.g.
``data.csv: row 17: label must be 0 or 1, got 3``.
"""


class SeqsweepError(Exception):
    """Base class: bad input or an unusable environment, reported to the user as one line (exit 2)."""


class ConfigError(SeqsweepError):
    """A job or search-space file breaks a rule (unknown key, wrong type, low > high, ...)."""


class DataError(SeqsweepError):
    """A dataset file breaks a rule (ragged sequences, labels outside {0,1}, NaN weights, ...)."""


class ModelError(SeqsweepError):
    """An unknown architecture or a hyperparameter it does not take."""


class TrackingError(SeqsweepError):
    """The MLflow tracking store cannot be reached or used."""


class RegistryError(SeqsweepError):
    """A registry operation is impossible (unknown model, missing version, ...)."""


class ClusterError(SeqsweepError):
    """The Ray cluster cannot be reached."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (MLflow's run to pages), or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
