"""Reward callables for RL: ``f(prompts, responses) -> list[float]``, one score per (prompt, response) pair.

Any such callable works. Three come with pluralign, chosen from a config by a spec string (:func:`load_scorer`):

- ``PATH`` -- a reward model directory (``AutoModelForSequenceClassification`` with one label, e.g. from
  ``pluralign train rm``): the score is its logit for the prompt followed by the response;
- ``count:TEXT`` -- a rule: how many times any of the characters of ``TEXT`` occurs in the response (a
  deterministic "gold" scorer, and a reward a tiny model can learn quickly);
- ``similar:TEXT`` -- 10 x the cosine similarity of the response to ``TEXT`` in all-MiniLM-L6-v2 embeddings
  (:mod:`pluralign.embed`): a neural reward that needs no training, e.g. a description of the wanted behaviour;
- ``module:function`` -- any importable callable with the signature above.

:func:`as_trl_reward` adapts a scorer to TRL's ``reward_funcs`` interface (RLOO / GRPO).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

from pluralign.errors import InputError

Scorer = Callable[[Sequence, Sequence[str]], list[float]]


def response_text(response) -> str:
    """A response as text: plain strings pass through, a conversational turn ``[{role, content}]`` is joined."""
    if isinstance(response, str):
        return response
    return "".join(message["content"] for message in response)


class CountScorer:
    """Reward = number of characters of the response that belong to ``chars`` (optionally per character)."""

    def __init__(self, chars: str, per_char: bool = False):
        if not chars:
            raise ValueError("CountScorer needs at least one character to count")
        self.chars, self.per_char = set(chars), per_char

    def __call__(self, prompts: Sequence, responses: Sequence[str]) -> list[float]:
        scores = []
        for response in map(response_text, responses):
            hits = sum(ch in self.chars for ch in response)
            scores.append(hits / max(1, len(response)) if self.per_char else float(hits))
        return scores


class SimilarityScorer:
    """Reward = ``scale`` x cosine similarity between the response and ``target`` (sentence embeddings)."""

    def __init__(self, target: str, scale: float = 10.0):
        if not target.strip():
            raise ValueError("SimilarityScorer needs a target text")
        self.target, self.scale = target, scale

    def __call__(self, prompts: Sequence, responses: Sequence[str]) -> list[float]:
        from pluralign.embed import embed

        vectors = embed([self.target] + [response_text(r) for r in responses])
        return (self.scale * vectors[1:] @ vectors[0]).tolist()


class RewardModelScorer:
    """A sequence-classification reward model scoring ``prompt + response`` (its single logit, in fp32).

    Conversational prompts (``[{role, content}]``) go through the model's chat template with the response as
    the assistant's turn, as TRL's RewardTrainer formats pairs; text prompts are concatenated and end in EOS.

    Args:
        path: a transformers directory whose config has ``num_labels == 1``.
        batch_size: pairs per forward pass; max_length: tokens kept per pair (its last ones).
    """

    def __init__(self, path: str | Path, batch_size: int = 8, max_length: int = 512, device: str = "cpu"):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise InputError("not a reward model directory (no config.json)", path=str(path))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).to(device).eval()
        if self.model.config.num_labels != 1:
            raise InputError(f"a reward model has one label, this one has {self.model.config.num_labels}",
                             path=str(path))
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size, self.max_length, self.device = batch_size, max_length, device

    def encode(self, prompt, response) -> list[int]:
        """Token ids of one pair, as TRL's RewardTrainer builds them (last ``max_length`` kept)."""
        response = response_text(response)
        if isinstance(prompt, str):  # TRL appends EOS to plain-text pairs
            text = prompt + response
            text = text if text.endswith(self.tokenizer.eos_token) else text + self.tokenizer.eos_token
            ids = self.tokenizer(text)["input_ids"]
        else:
            messages = list(prompt) + [{"role": "assistant", "content": response}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids[-self.max_length:]

    def __call__(self, prompts: Sequence, responses: Sequence[str]) -> list[float]:
        import torch

        rows = [self.encode(p, r) for p, r in zip(prompts, responses, strict=True)]
        scores: list[float] = []
        for start in range(0, len(rows), self.batch_size):
            batch = self.tokenizer.pad({"input_ids": rows[start : start + self.batch_size]}, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**batch.to(self.device)).logits
            scores.extend(logits[:, 0].float().tolist())
        return scores


def load_scorer(spec: str, *, field: str = "reward") -> Scorer:
    """A scorer from a spec string: a reward-model directory, ``count:CHARS``, ``similar:TEXT`` or
    ``module:function``."""
    if spec.startswith("count:"):
        if len(spec) == len("count:"):
            raise InputError("count: needs the characters to count, e.g. count:aeiou", field=field)
        return CountScorer(spec[len("count:"):])
    if spec.startswith("similar:"):
        if not spec[len("similar:"):].strip():
            raise InputError("similar: needs a target text, e.g. similar:a polite refusal", field=field)
        return SimilarityScorer(spec[len("similar:"):])
    if Path(spec).expanduser().is_dir():
        return RewardModelScorer(Path(spec).expanduser())
    module, sep, name = spec.partition(":")
    if sep and module and name:
        try:
            scorer = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as err:
            raise InputError(f"cannot import scorer {spec!r}: {err}", field=field) from None
        if not callable(scorer):
            raise InputError(f"{spec!r} is not callable", field=field)
        return scorer
    raise InputError(f"unknown scorer {spec!r}: give a reward model directory, count:CHARS, similar:TEXT or "
                     "module:function", field=field)


def as_trl_reward(scorer: Scorer, name: str) -> Callable[..., list[float]]:
    """Wrap a scorer as a TRL reward function ``f(prompts, completions, **columns) -> list[float]``.

    TRL logs each reward function under its ``__name__`` (``rewards/<name>/mean``), which the monitors read.
    """

    def reward(prompts, completions, **columns) -> list[float]:
        return [float(s) for s in scorer(prompts, [response_text(c) for c in completions])]

    reward.__name__ = name
    return reward
