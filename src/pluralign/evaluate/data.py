"""Readers for the evaluation sets. Every bad row fails with one line naming the file, line and field.

- :func:`read_questions`: multiple-choice questions with a group's gold answer distribution, from a JSONL in the
  Modular Pluralism layout ({question, options, attribute, gold_distribution, id}: GlobalOpinionQA,
  MoralChoice, steerable OpinionQA) or from an OpinionQA directory of ``American_Trends_Panel_W*`` waves
  (``info.csv`` + ``<ATTRIBUTE>_data.json``, which also give the options' ordinal positions).
- :func:`read_bbq`, :func:`read_value_kaleidoscope`, :func:`read_overton`, :func:`read_prompts`.
- :func:`subsample`: a seeded subset of items by key (a question asked of many groups is kept or left whole).
"""

from __future__ import annotations

import ast
import csv
import json
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pluralign.errors import InputError
from pluralign.io import iter_jsonl

_OPTIONS = re.compile(r"\n\s*Options:|\n\s*\(?A[.)]\s")


@dataclass
class Question:
    """One question asked of one group: ``gold`` is the group's answer distribution over ``options``;
    ``ordinal`` the positions of the first ``len(ordinal)`` options on the question's scale when it has one
    (OpinionQA; later options such as "Not sure" are off the scale), else None."""

    id: str
    header: str
    options: list[str]
    group: str
    gold: list[float]
    ordinal: list[float] | None = None


def _field(row: dict, name: str, kind, path: str, line: int):
    if not isinstance(row, dict):
        raise InputError("expected a JSON object", path=path, line=line)
    if name not in row:
        raise InputError("missing", path=path, line=line, field=name)
    value = row[name]
    if kind is str and not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", path=path, line=line, field=name)
    if kind is list and (not isinstance(value, list) or not value):
        raise InputError("expected a non-empty list", path=path, line=line, field=name)
    return value


def _texts(values, path: str, line: int, name: str) -> list[str]:
    if any(not isinstance(v, str) or not v.strip() for v in values):
        raise InputError("every entry must be non-empty text", path=path, line=line, field=name)
    return list(values)


def _weights(values, path: str, line: int, name: str) -> list[float]:
    """Non-negative finite numbers with a positive sum (counts or probabilities)."""
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise InputError("every entry must be a number", path=path, line=line, field=name)
    if any(not math.isfinite(v) or v < 0 or v > 1e12 for v in values) or sum(values) <= 0:
        raise InputError("needs finite non-negative numbers (at most 1e12) with a positive sum", path=path,
                         line=line, field=name)
    return [float(v) for v in values]


def question_header(text: str) -> str:
    """A lettered question's own text: what comes before its options, without "Question:" or "Answer:"."""
    match = _OPTIONS.search(text)
    head = text[: match.start()] if match else re.sub(r"\s*Answer:\s*$", "", text)
    return re.sub(r"^\s*Question:\s*", "", head).strip()


def read_questions(path: str | Path) -> list[Question]:
    """Questions with gold group distributions from a Modular-Pluralism JSONL or an OpinionQA directory."""
    path = Path(path)
    if path.is_dir():
        return read_opinionqa(path)
    out = []
    for line, row in iter_jsonl(path):
        p = str(path)
        options = _texts(_field(row, "options", list, p, line), p, line, "options")
        gold = _weights(_field(row, "gold_distribution", list, p, line), p, line, "gold_distribution")
        if len(gold) != len(options):
            raise InputError(f"{len(gold)} values for {len(options)} options", path=p, line=line,
                             field="gold_distribution")
        group = _field(row, "attribute", str, p, line)
        out.append(Question(str(row.get("id", line)), question_header(_field(row, "question", str, p, line)),
                            options, group, gold))
    if not out:
        raise InputError("no questions", path=str(path))
    return out


def _literal(text: str, path: str, line: int, name: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(f"not a list literal: {text[:40]!r}", path=path, line=line, field=name) from None


def read_opinionqa(directory: Path) -> list[Question]:
    """OpinionQA waves: one Question per (question, demographic group), over the options without "Refused",
    with the options' ordinal positions (Santurkar et al., 2023; ``info.csv`` ``option_ordinal``)."""
    waves = sorted(d for d in directory.iterdir() if d.is_dir() and (d / "info.csv").is_file())
    if not waves:
        raise InputError("no American_Trends_Panel_W*/info.csv under it", path=str(directory))
    out = []
    for wave in waves:
        info_path = str(wave / "info.csv")
        try:
            with open(info_path, encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except (UnicodeDecodeError, csv.Error) as err:
            raise InputError(f"unreadable CSV: {err}", path=info_path) from None
        info = {}
        for line, row in enumerate(rows, start=2):
            for name in ("key", "question", "references", "option_ordinal"):
                if not row.get(name):
                    raise InputError("missing", path=info_path, line=line, field=name)
            refs = _literal(row["references"], info_path, line, "references")
            ordinal = _literal(row["option_ordinal"], info_path, line, "option_ordinal")
            options = [r for r in refs if r != "Refused"]
            # The ordinal scale covers the first options; "Not sure"-style answers after it are off the scale.
            if not isinstance(ordinal, list) or not 0 < len(ordinal) <= len(options) or any(
                    isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in ordinal):
                raise InputError(f"needs 1 to {len(options)} finite positions", path=info_path, line=line,
                                 field="option_ordinal")
            info[row["key"]] = (row["question"], options, [float(v) for v in ordinal])
        for data_path in sorted(wave.glob("*_data.json")):
            attribute = data_path.name.removesuffix("_data.json")
            if attribute == "NONE":
                continue
            try:
                data = json.loads(data_path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise InputError(f"invalid JSON: {err}", path=str(data_path)) from None
            for key, per_group in data.items():
                if key not in info or not isinstance(per_group, dict):
                    continue
                text, options, ordinal = info[key]
                for group, counts in per_group.items():
                    if group in ("MC_options", "question_text", "Refused") or not isinstance(counts, dict):
                        continue
                    gold = [counts.get(o, 0.0) for o in options]
                    try:
                        gold = _weights(gold, str(data_path), 1, f"{key}.{group}")
                    except InputError:
                        continue  # a group nobody in the panel belonged to on this question
                    out.append(Question(key, text, options, f"{attribute}_{group}", gold, ordinal))
    return out


@dataclass
class BBQItem:
    id: str
    category: str
    context: str
    question: str
    answers: list[str]
    label: int
    ambiguous: bool
    negative: bool
    unknown: int  # the index of the "can't be determined" answer
    target: int | None  # the index of the answer naming the stereotyped group (None when neither does)


def read_bbq(path: str | Path) -> list[BBQItem]:
    """BBQ items (Parrish et al., 2022) from one category's JSONL or a directory of them."""
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise InputError("no .jsonl files", path=str(path))
    out = []
    for file in files:
        p = str(file)
        for line, row in iter_jsonl(file):
            answers = [_field(row, f"ans{i}", str, p, line) for i in range(3)]
            label = _field(row, "label", int, p, line)
            if isinstance(label, bool) or label not in (0, 1, 2):
                raise InputError("must be 0, 1 or 2", path=p, line=line, field="label")
            condition = _field(row, "context_condition", str, p, line)
            polarity = _field(row, "question_polarity", str, p, line)
            if condition not in ("ambig", "disambig") or polarity not in ("neg", "nonneg"):
                raise InputError("context_condition must be ambig/disambig and question_polarity neg/nonneg",
                                 path=p, line=line)
            info = _field(row, "answer_info", dict, p, line)
            stereo = (row.get("additional_metadata") or {}).get("stereotyped_groups") or []
            labels = []
            for i in range(3):
                entry = info.get(f"ans{i}") if isinstance(info, dict) else None
                if not isinstance(entry, list) or len(entry) < 2:
                    raise InputError("needs [text, group] per answer", path=p, line=line, field=f"answer_info.ans{i}")
                labels.append([str(x).lower() for x in entry[:2]])
            unknown = next((i for i, lab in enumerate(labels) if lab[1] == "unknown"), None)
            if unknown is None:
                raise InputError("no answer is marked unknown", path=p, line=line, field="answer_info")
            groups = {str(s).lower() for s in stereo}
            target = next((i for i, lab in enumerate(labels) if i != unknown and (lab[0] in groups or lab[1] in groups)),
                          None)
            out.append(BBQItem(f"{row.get('category', file.stem)}-{row.get('example_id', line)}",
                               str(row.get("category", file.stem)), _field(row, "context", str, p, line),
                               _field(row, "question", str, p, line), answers, label, condition == "ambig",
                               polarity == "neg", unknown, target))
    return out


def _rows(path: str | Path, fields: Sequence[tuple[str, type]]) -> list[tuple[int, dict]]:
    out = []
    for line, row in iter_jsonl(path):
        for name, kind in fields:
            _field(row, name, kind, str(path), line)
        out.append((line, row))
    if not out:
        raise InputError("no rows", path=str(path))
    return out


def read_value_kaleidoscope(path: str | Path) -> list[dict]:
    """Value Kaleidoscope relevance items: {id, situation, vrd, label (0 supports, 1 opposes, 2 either)}."""
    out = []
    for line, row in _rows(path, [("situation", str), ("vrd", str), ("label", str)]):
        if row["label"] not in ("A", "B", "C"):
            raise InputError("must be A, B or C", path=str(path), line=line, field="label")
        out.append({"id": str(row.get("id", line)), "situation": row["situation"], "vrd": row["vrd"],
                    "label": "ABC".index(row["label"])})
    return out


def read_overton(path: str | Path) -> list[dict]:
    """Overton situations: {id, situation, vrd (list), explanation (list, one per vrd)}."""
    out = []
    for line, row in _rows(path, [("situation", str), ("vrd", list), ("explanation", list)]):
        vrd = _texts(row["vrd"], str(path), line, "vrd")
        expl = _texts(row["explanation"], str(path), line, "explanation")
        if len(vrd) != len(expl):
            raise InputError(f"{len(expl)} explanations for {len(vrd)} values", path=str(path), line=line,
                             field="explanation")
        out.append({"id": str(row.get("id", line)), "situation": row["situation"], "vrd": vrd, "explanation": expl})
    return out


def read_prompts(path: str | Path) -> list[dict]:
    """Red-team prompts ({prompt, language, global_or_local, category}, e.g. from ``pluralign cai prompts``);
    language/global_or_local/category may also sit in ``provenance.details``."""
    out = []
    for line, row in _rows(path, [("prompt", str)]):
        details = ((row.get("provenance") or {}).get("details") or {}) if isinstance(row.get("provenance"), dict) else {}
        get = lambda k, d: str(row.get(k) or details.get(k) or d)  # noqa: E731
        scope = get("global_or_local", "unknown")
        if scope not in ("global", "local", "unknown"):
            raise InputError("must be global or local", path=str(path), line=line, field="global_or_local")
        out.append({"id": str(row.get("id", line)), "prompt": row["prompt"], "language": get("language", "English"),
                    "category": get("category", row.get("harm_category") or "unknown"), "global_or_local": scope})
    return out


def question_key(q: Question) -> tuple:
    """What identifies a question across the groups asked it (GlobalOpinionQA ids are per country row)."""
    return (q.header, tuple(q.options))


def subsample(items: list, limit: int | None, seed: int, key: Callable = lambda x: x) -> list:
    """Items whose key is among ``limit`` keys drawn with ``seed`` (all items when limit is None or large)."""
    keys = list(dict.fromkeys(key(x) for x in items))
    if limit is None or limit >= len(keys):
        return items
    chosen = set(random.Random(seed).sample(keys, limit))
    return [x for x in items if key(x) in chosen]
