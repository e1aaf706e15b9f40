"""Speed of CAI feedback on the default model (SmolLM2-135M-Instruct), CPU.

1. AI labelling: pairs/s of :class:`pluralign.feedback.AIFeedback` (both letters read from one forward pass,
   both option orders on top of one pass over their shared stem, stems reusing the cache of what they share
   with the stem before them, contextual calibration; fp32 and bf16) against the anchor, a naive labeller that
   generates the answer and parses "(A)"/"(B)" from the text: the same questions and both orders, one question at
   a time (sequential), and also through the backend's batched ``generate`` (batched). One row per number of
   few-shot examples in front of each question (0, and the paper's few-shot setting). The pairs are distinct:
   HarmfulVsEthical's first human turns and first replies. Also shown: tokens run per pair, and how often the
   labellers agree on the preferred response.
   Then long conversations (the multi-turn conversations of ``HarmfulVsEthical.jsonl`` with two short
   responses): the shared-stem pass against scoring the two orders as whole questions.
2. SL-CAI: revisions/s of ``revise`` (initial answer + critique + revision, short outputs).

Usage: python benchmarks/bench_feedback.py [--pairs N] [--naive-pairs N] [--fewshot 0,2,4] [--prompts N]
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
ANSWER = re.compile(r"\(?\s*([AB])\s*\)")


def build_pairs(n: int):
    """``n`` distinct short pairs: the first human turn of each HarmfulVsEthical conversation with its assistant's
    first reply and the next conversation's (real text lengths, read at run time); without ../shared, the
    package's solved examples, repeated."""
    from pluralign.feedback.evaluate import question_parts, read_items
    from pluralign.feedback.fewshot import load_choice_examples
    from pluralign.feedback.pairs import Pair

    path = SHARED_CAI / "HarmfulVsEthical.jsonl"
    if path.is_file():
        turns = [re.split(r"\n\n(?:Human|Assistant): ", "\n\n" + question_parts(item.question)[1])[1:3]
                 for item in read_items(path, None)]
        turns = [t for t in turns if len(t) == 2]
        return [Pair(str(i), turns[i % len(turns)][0], turns[i % len(turns)][1], turns[(i + 1) % len(turns)][1])
                for i in range(n)]
    examples = load_choice_examples()
    return [Pair(str(i), ex.prompt, ex.better if i % 2 else ex.worse, ex.worse if i % 2 else ex.better)
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


def work_per_pair(lm, labeller, pairs) -> tuple[float, float]:
    """Mean tokens each labeller runs through the model per pair. Ours: each stem (few-shot block + conversation
    + principle) minus what it shares with the stem before it in token order, plus both option blocks; naive: both
    whole questions + 8 generated tokens each."""
    from pluralign.feedback.ai_preference import (choice_instruction, choice_options, choice_stem, conversation_text,
                                                  fewshot_block, pick_principles)
    from pluralign.feedback.choice import _common_prefix_length

    encode = lambda text: lm.tokenizer(text)["input_ids"]  # noqa: E731
    stems, ends = [], 0
    principles = pick_principles(len(pairs), labeller.constitution, "sample", labeller.config.seed)
    for pair, ps in zip(pairs, principles):
        conv, instruction = conversation_text(pair.prompt), choice_instruction(ps[0])
        stems.append(encode(fewshot_block(labeller.examples, instruction) + choice_stem(conv, instruction)))
        ends += len(encode(choice_options(pair.response_a, pair.response_b) + " ("))
        ends += len(encode(choice_options(pair.response_b, pair.response_a) + " ("))
    stems.sort()
    ours = sum(len(s) - (_common_prefix_length([s, prev]) if k else 0)
               for k, (s, prev) in enumerate(zip(stems, [[]] + stems[:-1]))) + ends
    naive = 2 * sum(len(s) for s in stems) + ends + 2 * 8 * len(pairs)
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


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def ready(lm, cons, config, fewshot_file=None):
    from pluralign.feedback import AIFeedback
    from pluralign.feedback.fewshot import load_choice_examples

    labeller = AIFeedback(lm, cons, config, examples=load_choice_examples(fewshot_file))
    for principle in cons.principles:  # calibration is cached per principle: measure steady state
        labeller.content_free_p(principle)
    return labeller


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
    sample = pairs[:: max(1, len(pairs) // args.naive_pairs)][: args.naive_pairs]
    ready(lm, cons, LabelConfig()).label(pairs[:2])  # warm-up
    print(f"model: {lm.name}  pairs: {len(pairs)} (naive: {len(sample)})  principles: {len(cons.principles)} "
          f"(one sampled per pair)  threads: {os.environ['OMP_NUM_THREADS']}")
    print("few-shot | ours fp32 | ours bf16 | naive sequential (anchor) | naive batched | bf16 vs anchor | "
          "fp32 vs anchor | bf16 vs batched | tokens/pair ours vs naive")
    settings = [int(x) for x in args.fewshot.split(",")]
    first = settings[0]
    for k in settings:  # fp32 only for the first: it is the bf16 row that compares like with like
        fast = ready(lm, cons, LabelConfig(fewshot=k, low_precision=True), args.fewshot_file)
        labelled, t_ours = (None, float("nan"))
        if k == first:
            labelled, t_ours = timed(ready(lm, cons, LabelConfig(fewshot=k), args.fewshot_file).label, pairs)
        labelled_bf16, t_bf16 = timed(fast.label, pairs)
        naive_seq, t_seq = timed(naive_labels, lm, fast, sample, batched=False)
        _, t_bat = timed(naive_labels, lm, fast, sample, batched=True)
        rate = {name: n / t for name, n, t in (("fp32", len(pairs), t_ours), ("bf16", len(pairs), t_bf16),
                                               ("seq", len(sample), t_seq), ("bat", len(sample), t_bat))}
        ours_tokens, naive_tokens = work_per_pair(lm, fast, pairs)
        print(f"{k:8d} | {rate['fp32']:9.2f} | {rate['bf16']:9.2f} | {rate['seq']:25.2f} | {rate['bat']:13.2f} | "
              f"{rate['bf16'] / rate['seq']:13.1f}x | {rate['fp32'] / rate['seq']:13.1f}x | "
              f"{rate['bf16'] / rate['bat']:14.1f}x | {ours_tokens:.0f} vs {naive_tokens:.0f}", flush=True)
        if k == first:
            by_id = {c.id: c for c in labelled}
            ours = [1.0 if by_id[p.id].p_a > 0.5 else 0.0 for p in sample]
            same = sum((a.p_a > 0.5) == (b.p_a > 0.5) for a, b in zip(labelled, labelled_bf16)) / len(pairs)
            print(f"         bf16 picks the same response as fp32 on {same:.0%} of pairs; fp32 agrees with the naive "
                  f"labeller on {sum(o == n for o, n in zip(ours, naive_seq)) / len(sample):.0%} (naive undecided "
                  f"on {sum(n == 0.5 for n in naive_seq) / len(sample):.0%})")
    print("pairs/s; ours runs each stem only past what it shares with the stem before it (the few-shot block of a "
          "principle is computed once per run), both option orders on one cache of the stem")

    long_pairs = long_conversation_pairs(args.naive_pairs)
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
