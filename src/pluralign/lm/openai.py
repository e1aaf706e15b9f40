"""Backend for any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API) by base URL.

generate: chat completions for conversations, completions for raw text.
score: completions with ``echo=True, logprobs=1, max_tokens=0`` (or 1 where 0 is refused); the server returns
per-token log-probs of prompt+continuation and we sum those of the continuation's tokens. Servers that do not
echo prompt log-probs get a clear error. Conversations are rendered to text with a local tokenizer's chat
template when ``chat_template_from`` names one (servers do not expose theirs).
"""

from __future__ import annotations

from collections.abc import Sequence

from pluralign.lm.base import Prompt, Score, as_messages, check_sampling


class ScoringUnsupported(RuntimeError):
    """The server cannot return prompt log-probs (completions with echo + logprobs)."""


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

    def score(self, prompts: Sequence[Prompt], continuations: Sequence[str], progress=None) -> list[Score]:
        from openai import BadRequestError

        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        scores = []
        for prompt, cont in zip(prompts, continuations):
            text = self._prompt_text(prompt)
            try:
                resp = self.client.completions.create(
                    model=self.model, prompt=text + cont, echo=True, logprobs=1, max_tokens=1, temperature=0.0
                )
            except BadRequestError as err:
                raise ScoringUnsupported(f"{self.name} refused an echo+logprobs completion: {err}") from None
            lp = resp.choices[0].logprobs
            if lp is None or not lp.token_logprobs or lp.text_offset is None:
                raise ScoringUnsupported(f"{self.name} does not return prompt log-probs (echo + logprobs)")
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
