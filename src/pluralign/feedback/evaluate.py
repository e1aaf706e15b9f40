"""How good is the AI labeller? Accuracy and Brier score on comparisons with a known answer.

Input: JSONL in Anthropic's format, ``{"prompt", "corrects": [...], "incorrects": [...]}``, of two kinds:

- **multiple choice** (e.g. ``HarmfulVsEthical.jsonl``): the prompt is a whole question ending in two options
  `` (A) ...`` / `` (B) ...`` and a last line ("The answer is:"); corrects/incorrects are the letters.
  Both option orders are asked (the options are swapped with a regex anchored at the end of the prompt), and
  the content-free question keeps the prompt's header, question and options but puts "N/A" for the conversation.
- **response pairs** (e.g. ``RLMadisonFewShotPrompts.json`` rows): the prompt is a conversation,
  corrects/incorrects are responses; they are labelled by :class:`~pluralign.feedback.ai_preference.AIFeedback`.

Accuracy: share of items where the correct answer gets probability > 0.5. Brier: mean (1 - p_correct)^2
(0 is perfect, 0.25 is a constant 0.5).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pluralign.errors import InputError
from pluralign.feedback.ai_preference import CONTENT_FREE, AIFeedback
from pluralign.feedback.choice import calibrate, letter_probabilities, order_average, yes_probabilities
from pluralign.feedback.fewshot import read_json_list
from pluralign.io import iter_jsonl

# Two options then one closing line, anchored at the end: responses may hold newlines or end in "]".
_OPTIONS = re.compile(r"\n (?P<la>\(A\)) (?P<a>.*?)\n (?P<lb>\(B\)) (?P<b>.*)\n(?P<tail>[^\n]*)\s*$", re.DOTALL)
_LETTERS = {"(A)": True, "(B)": False}


@dataclass(frozen=True)
class Item:
    """One evaluation item. Multiple choice: ``question`` is the whole prompt, ``correct_is_a`` the answer.
    Response pair: ``question`` is the conversation, ``correct`` / ``incorrect`` the responses."""

    question: str
    correct_is_a: bool | None = None
    correct: str | None = None
    incorrect: str | None = None

    @property
    def multiple_choice(self) -> bool:
        return self.correct_is_a is not None


@dataclass
class EvalResult:
    """accuracy and brier over ``n`` items; ``p_correct``: the probability given to each correct answer."""

    n: int
    accuracy: float
    brier: float
    p_correct: np.ndarray

    def as_dict(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4), "brier": round(self.brier, 4)}


def read_items(path: str | Path, limit: int | None = None) -> list[Item]:
    """Validate and read an Anthropic-format comparison file (``.jsonl``, or a ``.json`` list)."""
    path = str(path)
    rows = list(enumerate(read_json_list(path), 1)) if path.endswith(".json") else list(iter_jsonl(path))
    items = [_item(row, path, line) for line, row in rows[:limit]]
    if not items:
        raise InputError("no comparisons", path=path)
    return items


def _item(row, path: str, line: int) -> Item:
    if not isinstance(row, dict):
        raise InputError("expected a JSON object", path=path, line=line)
    if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
        raise InputError("must be non-empty text", path=path, line=line, field="prompt")
    for key in ("corrects", "incorrects"):
        if not isinstance(row.get(key), list) or not row[key] or not all(isinstance(x, str) for x in row[key]):
            raise InputError("must be a non-empty list of strings", path=path, line=line, field=key)
    correct, incorrect = row["corrects"][0].strip(), row["incorrects"][0].strip()
    if correct in _LETTERS and incorrect in _LETTERS:
        if correct == incorrect or not _OPTIONS.search(row["prompt"]):
            raise InputError("a multiple-choice prompt must end with ' (A) ...', ' (B) ...' and a closing line",
                             path=path, line=line, field="prompt")
        return Item(question=row["prompt"], correct_is_a=_LETTERS[correct])
    return Item(question=row["prompt"], correct=correct, incorrect=incorrect)


def swap_options(question: str) -> str:
    """The same question with options (A) and (B) exchanged."""
    m = _OPTIONS.search(question)
    if m is None:
        raise ValueError("question does not end with two options")
    return question[: m.start()] + f"\n (A) {m['b']}\n (B) {m['a']}\n{m['tail']}"


def question_parts(question: str) -> tuple[str, str, str, str]:
    """(header, conversation, instruction, options block) of a multiple-choice question.

    The header is the first paragraph when it ends with ':' (else ""), the instruction the last paragraph before
    the options, the conversation everything between.
    """
    m = _OPTIONS.search(question)
    if m is None:
        raise ValueError("question does not end with two options")
    paragraphs = question[: m.start()].split("\n\n")
    has_head = len(paragraphs) > 2 and paragraphs[0].rstrip().endswith(":")
    conversation = "\n\n".join(paragraphs[1 if has_head else 0 : -1])
    return (paragraphs[0] if has_head else ""), conversation, paragraphs[-1], question[m.start():]


def options_of(question: str) -> tuple[str, str]:
    """The texts of options (A) and (B)."""
    m = _OPTIONS.search(question)
    if m is None:
        raise ValueError("question does not end with two options")
    return m["a"], m["b"]


def content_free_question(question: str) -> str:
    """The question with "N/A" for its conversation (header, instruction and options kept)."""
    head, _, instruction, options = question_parts(question)
    return "\n\n".join(([head] if head else []) + [CONTENT_FREE, instruction]) + options


def multiple_choice_probabilities(lm, questions: Sequence[str], *, both_orders: bool = True,
                                  calibrate_content_free: bool = True, batch_calibrate: bool = False,
                                  chat: bool = False, prefix: str = "", low_precision: bool = False,
                                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """P(option A is right) for whole multiple-choice questions; shape (n,).

    batch_calibrate: centre the log-odds on their mean over ``questions`` (Zhou et al., 2024, "Batch
    calibration"): no labels used, it assumes both answers are about equally common in the batch.
    prefix: text put before every question (e.g. solved examples). ``progress`` counts the questions asked
    (one per item and order; content-free questions are not counted).
    """
    def ask(texts, progress=None):
        unique = list(dict.fromkeys(prefix + t for t in texts))  # content-free questions often coincide
        asked = letter_probabilities(lm, [[{"role": "user", "content": t}] for t in unique] if chat else unique,
                                     low_precision=low_precision, progress=progress)
        found = dict(zip(unique, asked))
        return np.array([found[prefix + t] for t in texts])

    variants = [list(questions)] + ([[swap_options(q) for q in questions]] if both_orders else [])
    # One call for every order: both orders share the question up to its options, and all questions share
    # ``prefix``; the backend computes what they share once.
    asked = ask([q for qs in variants for q in qs], progress).reshape(len(variants), len(questions))
    probs = []
    for qs, p in zip(variants, asked):
        if calibrate_content_free:
            p = calibrate(p, ask([content_free_question(q) for q in qs]))
        probs.append(p)
    p = order_average(*probs) if both_orders else probs[0]
    if batch_calibrate:
        log_odds = np.log(np.clip(p, 1e-9, 1.0)) - np.log(np.clip(1.0 - p, 1e-9, 1.0))
        p = 1.0 / (1.0 + np.exp(-(log_odds - log_odds.mean())))
    return p


def yes_no_text(conversation: str, question: str) -> str:
    """A conversation followed by a yes/no question, raw text ending in "Answer:"."""
    return f"{conversation}\n\nQuestion: {question}\nAnswer:"


def yes_no_probabilities(lm, questions: Sequence[str], yes_question: str, *, contrast_question: str | None = None,
                         batch_calibrate: bool = True, low_precision: bool = False,
                         progress: Callable[[int], None] | None = None) -> np.ndarray:
    """P(option A is right) for multiple-choice questions about a conversation, asked instead as a yes/no
    question whose "Yes" means option (A) (e.g. "Was the assistant's last reply harmful?"); shape (n,).

    No options are shown, so there is no position to prefer. ``contrast_question``: a question whose "Yes" means
    option (B) (e.g. "Was the assistant's last reply ethical?"); the log-odds of the two are subtracted, which
    cancels a model's tendency to answer Yes more often on some conversations whatever it is asked.
    batch_calibrate: centre the log-odds on their mean over ``questions`` (as for letters).
    """
    conversations = [question_parts(q)[1] for q in questions]

    def log_odds(question: str) -> np.ndarray:
        p = yes_probabilities(lm, [yes_no_text(c, question) for c in conversations], low_precision=low_precision,
                              progress=progress)
        return np.log(np.clip(p, 1e-9, 1.0)) - np.log(np.clip(1.0 - p, 1e-9, 1.0))

    z = log_odds(yes_question)
    if contrast_question:
        z = z - log_odds(contrast_question)
    if batch_calibrate:
        z = z - z.mean()
    return 1.0 / (1.0 + np.exp(-z))


def solved_prefix(items: Sequence[Item]) -> str:
    """Multiple-choice items with their answers written out, as few-shot examples."""
    return "".join(f"{it.question} {'(A)' if it.correct_is_a else '(B)'}\n\n" for it in items)


def score(p_correct: np.ndarray) -> EvalResult:
    p_correct = np.asarray(p_correct, dtype=float)
    return EvalResult(n=len(p_correct), accuracy=float(np.mean(p_correct > 0.5)),
                      brier=float(np.mean((1.0 - p_correct) ** 2)), p_correct=p_correct)


def evaluate(labeller: AIFeedback, items: Sequence[Item], *, fewshot_items: Sequence[Item] = (),
             batch_calibrate: bool = False, yes_question: str | None = None, contrast_question: str | None = None,
             progress: Callable[[int], None] | None = None) -> EvalResult:
    """Accuracy and Brier score of ``labeller`` (its model and config) on ``items``.

    Multiple-choice items use the labeller's order averaging, calibration and chat settings, with
    ``fewshot_items`` (solved multiple-choice items, kept apart from ``items``) in front; or, with
    ``yes_question``, :func:`yes_no_probabilities`. Pair items are labelled with the correct response first on
    even items and second on odd ones, so a position bias cannot pass for skill.
    """
    cfg = labeller.config
    p_correct = np.empty(len(items))
    mc = [i for i, it in enumerate(items) if it.multiple_choice]
    if mc and yes_question:
        p_a = yes_no_probabilities(labeller.lm, [items[i].question for i in mc], yes_question,
                                   contrast_question=contrast_question, batch_calibrate=batch_calibrate,
                                   low_precision=cfg.low_precision, progress=progress)
        p_correct[mc] = np.where([items[i].correct_is_a for i in mc], p_a, 1.0 - p_a)
    elif mc:
        p_a = multiple_choice_probabilities(labeller.lm, [items[i].question for i in mc], both_orders=cfg.both_orders,
                                            calibrate_content_free=cfg.calibrate, chat=cfg.chat,
                                            batch_calibrate=batch_calibrate, low_precision=cfg.low_precision,
                                            prefix=solved_prefix(fewshot_items), progress=progress)
        p_correct[mc] = np.where([items[i].correct_is_a for i in mc], p_a, 1.0 - p_a)
    pairs = [i for i, it in enumerate(items) if not it.multiple_choice]
    if pairs:
        flip = np.array([k % 2 == 1 for k in range(len(pairs))])
        firsts = [items[i].incorrect if f else items[i].correct for i, f in zip(pairs, flip)]
        seconds = [items[i].correct if f else items[i].incorrect for i, f in zip(pairs, flip)]
        p_first, _ = labeller.probabilities([items[i].question for i in pairs], firsts, seconds, progress)
        p_correct[pairs] = np.where(flip, 1.0 - p_first, p_first)
    return score(p_correct)
