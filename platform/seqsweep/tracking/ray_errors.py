"""A failed trial's error, as one line, from the error file Ray Tune writes for it."""

from __future__ import annotations

import os
import re
from pathlib import Path


def error_line(trial) -> str:
    """The last line of the trial's error (the exception type and message), not the whole traceback."""
    path = getattr(trial, "error_file", None) or getattr(getattr(trial, "run_metadata", None), "error_filename", None)
    text = ""
    if path and os.path.exists(str(path)):
        text = Path(path).read_text(errors="replace")
    # Tune appends one "Failure # N (occurred at ...)" block per failure of the trial: the last one is this one.
    text = re.split(r"^Failure # \d+ \(occurred at [^)\n]*\)$", text, flags=re.M)[-1]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and not any(ln.startswith("File ") for ln in lines):
        # A worker that died (Ray's message, no stack): "The actor died unexpectedly ..." and the first sentence
        # of why, not Ray's paragraph of common causes.
        why = next((ln for ln in lines[1:] if ln.startswith("The actor is dead because")), "")
        return (lines[0] + (f" {why.split('. ')[0].rstrip('.')}." if why else ""))[:500]
    # Ray wraps the worker's exception; the innermost "SomeError: message" line is the useful one.
    for ln in reversed(lines):
        if ":" in ln and not ln.startswith(("File ", "^", "During handling", "The above exception")):
            return ln[:500]
    return lines[-1][:500] if lines else "trial failed (no error file)"
