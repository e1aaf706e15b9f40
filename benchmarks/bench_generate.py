"""Generation and scoring speed of the model backends on SmolLM2-135M-Instruct.

Anchor: llama.cpp (llama-cpp-python, in-process) on the same GGUF, batch 1, when the optional extra is installed.
Prints tokens/s of the ``hf`` backend at batch 1 and batch 8 (greedy, fixed length), ``score`` sequences/s, and
each as a ratio to llama.cpp.

    OMP_NUM_THREADS=2 python benchmarks/bench_generate.py [--new-tokens 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time

PROMPTS = [
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from pluralign.lm.hf import HFBackend

    print(f"torch threads: {torch.get_num_threads()}  (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")
    lm = HFBackend("default", device="cpu", batch_size=8)
    chats = [[{"role": "user", "content": p}] for p in PROMPTS]
    lm.generate(chats[:1], temperature=0.0, max_new_tokens=4)  # build the bf16 copy, warm up

    results = {}
    for batch in (1, 8):
        prompts = chats[:batch]
        outputs = []
        seconds = timed(lambda: outputs.append(lm.generate(prompts, temperature=0.0, max_new_tokens=args.new_tokens)),
                        args.repeats)
        tokens = count_new_tokens(lm, outputs[-1])
        print(f"batch {batch}: {tokens} new tokens in {seconds:.2f} s")
        results[f"hf generate batch {batch} (tok/s)"] = tokens / seconds

    continuations = [" " + p for p in reversed(PROMPTS)] * 4
    score_prompts = (chats * 4)[: len(continuations)]
    seconds = timed(lambda: lm.score(score_prompts, continuations), args.repeats)
    results["hf score (seq/s)"] = len(continuations) / seconds

    anchor = {}
    try:
        from pluralign.lm.llamacpp import LlamaCppBackend

        cpp = LlamaCppBackend()
        cpp.generate([chats[0]], temperature=0.0, max_new_tokens=4)
        outs = []
        seconds = timed(lambda: outs.append(cpp.generate([chats[0]], temperature=0.0, max_new_tokens=args.new_tokens)),
                        args.repeats)
        anchor["gen"] = count_new_tokens(lm, outs[-1]) / seconds
        seconds = timed(lambda: cpp.score(score_prompts, continuations), args.repeats)
        anchor["score"] = len(continuations) / seconds
        cpp.close()
        print(f"llama.cpp batch 1: {anchor['gen']:.1f} tok/s, score {anchor['score']:.2f} seq/s (anchor)")
    except ImportError:
        print("llama.cpp not installed (pip install 'pluralign[llamacpp]'): no anchor, absolute figures only")

    for name, value in results.items():
        key = "score" if "score" in name else "gen"
        ratio = f"  x{value / anchor[key]:.2f} vs llama.cpp" if key in anchor else ""
        print(f"{name:32s} {value:8.1f}{ratio}")


if __name__ == "__main__":
    main()
