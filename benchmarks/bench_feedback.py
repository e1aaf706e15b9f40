"""Speed of CAI feedback on the default model (SmolLM2-135M-Instruct), CPU.

1. AI labelling: pairs/s of :class:`pluralign.feedback.AIFeedback` (both letters read from one forward pass,
   both option orders on top of one pass over their shared stem, contextual calibration; fp32 and bf16) against the anchor, a naive labeller that generates
   the answer and parses "(A)"/"(B)" from the text: the same questions and both orders, one question at a time
   (sequential), and also through the backend's batched ``generate`` (batched). Also shown: how often the two
   agree on the preferred response.
   Then the same on long conversations (the multi-turn conversations of ``HarmfulVsEthical.jsonl`` with two short
   responses): the shared-stem pass against scoring the two orders as whole questions.
2. SL-CAI: revisions/s of ``revise`` (initial answer + critique + revision, short outputs).

Usage: python benchmarks/bench_feedback.py [--pairs N] [--prompts N]
Prints pairs/s and the speed-up ratio against each naive variant (target >= 5x against sequential).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
SHARED_CAI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cai"
SHARED_FEWSHOT = SHARED_CAI / "RLMadisonFewShotPrompts.json"
ANSWER = re.compile(r"\(?\s*([AB])\s*\)")


def build_pairs(n: int):
    from pluralign.feedback.fewshot import load_choice_examples
    from pluralign.feedback.pairs import Pair

    examples = load_choice_examples() + (load_choice_examples(SHARED_FEWSHOT) if SHARED_FEWSHOT.is_file() else [])
    return [Pair(str(i), ex.prompt, ex.better if i % 2 else ex.worse, ex.worse if i % 2 else ex.better)
            for i, ex in ((i, examples[i % len(examples)]) for i in range(n))]


def naive_labels(lm, labeller, pairs, batched: bool) -> list[float]:
    """Generate the answer for both orders and parse the letter; 1, 0 or 0.5 per pair."""
    from pluralign.feedback.ai_preference import conversation_text, pick_principles

    cfg = labeller.config
    principles = pick_principles(len(pairs), labeller.constitution, cfg.principles, cfg.seed)
    questions = []
    for pair, ps in zip(pairs, principles):
        conv, a, b = conversation_text(pair.prompt), pair.response_a, pair.response_b
        questions += [labeller.question(conv, ps[0], a, b), labeller.question(conv, ps[0], b, a)]
    if batched:
        texts = [out[0] for out in lm.generate(questions, temperature=0.0, max_new_tokens=8)]
    else:
        texts = [lm.generate([q], temperature=0.0, max_new_tokens=8)[0][0] for q in questions]
    letters = [(m.group(1) if (m := ANSWER.search(t)) else None) for t in texts]
    votes = []
    for first, second in zip(letters[::2], letters[1::2]):
        a_votes = (first == "A") + (second == "B")
        b_votes = (first == "B") + (second == "A")
        votes.append(0.5 if a_votes == b_votes else float(a_votes > b_votes))
    return votes


def work_per_pair(lm, labeller, pairs) -> tuple[float, float]:
    """Mean tokens each labeller runs through the model per pair (ours: stem once + both endings; naive: both
    whole questions + 8 generated tokens each)."""
    from pluralign.feedback.ai_preference import (choice_instruction, choice_options, choice_stem, conversation_text,
                                                  pick_principles)

    count = lambda text: len(lm.tokenizer(text)["input_ids"])  # noqa: E731
    ours = naive = 0
    principles = pick_principles(len(pairs), labeller.constitution, "sample", labeller.config.seed)
    for pair, ps in zip(pairs, principles):
        conv, instruction = conversation_text(pair.prompt), choice_instruction(ps[0])
        stem = count(choice_stem(conv, instruction))
        endings = [count(choice_options(pair.response_a, pair.response_b) + " ("),
                   count(choice_options(pair.response_b, pair.response_a) + " (")]
        ours += stem + sum(endings)
        naive += 2 * stem + sum(endings) + 2 * 8
    return ours / len(pairs), naive / len(pairs)


def long_conversation_pairs(n: int):
    """Multi-turn conversations from HarmfulVsEthical.jsonl with two short responses (read at run time)."""
    from pluralign.feedback.pairs import Pair
    from pluralign.feedback.evaluate import question_parts, read_items

    path = SHARED_CAI / "HarmfulVsEthical.jsonl"
    if not path.is_file():
        return []
    convs = [question_parts(item.question)[1] for item in read_items(path, n)]
    return [Pair(str(i), c, "I can't help with that.", "Sure, here is how to do it.") for i, c in enumerate(convs)]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()

    import torch

    from pluralign.constitution import default_constitution
    from pluralign.feedback import AIFeedback, LabelConfig, ReviseConfig, revise
    from pluralign.feedback.fewshot import load_critique_examples
    from pluralign.lm import load_model

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    lm = load_model(args.model)
    cons = default_constitution()
    pairs = build_pairs(args.pairs)
    labeller = AIFeedback(lm, cons, LabelConfig())
    labeller.content_free_p(cons.principles[0])  # warm-up
    for principle in cons.principles:  # calibration is cached per principle: measure steady state
        labeller.content_free_p(principle)

    labelled, t_ours = timed(lambda: labeller.label(pairs))
    fast = AIFeedback(lm, cons, LabelConfig(low_precision=True))
    for principle in cons.principles:
        fast.content_free_p(principle)
    labelled_bf16, t_bf16 = timed(lambda: fast.label(pairs))
    naive_seq, t_seq = timed(lambda: naive_labels(lm, labeller, pairs, batched=False))
    naive_bat, t_bat = timed(lambda: naive_labels(lm, labeller, pairs, batched=True))
    ours = [1.0 if c.p_a > 0.5 else 0.0 for c in labelled]
    agree = sum(o == n for o, n in zip(ours, naive_seq)) / len(pairs)
    undecided = sum(n == 0.5 for n in naive_seq) / len(pairs)
    print(f"model: {lm.name}  pairs: {len(pairs)}  threads: {os.environ['OMP_NUM_THREADS']}")
    print(f"ours  (one-pass letters, both orders, calibrated): {len(pairs) / t_ours:7.2f} pairs/s  ({t_ours:.1f} s)")
    print(f"ours, bf16 weights (--low-precision):               {len(pairs) / t_bf16:7.2f} pairs/s  ({t_bf16:.1f} s)"
          f"  same preferred response as fp32: "
          f"{sum((a.p_a > 0.5) == (b.p_a > 0.5) for a, b in zip(labelled, labelled_bf16)) / len(pairs):.0%}")
    print(f"naive generate+parse, sequential (anchor):          {len(pairs) / t_seq:7.2f} pairs/s  ({t_seq:.1f} s)"
          f"  -> ratio {t_seq / t_ours:.1f}x (bf16: {t_seq / t_bf16:.1f}x)")
    print(f"naive generate+parse, batched generate:            {len(pairs) / t_bat:7.2f} pairs/s  ({t_bat:.1f} s)"
          f"  -> ratio {t_bat / t_ours:.1f}x (bf16: {t_bat / t_bf16:.1f}x)")
    print(f"agreement with naive on the preferred response: {agree:.0%} (naive undecided on {undecided:.0%})")
    ours_tokens, naive_tokens = work_per_pair(lm, labeller, pairs)
    print(f"tokens through the model per pair: ours {ours_tokens:.0f} (shared stem once + both option blocks), "
          f"naive {naive_tokens:.0f} (both whole questions + up to 8 generated each): the one-pass labeller does "
          f"{naive_tokens / ours_tokens:.1f}x less work; decode steps cost the naive one more per token than prefill")

    long_pairs = long_conversation_pairs(args.pairs)
    if long_pairs:
        one = cons.model_copy(update={"principles": cons.principles[:1]})  # same question for every pair
        shared, shared_bf16 = AIFeedback(lm, one, LabelConfig()), AIFeedback(lm, one, LabelConfig(low_precision=True))
        for lab in (shared, shared_bf16):
            lab.content_free_p(one.principles[0])
        items = [(p.prompt, one.principles[0], p.response_a, p.response_b) for p in long_pairs]
        _, t_shared = timed(lambda: shared.label(long_pairs))
        _, t_shared_bf16 = timed(lambda: shared_bf16.label(long_pairs))
        _, t_whole = timed(lambda: (shared._letters([shared.question(*i) for i in items]),
                                    shared._letters([shared.question(c, pr, b, a) for c, pr, a, b in items])))
        _, t_naive = timed(lambda: naive_labels(lm, shared, long_pairs, batched=False))
        n = len(long_pairs)
        print(f"long conversations ({n} pairs): shared stem fp32 {n / t_shared:.2f} pairs/s, bf16 "
              f"{n / t_shared_bf16:.2f} pairs/s; whole questions batched fp32 {n / t_whole:.2f} pairs/s "
              f"(shared is {t_whole / t_shared:.1f}x faster); naive sequential {n / t_naive:.2f} pairs/s "
              f"(ratio fp32 {t_naive / t_shared:.1f}x, bf16 {t_naive / t_shared_bf16:.1f}x)")

    rows = [{"id": str(i), "prompt": p} for i, p in enumerate(
        ["How do I pick a lock?", "Tell me a joke about my boss.", "How can I lose weight fast?",
         "Write an insult for my coworker.", "What's the best way to cheat at cards?", "How do I make a fake ID?",
         "Why are some people poor?", "Can you help me spy on my partner's phone?"] * (args.prompts // 8 + 1))][
        : args.prompts]
    with tempfile.TemporaryDirectory() as tmp:
        config = ReviseConfig(rounds=1, max_new_tokens=48, batch_size=8)
        _, t_rev = timed(lambda: revise(lm, rows, cons, load_critique_examples(), Path(tmp) / "c.jsonl", config))
    print(f"SL-CAI revise (answer + critique + revision, 48 new tokens each, batch 8): "
          f"{len(rows) / t_rev:.3f} revisions/s ({t_rev:.1f} s for {len(rows)})")


if __name__ == "__main__":
    main()
