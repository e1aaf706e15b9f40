"""transformers backend: any causal LM directory or GGUF file, batched generation and scoring.

Generation pads on the left and, on CPUs with native bf16 (``avx512_bf16``/AMX), runs a bf16 copy of the
weights (about 2x the tokens/s of fp32 on a 2-core machine). Scoring always runs the fp32 weights: summed
log-probs must agree with a plain per-sequence forward pass to 1e-4.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

import numpy as np

from pluralign.lm.base import Progress, Prompt, Score, as_messages, check_options, check_sampling
from pluralign.lm.cache import resolve_model_path


AUTO_ROWS = 32
"""Most rows in an automatically sized batch on a CPU (twice that on an accelerator): on a 2-core CPU SmolLM2
generates ~1.6x the tokens/s at 32 rows than at 8 (benchmarks/bench_generate.py)."""
TOKEN_BUDGET = 8192
"""Most padded tokens (rows x (longest prompt + new tokens)) in an automatically sized CPU batch."""


def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 instructions, where bf16 matmuls beat fp32 instead of being emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class HFBackend:
    """A transformers causal LM behind the :class:`~pluralign.lm.base.LanguageModel` protocol.

    Args:
        model: a transformers directory, a ``.gguf`` file, or None/"default" for SmolLM2-135M-Instruct.
        model_obj, tokenizer: an already-built model and tokenizer (e.g. a tiny test model, or a policy being
            trained); then generation uses that model as it is, with no bf16 copy, so it sees live weights.
        device: "cpu", "cuda", ...; default: cuda if available.
        generate_dtype: "auto" (bf16 on a GPU or a bf16-capable CPU), "float32" or "bfloat16".
        batch_size: rows per forward pass; None: sized per batch (:meth:`batches`).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        model_obj=None,
        tokenizer=None,
        device: str | None = None,
        generate_dtype: str = "auto",
        batch_size: int | None = None,
        name: str | None = None,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.fixed_batch = batch_size is not None
        self.batch_size = batch_size or (AUTO_ROWS if self.device.type == "cpu" else 2 * AUTO_ROWS)
        if model_obj is not None:
            if tokenizer is None:
                raise ValueError("model_obj needs its tokenizer")
            self.model, self.tokenizer = model_obj, tokenizer
            self.name = name or getattr(model_obj.config, "_name_or_path", "") or "model"
            self.path = None
            self._gen_model = model_obj
        else:
            self.path, default_name = resolve_model_path(model)
            self.name = name or default_name
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=torch.float32).to(self.device)
            self.model.eval()
            self._gen_model = None  # built on first generate
        self.generate_dtype = generate_dtype
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    # ---- prompts -------------------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> tuple[str, bool]:
        """Prompt -> (text, has_special_tokens). Conversations go through the chat template."""
        messages = as_messages(prompt)
        if messages is None:
            return prompt, False  # type: ignore[return-value]
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise ValueError(f"model {self.name} has no chat template; give raw-text prompts")
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text, True

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        text, templated = self.render(prompt)
        # A chat template already writes its special tokens; raw text gets the tokenizer's own (e.g. BOS).
        return self.tokenizer(text, add_special_tokens=not templated)["input_ids"]

    def _generation_model(self):
        if self._gen_model is None:
            dtype = self.generate_dtype
            if dtype == "auto":
                dtype = "bfloat16" if (self.device.type == "cuda" or cpu_has_native_bf16()) else "float32"
            self._gen_model = copy.deepcopy(self.model).to(torch.bfloat16) if dtype == "bfloat16" else self.model
            self._gen_model.eval()
        return self._gen_model

    def _pad_left(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        return ids, mask

    # ---- generate ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_new_tokens: int = 128,
        seed: int | None = None,
        repetition_penalty: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[str]]:
        """``n`` samples for each prompt; temperature 0 is greedy. ``progress(k)`` is called per finished batch."""
        check_sampling(n, temperature, top_p, max_new_tokens)
        encoded = [self.encode_prompt(p) for p in prompts]
        # Batch prompts of similar length together: less padding, same results.
        model = self._generation_model()
        results: list[list[str]] = [[] for _ in encoded]
        start = 0
        for idx in self.batches([len(e) for e in encoded], max_new_tokens, 1 if temperature == 0 else n):
            ids, mask = self._pad_left([encoded[i] for i in idx])
            if seed is not None:
                torch.manual_seed(seed + start)
            greedy = temperature == 0
            # Greedy decoding gives one answer; its n copies are computed once.
            sampling = dict(do_sample=False, temperature=None, top_p=None, top_k=None) if greedy else dict(
                do_sample=True, temperature=temperature, top_p=top_p)
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                num_return_sequences=1 if greedy else n,
                pad_token_id=self.tokenizer.pad_token_id,
                repetition_penalty=repetition_penalty,
                **sampling,
            )
            texts = self.tokenizer.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
            per_prompt = 1 if greedy else n
            for j, i in enumerate(idx):
                samples = [t.strip() for t in texts[j * per_prompt : (j + 1) * per_prompt]]
                results[i] = samples * n if greedy else samples
            start += len(idx)
            if progress:
                progress(len(idx))
        return results

    def batches(self, lengths: Sequence[int], new_tokens: int = 0, copies: int = 1) -> list[list[int]]:
        """Row indices in batches, shortest rows first, so that rows of similar length share a batch.

        A fixed ``batch_size`` gives batches of that many rows. Automatic sizing (``batch_size=None``) fills
        a batch up to ``batch_size`` rows while rows x copies x (longest + new tokens) stays within
        ``TOKEN_BUDGET`` and the longest row is at most 1.5x the shortest (+16 tokens), so that padding stays
        a small share of the work and long conversations are not padded to one another.
        """
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        if self.fixed_batch:
            return [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]
        budget = TOKEN_BUDGET * (1 if self.device.type == "cpu" else 8)
        out: list[list[int]] = []
        for i in order:
            batch = out[-1] if out else None
            if (batch and len(batch) < self.batch_size and lengths[i] <= 1.5 * lengths[batch[0]] + 16
                    and (len(batch) + 1) * copies * (lengths[i] + new_tokens) <= budget):
                batch.append(i)
            else:
                out.append([i])
        return out

    # ---- score ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def score(
        self,
        prompts: Sequence[Prompt],
        continuations: Sequence[str],
        progress: Callable[[int], None] | None = None,
    ) -> list[Score]:
        """Summed log-prob of each continuation after its prompt, batched, in the fp32 weights.

        The prompt and the continuation are tokenized separately and joined, so the continuation is scored as
        the tokens the model would emit after the prompt.
        """
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        rows, cont_lens = [], []
        for p, c in zip(prompts, continuations):
            cont = self.tokenizer(c, add_special_tokens=False)["input_ids"] if c else []
            rows.append(self.encode_prompt(p) + cont)
            cont_lens.append(len(cont))
        scores: list[Score] = [Score(0.0, 0)] * len(rows)
        for idx in self.batches([len(r) for r in rows]):
            keep = max(cont_lens[i] for i in idx)
            if keep == 0:
                continue
            ids, mask = self._pad_left([rows[i] for i in idx])
            # With left padding the positions must come from the mask, or padded rows shift their positions.
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep + 1
            ).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            targets = ids[:, -keep:]
            token_lp = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            for j, i in enumerate(idx):
                k = cont_lens[i]
                scores[i] = Score(float(token_lp[j, keep - k :].sum()) if k else 0.0, k)
            if progress:
                progress(len(idx))
        return scores

    # ---- options and embeddings --------------------------------------------------------------------------
    def option_logprobs(self, prompts: Sequence[Prompt], options: Sequence[str],
                        progress: Progress | None = None, *, low_precision: bool = False,
                        prompts_per_pass: int | None = None) -> np.ndarray:
        """Summed log-prob (nats) of each option after each prompt, shape (n_prompts, n_options).

        Prompt and option are tokenized separately and joined, as :meth:`score` does, and the figures equal
        :meth:`score` of each pair; what prompts and options share is computed once (:mod:`pluralign.lm.prefix`).
        low_precision: read the options from the weights generation uses (bf16 on a GPU or a bf16-capable CPU,
        about 2x faster; decisions agree with fp32 on ~96% of questions). prompts_per_pass: prompts batched per
        forward pass (default: ``batch_size`` on accelerators, 1 on a CPU, where padding costs more than it saves).
        """
        from pluralign.lm.prefix import option_logprobs as shared_prefix_logprobs

        check_options(prompts, options)
        model = self._generation_model() if low_precision else self.model
        option_rows = [self.tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
        per_pass = prompts_per_pass or (self.batch_size if self.device.type != "cpu" else 1)
        return shared_prefix_logprobs(model, self.tokenizer.pad_token_id, [self.encode_prompt(p) for p in prompts],
                                      option_rows, device=self.device, prompts_per_pass=per_pass, progress=progress)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Mean of the last hidden states over each text's tokens, L2-normalised; (n, hidden) float32, fp32 weights."""
        texts = list(texts)
        if any(not isinstance(t, str) for t in texts):
            raise ValueError("embed takes raw-text strings")
        hidden_size = self.model.config.get_text_config().hidden_size
        if not texts:
            return np.zeros((0, hidden_size), dtype=np.float32)
        rows = [self.tokenizer(t, add_special_tokens=True)["input_ids"] or [self.tokenizer.pad_token_id]
                for t in texts]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.empty((len(rows), hidden_size), dtype=np.float32)
        body = self.model.get_decoder()
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            ids, mask = self._pad_left([rows[i] for i in idx])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            hidden = body(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state.float()
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
            if progress:
                progress(len(idx))
        return out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())
