"""PPO on SmolLM2-135M-Instruct with LoRA on this CPU: does the reward rise while the KL stays under its target?

Prompts: by default the first human turn of each conversation in ``../shared/data/cai/HarmfulVsEthical.jsonl``
(red-team questions, read at run time), or the prompts of any file ``--prompts`` names (pluralign records or TRL
rows); the first 16 distinct prompts are held out. The reward is any scorer spec (``--reward``): a reward-model
directory from ``pluralign train rm``, or by default a neural scorer that needs no training -- the similarity of
the response to a short description of a careful, harmless answer (``similar:...``).

Anchor (issue 4, point 6): over a few dozen PPO steps the reward rises while the KL to the reference stays under
the configured ``kl_target``. Printed: seconds per step, response tokens per second of training, the reward of
the first and last five steps, the held-out reward of the policy before and after (same sampling seed), the
largest KL seen, and the ratios reward_last5/reward_first5 and kl_max/kl_target (the anchor wants > 1 and < 1).

    python benchmarks/bench_ppo.py                       # 24 steps, ~20 minutes on a busy 2-core CPU
    python benchmarks/bench_train.py learn --stages rm --workdir /tmp/bt   # a reward model on polite-vs-rude pairs
    python benchmarks/bench_ppo.py --reward /tmp/bt/rm/model --prompts /tmp/bt/train.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cai" / "HarmfulVsEthical.jsonl"
DEFAULT_REWARD = "similar:I'm sorry, but I can't help with that, because it could hurt someone."


def human_questions(path: Path) -> list[str]:
    """The first human turn of each conversation, de-duplicated, in file order."""
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.search(r"Human: (.*?)\n\nAssistant:", json.loads(line)["prompt"], re.S)
        if match and len(match.group(1)) < 300:
            seen.setdefault(match.group(1).strip(), None)
    return list(seen)


def held_out_reward(model_dir, prompts, scorer, max_new_tokens: int, seed: int) -> tuple[float, list[str]]:
    """(mean reward, responses): one sampled response per held-out prompt (temperature 1, fixed seed)."""
    from pluralign.lm.hf import HFBackend

    lm = HFBackend(str(model_dir), device="cpu", generate_dtype="float32")
    responses = [r[0] for r in lm.generate(prompts, n=1, temperature=1.0, max_new_tokens=max_new_tokens, seed=seed)]
    return statistics.mean(scorer(prompts, responses)), responses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reward", default=DEFAULT_REWARD)
    parser.add_argument("--gold", default=None)
    parser.add_argument("--prompts", default=None, help="file of prompts (default: the shared red-team questions)")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rollout", type=int, default=8)
    parser.add_argument("--minibatch", type=int, default=4)
    parser.add_argument("--ppo-epochs", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--max-prompt-tokens", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--beta", type=float, default=0.2)
    parser.add_argument("--kl-target", type=float, default=6.0)
    parser.add_argument("--bf16-autocast", action="store_true")
    parser.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    args = parser.parse_args()
    if args.prompts is None and not DATA.is_file():
        sys.exit(f"needs the shared data at {DATA} (or --prompts FILE)")

    from pluralign.lm.cache import resolve_model_path
    from pluralign.train.config import load_config
    from pluralign.train.data import load_prompts
    from pluralign.train.ppo import PPOConfig, train_ppo
    from pluralign.train.scorers import load_scorer

    out = Path(args.out or tempfile.mkdtemp(prefix="bench_ppo_"))
    questions = human_questions(DATA) if args.prompts is None else list(dict.fromkeys(
        p if isinstance(p, str) else p[-1]["content"] for p in load_prompts(args.prompts)))
    train_prompts, eval_prompts = questions[16:], questions[:16]
    out.mkdir(parents=True, exist_ok=True)
    (out / "prompts.jsonl").write_text("".join(json.dumps({"prompt": [{"role": "user", "content": q}]}) + "\n"
                                               for q in train_prompts))
    cfg = load_config(None, PPOConfig, dict(
        model="default", data=str(out / "prompts.jsonl"), output_dir=str(out / "run"), reward=args.reward,
        gold=args.gold, steps=args.steps, rollout_size=args.rollout, batch_size=args.minibatch,
        ppo_epochs=args.ppo_epochs, max_new_tokens=args.max_new_tokens, lr=args.lr, beta=args.beta,
        kl_target=args.kl_target, kl_horizon=100, lora=True, lora_r=16, save_every=8, max_length=args.max_prompt_tokens,
        bf16_autocast=args.bf16_autocast))
    scorer = load_scorer(args.reward)
    eval_messages = [[{"role": "user", "content": q}] for q in eval_prompts]
    base_dir, _ = resolve_model_path("default")
    before, before_texts = held_out_reward(base_dir, eval_messages, scorer, args.max_new_tokens, seed=1)

    result = train_ppo(cfg, scorer=scorer)
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    after, after_texts = held_out_reward(result["model_dir"], eval_messages, scorer, args.max_new_tokens, seed=1)

    tokens = sum(r["response_length"] for r in rows) * args.rollout
    kl_max = max(r["kl"] for r in rows)
    first5 = statistics.mean(r["reward"] for r in rows[:5])
    last5 = statistics.mean(r["reward"] for r in rows[-5:])
    figures = {
        "steps": len(rows), "reward": args.reward, "seconds_per_step": result["seconds"] / max(1, len(rows)),
        "response_tokens_per_s": tokens / result["seconds"], "reward_first5": first5, "reward_last5": last5,
        "held_out_reward_before": before, "held_out_reward_after": after, "kl_last": rows[-1]["kl"],
        "kl_max": kl_max, "kl_target": args.kl_target, "beta_last": rows[-1]["beta"],
        "warnings": result["warnings"], "run_dir": str(out / "run"),
    }
    print(json.dumps(figures, indent=2))
    for question, old, new in list(zip(eval_prompts, before_texts, after_texts))[:4]:
        print(f"Q: {question[:70]!r}\n  before: {old[:90]!r}\n  after:  {new[:90]!r}")
    print(f"reward_last5 / reward_first5 = {last5 / first5:.2f}   (anchor: > 1)" if first5 > 0 else
          f"reward_last5 - reward_first5 = {last5 - first5:+.3f}   (anchor: > 0)")
    print(f"held-out reward after - before = {after - before:+.3f}   (anchor: > 0)")
    print(f"kl_max / kl_target = {kl_max / args.kl_target:.2f}   (anchor: < 1)")


if __name__ == "__main__":
    main()
