"""The docs cannot rot: docs/jobs.md's job-keys table is JobSpec's keys, and every link into docs/ resolves."""

from __future__ import annotations

import importlib.util
import re
import types
import typing
from pathlib import Path

from seqsweep.config import JobSpec

ROOT = Path(__file__).resolve().parents[1]


def _generate():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _yaml_keys(model, prefix: str = "") -> set[str]:
    """Every key a job file may hold, walked from the pydantic models (sections and their keys)."""
    keys = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        args = [field.annotation]
        if isinstance(field.annotation, types.UnionType) or typing.get_origin(field.annotation) is typing.Union:
            args = [a for a in typing.get_args(field.annotation) if a is not type(None)]
        sections = [a for a in args if isinstance(a, type) and hasattr(a, "model_fields")]
        if sections:
            if field.default is None or len(sections) > 1:
                keys.add(prefix + name)  # an optional section, or one of several kinds, is a key of its own
            for section in sections:  # the kinds of a section (e.g. task types) share the key names
                keys |= _yaml_keys(section, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_jobs_page_job_keys_table_lists_exactly_the_jobspec_keys():
    gen = _generate()
    page = (ROOT / "docs" / "jobs.md").read_text()
    block = page.split(gen.BEGIN, 1)[1].split(gen.END, 1)[0]
    listed = re.findall(r"^\| `([a-z_.]+)` \|", block, flags=re.M)
    assert len(listed) == len(set(listed)), "a key is listed twice"
    assert set(listed) == _yaml_keys(JobSpec)
    assert gen.with_job_keys(page) == page, "docs/jobs.md's job-keys table is out of date: run `make docs`"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    heads = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in heads}


def _links(src: Path) -> list[tuple[Path, str]]:
    """(file, anchor) of every link in `src`: Markdown links to .md files; in code, mentions of docs/*.md."""
    text = src.read_text()
    if src.suffix == ".md":
        found = re.findall(r"\]\(([^)#\s]+\.md)(?:#([\w-]+))?\)", text)
        return [((src.parent / f).resolve(), a) for f, a in found if "://" not in f]
    return [(ROOT / f, a) for f, a in re.findall(r"\b(docs/[\w-]+\.md)(?:#([\w-]+))?", text)]


def test_every_link_into_the_docs_resolves():
    sources = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    sources += sorted((ROOT / "platform").rglob("*.py")) + sorted((ROOT / "bench").glob("*.py"))
    checked = 0
    for src in sources:
        for path, anchor in _links(src):
            where = f"{src.relative_to(ROOT)}: link to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
            assert path.exists(), f"{where}: no such file"
            if anchor:
                assert anchor in _anchors(path.read_text()), f"{where}#{anchor}: no such heading"
            checked += 1
    assert checked > 10  # the patterns do find the links
