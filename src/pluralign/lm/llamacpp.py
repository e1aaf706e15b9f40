"""llama.cpp backend (optional extra ``pluralign[llamacpp]``): fast batch-1 generation straight from a GGUF file.

Scoring evaluates prompt and continuation tokens (tokenized separately, as the ``hf`` backend does) and sums the
continuation's log-probs from the logits llama.cpp keeps for every position.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pluralign.lm.base import Progress, Prompt, Score, as_messages, check_sampling, option_logprobs_by_scoring
from pluralign.lm.cache import default_gguf_path


class LlamaCppBackend:
    def __init__(self, gguf: str | None = None, *, n_ctx: int = 2048, n_threads: int | None = None):
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ImportError("the llamacpp backend needs: pip install 'pluralign[llamacpp]'") from None
        path = Path(gguf) if gguf not in (None, "", "default") else default_gguf_path()
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, logits_all=True, verbose=False)
        self.path, self.n_ctx, self.n_threads, self._embedder = path, n_ctx, n_threads, None
        self.name = path.stem
        template = self.llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        if template:
            def token_text(token_id: int) -> str:
                return self.llm.detokenize([token_id], special=True).decode("utf-8", "ignore") if token_id >= 0 else ""

            self._formatter = Jinja2ChatFormatter(template=template, eos_token=token_text(self.llm.token_eos()),
                                                  bos_token=token_text(self.llm.token_bos()))

    def _render(self, prompt: Prompt) -> tuple[str, bool]:
        messages = as_messages(prompt)
        if messages is None:
            return prompt, False  # type: ignore[return-value]
        if self._formatter is None:
            raise ValueError(f"{self.name} has no chat template; give raw-text prompts")
        return self._formatter(messages=messages).prompt, True

    def _encode(self, prompt: Prompt) -> list[int]:
        text, templated = self._render(prompt)
        # A chat template writes its own special tokens; raw text gets the model's BOS (as the hf backend does).
        return self.llm.tokenize(text.encode(), add_bos=not templated, special=templated)

    def generate(self, prompts: Sequence[Prompt], n: int = 1, temperature: float = 0.7, top_p: float = 1.0,
                 max_new_tokens: int = 128, seed: int | None = None, repetition_penalty: float | None = None,
                 progress=None) -> list[list[str]]:
        check_sampling(n, temperature, top_p, max_new_tokens)
        out = []
        for i, prompt in enumerate(prompts):
            tokens = self._encode(prompt)
            samples = []
            for k in range(n):
                if seed is not None:
                    self.llm.set_seed(seed + i * n + k)
                # Token ids, not text: create_completion would tokenize text without its special tokens.
                resp = self.llm.create_completion(
                    tokens, max_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                    repeat_penalty=repetition_penalty or 1.0,
                )
                samples.append(resp["choices"][0]["text"].strip())
            out.append(samples)
            if progress:
                progress(1)
        return out

    def score(self, prompts: Sequence[Prompt], continuations: Sequence[str], progress=None) -> list[Score]:
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        scores = []
        for prompt, cont in zip(prompts, continuations):
            head = self._encode(prompt)
            tail = self.llm.tokenize(cont.encode(), add_bos=False, special=False) if cont else []
            if not tail:
                scores.append(Score(0.0, 0))
                continue
            self.llm.reset()
            self.llm.eval(head + tail)
            logits = np.asarray(self.llm.scores[len(head) - 1 : len(head) + len(tail) - 1], dtype=np.float64)
            logz = np.logaddexp.reduce(logits, axis=-1)
            picked = logits[np.arange(len(tail)), tail] - logz
            scores.append(Score(float(picked.sum()), len(tail)))
            if progress:
                progress(1)
        return scores

    def option_logprobs(self, prompts: Sequence[Prompt], options: Sequence[str],
                        progress: Progress | None = None, *, low_precision: bool = False) -> np.ndarray:
        """Summed log-prob of each option after each prompt, (n_prompts, n_options)."""
        return option_logprobs_by_scoring(self, prompts, options, progress=progress)

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Mean of the last hidden states over each text's tokens, L2-normalised; (n, hidden) float32.

        llama.cpp computes embeddings in a context of its own (``embedding=True``, mean pooling), loaded from the
        same GGUF on first use.
        """
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        if self._embedder is None:
            self._embedder = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                   embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, verbose=False)
        out = []
        for text in texts:
            out.append(np.asarray(self._embedder.embed(text, normalize=True), dtype=np.float32).reshape(-1))
            if progress:
                progress(1)
        return np.stack(out) if out else np.zeros((0, self.llm.n_embd()), dtype=np.float32)

    def close(self) -> None:
        """Free the model now (llama-cpp-python's own finaliser can fail at interpreter exit)."""
        self.llm.close()
        if self._embedder is not None:
            self._embedder.close()
