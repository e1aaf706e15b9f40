"""The multiple-choice step of AI feedback: P("(A)") vs P("(B)") from one forward pass, and the corrections
that make those probabilities mean something for a small model.

A question ends with "The answer is:". The model's next tokens would be " (" "A" ")" on raw text and "(" "A"
")" under a chat template, so the letters are the only tokens that differ: the model protocol's
``option_logprobs`` reads both letters from one pass over question + answer prefix where the backend can.

Small models pick a position more than a response (SmolLM2-135M answers (A) 93% of the time on raw text), so:

- :func:`order_average` scores both option orders and averages, cancelling position bias;
- :func:`calibrate` divides by the probabilities given to a content-free question (Zhao et al., 2021,
  "Calibrate before use"), removing the bias the template itself carries;
- :func:`clamp` bounds chain-of-thought answers, which are over-confident (Bai et al., 2022, section 4.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pluralign.lm.base import LanguageModel, Prompt, option_distribution

LETTERS = ("A", "B")
YES_NO = ("Yes", "No")


def answer_prefix(chat: bool) -> str:
    """The text the model writes before the letter: "(" under a chat template, " (" after raw text."""
    return "(" if chat else " ("


def letter_probabilities(
    lm: LanguageModel,
    questions: Sequence[Prompt],
    *,
    low_precision: bool = False,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """P(A) normalised over {A, B} for each question; shape (n,).

    Raw-text questions are read after " (", chat questions (lists of messages) after "(" (the closing ")" is left
    out). low_precision: a backend with a faster lower-precision copy of its weights reads the letters from it
    (transformers: bf16 on a GPU or a bf16-capable CPU, about 2x faster; decisions agree with fp32 on ~96%).
    """
    return answer_probabilities(lm, questions, LETTERS, prefix=answer_prefix, low_precision=low_precision,
                                progress=progress)


def yes_probabilities(
    lm: LanguageModel,
    questions: Sequence[Prompt],
    *,
    low_precision: bool = False,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """P(Yes) normalised over {Yes, No} as the next word of each question; shape (n,).

    Raw text (ending e.g. in "Answer:") is read as " Yes" / " No", a chat question as "Yes" / "No".
    """
    return answer_probabilities(lm, questions, YES_NO, prefix=lambda chat: "" if chat else " ",
                                low_precision=low_precision, progress=progress)


def answer_probabilities(lm: LanguageModel, questions: Sequence[Prompt], words: Sequence[str], *,
                         prefix: Callable[[bool], str], low_precision: bool = False,
                         progress: Callable[[int], None] | None = None) -> np.ndarray:
    """P(words[0]) normalised over the two ``words`` written after ``prefix(chat)``; shape (n,).

    One ``option_logprobs`` call per kind of question (raw text and chat read different tokens: " Yes" vs "Yes"),
    so the backend computes what the questions and the two answers share once.
    """
    out = np.empty(len(questions))
    for chat in (False, True):
        idx = [i for i, q in enumerate(questions) if (not isinstance(q, str)) == chat]
        if idx:
            logp = lm.option_logprobs([questions[i] for i in idx], [prefix(chat) + w for w in words],
                                      progress=progress, low_precision=low_precision)
            out[idx] = option_distribution(logp)[:, 0]
    return out


def order_average(p_ab: np.ndarray, p_ba: np.ndarray) -> np.ndarray:
    """P(first response better) from both orders: ``p_ab`` = P(A) with it shown first, ``p_ba`` with it second."""
    return (np.asarray(p_ab) + 1.0 - np.asarray(p_ba)) / 2.0


def calibrate(p: np.ndarray, p_content_free: np.ndarray | float) -> np.ndarray:
    """Contextual calibration: reweight P(A), P(B) by 1 / their content-free probabilities and renormalise."""
    p, q = np.asarray(p, dtype=float), np.clip(np.asarray(p_content_free, dtype=float), 1e-6, 1 - 1e-6)
    a, b = p / q, (1.0 - p) / (1.0 - q)
    return a / (a + b)


def clamp(p: np.ndarray, low: float = 0.4, high: float = 0.6) -> np.ndarray:
    """Bound soft labels to [low, high] (the paper's remedy for over-confident chain-of-thought answers)."""
    if not 0.0 <= low <= 0.5 <= high <= 1.0:
        raise ValueError(f"clamp needs 0 <= low <= 0.5 <= high <= 1, got ({low}, {high})")
    return np.clip(np.asarray(p, dtype=float), low, high)
