"""How good is the AI labeller? Accuracy and Brier score on comparisons with a known answer, next to what
guessing would score.

Input: JSONL in Anthropic's format, ``{"prompt", "corrects": [...], "incorrects": [...]}``, of two kinds:

- **multiple choice** (e.g. ``HarmfulVsEthical.jsonl``, 2 options; ``HarmfulnessClassification``, 9): the prompt
  is a whole question ending in lettered options `` (A) ...``, `` (B) ...``, ... and a closing line ("The answer
  is:"); corrects/incorrects are letters. Options are read by :func:`pluralign.feedback.questions.parse_question`;
  an item whose options cannot be read, or whose answer is not one of its letters, is refused with file:line.
  The model's answer is the normalised distribution over all the letters; with ``both_orders`` the options are
  shown in each of their k cyclic rotations and the probability each *option* got is averaged (for two options,
  the two orders), so every option is seen once at every position. The content-free question keeps the prompt's
  header, instruction and options (in the same rotation) but puts "N/A" for the conversation.
- **response pairs** (e.g. ``RLMadisonFewShotPrompts.json`` rows): the prompt is a conversation,
  corrects/incorrects are responses; they are labelled by :class:`~pluralign.feedback.ai_preference.AIFeedback`.

Accuracy: share of items whose correct answer gets more probability than every other option. Brier: the
multi-class score, mean over items of sum_j (p_j - y_j)^2 (Brier, 1950): 0 is perfect; a uniform guess scores
1 - 1/k (0.5 for two options, where it equals twice the one-option form (1 - p_correct)^2). Each accuracy comes
with its 95% Wilson interval, the chance level (mean of 1/k) and the majority baseline (always answering the
file's most common correct position); ``distinguishable`` is False when the interval reaches either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pluralign.errors import InputError
from pluralign.feedback.ai_preference import AIFeedback
from pluralign.feedback.choice import yes_probabilities
from pluralign.feedback.fewshot import read_json_list
from pluralign.feedback.questions import LetteredQuestion, letter_index, looks_like_letter, parse_question
from pluralign.io import iter_jsonl
from pluralign.lm.base import option_distribution
from pluralign.lm.multiple_choice import answer_strings, letters


@dataclass(frozen=True)
class Item:
    """One evaluation item. Multiple choice: ``question`` is the whole prompt, ``answer`` the index of the correct
    option among ``parsed.options``. Response pair: ``question`` is the conversation, ``correct`` / ``incorrect``
    the responses."""

    question: str
    answer: int | None = None
    parsed: LetteredQuestion | None = field(default=None, compare=False, repr=False)
    correct: str | None = None
    incorrect: str | None = None

    @property
    def multiple_choice(self) -> bool:
        return self.answer is not None

    @property
    def k(self) -> int:
        return self.parsed.k if self.parsed is not None else 2

    @property
    def correct_is_a(self) -> bool | None:
        """For two-option questions: whether (A) is the answer."""
        return None if self.answer is None else self.answer == 0


@dataclass
class EvalResult:
    """Figures over ``n`` items; ``p_correct``: the probability given to each correct answer.

    accuracy_ci: 95% Wilson interval; chance: mean 1/k; majority: accuracy of always answering the most common
    correct position; distinguishable: the interval excludes both chance and majority.
    """

    n: int
    accuracy: float
    brier: float
    p_correct: np.ndarray
    chance: float = 0.5
    majority: float = 0.5
    accuracy_ci: tuple[float, float] = (0.0, 1.0)

    @property
    def distinguishable(self) -> bool:
        low, high = self.accuracy_ci
        return not (low <= self.chance <= high or low <= self.majority <= high)

    def as_dict(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4),
                "accuracy_ci": [round(x, 4) for x in self.accuracy_ci], "brier": round(self.brier, 4),
                "chance": round(self.chance, 4), "majority_baseline": round(self.majority, 4),
                "distinguishable": self.distinguishable}


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
    if not (looks_like_letter(correct) and looks_like_letter(incorrect)):
        return Item(question=row["prompt"], correct=correct, incorrect=incorrect)
    try:
        parsed = parse_question(row["prompt"])
    except ValueError as err:
        raise InputError(f"cannot read the options of this multiple-choice prompt: {err}", path=path, line=line,
                         field="prompt") from None
    answers = {key: [letter_index(a, parsed.k) for a in row[key]] for key in ("corrects", "incorrects")}
    for key, found in answers.items():
        if None in found:
            raise InputError(f"must be letters of the prompt's {parsed.k} options ({', '.join(letters(parsed.k))})",
                             path=path, line=line, field=key)
    if set(answers["corrects"]) & set(answers["incorrects"]) or len(set(answers["corrects"])) != 1:
        raise InputError("needs one correct letter, not also listed as incorrect", path=path, line=line,
                         field="corrects")
    return Item(question=row["prompt"], answer=answers["corrects"][0], parsed=parsed)


def swap_options(question: str) -> str:
    """A two-option question with options (A) and (B) exchanged."""
    parsed = parse_question(question)
    return parsed.shown(parsed.rotation(1))


def question_parts(question: str) -> tuple[str, str, str, str]:
    """(header, conversation, instruction, options block) of a multiple-choice question."""
    parsed = parse_question(question)
    head, conversation, instruction = parsed.parts()
    return head, conversation, instruction, parsed.shown()[len(parsed.stem):]


def options_of(question: str) -> tuple[str, ...]:
    """The texts of the options, (A) first."""
    return parse_question(question).options


def content_free_question(question: str) -> str:
    """The question with "N/A" for its conversation (header, instruction and options kept)."""
    return parse_question(question).content_free()


def multiple_choice_distributions(lm, questions: Sequence[str], *, both_orders: bool = True,
                                  calibrate_content_free: bool = True, batch_calibrate: bool = False,
                                  chat: bool = False, prefix: str = "", low_precision: bool = False,
                                  progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """The model's answer distribution over each question's options, one (k,) array each, options in the order
    the question lists them.

    both_orders: average over the k cyclic rotations of the options. calibrate_content_free: divide each
    rotation's letter probabilities by those of its content-free question and renormalise (Zhao et al., 2021).
    batch_calibrate: subtract from each option's log-probability its mean over the questions with the same number
    of options, then renormalise (Zhou et al., 2024, "Batch calibration"; for two options this centres the log-odds
    on their mean): no labels used, it assumes every answer position is about equally common in the batch.
    prefix: text put before every question (e.g. solved examples). ``progress`` counts the questions asked (one
    per item and rotation; content-free questions are not counted).
    """
    parsed = [parse_question(q) for q in questions]
    out: list[np.ndarray] = [np.empty(0)] * len(parsed)
    for k in sorted({p.k for p in parsed}):
        idx = [i for i, p in enumerate(parsed) if p.k == k]
        rotations = range(k) if both_orders else range(1)
        asks = [(i, r) for r in rotations for i in idx]

        def ask(texts: list[str], counted: bool) -> np.ndarray:
            unique = list(dict.fromkeys(prefix + t for t in texts))  # content-free questions often coincide
            prompts = [[{"role": "user", "content": t}] for t in unique] if chat else unique
            dist = option_distribution(lm.option_logprobs(prompts, answer_strings(k, chat=chat, paren=True),
                                                          progress=progress if counted else None,
                                                          low_precision=low_precision))
            found = dict(zip(unique, dist))
            return np.array([found[prefix + t] for t in texts])

        shown = [parsed[i].rotation(r) for i, r in asks]
        p = ask([parsed[i].shown(order) for (i, _), order in zip(asks, shown)], counted=True)
        if calibrate_content_free:
            bias = ask([parsed[i].content_free(order) for (i, _), order in zip(asks, shown)], counted=False)
            p = p / np.clip(bias, 1e-12, None)
            p = p / p.sum(axis=1, keepdims=True)
        total = np.zeros((len(idx), k))
        row = {i: n for n, i in enumerate(idx)}
        for (i, _), order, dist in zip(asks, shown, p):
            total[row[i], order] += dist  # position j showed option order[j]: its probability goes back there
        total /= len(rotations)
        if batch_calibrate:
            logp = np.log(np.clip(total, 1e-12, 1.0))
            total = option_distribution(logp - logp.mean(axis=0, keepdims=True))
        for n, i in enumerate(idx):
            out[i] = total[n]
    return out


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
    return "".join(f"{it.question} ({letters(it.k)[it.answer]})\n\n" for it in items)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (Wilson, 1927); (0, 1) for n = 0.

    >>> [round(x, 3) for x in wilson_interval(8, 10)]
    [0.49, 0.943]
    """
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score(distributions: Sequence[np.ndarray], answers: Sequence[int]) -> EvalResult:
    """Figures of answer ``distributions`` (one (k,) array per item) against the correct option indices."""
    if len(distributions) != len(answers):
        raise ValueError(f"{len(distributions)} distributions but {len(answers)} answers")
    p_correct = np.array([float(d[a]) for d, a in zip(distributions, answers)])
    right = sum(int(d[a] > np.delete(d, a).max()) for d, a in zip(distributions, answers))
    brier = [float(((np.asarray(d) - np.eye(len(d))[a]) ** 2).sum()) for d, a in zip(distributions, answers)]
    n = len(answers)
    positions = np.bincount(np.asarray(answers, dtype=int)) if n else np.zeros(1)
    return EvalResult(n=n, accuracy=right / n if n else 0.0, brier=float(np.mean(brier)) if n else 0.0,
                      p_correct=p_correct, chance=float(np.mean([1.0 / len(d) for d in distributions])) if n else 0.0,
                      majority=float(positions.max() / n) if n else 0.0, accuracy_ci=wilson_interval(right, n))


def evaluate(labeller: AIFeedback, items: Sequence[Item], *, fewshot_items: Sequence[Item] = (),
             batch_calibrate: bool = False, yes_question: str | None = None, contrast_question: str | None = None,
             progress: Callable[[int], None] | None = None) -> EvalResult:
    """Accuracy and Brier score of ``labeller`` (its model and config) on ``items``.

    Multiple-choice items use the labeller's order averaging (all cyclic rotations), calibration and chat
    settings, with ``fewshot_items`` (solved multiple-choice items, kept apart from ``items``) in front; or, with
    ``yes_question`` (two-option questions only), :func:`yes_no_probabilities`. Pair items are labelled with the
    correct response first on even items and second on odd ones, so a position bias cannot pass for skill.
    """
    cfg = labeller.config
    dists: list[np.ndarray] = [np.empty(0)] * len(items)
    answers = [0] * len(items)
    mc = [i for i, it in enumerate(items) if it.multiple_choice]
    for i in mc:
        answers[i] = items[i].answer
    if mc and yes_question:
        if any(items[i].k != 2 for i in mc):
            raise InputError("--yes-question reads Yes as option (A): it needs two-option questions")
        p_a = yes_no_probabilities(labeller.lm, [items[i].question for i in mc], yes_question,
                                   contrast_question=contrast_question, batch_calibrate=batch_calibrate,
                                   low_precision=cfg.low_precision, progress=progress)
        for i, p in zip(mc, p_a):
            dists[i] = np.array([p, 1.0 - p])
    elif mc:
        found = multiple_choice_distributions(
            labeller.lm, [items[i].question for i in mc], both_orders=cfg.both_orders,
            calibrate_content_free=cfg.calibrate, chat=cfg.chat, batch_calibrate=batch_calibrate,
            low_precision=cfg.low_precision, prefix=solved_prefix(fewshot_items), progress=progress)
        for i, d in zip(mc, found):
            dists[i] = d
    pairs = [i for i, it in enumerate(items) if not it.multiple_choice]
    if pairs:
        flip = [k % 2 == 1 for k in range(len(pairs))]
        firsts = [items[i].incorrect if f else items[i].correct for i, f in zip(pairs, flip)]
        seconds = [items[i].correct if f else items[i].incorrect for i, f in zip(pairs, flip)]
        p_first, _ = labeller.probabilities([items[i].question for i in pairs], firsts, seconds, progress)
        for i, f, p in zip(pairs, flip, p_first):
            dists[i], answers[i] = np.array([p, 1.0 - p]), int(f)
    return score(dists, answers)
