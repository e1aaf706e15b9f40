"""Stage adapters, model side: candidate responses, AI labels (with the labeller's reliability on a control set),
training (in process or under ``accelerate launch``), and the held-out check that the model moved.

Every model call goes through the model protocol, so ``model = "openai:URL#name"`` moves a stage's model work to
an OpenAI-compatible server (vLLM) without another change.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
from rich.markup import escape

from pluralign.errors import InputError
from pluralign.pipeline.context import Context, read_candidates, write_json
from pluralign.train.config import DPOConfig, RewardConfig, SFTConfig

TRAIN_METHODS = {"sft": (SFTConfig, "pluralign.train.sft:train_sft"),
                 "dpo": (DPOConfig, "pluralign.train.dpo:train_dpo"),
                 "rm": (RewardConfig, "pluralign.train.reward:train_reward_model")}
BUILTIN_CONTROL = Path(__file__).with_name("control.jsonl")


# ---- responses ---------------------------------------------------------------------------------------------

def prompt_files(stage) -> list[str]:
    return [stage.prompts] if isinstance(stage.prompts, str) else []


def stage_prompts(prompts: list[str] | str) -> list:
    """Prompt texts, or the prompts of a JSONL file (text or chat messages), as chat messages."""
    if isinstance(prompts, str):
        from pluralign.lm.cli import read_prompts

        prompts = [row["prompt"] for row in read_prompts(Path(prompts))]
    return [[{"role": "user", "content": p}] if isinstance(p, str) else p for p in prompts]


def run_responses(ctx: Context) -> None:
    s = ctx.stage
    prompts = stage_prompts(s.prompts)
    chats = [[{"role": "system", "content": style}, *prompt] for prompt in prompts for style in s.styles]
    lm = ctx.lm()
    samples = lm.generate(chats, temperature=s.temperature, max_new_tokens=s.max_new_tokens, seed=ctx.seed,
                          repetition_penalty=s.repetition_penalty)
    k = len(s.styles)
    with open(ctx.out / "candidates.jsonl", "w", encoding="utf-8") as f:
        for i, prompt in enumerate(prompts):
            options = [samples[i * k + j][0].strip() or f"({s.styles[j]})" for j in range(k)]
            for j in range(1, k):  # identical samples would merge into one candidate
                while options[j] in options[:j]:
                    options[j] += " "
            f.write(json.dumps({"id": f"q{i}", "prompt": prompt, "candidates": options, "styles": s.styles}) + "\n")
    first = json.loads((ctx.out / "candidates.jsonl").read_text().splitlines()[0])
    ctx.say(f"{len(prompts)} prompts x {k} styles answered by {lm.name}; the first:")
    for style, text in zip(s.styles, first["candidates"]):
        ctx.say(f"  [dim]{escape(style)}[/] -> {escape(repr(text[:160]))}")
    ctx.figures.update(prompts=len(prompts), model=lm.name)


# ---- AI labels and their reliability -------------------------------------------------------------------------

def control_files(stage) -> list[str]:
    return [str(BUILTIN_CONTROL if stage.control == "builtin" else stage.control)]


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n (scipy's binomtest ``proportion_ci``)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def run_ai_labels(ctx: Context) -> None:
    from pluralign.feedback import AIFeedback, LabelConfig
    from pluralign.feedback.ai_preference import to_preferences
    from pluralign.feedback.evaluate import evaluate, read_items
    from pluralign.io import load_constitution, read_records, write_records
    from pluralign.records import ResponsePair

    s = ctx.stage
    constitution = load_constitution(ctx.input("constitution") / "constitution.json")
    human = read_records(ctx.input("social_choice") / "preferences.jsonl", "preference")
    labeller = AIFeedback(ctx.lm(), constitution, LabelConfig(principles=s.principles, chat=s.chat,
                                                              low_precision=s.low_precision, seed=ctx.seed))
    pairs = [ResponsePair(id=f"ai-{i}", prompt=pref.prompt, response_a=pref.chosen, response_b=pref.rejected,
                          provenance=pref.provenance) for i, pref in enumerate(human)]
    comparisons = labeller.label(pairs, source=str(ctx.input("social_choice") / "preferences.jsonl"))
    write_records(ctx.out / "ai_comparisons.jsonl", comparisons)
    write_records(ctx.out / "ai_preferences.jsonl", to_preferences(comparisons))
    agree = sum(c.p_a >= 0.5 for c in comparisons)
    ctx.say(f"{len(comparisons)} pairs labelled under the people's constitution; the AI sides with the panel on "
            f"{agree} (mean p = {np.mean([c.p_a for c in comparisons]):.2f})")

    items = read_items(control_files(s)[0])
    result = evaluate(labeller, items)
    k = int(round(result.accuracy * result.n))
    low, high = wilson(k, result.n)
    at_chance = low <= 0.5
    control = {"n": result.n, "accuracy": result.accuracy, "ci95": [low, high], "brier": result.brier,
               "at_chance": at_chance, "source": control_files(s)[0], "agree_with_panel": agree,
               "n_labelled": len(comparisons), "model": labeller.lm.name}
    write_json(ctx.out / "control.json", control)
    line = (f"labeller reliability on {result.n} control pairs with known answers: accuracy {result.accuracy:.0%} "
            f"(95% CI {low:.0%}-{high:.0%}), Brier {result.brier:.3f}")
    if at_chance:
        ctx.say(f"[bold white on red] WARNING: the AI labeller is AT CHANCE [/] {line}. Its labels are noise: "
                f"use a stronger labeller (model = \"openai:URL#name\") or leave the AI labels out of training.")
    else:
        ctx.say(line)
    ctx.figures.update(control_accuracy=result.accuracy, at_chance=at_chance, labelled=len(comparisons))


# ---- SL-CAI -------------------------------------------------------------------------------------------------

def run_sl_cai(ctx: Context) -> None:
    from pluralign.feedback.critique import ReviseConfig, read_chains, revise, sft_records
    from pluralign.feedback.fewshot import load_critique_examples
    from pluralign.io import load_constitution, write_records

    s = ctx.stage
    if s.prompts is not None:
        prompts = stage_prompts(s.prompts)
    elif ctx.has("responses"):
        prompts = [row["prompt"] for row in read_candidates(ctx.input("responses"))]
    else:
        raise InputError("give prompts, or put a responses stage before it", field=f"stages.{ctx.name}.prompts")
    rows = [{"id": f"q{i}", "prompt": "\n\n".join(m["content"] for m in p if m["role"] == "user")}
            for i, p in enumerate(prompts)]
    constitution = load_constitution(ctx.input("constitution") / "constitution.json")
    config = ReviseConfig(rounds=s.rounds, max_new_tokens=s.max_new_tokens, temperature=s.temperature,
                          repetition_penalty=s.repetition_penalty, seed=ctx.seed)
    examples = load_critique_examples() if s.fewshot else []
    revise(ctx.lm(), rows, constitution, examples, ctx.out / "chains.jsonl", config)  # resumes by prompt id
    demos = sft_records(read_chains(ctx.out / "chains.jsonl"))
    write_records(ctx.out / "demonstrations.jsonl", demos)
    ctx.say(f"{len(demos)} prompts critiqued and revised under the people's constitution ({s.rounds} round(s)); "
            f"the first revision: {escape(repr(demos[0].completion[:160])) if demos else '-'}")
    ctx.figures.update(demonstrations=len(demos))


# ---- training ------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_command(launcher, method: str, config: Path) -> list[str]:
    exe = Path(sys.executable).with_name("accelerate")
    exe = str(exe) if exe.is_file() else shutil.which("accelerate")
    if exe is None:
        raise InputError("launcher 'accelerate' needs the accelerate package's `accelerate` command")
    command = [exe, "launch", "--num_processes", str(launcher.num_processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port())]
    if launcher.num_processes > 1 and "--config_file" not in launcher.args:
        command.append("--multi_gpu")  # data parallel over the processes (gloo on CPUs, NCCL on GPUs)
    return [*command, *launcher.args, "-m", "pluralign.cli", "train", method, str(config)]


def run_train(ctx: Context) -> None:
    import importlib

    from pluralign.config import toml_value
    from pluralign.io import read_records, write_records
    from pluralign.train.config import load_config, save_config

    s = ctx.stage
    if s.method == "sft":
        rows = read_records(ctx.input("sl_cai") / "demonstrations.jsonl", "demonstration")
    else:
        rows = read_records(ctx.input("social_choice") / "preferences.jsonl", "preference")
        if ctx.has("ai_labels"):
            rows += read_records(ctx.input("ai_labels") / "ai_preferences.jsonl", "preference")
    write_records(ctx.out / "data.jsonl", rows)
    cls, runner = TRAIN_METHODS[s.method]
    if ctx.model.startswith(("openai:", "llamacpp:")):
        raise InputError("training needs local weights (a transformers directory, a .gguf file or 'default')",
                         field=f"stages.{ctx.name}.model")
    model = ctx.model if ctx.model == "default" else str(Path(ctx.model.removeprefix("hf:")).absolute())
    # absolute: the training config resolves relative paths against its own folder, which is ctx.out
    out = ctx.out.absolute()
    values = {**s.config, "model": model, "data": str(out / "data.jsonl"), "output_dir": str(out / "run"),
              "seed": s.config.get("seed", ctx.seed)}
    config_path = ctx.out / "config.toml"
    config_path.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()), encoding="utf-8")
    config = load_config(config_path, cls)
    save_config(config, config_path)  # every resolved key, as the training command will read it
    ctx.say(f"{s.method} on {len(rows)} {'demonstrations' if s.method == 'sft' else 'preference pairs'}, "
            f"{config.steps} steps"
            + (f", {s.launcher.num_processes} processes under accelerate launch" if s.launcher.kind == "accelerate"
               else ""))
    if s.launcher.kind == "accelerate":
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        done = subprocess.run(accelerate_command(s.launcher, s.method, config_path), env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        (ctx.out / "launch.log").write_text(done.stdout, encoding="utf-8")
        if done.returncode != 0:
            errors = [line for line in done.stdout.splitlines() if "Error:" in line] or done.stdout.splitlines()[-1:]
            tail = errors[0].strip() if errors else ""  # the first error is the cause; later ones are its echoes
            raise RuntimeError(f"accelerate launch exited with {done.returncode}: {tail} "
                               f"(log: {ctx.out / 'launch.log'})")
        summary = json.loads((ctx.out / "run" / "result.json").read_text())
    else:
        module, function = runner.split(":")
        summary = getattr(importlib.import_module(module), function)(config)
    write_json(ctx.out / "summary.json", summary)
    loss = summary.get("final_loss")
    ctx.say(f"{summary.get('steps')} steps" + (f", final loss {loss:.4f}" if isinstance(loss, float) else "")
            + f"; model in {ctx.out / 'run' / 'model'}")
    ctx.figures.update(steps=summary.get("steps"), final_loss=loss)


# ---- evaluation: did the model move, and toward whom? ---------------------------------------------------------

def margins(lm, prefs) -> np.ndarray:
    """log p(chosen) - log p(rejected) under ``lm`` for each pair (summed nats, the model protocol's ``score``)."""
    prompts = [p.prompt for p in prefs]
    chosen = lm.score(prompts, [p.chosen for p in prefs])
    rejected = lm.score(prompts, [p.rejected for p in prefs])
    return np.array([c.logprob - r.logprob for c, r in zip(chosen, rejected)])


def _heldout(ctx: Context, before_lm, after_lm) -> dict:
    from pluralign.evaluate.metrics import bootstrap_mean
    from pluralign.io import read_records

    prefs = read_records(ctx.input("social_choice") / "heldout_preferences.jsonl", "preference")
    if not prefs:
        raise InputError("no held-out pairs: set held_out > 0 on the social choice stage",
                         field=f"stages.{ctx.name}.inputs.social_choice")
    before, after = margins(before_lm, prefs), margins(after_lm, prefs)
    change = bootstrap_mean(after - before, resamples=ctx.stage.bootstrap, seed=ctx.seed)
    result = {"n": len(prefs), "before": float(before.mean()), "after": float(after.mean()),
              "change": change.mean, "change_ci95": [change.low, change.high],
              "moved_toward_chosen": float((after > before).mean()), "ids": [p.id for p in prefs],
              "per_pair": {"before": before.tolist(), "after": after.tolist()}}
    write_json(ctx.out / "heldout.json", result)
    ctx.say(f"mean log-prob margin of chosen over rejected on {len(prefs)} held-out pairs (prompts never trained "
            f"on): {result['before']:+.3f} before -> {result['after']:+.3f} after (change {change.mean:+.3f}, 95% "
            f"bootstrap CI {change.low:+.3f} to {change.high:+.3f}; {result['moved_toward_chosen']:.0%} of pairs "
            f"moved toward chosen)")
    return result


def _panel(ctx: Context, before_lm, after_lm) -> None:
    from rich.table import Table

    from pluralign.evaluate.ask import AskConfig
    from pluralign.evaluate.panel import evaluate_panel, panel_votes

    s = ctx.stage
    panel = ctx.input("panel")
    votes = panel_votes(panel / "votes.jsonl", panel / "statements.jsonl", seed=ctx.seed)
    config = AskConfig(rotations=s.rotations, chat=s.chat)
    before, after = (evaluate_panel(lm, votes, config, seed=ctx.seed) for lm in (before_lm, after_lm))
    write_json(ctx.out / "panel.json", {"before": before.to_dict(), "after": after.to_dict(), "ask": config.label,
                                        "statements": len(votes.statement_ids), "rows_after": after.rows})
    table = Table("opinion group", "similarity 1 - JSD: before", "after", "sides with: before", "after",
                  title=f"the model votes on the panel's {len(votes.statement_ids)} statements ({config.label})")
    for g in before.similarity:
        table.add_row(g, str(before.similarity[g]), str(after.similarity[g]), str(before.sides_with[g]),
                      str(after.sides_with[g]))
    ctx.say(table)


def run_evaluate(ctx: Context) -> None:
    from pluralign.lm import load_model

    before_lm = ctx.lm()
    after_lm = load_model(str(ctx.input("train") / "run" / "model"))
    held = _heldout(ctx, before_lm, after_lm)
    if ctx.stage.panel:
        _panel(ctx, before_lm, after_lm)
    ctx.figures.update(before=held["before"], after=held["after"], change=held["change"])
