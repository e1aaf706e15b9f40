"""Ask a model a multiple-choice question and read its answer distribution over the options.

A question is a header (the question text), any number of options and a footer ("Answer:"). It is rendered with
lettered options ("A. ...", "B. ...") and the model's answer is read as the probability of each letter as the
next thing it would write, through :meth:`~pluralign.lm.base.LanguageModel.option_logprobs` only, so every backend
works and a fast backend computes each prompt once for all its letters:

- under a chat template the assistant writes "A" (or "(A") with no leading space; after raw text the next token
  is " A" (or " (A"), so the letters are read that way (:func:`answer_strings`);
- small models pick a position more than an answer (SmolLM2-135M answers (A) 93% of the time on raw text).
  :func:`choice_distribution` therefore shows the options in each of their k cyclic rotations and averages the
  probability each *option* got, so every option is seen once at every position (Zheng et al., 2024, "Large
  Language Models Are Not Robust Multiple Choice Selectors", section 4, permute-and-average), and can also divide
  by the letter probabilities of a content-free question (Zhao et al., 2021, "Calibrate Before Use", section 5);
- answers come back as an (n_questions, k) array of probabilities in the options' original order.

One ``option_logprobs`` call per rotation: the batch holds every question in that rotation, so a backend that
shares prefixes computes each question's text once for all its letters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pluralign.lm.base import LanguageModel, Progress, option_distribution

CONTENT_FREE = "N/A"


def letters(k: int) -> list[str]:
    """The first ``k`` option letters: A..Z, then AA, AB, ... (spreadsheet columns), for any number of options."""
    if k < 1:
        raise ValueError(f"a question needs at least one option, got {k}")
    out = []
    for i in range(k):
        name, i = "", i + 1
        while i:
            i, r = divmod(i - 1, 26)
            name = string.ascii_uppercase[r] + name
        out.append(name)
    return out


@dataclass(frozen=True)
class Format:
    """How a question is shown and how its answer is read.

    layout: one option's line, with ``{letter}`` and ``{option}``.
    separator: between the header, each option line and the footer.
    footer: the text that asks for the answer (the model's answer follows it).
    paren: read the answer as "(A" rather than "A" (for formats that show options as "(A) ...").
    answer_prefix: text the answer starts with before the letter (e.g. "The answer is "); it is part of every
        option's continuation, so it cancels in the normalised distribution but steers what the letter means.
    chat: send the question as a user turn under the model's chat template (letters read with no leading
        space) rather than as raw text (letters read after a space).
    system: an optional system turn (chat) or preamble line (raw text), e.g. a steering persona.
    """

    layout: str = "{letter}. {option}"
    separator: str = "\n"
    footer: str = "Answer:"
    paren: bool = False
    answer_prefix: str = ""
    chat: bool = True
    system: str | None = None

    def render(self, header: str, options: Sequence[str]) -> str:
        """The question's text: header, lettered options, footer."""
        lines = [self.layout.format(letter=l, option=o) for l, o in zip(letters(len(options)), options)]
        return self.separator.join([p for p in (header, *lines, self.footer) if p])

    def prompt(self, header: str, options: Sequence[str]):
        """The prompt given to the model: a chat conversation, or raw text."""
        text = self.render(header, options)
        if self.chat:
            system = [{"role": "system", "content": self.system}] if self.system else []
            return [*system, {"role": "user", "content": text}]
        return f"{self.system}\n\n{text}" if self.system else text

    def answers(self, k: int) -> list[str]:
        return answer_strings(k, chat=self.chat, paren=self.paren, prefix=self.answer_prefix)


def answer_strings(k: int, *, chat: bool, paren: bool = False, prefix: str = "") -> list[str]:
    """The continuations that mean "option i": "A"/"(A" under a chat template, " A"/" (A" after raw text.

    A ``prefix`` is written first ("The answer is " + "(A"); after raw text the space goes before the prefix.
    """
    body = [prefix + ("(" if paren else "") + l for l in letters(k)]
    return body if chat or prefix.startswith(" ") else [" " + b for b in body]


def rotate(options: Sequence, r: int) -> list:
    """The options shifted left by ``r``: position j shows original option (j + r) % k."""
    k = len(options)
    return [options[(j + r) % k] for j in range(k)]


def letter_distribution(lm: LanguageModel, prompts: Sequence, k: int, fmt: Format,
                        progress: Progress | None = None) -> np.ndarray:
    """P(letter j) normalised over the k letters for each prompt; (n, k), by position (one batched call)."""
    if not len(prompts):
        return np.zeros((0, k))
    return option_distribution(lm.option_logprobs(list(prompts), fmt.answers(k), progress=progress))


def content_free(lm: LanguageModel, k: int, fmt: Format) -> np.ndarray:
    """The letters' probabilities (k,) for a question with no content ("N/A" header and options): the bias the
    format itself carries (Zhao et al., 2021, section 5)."""
    return letter_distribution(lm, [fmt.prompt(CONTENT_FREE, [CONTENT_FREE] * k)], k, fmt)[0]


def choice_distribution(
    lm: LanguageModel,
    headers: Sequence[str],
    options: Sequence[Sequence[str]],
    fmt: Format | None = None,
    *,
    rotations: int | None = None,
    calibrate: bool = False,
    progress: Progress | None = None,
) -> np.ndarray:
    """The model's answer distribution over each question's options, (n_questions, k), in the original order.

    headers[i], options[i]: question i (every question needs the same number k of options; see
        :func:`choice_distributions` for questions with different numbers).
    rotations: how many of the k cyclic rotations of the options to average over (None: all k, which shows
        every option once at every position; 1: the options as given, no position-bias correction).
    calibrate: divide each rotation's letter probabilities by those of a content-free question and
        renormalise (contextual calibration), before un-rotating and averaging.
    progress: called with the number of questions finished (fractions, one rotation at a time).
    """
    fmt = fmt or Format()
    n = len(headers)
    if len(options) != n:
        raise ValueError(f"{n} headers but {len(options)} option lists")
    if n == 0:
        return np.zeros((0, 0))
    k = len(options[0])
    if any(len(o) != k for o in options):
        raise ValueError("every question needs the same number of options (use choice_distributions)")
    rotations = k if rotations is None else rotations
    if not 1 <= rotations <= k:
        raise ValueError(f"rotations must be in [1, {k}], got {rotations}")
    bias = content_free(lm, k, fmt) if calibrate else None
    total = np.zeros((n, k))
    for r in range(rotations):
        prompts = [fmt.prompt(h, rotate(o, r)) for h, o in zip(headers, options)]
        step = (lambda done: progress(done / rotations)) if progress else None
        p = letter_distribution(lm, prompts, k, fmt, progress=step)
        if bias is not None:
            p = p / np.clip(bias, 1e-12, None)
            p = p / p.sum(axis=1, keepdims=True)
        # Position j showed original option (j + r) % k: move its probability back there.
        total[:, (np.arange(k) + r) % k] += p
    return total / rotations


def choice_distributions(lm: LanguageModel, headers: Sequence[str], options: Sequence[Sequence[str]],
                         fmt: Format | None = None, **kwargs) -> list[np.ndarray]:
    """:func:`choice_distribution` for questions with different numbers of options: one (k_i,) array each.

    Questions with the same number of options are asked together (one call per rotation per size).
    """
    out: list[np.ndarray | None] = [None] * len(headers)
    for k in sorted({len(o) for o in options}):
        idx = [i for i, o in enumerate(options) if len(o) == k]
        dist = choice_distribution(lm, [headers[i] for i in idx], [options[i] for i in idx], fmt, **kwargs)
        for row, i in zip(dist, idx):
            out[i] = row
    return out  # type: ignore[return-value]


def parse_letter(text: str, k: int) -> int | None:
    """The option a free-text answer names: its first standalone capital letter(s) among the first k ("(B)",
    "B.", "Answer: B"), or None."""
    valid = letters(k)
    for match in re.finditer(r"(?<![A-Za-z])[A-Z]+(?![A-Za-z])", text):
        if match.group() in valid:
            return valid.index(match.group())
    return None


def sampled_distribution(lm: LanguageModel, headers: Sequence[str], options: Sequence[Sequence[str]],
                         fmt: Format | None = None, *, samples: int = 10, temperature: float = 1.0,
                         seed: int = 0, progress: Progress | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """The answer distribution estimated by sampling ``samples`` short answers per question and reading their
    letter: (one (k_i,) array of frequencies per question, the share of samples naming no valid letter)."""
    fmt = fmt or Format()
    prompts = [fmt.prompt(h, o) for h, o in zip(headers, options)]
    texts = lm.generate(prompts, n=samples, temperature=temperature, max_new_tokens=4, seed=seed,
                        progress=progress)
    dists, unparsed = [], np.zeros(len(prompts))
    for i, (outs, opts) in enumerate(zip(texts, options)):
        counts = np.zeros(len(opts))
        for t in outs:
            j = parse_letter(t.removeprefix(fmt.answer_prefix.strip()), len(opts))
            if j is None:
                unparsed[i] += 1
            else:
                counts[j] += 1
        dists.append(counts / counts.sum() if counts.sum() else np.full(len(opts), 1.0 / len(opts)))
    return dists, unparsed / max(samples, 1)
