"""The one protocol every model backend implements.

``generate(prompts, n, temperature, top_p, max_new_tokens, seed) -> list[list[str]]``: ``n`` samples per prompt.
``score(prompts, continuations) -> list[Score]``: summed log-probability (natural log) of each continuation
given its prompt, and how many tokens it took.
``option_logprobs(prompts, options) -> ndarray (n_prompts, n_options)``: summed log-probability (nats) of each of a
few alternative continuations (``"(A"``/``"(B"``, ``" Yes"``/``" No"``, ``"Agree"``/``"Disagree"``/``"Pass"``) after
each prompt (``low_precision``: a backend with a faster lower-precision copy of its weights may read the options from
it; others ignore it). Unnormalised; :func:`option_distribution` normalises over the options. Backends compute what the
options (and consecutive prompts) share once where they can; the figures equal :meth:`score` on each pair.
``embed(texts) -> ndarray (n_texts, hidden) float32``: the mean over each text's tokens of the model's last hidden
states, L2-normalised (so cosine similarity is a dot product). Texts are raw strings, no chat template.

Every method that can take long accepts ``progress``: a callable given the number of items just finished.

A prompt is raw text or a chat conversation (a list of ``{"role", "content"}`` dicts, or
:class:`pluralign.records.Message`); a backend applies the model's chat template to conversations, ending with
the assistant's turn opened, so a continuation is what the assistant would say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Union, runtime_checkable

import numpy as np

Prompt = Union[str, Sequence[Any]]
CHAT_ROLES = ("system", "user", "assistant")  # what chat templates know
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Score:
    """Summed log-prob (nats) of a continuation and its token count; ``logprob / n_tokens`` is per token."""

    logprob: float
    n_tokens: int


@runtime_checkable
class LanguageModel(Protocol):
    name: str

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_new_tokens: int = 128,
        seed: int | None = None,
        repetition_penalty: float | None = None,
        progress: Progress | None = None,
    ) -> list[list[str]]: ...

    def score(self, prompts: Sequence[Prompt], continuations: Sequence[str],
              progress: Progress | None = None) -> list[Score]: ...

    def option_logprobs(self, prompts: Sequence[Prompt], options: Sequence[str],
                        progress: Progress | None = None, *, low_precision: bool = False) -> np.ndarray: ...

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


def check_options(prompts: Sequence[Prompt], options: Sequence[str]) -> None:
    if isinstance(options, str) or len(options) < 1:
        raise ValueError(f"options must be a non-empty list of strings, got {options!r}")
    if any(not isinstance(o, str) or not o for o in options):
        raise ValueError(f"every option must be a non-empty string, got {list(options)!r}")
    if len(set(options)) != len(options):
        raise ValueError(f"options must differ, got {list(options)!r}")


def option_logprobs_by_scoring(lm: LanguageModel, prompts: Sequence[Prompt], options: Sequence[str],
                               progress: Progress | None = None) -> np.ndarray:
    """``option_logprobs`` for any backend with ``score``: each (prompt, option) pair scored as a continuation."""
    check_options(prompts, options)
    k = len(options)
    scores = lm.score([p for p in prompts for _ in options], [o for _ in prompts for o in options],
                      progress=(lambda done: progress(done / k)) if progress else None)
    return np.array([s.logprob for s in scores], dtype=np.float64).reshape(len(prompts), k)


def option_distribution(logprobs: np.ndarray) -> np.ndarray:
    """Normalise option log-probs (..., k) into probabilities over the k options (a softmax, stable).

    >>> option_distribution(np.log([[0.2, 0.6], [1e-300, 1e-300]])).round(3).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    logprobs = np.asarray(logprobs, dtype=np.float64)
    shifted = logprobs - logprobs.max(axis=-1, keepdims=True)
    p = np.exp(shifted)
    return p / p.sum(axis=-1, keepdims=True)


def as_messages(prompt: Prompt) -> list[dict] | None:
    """Return the prompt as a list of message dicts, or None if it is raw text."""
    if isinstance(prompt, str):
        return None
    out = []
    for m in prompt:
        if hasattr(m, "model_dump"):
            m = m.model_dump()
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"a chat prompt must be a list of {{role, content}} messages, got {str(m)[:80]!r}")
        if m["role"] not in CHAT_ROLES or not isinstance(m["content"], str):
            raise ValueError(f"a message's role must be one of {', '.join(CHAT_ROLES)} and its content text, got "
                             f"role {str(m['role'])[:40]!r}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def check_sampling(n: int, temperature: float, top_p: float, max_new_tokens: int) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
