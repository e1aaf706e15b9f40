"""Batched greedy generation on llama.cpp, the way its server's parallel slots run (``llama-server -np N``).

llama-cpp-python's ``Llama`` decodes one sequence at a time; llama.cpp itself batches by putting the next
token of every live sequence into one ``llama_decode`` call, each token tagged with its sequence id, over a
unified KV cache (what ``server.cpp`` does for its slots, and ``examples/batched``). This module drives that
through llama-cpp-python's low-level bindings, so ``bench_generate.py`` can compare our batch-8/32 tokens/s with
llama.cpp's at the same batch size. Prompts come in as token ids (the same ids on both sides).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np


_SILENT = []


def quiet() -> None:
    """Silence llama.cpp's log (model metadata on every load); the callback is kept alive here."""
    import llama_cpp as L

    if not _SILENT:
        _SILENT.append(L.llama_log_callback(lambda level, text, data: None))
        L.llama_log_set(_SILENT[0], ctypes.c_void_p(0))


def requantized(gguf: Path, out: Path, precision: str = "F32") -> Path:
    """``gguf`` re-written with every tensor in ``precision`` ("F32" or "BF16"; llama.cpp's own quantize tool,
    requantizing), so llama.cpp can be compared with a backend computing in that precision on the same
    dequantised weights."""
    import llama_cpp as L

    if out.exists():
        return out
    quiet()
    params = L.llama_model_quantize_default_params()
    params.ftype = {"F32": L.LLAMA_FTYPE_ALL_F32, "BF16": L.LLAMA_FTYPE_MOSTLY_BF16}[precision]
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    tmp = out.with_suffix(".part")
    if L.llama_model_quantize(str(gguf).encode(), str(tmp).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama.cpp could not write a {precision} copy of {gguf}")
    tmp.replace(out)
    return out


class BatchedLlama:
    """One model and one context of ``n_seq`` parallel sequences; :meth:`generate` decodes them together."""

    def __init__(self, gguf: Path, n_seq: int, n_ctx_per_seq: int, threads: int):
        import llama_cpp as L

        self.L = L
        L.llama_backend_init()
        quiet()
        mparams = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(str(gguf).encode(), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {gguf}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        cparams = L.llama_context_default_params()
        cparams.n_ctx = n_seq * n_ctx_per_seq
        cparams.n_batch = cparams.n_ctx  # a whole prefill of all prompts in one call
        cparams.n_ubatch = 512
        cparams.n_seq_max = n_seq
        cparams.kv_unified = True
        cparams.n_threads = cparams.n_threads_batch = threads
        self.ctx = L.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create the context")
        self.n_seq, self.capacity = n_seq, cparams.n_ctx
        self.batch = L.llama_batch_init(self.capacity, 0, 1)

    def _add(self, token: int, pos: int, seq: int, want_logits: bool) -> int:
        b = self.batch
        i = b.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, int(want_logits)
        b.seq_id[i][0] = seq
        b.n_tokens = i + 1
        return i

    def _argmax(self, i: int) -> int:
        row = self.L.llama_get_logits_ith(self.ctx, i)
        return int(np.ctypeslib.as_array(row, shape=(self.n_vocab,)).argmax())

    def generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
        """Greedy continuations (token ids, end-of-generation token excluded) of up to ``n_seq`` prompts."""
        L = self.L
        if len(prompts) > self.n_seq:
            raise ValueError(f"{len(prompts)} prompts for {self.n_seq} sequences")
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        self.batch.n_tokens = 0
        last = {}
        for seq, ids in enumerate(prompts):  # prefill: every prompt in one decode, logits at each last token
            for pos, tok in enumerate(ids):
                at = self._add(tok, pos, seq, pos == len(ids) - 1)
            last[seq] = at
        out: list[list[int]] = [[] for _ in prompts]
        pos = [len(ids) for ids in prompts]
        for _ in range(max_new_tokens):
            if L.llama_decode(self.ctx, self.batch) != 0:
                raise RuntimeError("llama_decode failed (context too small?)")
            nxt = {seq: self._argmax(i) for seq, i in last.items()}
            self.batch.n_tokens = 0
            last = {}
            for seq, tok in nxt.items():
                if L.llama_vocab_is_eog(self.vocab, tok):
                    continue
                out[seq].append(tok)
                if len(out[seq]) < max_new_tokens:
                    last[seq] = self._add(tok, pos[seq], seq, True)
                    pos[seq] += 1
            if not last:
                break
        return out

    def close(self) -> None:
        L = self.L
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)
