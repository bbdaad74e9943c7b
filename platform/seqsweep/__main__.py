"""`python -m seqsweep` is the same as the `seqsweep` command."""

from seqsweep.cli import entrypoint

if __name__ == "__main__":  # importing this module (pkgutil.walk_packages, tools) must not run the CLI
    entrypoint()
