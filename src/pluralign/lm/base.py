"""The one protocol every model backend implements.

``generate(prompts, n, temperature, top_p, max_new_tokens, seed) -> list[list[str]]``: ``n`` samples per prompt.
``score(prompts, continuations) -> list[Score]``: summed log-probability (natural log) of each continuation
given its prompt, and how many tokens it took.

A prompt is raw text or a chat conversation (a list of ``{"role", "content"}`` dicts, or
:class:`pluralign.records.Message`); a backend applies the model's chat template to conversations, ending with
the assistant's turn opened, so a continuation is what the assistant would say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Union, runtime_checkable

Prompt = Union[str, Sequence[Any]]


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
    ) -> list[list[str]]: ...

    def score(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> list[Score]: ...


def as_messages(prompt: Prompt) -> list[dict] | None:
    """Return the prompt as a list of message dicts, or None if it is raw text."""
    if isinstance(prompt, str):
        return None
    out = []
    for m in prompt:
        if hasattr(m, "model_dump"):
            m = m.model_dump()
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"a chat prompt must be a list of {{role, content}} messages, got {m!r}")
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
