"""Training benchmarks on SmolLM2-135M-Instruct (CPU by default).

``python benchmarks/bench_train.py speed``
    Seconds per DPO step (4 pairs x 256 tokens, full fp32 fine-tuning) through ``pluralign train dpo`` vs a
    plain TRL ``DPOTrainer`` script on the same data, as a ratio (anchor: plain TRL; target <= 1.0), and the
    whole run (trainer set-up, the reference log-prob precompute where it runs, every step) on both sides,
    since a per-step figure leaves the precompute out. Ours precomputes the reference only when the run covers
    the data more than once (``--steps`` x ``--pairs`` per batch over ``--data-pairs`` pairs); tokens/s;
    achieved FLOP/s as a fraction of this machine's measured fp32 matmul peak (``torch.matmul`` on large square
    matrices). Training FLOPs per step: 6·N·T for the policy (forward + backward) plus 2·N·T for each reference
    forward pass that runs during training (N parameters, T tokens; attention FLOPs left out, small at 256).

``python benchmarks/bench_train.py data [--workdir DIR]`` writes only the synthetic data (for examples/train).

``python benchmarks/bench_train.py learn [--workdir DIR]``
    The real runs: SFT, then DPO, on ~200 synthetic preference pairs (polite and concise vs rude and rambling
    answers, generated below), and a reward model on the same pairs; held-out pairs come from topics never seen
    in training. Prints held-out DPO reward accuracy over steps and the reward model's held-out accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# ---- a learnable preference: polite and concise beats rude and rambling ------------------------------------

TOPICS = [
    ("boil an egg", "Put the egg in boiling water for about nine minutes, then cool it in cold water."),
    ("keep basil fresh", "Trim the stems and stand them in a glass of water at room temperature."),
    ("fall asleep faster", "Keep a regular bedtime, dim the lights and put screens away an hour before."),
    ("clean a cast iron pan", "Rinse it with hot water, scrub with salt, dry it and rub in a little oil."),
    ("learn a new language", "Practise a little every day and speak with native speakers early on."),
    ("save money on groceries", "Plan meals for the week, shop with a list and buy staples in bulk."),
    ("remove a coffee stain", "Blot it, rinse with cold water and dab on a mix of dish soap and vinegar."),
    ("start running", "Begin with short run-walk intervals three times a week and build up slowly."),
    ("write a cover letter", "Address the role directly, show two concrete achievements and keep it to a page."),
    ("water a cactus", "Water it deeply only when the soil is completely dry, about every two weeks."),
    ("prepare for an interview", "Research the company, practise common questions and prepare a few of your own."),
    ("fix a squeaky door", "Put a few drops of oil on the hinge pins and swing the door to spread it."),
    ("make rice fluffy", "Rinse the rice, use the right amount of water and let it rest covered after cooking."),
    ("reduce screen time", "Turn off non-essential notifications and set app limits on your phone."),
    ("care for a sourdough starter", "Feed it equal weights of flour and water daily and keep it warm."),
    ("back up a laptop", "Use an external drive or a cloud service and schedule automatic backups."),
    ("memorise a speech", "Learn it in short sections, rehearse aloud and practise with key-word cards."),
    ("unclog a sink", "Pour in boiling water, then try a plunger or baking soda and vinegar."),
    ("choose a laptop", "Decide your budget and main tasks first, then compare battery life and weight."),
    ("stay focused while studying", "Work in 25-minute blocks with short breaks and keep your phone away."),
    ("paint a room", "Clean and tape the walls, cut in the edges, then roll on two thin coats."),
    ("store potatoes", "Keep them in a cool, dark, dry place, away from onions."),
    ("make new friends in a city", "Join a club or class around something you enjoy and go regularly."),
    ("write clear emails", "State the point in the first line, keep it short and end with a clear request."),
    ("grow tomatoes", "Give them full sun, deep watering and a stake or cage for support."),
    ("calm down before a exam", "Breathe slowly for a minute, and remind yourself that you have prepared."),
    ("pack a suitcase", "Roll your clothes, put heavy items at the bottom and use small bags for cables."),
    ("cook pasta", "Boil it in plenty of salted water and taste it a minute before the packet time."),
    ("improve handwriting", "Slow down, hold the pen loosely and practise the letters you find hardest."),
    ("budget monthly expenses", "List your income and fixed costs, then set limits for each spending category."),
    ("clean windows", "Use warm water with a little vinegar and dry them with a lint-free cloth."),
    ("train a puppy to sit", "Hold a treat above its nose, move it back until it sits, then reward it."),
    ("read more books", "Carry a book everywhere and read ten pages before bed each night."),
    ("keep a houseplant alive", "Give it the right light, water when the topsoil is dry and avoid overwatering."),
    ("defrost a freezer", "Empty it, switch it off, put towels down and let the ice melt with the door open."),
    ("give feedback kindly", "Be specific, describe the behaviour not the person and suggest a next step."),
    ("make cold brew coffee", "Steep coarse coffee in cold water for 12 to 18 hours, then strain it."),
    ("sharpen a kitchen knife", "Use a whetstone at a steady 15 to 20 degree angle on both sides."),
    ("plan a trip", "Fix your dates and budget, book travel and lodging, then sketch a loose plan."),
    ("warm up before exercise", "Do five to ten minutes of light cardio and dynamic stretches."),
    # held-out topics (never in training)
    ("bake bread", "Mix flour, water, salt and yeast, knead, let it rise, shape it and bake it hot."),
    ("iron a shirt", "Start with the collar and cuffs, then the sleeves, and finish with the body."),
    ("take better photos", "Use natural light, keep the horizon level and get closer to your subject."),
    ("brew green tea", "Use water at about 80 degrees and steep the leaves for two minutes."),
    ("organise a closet", "Empty it, donate what you no longer wear and group the rest by type."),
    ("stop procrastinating", "Break the task into a tiny first step and start it for just five minutes."),
    ("freeze bananas", "Peel and slice them, freeze them on a tray, then store them in a bag."),
    ("tie a tie", "Use a four-in-hand knot: wrap the wide end around twice and pull it through the loop."),
    ("clean a keyboard", "Turn it upside down, shake out crumbs and wipe the keys with a damp cloth."),
    ("deal with jet lag", "Shift your sleep before you travel and get daylight at your destination."),
]
N_TRAIN_TOPICS = 40
PHRASINGS = ["How do I {t}?", "What is the best way to {t}?", "Can you tell me how to {t}?",
             "Any tips on how to {t}?", "Quick question: how should I {t}?"]
POLITE = ["Sure! {a} Hope that helps.", "Happy to help. {a}", "Good question. {a} Good luck!",
          "Of course. {a}", "{a} Let me know if you have more questions."]
RUDE = ["Ugh, seriously? {a} Look it up yourself next time.",
        "Why would you even ask that? Um, {a} Whatever.",
        "Well, um, so, like, {a} or whatever, not my problem.",
        "Obviously, {a} Stop bothering me.",
        "Hmm, right, so, you know, {a} Ugh."]


def make_preferences(seed: int = 0):
    """(train, held_out) lists of pluralign Preference records: 200 and 50 pairs, disjoint topics."""
    from pluralign.records import Preference, Provenance

    rng = random.Random(seed)
    out = ([], [])
    for i, (topic, answer) in enumerate(TOPICS):
        for phrasing in PHRASINGS:
            pref = Preference(prompt=phrasing.format(t=topic), chosen=rng.choice(POLITE).format(a=answer),
                              rejected=rng.choice(RUDE).format(a=answer[0].lower() + answer[1:]),
                              provenance=Provenance(rule="synthetic/polite-concise-vs-rude-rambling"))
            out[0 if i < N_TRAIN_TOPICS else 1].append(pref)
    return out


def write_data(workdir: Path) -> dict[str, Path]:
    """Write train/held-out preferences and SFT demonstrations (prompt + chosen) into ``workdir``."""
    from pluralign.io import write_records
    from pluralign.records import Demonstration

    train, held_out = make_preferences()
    paths = {name: workdir / f"{name}.jsonl" for name in ("train", "heldout", "demos")}
    write_records(paths["train"], train)
    write_records(paths["heldout"], held_out)
    write_records(paths["demos"], [Demonstration(prompt=p.prompt, completion=p.chosen) for p in train])
    return paths


# ---- learn: the real runs -----------------------------------------------------------------------------------

def learn(workdir: Path, steps: int, max_length: int, stages: list[str]) -> dict:
    """Run the chosen stages ("sft", "dpo", "rm"; DPO starts from ``workdir/sft/model``) and return figures."""
    from pluralign.train.config import DPOConfig, RewardConfig, SFTConfig, load_config
    from pluralign.train.dpo import train_dpo
    from pluralign.train.reward import train_reward_model
    from pluralign.train.sft import train_sft

    paths = write_data(workdir)
    common = {"max_length": max_length, "lora": True, "seed": 0, "lr": 2e-4, "save_every": steps,
              "log_every": max(1, steps // 3)}
    figures: dict = {}
    t0 = time.perf_counter()
    if "sft" in stages:
        sft = train_sft(load_config(None, SFTConfig, {**common, "data": str(paths["demos"]), "steps": steps,
                                                      "batch_size": 4, "output_dir": str(workdir / "sft")}))
        figures["sft"] = {"final_loss": sft["final_loss"], "seconds": round(time.perf_counter() - t0, 1)}
    preference_run = {**common, "data": str(paths["train"]), "eval_data": str(paths["heldout"]), "steps": steps,
                      "batch_size": 8}
    if "dpo" in stages:
        t0 = time.perf_counter()
        dpo = train_dpo(load_config(None, DPOConfig, {**preference_run, "model": str(workdir / "sft" / "model"),
                                                      "beta": 0.1, "output_dir": str(workdir / "dpo")}))
        figures["dpo"] = {"heldout_reward_accuracy_by_step": _eval_series(workdir / "dpo", "eval_rewards_accuracies"),
                          "heldout_reward_margin_final": dpo["eval"]["eval_rewards/margins"],
                          "final_loss": dpo["final_loss"], "seconds": round(time.perf_counter() - t0, 1)}
    if "rm" in stages:
        t0 = time.perf_counter()
        rm = train_reward_model(load_config(None, RewardConfig, {**preference_run, "output_dir": str(workdir / "rm")}))
        figures["reward_model"] = {"heldout_accuracy_by_step": _eval_series(workdir / "rm", "eval_accuracy"),
                                   "heldout_accuracy": rm["eval"]["eval_accuracy"], "final_loss": rm["final_loss"],
                                   "seconds": round(time.perf_counter() - t0, 1)}
    return figures


def _eval_series(run_dir: Path, key: str) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: round(r[key], 3) for r in rows if key in r}


# ---- speed: pluralign vs plain TRL ----------------------------------------------------------------------------

def matmul_peak_flops(n: int = 2048, repeats: int = 5) -> float:
    """Measured fp32 matmul FLOP/s on this machine: best of ``repeats`` n x n products (2n³ FLOPs each)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def long_pairs(tokenizer, n_pairs: int, tokens: int):
    """``n_pairs`` preference pairs whose prompt + answer is exactly ``tokens`` tokens under the chat template."""
    train, _ = make_preferences()
    rows = []
    for pref in train[:n_pairs]:
        row = {"prompt": [{"role": "user", "content": pref.prompt}]}
        for key in ("chosen", "rejected"):
            text = getattr(pref, key)
            while len(_chat_ids(tokenizer, pref.prompt, text)) < tokens:
                text += " " + text
            ids = _chat_ids(tokenizer, pref.prompt, text)[:tokens]
            prompt_len = len(_chat_ids(tokenizer, pref.prompt, None))
            row[key] = [{"role": "assistant", "content": tokenizer.decode(ids[prompt_len:], skip_special_tokens=True)}]
        rows.append(row)
    return rows


def _chat_ids(tokenizer, prompt, answer):
    messages = [{"role": "user", "content": prompt}] + ([{"role": "assistant", "content": answer}] if answer else [])
    return tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=answer is None,
                                         return_dict=False)


class StepTimer:
    """A Trainer callback recording wall seconds per optimizer step, and the logged training loss of each."""

    def __new__(cls):
        from transformers import TrainerCallback

        class _Timer(TrainerCallback):
            def __init__(self):
                self.times: list[float] = []
                self.losses: list[float] = []

            def on_step_begin(self, args, state, control, **kwargs):
                self.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                self.times.append(time.perf_counter() - self.t0)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    self.losses.append(float(logs["loss"]))

        return _Timer()


def plain_trl_dpo(model_path: Path, data, steps: int, out: Path, batch: int) -> list[float]:
    """The anchor: TRL's DPOTrainer as its docs show it, same model, data, batch and steps."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    args = DPOConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch, max_length=512,
                     learning_rate=5e-6, bf16=False, report_to="none", save_strategy="no", logging_steps=1,
                     disable_tqdm=True, seed=0, data_seed=0)  # fp32 and the seed of ours: the same batches
    timer = StepTimer()
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer,
                         callbacks=[timer])
    trainer.train()
    return timer


def pluralign_dpo(model_path: Path, data, steps: int, out: Path, batch: int) -> list[float]:
    """The same run through pluralign's DPO (config, precomputed reference, metrics, checkpoints)."""
    from pluralign.io import write_jsonl
    from pluralign.train import checkpoint
    from pluralign.train.config import DPOConfig, load_config
    from pluralign.train.dpo import train_dpo

    write_jsonl(out / "pairs.jsonl", data)
    timer = StepTimer()
    original = checkpoint.make_callbacks
    checkpoint.make_callbacks = lambda *a, **k: original(*a, **k) + [timer]  # observe step times only
    try:
        train_dpo(load_config(None, DPOConfig, {
            "model": str(model_path), "data": str(out / "pairs.jsonl"), "eval_split": 0.0, "lora": False,
            "batch_size": batch, "steps": steps, "lr": 5e-6, "max_length": 512, "save_every": 10_000,
            "log_every": 1, "output_dir": str(out / "run")}))
    finally:
        checkpoint.make_callbacks = original
    return timer


def speed(steps: int, pairs: int, tokens: int, plain_first: bool = False, data_pairs: int | None = None) -> dict:
    import torch
    from transformers import AutoTokenizer

    from pluralign.lm.cache import resolve_model_path

    model_path, _ = resolve_model_path("default")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    data = long_pairs(tokenizer, data_pairs or pairs, tokens)
    epochs = steps * pairs / len(data)
    n_params = _param_count(model_path)
    with tempfile.TemporaryDirectory() as tmp:
        # On a shared machine the load drifts: run with --plain-first too and compare both orders.
        runs = {"plain": plain_trl_dpo, "ours": pluralign_dpo}
        order = ["plain", "ours"] if plain_first else ["ours", "plain"]
        times, whole, losses = {}, {}, {}
        for name in order:
            start = time.perf_counter()
            timer = runs[name](model_path, data, steps, Path(tmp) / name, pairs)
            whole[name] = time.perf_counter() - start  # set-up + precompute (if any) + steps; not the model load
            times[name], losses[name] = timer.times, timer.losses
            print(f"{name} step seconds: {times[name]}; losses {losses[name]}; whole run {whole[name]:.1f} s",
                  file=sys.stderr)
        ours, plain = times["ours"], times["plain"]
    # Both sides run the same optimisation: their per-step losses must agree before a ratio means anything.
    agree = len(losses["ours"]) == len(losses["plain"]) == steps and all(
        abs(a - b) <= 1e-3 * max(1.0, abs(b)) for a, b in zip(losses["ours"], losses["plain"]))
    if not agree:
        return {"sides_agree": False, "losses_pluralign": losses["ours"], "losses_plain_trl": losses["plain"],
                "note": "the two runs did not train the same way: no ratio"}
    ours_s, plain_s = statistics.median(ours[1:]), statistics.median(plain[1:])  # first step warms up
    step_tokens = pairs * 2 * tokens
    peak = matmul_peak_flops()
    ours_flops = (6 if steps * pairs > len(data) else 8) * n_params * step_tokens / ours_s  # reference precomputed?
    plain_flops = 8 * n_params * step_tokens / plain_s  # + a reference forward every step
    return {
        "sides_agree": True, "losses": losses["ours"], "order": order, "threads": torch.get_num_threads(),
        "pairs_per_step": pairs, "data_pairs": len(data),
        "epochs": round(epochs, 2), "pluralign_precomputes_reference": steps * pairs > len(data),
        "tokens_per_sequence": tokens, "timed_steps": steps - 1,
        "pluralign_whole_run_s": round(whole["ours"], 1), "plain_trl_whole_run_s": round(whole["plain"], 1),
        "ratio_whole_run_pluralign_over_plain_trl": round(whole["ours"] / whole["plain"], 3),
        "pluralign_s_per_step": round(ours_s, 3), "plain_trl_s_per_step": round(plain_s, 3),
        "ratio_pluralign_over_plain_trl": round(ours_s / plain_s, 3),
        "pluralign_tokens_per_s": round(step_tokens / ours_s, 1), "plain_trl_tokens_per_s": round(step_tokens / plain_s, 1),
        "matmul_peak_gflops": round(peak / 1e9, 2),
        "pluralign_achieved_gflops": round(ours_flops / 1e9, 2), "pluralign_fraction_of_peak": round(ours_flops / peak, 3),
        "plain_trl_achieved_gflops": round(plain_flops / 1e9, 2),
        "plain_trl_fraction_of_peak": round(plain_flops / peak, 3),
    }


def _param_count(model_path: Path) -> int:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    return sum(p.numel() for p in model.parameters())  # tied embeddings count once


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--steps", type=int, default=4)
    s.add_argument("--pairs", type=int, default=4)
    s.add_argument("--tokens", type=int, default=256)
    s.add_argument("--plain-first", action="store_true", help="time plain TRL before pluralign")
    s.add_argument("--data-pairs", type=int, default=None, help="pairs in the data (default --pairs: --steps epochs)")
    lp = sub.add_parser("learn")
    lp.add_argument("--workdir", type=Path, default=None)
    lp.add_argument("--steps", type=int, default=24)
    lp.add_argument("--max-length", type=int, default=64)
    lp.add_argument("--stages", default="sft,dpo,rm", help="comma-separated: sft, dpo, rm")
    dp = sub.add_parser("data", help="only write the synthetic data (for examples/train/*.toml)")
    dp.add_argument("--workdir", type=Path, default=Path("examples/train/data"))
    args = parser.parse_args(argv)
    if args.what == "speed":
        result = speed(args.steps, args.pairs, args.tokens, args.plain_first, args.data_pairs)
    elif args.what == "data":
        result = {name: str(path) for name, path in write_data(args.workdir).items()}
    else:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-train-"))
        result = {"workdir": str(workdir), **learn(workdir, args.steps, args.max_length, args.stages.split(","))}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
