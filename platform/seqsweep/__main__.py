"""`python -m seqsweep` is the same as the `seqsweep` command."""

from seqsweep.cli import entrypoint

entrypoint()
