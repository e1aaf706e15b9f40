"""Readers: survey answers of many groups -> one :class:`Survey` (groups x questions, a distribution per answer).

- :func:`read_opinionqa`: Pew American Trends Panel waves as released with OpinionQA (Santurkar et al. 2023):
  ``info.csv`` (questions, options, ordinal positions) and ``<ATTRIBUTE>_data.json`` (weighted counts per group
  and option). A group is ``ATTRIBUTE:value`` (``POLPARTY:Republican``). Options without an ordinal position
  (``Refused``, and e.g. ``Not sure`` where the wave gives none) are dropped and the rest renormalised, as the
  OpinionQA metric is defined over the ordinal options only.
- :func:`read_globalopinionqa`: the distributional GlobalOpinionQA JSONL (one line per question and country).
- :func:`read_polis`: Polis exports; a group is one participant, a question one statement with the options
  agree / disagree / pass, and the answer that participant's vote (one-hot).

Every reader fails with one :class:`~pluralign.errors.InputError` line naming the file, line and field.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pluralign.errors import InputError
from pluralign.io import read_text as _read_text

POLIS_OPTIONS = ["Agree", "Disagree", "Pass"]
_POLIS_CODE = {1: 0, -1: 1, 0: 2}  # CSV vote coding (agree = 1) -> index into POLIS_OPTIONS
_SKIPPED_GROUPS = {"nan", "Refused", ""}


@dataclass
class Question:
    """One multiple-choice question. ``ordinal``: each option's position (Wasserstein metric), None if nominal."""

    id: str
    text: str
    options: list[str]
    ordinal: list[float] | None = None


@dataclass
class Survey:
    """Answers of ``groups`` to ``questions``: ``answers[group][question id]`` is a distribution over the
    question's options (groups need not answer every question). ``population[question id]``: the whole
    population's distribution where the source has one. ``meta[group]``: extra labels (e.g. a Polis
    participant's conversation and opinion group)."""

    name: str
    questions: dict[str, Question]
    answers: dict[str, dict[str, np.ndarray]]
    population: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return sorted(self.answers)

    def subset(self, groups) -> "Survey":
        keep = set(groups)
        return Survey(self.name, self.questions, {g: a for g, a in self.answers.items() if g in keep},
                      self.population, {g: m for g, m in self.meta.items() if g in keep})


def split_groups(groups: list[str], train_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded split into (training, held-out) groups; the reference trains on 40% (train_gpo.py:83, 146)."""
    order = np.random.default_rng(seed).permutation(sorted(groups))
    n_train = max(1, min(len(order) - 1, int(len(order) * train_fraction)))
    return sorted(order[:n_train].tolist()), sorted(order[n_train:].tolist())


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _json(text: str, path: Path, line: int | None = None):
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", path=str(path), line=line or err.lineno) from None
    except ValueError as err:
        raise InputError(f"invalid JSON: {err}", path=str(path), line=line) from None


def _distribution(values, n: int, path: Path, line: int | None, name: str) -> np.ndarray:
    """A list of n finite non-negative numbers with a positive sum -> probabilities."""
    if not isinstance(values, list) or len(values) != n:
        raise InputError(f"expected a list of {n} numbers, got {values!r}"[:200], path=str(path), line=line,
                         field=name)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v > 1e15:
            raise InputError(f"expected finite non-negative numbers, got {v!r}", path=str(path), line=line,
                             field=name)
    total = float(sum(values))
    if total <= 0:
        raise InputError("all zero", path=str(path), line=line, field=name)
    return np.asarray(values, dtype=np.float64) / total


def _literal_list(text: str, path: Path, line: int, name: str) -> list:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, list):
        raise InputError(f"expected a list, got {text!r}"[:200], path=str(path), line=line, field=name)
    return value


def _read_info(path: Path) -> dict[str, Question]:
    rows = list(csv.DictReader(_read_text(path).splitlines()))
    questions = {}
    for line, row in enumerate(rows, start=2):
        for name in ("key", "question", "references", "option_ordinal"):
            if not (row.get(name) or "").strip():
                raise InputError("missing", path=str(path), line=line, field=name)
        refs = [str(o) for o in _literal_list(row["references"], path, line, "references") if o != "Refused"]
        ordinal = _literal_list(row["option_ordinal"], path, line, "option_ordinal")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in ordinal) \
                or not 1 <= len(ordinal) <= len(refs):
            raise InputError(f"expected up to {len(refs)} finite positions, got {ordinal!r}", path=str(path),
                             line=line, field="option_ordinal")
        questions[row["key"]] = Question(row["key"], row["question"], refs[:len(ordinal)],
                                         [float(v) for v in ordinal])
    return questions


def _counts(counts, question: Question, path: Path, where: str) -> np.ndarray | None:
    if not isinstance(counts, dict):
        raise InputError(f"expected {{option: count}}, got {counts!r}"[:200], path=str(path), field=where)
    values = []
    for option in question.options:
        v = counts.get(option, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v > 1e15:
            raise InputError(f"expected a finite non-negative count, got {v!r}", path=str(path),
                             field=f"{where}.{option}")
        values.append(float(v))
    total = sum(values)
    return np.asarray(values) / total if total > 0 else None


def read_opinionqa(root: str | Path) -> Survey:
    """All ``American_Trends_Panel_W*`` folders under ``root`` (or ``root`` itself if it is one wave)."""
    root = Path(root)
    waves = sorted(p for p in root.glob("*") if (p / "info.csv").is_file()) or [root]
    if not (waves[0] / "info.csv").is_file():
        raise InputError("no info.csv here or in any sub-folder (expected OpinionQA waves)", path=str(root))
    questions: dict[str, Question] = {}
    answers: dict[str, dict[str, np.ndarray]] = {}
    population: dict[str, np.ndarray] = {}
    for wave in waves:
        info = _read_info(wave / "info.csv")
        questions.update(info)
        files = sorted(wave.glob("*_data.json"))
        wave_population: dict[str, dict[str, np.ndarray]] = {}
        for path in files:
            attribute = path.name[: -len("_data.json")]
            data = _json(_read_text(path), path)
            if not isinstance(data, dict):
                raise InputError("expected {question key: {group: {option: count}}}", path=str(path))
            for key, entry in data.items():
                if key not in info:
                    continue  # questions the wave's info.csv does not describe are not in the release's metric
                if not isinstance(entry, dict):
                    raise InputError("expected an object", path=str(path), field=key)
                for group, counts in entry.items():
                    if group in ("MC_options", "question_text"):
                        continue
                    dist = _counts(counts, info[key], path, f"{key}.{group}")
                    if dist is None:
                        continue
                    if attribute == "NONE":
                        population[key] = dist
                    elif group not in _SKIPPED_GROUPS:
                        answers.setdefault(f"{attribute}:{group}", {})[key] = dist
                    # the whole population, where the wave has no NONE file: all of one attribute's groups
                    raw = np.array([float(counts.get(o, 0.0)) for o in info[key].options])
                    wave_population.setdefault(key, {}).setdefault(attribute, np.zeros_like(raw))
                    wave_population[key][attribute] = wave_population[key][attribute] + raw
        for key, by_attribute in wave_population.items():
            if key not in population:
                summed = by_attribute.get("SEX", next(iter(by_attribute.values())))
                if summed.sum() > 0:
                    population[key] = summed / summed.sum()
    if not answers:
        raise InputError("no group answers found (expected <ATTRIBUTE>_data.json files)", path=str(root))
    answered = {key for by_question in answers.values() for key in by_question}
    return Survey("opinionqa", {k: q for k, q in questions.items() if k in answered}, answers, population)


def _strip_scaffold(text: str) -> str:
    """GlobalOpinionQA's question field carries "Question: ... Options: A. .. Answer:"; keep the question."""
    text = text.strip()
    text = text.removeprefix("Question:").strip()
    return text.split("\nOptions:")[0].strip()


def read_globalopinionqa(path: str | Path) -> Survey:
    """``{question, options, attribute (country), gold_distribution}`` per line; a question is identified by its
    text and options."""
    path = Path(path)
    text = _read_text(path)
    questions: dict[str, Question] = {}
    answers: dict[str, dict[str, np.ndarray]] = {}
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        row = _json(raw, path, line)
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=str(path), line=line)
        for name in ("question", "options", "attribute", "gold_distribution"):
            if name not in row or row[name] in (None, "", []):
                raise InputError("missing", path=str(path), line=line, field=name)
        options = row["options"]
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o for o in options):
            raise InputError("expected a list of at least two option strings", path=str(path), line=line,
                             field="options")
        if not isinstance(row["question"], str) or not isinstance(row["attribute"], str):
            raise InputError("expected text", path=str(path), line=line, field="question/attribute")
        dist = _distribution(row["gold_distribution"], len(options), path, line, "gold_distribution")
        qid = "gqa-" + hashlib.sha1(json.dumps([row["question"], options]).encode()).hexdigest()[:12]
        questions.setdefault(qid, Question(qid, _strip_scaffold(row["question"]), [str(o) for o in options]))
        answers.setdefault(row["attribute"], {})[qid] = dist
    if not answers:
        raise InputError("no rows", path=str(path))
    return Survey("globalopinionqa", questions, answers)


def read_polis(folders) -> Survey:
    """Polis export folders (``participants-votes.csv`` or ``votes.csv`` + ``comments.csv``) -> one survey whose
    groups are ``conversation/participant`` and questions ``conversation/statement`` (moderated-out statements
    left out). ``meta[group]``: ``conversation`` and Polis's ``opinion_group`` (blank if unclustered)."""
    from pluralign.aggregate.opinion.matrix import read_polis_export, read_polis_groups, read_statement_texts

    questions: dict[str, Question] = {}
    answers: dict[str, dict[str, np.ndarray]] = {}
    meta: dict[str, dict[str, str]] = {}
    for folder in map(Path, folders):
        conv = folder.name
        for name in ("comments.csv", "votes.csv", "participants-votes.csv"):
            if (folder / name).is_file():
                _read_text(folder / name)  # the project's CSV readers assume UTF-8; say where it is not
        matrix = read_polis_export(folder)
        texts = read_statement_texts(folder) if (folder / "comments.csv").is_file() else {}
        opinion = read_polis_groups(folder) if (folder / "participants-votes.csv").is_file() else {}
        out = set(matrix.mod_out.tolist()) | set(matrix.meta.tolist())
        codes = matrix.codes
        for row, col, code in zip(codes.row_ids(), codes.indices, codes.data):
            if col in out or not texts.get(matrix.statements[col], "").strip():
                continue
            sid, pid = matrix.statements[col], matrix.participants[row]
            qid, gid = f"{conv}/{sid}", f"{conv}/{pid}"
            questions.setdefault(qid, Question(qid, texts[sid].strip(), list(POLIS_OPTIONS)))
            onehot = np.zeros(3)
            onehot[_POLIS_CODE[int(code) - 2]] = 1.0
            answers.setdefault(gid, {})[qid] = onehot
            meta.setdefault(gid, {"conversation": conv, "opinion_group": str(opinion.get(pid, ""))})
    if not answers:
        raise InputError("no votes on statements with text", path=",".join(map(str, folders)))
    return Survey("polis", questions, answers, meta=meta)


def read_survey(kind: str, path: str | Path) -> Survey:
    """``kind``: opinionqa | globalopinionqa | polis (``path``: a folder of conversations, or one)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path=str(path))
    if kind == "opinionqa":
        return read_opinionqa(path)
    if kind == "globalopinionqa":
        return read_globalopinionqa(path)
    if kind == "polis":
        folders = [path] if (path / "comments.csv").is_file() or (path / "votes.csv").is_file() else \
            sorted(p for p in path.iterdir() if (p / "participants-votes.csv").is_file() or (p / "votes.csv").is_file())
        return read_polis(folders)
    raise InputError(f"unknown data kind {kind!r} (opinionqa | globalopinionqa | polis)")
