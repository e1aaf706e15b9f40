"""Backend for any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API) by base URL.

generate: chat completions for conversations, completions for raw text.
score: completions with ``echo=True, logprobs=1, max_tokens=0`` (or 1 where 0 is refused); the server returns
per-token log-probs of prompt+continuation and we sum those of the continuation's tokens. Servers that do not
echo prompt log-probs get a clear error, and so do servers whose echoed log-probs are shifted by one token
(llama-cpp-python's server reports, for each token, the log-prob of that token *following* itself): before the first
score we check the server on a counting sequence, where correct log-probs are near 0 and shifted ones are not. Conversations are rendered to text with a local tokenizer's chat
template when ``chat_template_from`` names one (servers do not expose theirs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pluralign.lm.base import Progress, Prompt, Score, as_messages, check_sampling, option_logprobs_by_scoring


class ScoringUnsupported(RuntimeError):
    """The server cannot return prompt log-probs (completions with echo + logprobs)."""


class EmbeddingsUnsupported(RuntimeError):
    """The server has no ``/v1/embeddings`` for this model."""


class OpenAIBackend:
    def __init__(
        self,
        base_url: str,
        model: str = "default",
        *,
        api_key: str = "none",
        chat_template_from: str | None = None,
        timeout: float = 120.0,
    ):
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1)
        self.model = model
        self.name = f"{model}@{base_url}"
        self._tokenizer = None
        self._alignment_checked = False
        if chat_template_from:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(chat_template_from)

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_new_tokens: int = 128,
        seed: int | None = None,
        repetition_penalty: float | None = None,
        progress=None,
    ) -> list[list[str]]:
        check_sampling(n, temperature, top_p, max_new_tokens)
        extra = {"repeat_penalty": repetition_penalty} if repetition_penalty else None
        out = []
        for i, prompt in enumerate(prompts):
            messages = as_messages(prompt)
            texts = []
            # One request per sample: not every server honours n > 1; each sample gets its own seed.
            for k in range(n):
                sample_seed = None if seed is None else seed + i * n + k
                common = dict(model=self.model, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                              seed=sample_seed, extra_body=extra)
                if messages is not None:
                    resp = self.client.chat.completions.create(messages=messages, **common)
                    texts.append((resp.choices[0].message.content or "").strip())
                else:
                    resp = self.client.completions.create(prompt=prompt, **common)
                    texts.append(resp.choices[0].text.strip())
            out.append(texts)
            if progress:
                progress(1)
        return out

    def _prompt_text(self, prompt: Prompt) -> str:
        messages = as_messages(prompt)
        if messages is None:
            return prompt  # type: ignore[return-value]
        if self._tokenizer is None:
            raise ValueError("scoring a conversation over an OpenAI-compatible server needs chat_template_from="
                             "<local tokenizer dir> to render it; or give raw-text prompts")
        return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _echo_logprobs(self, text: str):
        from openai import BadRequestError

        try:
            resp = self.client.completions.create(
                model=self.model, prompt=text, echo=True, logprobs=1, max_tokens=1, temperature=0.0
            )
        except BadRequestError as err:
            raise ScoringUnsupported(f"{self.name} refused an echo+logprobs completion: {err}") from None
        lp = resp.choices[0].logprobs
        if lp is None or not lp.token_logprobs or lp.text_offset is None:
            raise ScoringUnsupported(f"{self.name} does not return prompt log-probs (echo + logprobs)")
        return lp

    def check_logprob_alignment(self) -> None:
        """Raise ScoringUnsupported if the server's echoed log-probs are not those of each token given its past."""
        counting = ", ".join(str(i) for i in range(1, 25))
        lp = self._echo_logprobs(counting)
        tail = [x for x in lp.token_logprobs[len(lp.token_logprobs) // 2 :] if x is not None]
        mean = sum(tail) / max(len(tail), 1)
        if mean < -3.0:
            raise ScoringUnsupported(
                f"{self.name} returns echoed log-probs that are not p(token | previous tokens) (mean {mean:.1f} "
                "nats/token on a counting sequence; llama-cpp-python's server shifts them by one token). Score with "
                "the hf or llamacpp backend, or a server with OpenAI semantics (vLLM, `pluralign model serve`)")
        self._alignment_checked = True

    def score(self, prompts: Sequence[Prompt], continuations: Sequence[str], progress=None) -> list[Score]:
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        texts = [self._prompt_text(p) for p in prompts]
        if not self._alignment_checked:
            self.check_logprob_alignment()
        scores = []
        for text, cont in zip(texts, continuations):
            lp = self._echo_logprobs(text + cont)
            total, count = 0.0, 0
            start, end = len(text), len(text) + len(cont)
            for offset, token_lp in zip(lp.text_offset, lp.token_logprobs):
                # Tokens starting inside the continuation; the one generated token (offset >= end) is not ours.
                if start <= offset < end and token_lp is not None:
                    total += token_lp
                    count += 1
            scores.append(Score(total, count))
            if progress:
                progress(1)
        return scores

    def option_logprobs(self, prompts: Sequence[Prompt], options: Sequence[str],
                        progress: Progress | None = None, *, low_precision: bool = False) -> np.ndarray:
        """Summed log-prob of each option after each prompt (echoed completion log-probs), (n_prompts, n_options)."""
        return option_logprobs_by_scoring(self, prompts, options, progress=progress)

    def embed(self, texts: Sequence[str], progress: Progress | None = None, batch_size: int = 64) -> np.ndarray:
        """The server's ``/v1/embeddings`` for each text, L2-normalised; (n, dim) float32."""
        from openai import APIStatusError

        texts = list(texts)
        out = []
        for start in range(0, len(texts), batch_size):
            try:
                resp = self.client.embeddings.create(model=self.model, input=texts[start:start + batch_size])
            except APIStatusError as err:
                raise EmbeddingsUnsupported(f"{self.name} refused /v1/embeddings: {err}") from None
            vectors = np.array([d.embedding for d in sorted(resp.data, key=lambda d: d.index)], dtype=np.float32)
            out.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12))
            if progress:
                progress(len(vectors))
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
