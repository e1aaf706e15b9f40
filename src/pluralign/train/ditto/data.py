"""Demonstrations for DITTO: pluralign ``Demonstration`` records, or the DITTO benchmark files.

Two JSONL shapes are read, told apart per line:

* a :class:`~pluralign.records.Demonstration` record (``prompt``, ``completion``, optional ``id``, ``author``,
  ``provenance``), as ``pluralign.io.write_records`` writes it or the elicitation app stores it;
* a DITTO benchmark row ``{"author", "prompt", "demonstration"}`` (CMCC and CCAT50 as processed for Shaikh et al.,
  ICLR 2025; see ``../shared/data/ditto/SOURCE.md``).

A demonstration without an ``id`` gets ``<file stem>:<line>``, so ids (and the samples stored under them) stay the
same when a run is resumed. Bad input stops with one line naming the file, the line and the field: bytes that are
not UTF-8, NaN/Infinity where text belongs, a missing or empty prompt or completion, an empty file.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pluralign.errors import InputError
from pluralign.io import iter_jsonl, validate_row
from pluralign.records import Demonstration, Provenance


class BenchmarkRow(BaseModel):
    """One line of a DITTO benchmark file."""

    model_config = ConfigDict(extra="forbid")
    author: str = Field(min_length=1)
    prompt: str
    demonstration: str


def _is_blank(text) -> bool:
    if isinstance(text, str):
        return not text.strip()
    return not text or all(not m.content.strip() for m in text)


def read_demonstrations(path: str | Path) -> list[Demonstration]:
    """Every demonstration in ``path`` (either shape, mixed freely), validated, in file order."""
    path = str(path)
    stem, out = Path(path).stem, []
    for lineno, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", path=path, line=lineno)
        if "completion" not in row and "demonstration" not in row:
            raise InputError("missing: give 'completion' (or 'demonstration', as the DITTO benchmark files do)",
                             path=path, line=lineno, field="completion")
        if "demonstration" in row:
            bench = validate_row(BenchmarkRow, row, path=path, line=lineno)
            demo = Demonstration(id=f"{stem}:{lineno}", prompt=bench.prompt, completion=bench.demonstration,
                                 author=bench.author, provenance=Provenance(
                                     participants=[bench.author], source=path, details={"line": lineno}))
        else:
            demo = validate_row(Demonstration, {"id": f"{stem}:{lineno}", **row}, path=path, line=lineno)
        for name in ("prompt", "completion"):
            if _is_blank(getattr(demo, name)):
                field = "demonstration" if name == "completion" and "demonstration" in row else name
                raise InputError("is empty", path=path, line=lineno, field=field)
        out.append(demo)
    if not out:
        raise InputError("no demonstrations (the file is empty)", path=path)
    ids = [d.id for d in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"demonstration id {dup!r} appears twice", path=path, field="id")
    return out


def by_author(demos: list[Demonstration]) -> dict[str, list[Demonstration]]:
    """Demonstrations grouped by author (``""`` for none), authors in natural order (2 before 10)."""
    groups: dict[str, list[Demonstration]] = defaultdict(list)
    for d in demos:
        groups[d.author or ""].append(d)
    return dict(sorted(groups.items(), key=lambda kv: (len(kv[0]), kv[0])))


def author_demonstrations(path: str | Path, author: str | None) -> list[Demonstration]:
    """The demonstrations of one author: ``author``, or the only author in the file."""
    groups = by_author(read_demonstrations(path))
    if author is None:
        if len(groups) > 1:
            names = ", ".join(list(groups)[:10]) + (" ..." if len(groups) > 10 else "")
            raise InputError(f"demonstrations from {len(groups)} authors ({names}); choose one with --author",
                             path=str(path), field="author")
        return next(iter(groups.values()))
    if author not in groups:
        raise InputError(f"no demonstrations by author {author!r} (authors: {', '.join(list(groups)[:10])})",
                         path=str(path), field="author")
    return groups[author]


def clip_to_tokens(text: str, tokenizer, n_tokens: int) -> str:
    """``text`` cut to at most ``n_tokens`` tokens, at the last sentence end in the second half when there is one
    (so a clipped demonstration still reads as finished prose)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= n_tokens:
        return text
    head = tokenizer.decode(ids[:n_tokens])
    cut = max(head.rfind(end) for end in (". ", "! ", "? ", ".\n", "\n"))
    return head[: cut + 1].rstrip() if cut >= len(head) // 2 else head.rstrip()
