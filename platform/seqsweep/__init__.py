"""seqsweep: distributed hyperparameter search and model registry for DNA-sequence classifiers."""

__version__ = "0.1.0"
