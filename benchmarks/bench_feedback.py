"""Speed of CAI feedback on the default model (SmolLM2-135M-Instruct), CPU.

1. AI labelling: pairs/s of :class:`pluralign.feedback.AIFeedback` (both letters read from one forward pass,
   both option orders on top of one pass over their shared stem, contextual calibration; fp32, and bf16 where
   the CPU has native bf16: ``avx512_bf16``/AMX) against the anchor, a naive labeller computing the same labels
   as a user would with the model alone: for each question and each order, the summed log-prob of " (A" and of
   " (B" after the whole question (``score``, one question at a time), the same content-free calibration and
   the same order average. Both timers start from a labeller with nothing cached (calibration included). The
   labels are checked to agree (same preferred response, |p_a difference|) before the ratio is printed.
   A second, informal anchor generates the answer and parses "(A)"/"(B)" from the text (sequential and
   batched); it is often undecided (the same letter in both orders), so its row gives speed and its undecided
   share, not agreement. One row per number of few-shot examples (0, and the paper's few-shot setting). The
   pairs are distinct: HarmfulVsEthical's first human turns and first replies.
   Then long conversations (the multi-turn conversations of ``HarmfulVsEthical.jsonl`` with two short
   responses): the shared-stem pass against scoring the two orders as whole questions.
2. SL-CAI: revisions/s of ``revise`` (initial answer + critique + revision, short outputs).

Usage: python benchmarks/bench_feedback.py [--pairs N] [--naive-pairs N] [--fewshot 0,2,4] [--prompts N]
Prints pairs/s and the speed-up ratio against the anchor (target >= 5x against the naive scorer).
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
ANSWER = re.compile(r"\(?\s*([AB])\s*\)")


def _pair(pair_id: str, prompt, a, b):
    from pluralign.records import ResponsePair

    return ResponsePair(id=pair_id, prompt=prompt, response_a=a, response_b=b)


def build_pairs(n: int):
    """``n`` distinct short pairs: the first human turn of each HarmfulVsEthical conversation with its assistant's
    first reply and the next conversation's (real text lengths, read at run time); without ../shared, the
    package's solved examples, repeated."""
    from pluralign.feedback.evaluate import question_parts, read_items
    from pluralign.feedback.fewshot import load_choice_examples

    path = SHARED_CAI / "HarmfulVsEthical.jsonl"
    if path.is_file():
        turns = [re.split(r"\n\n(?:Human|Assistant): ", "\n\n" + question_parts(item.question)[1])[1:3]
                 for item in read_items(path, None)]
        turns = [t for t in turns if len(t) == 2]
        return [_pair(str(i), turns[i % len(turns)][0], turns[i % len(turns)][1], turns[(i + 1) % len(turns)][1])
                for i in range(n)]
    examples = load_choice_examples()
    return [_pair(str(i), ex.prompt, ex.better if i % 2 else ex.worse, ex.worse if i % 2 else ex.better)
            for i, ex in ((i, examples[i % len(examples)]) for i in range(n))]


def naive_labels(lm, labeller, pairs, batched: bool) -> list[float]:
    """Generate the answer for both orders and parse the letter; 1, 0 or 0.5 per pair.

    Each question is followed by the answer prefix " (" that ours reads the letter after: SmolLM2 often ends its
    turn right after "The answer is:", which would leave nothing to parse (and cost nothing to generate)."""
    from pluralign.feedback.ai_preference import conversation_text, pick_principles

    cfg = labeller.config
    principles = pick_principles(len(pairs), labeller.constitution, cfg.principles, cfg.seed)
    questions = []
    for pair, ps in zip(pairs, principles):
        conv, a, b = conversation_text(pair.prompt), pair.response_a, pair.response_b
        questions += [labeller.question(conv, ps[0], a, b) + " (", labeller.question(conv, ps[0], b, a) + " ("]
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


def naive_scored_labels(lm, labeller, pairs, which) -> list[float]:
    """The same soft labels as ``labeller`` gives ``pairs[i]`` for i in ``which`` (raw-text questions, the same
    sampled principle), one whole question at a time through ``score``: P(A) over {" (A", " (B"} per order,
    calibrated by the content-free question, orders averaged."""
    import numpy as np

    from pluralign.feedback.ai_preference import CONTENT_FREE, conversation_text, pick_principles
    from pluralign.feedback.choice import calibrate, order_average

    def p_a(question) -> float:
        a, b = lm.score([question, question], [" (A", " (B"])
        return float(1.0 / (1.0 + np.exp(b.logprob - a.logprob)))

    cfg = labeller.config
    bias: dict[str, float] = {}
    out = []
    chosen = pick_principles(len(pairs), labeller.constitution, cfg.principles, cfg.seed)
    for i in which:
        pair, principle = pairs[i], chosen[i][0]
        conv, a, b = conversation_text(pair.prompt), pair.response_a, pair.response_b
        if principle.id not in bias:
            bias[principle.id] = p_a(labeller.question(CONTENT_FREE, principle, CONTENT_FREE, CONTENT_FREE))
        p_ab = calibrate(p_a(labeller.question(conv, principle, a, b)), bias[principle.id])
        p_ba = calibrate(p_a(labeller.question(conv, principle, b, a)), bias[principle.id])
        out.append(float(order_average(p_ab, p_ba)))
    return out


def long_conversation_pairs(n: int):
    """Multi-turn conversations from HarmfulVsEthical.jsonl with two short responses (read at run time)."""
    from pluralign.feedback.evaluate import question_parts, read_items

    path = SHARED_CAI / "HarmfulVsEthical.jsonl"
    if not path.is_file():
        return []
    convs = [question_parts(item.question)[1] for item in read_items(path, n)]
    return [_pair(str(i), c, "I can't help with that.", "Sure, here is how to do it.") for i, c in enumerate(convs)]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def fresh(lm, cons, config, fewshot_file=None):
    """A labeller with nothing cached: its calibration runs inside the timer, as it does for a user."""
    from pluralign.feedback import AIFeedback
    from pluralign.feedback.fewshot import load_choice_examples

    return AIFeedback(lm, cons, config, examples=load_choice_examples(fewshot_file))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=128, help="pairs our labeller labels per setting")
    ap.add_argument("--naive-pairs", type=int, default=24, help="of those, how many (evenly spread) the naive one "
                    "labels: its cost per pair does not depend on how many it is given")
    ap.add_argument("--fewshot", default="0,2,4", help="solved examples in front of each question, per setting")
    ap.add_argument("--fewshot-file", default=None, help="choice examples {prompt, corrects, incorrects} (e.g. "
                    "Anthropic's RLMadisonFewShotPrompts.json); default: the package's own")
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
    which = list(range(0, len(pairs), max(1, len(pairs) // args.naive_pairs)))[: args.naive_pairs]
    sample = [pairs[i] for i in which]
    from pluralign.lm.hf import cpu_has_native_bf16

    fresh(lm, cons, LabelConfig()).label(pairs[:2])  # warm-up: weights in memory, kernels chosen
    bf16 = cpu_has_native_bf16() or torch.cuda.is_available()
    print(f"model: {lm.name}  pairs: {len(pairs)} (anchors: {len(sample)})  principles: {len(cons.principles)} "
          f"(one sampled per pair)  threads: {os.environ['OMP_NUM_THREADS']}  native bf16: {bf16}")
    print("few-shot | ours fp32 | ours bf16 | naive scorer (anchor) | fp32 vs anchor | bf16 vs anchor | "
          "agree (pick, max |dp|) | generate+parse seq / batched (undecided)")
    for k in [int(x) for x in args.fewshot.split(",")]:
        config = LabelConfig(fewshot=k, principles="sample")
        labelled, t_ours = timed(fresh(lm, cons, config, args.fewshot_file).label, pairs)
        t_bf16 = float("nan")
        if bf16:
            _, t_bf16 = timed(fresh(lm, cons, config.model_copy(update={"low_precision": True}),
                                    args.fewshot_file).label, pairs)
        anchor = fresh(lm, cons, config, args.fewshot_file)
        naive, t_naive = timed(naive_scored_labels, lm, anchor, pairs, which)
        gen_seq, t_seq = timed(naive_labels, lm, anchor, sample, batched=False)
        _, t_bat = timed(naive_labels, lm, anchor, sample, batched=True)
        by_id = {c.id: c.p_a for c in labelled}
        ours = [by_id[p.id] for p in sample]
        same = sum((o > 0.5) == (n > 0.5) for o, n in zip(ours, naive))
        gap = max(abs(o - n) for o, n in zip(ours, naive))
        rate = {"fp32": len(pairs) / t_ours, "bf16": len(pairs) / t_bf16, "naive": len(sample) / t_naive,
                "seq": len(sample) / t_seq, "bat": len(sample) / t_bat}
        agree = same == len(sample) and gap < 1e-3
        ratio = (f"{rate['fp32'] / rate['naive']:13.1f}x | {rate['bf16'] / rate['naive']:13.1f}x" if agree else
                 f"{'DISAGREE':>14} | {'':>14}")
        print(f"{k:8d} | {rate['fp32']:9.2f} | {rate['bf16']:9.2f} | {rate['naive']:21.2f} | {ratio} | "
              f"{same}/{len(sample)}, {gap:.1e}       | {rate['seq']:.2f} / {rate['bat']:.2f} "
              f"({sum(v == 0.5 for v in gen_seq) / len(sample):.0%})", flush=True)
    print("pairs/s, calibration included on every side; bf16 only where the CPU has native bf16 (else nan)")

    long_pairs = long_conversation_pairs(args.naive_pairs)
    if long_pairs:
        one = cons.model_copy(update={"principles": cons.principles[:1]})  # same question for every pair
        shared, shared_bf16 = AIFeedback(lm, one, LabelConfig()), AIFeedback(lm, one, LabelConfig(low_precision=True))
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
