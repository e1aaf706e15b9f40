"""``pluralign cai ...``: Constitutional AI feedback from the command line.

revise (SL-CAI chains + SFT records), pairs (two policy samples per prompt), label (RL-CAI soft labels + TRL
preferences), eval (labeller accuracy and Brier score), prompts (synthetic red-team prompts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pluralign.errors import InputError
from pluralign.cli_options import BatchSizeOpt, ModelOpt, SeedOpt

cai_app = typer.Typer(help="Constitutional AI: critique/revision data and AI preference labels.", no_args_is_help=True)

ConstitutionOpt = Annotated[Optional[Path], typer.Option(
    help="constitution: our JSON, an Anthropic CAI instructions file, or a directory of them; default: the package's")]


def _constitution(path: Path | None):
    from pluralign.constitution import default_constitution, load

    return default_constitution() if path is None else load(path)


def _sibling(out: Path, suffix: str) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl").removesuffix(".parquet") + suffix)


@cai_app.command("revise")
def revise_cmd(
    prompts: Annotated[Path, typer.Option(help="JSONL with a text 'prompt' (and optional 'id') per line")],
    out: Annotated[Path, typer.Option(help="JSONL of chains (appended and resumed: finished ids are skipped)")],
    constitution: ConstitutionOpt = None,
    rounds: Annotated[int, typer.Option(min=1, help="critique/revision rounds per prompt")] = 1,
    sft: Annotated[Optional[Path], typer.Option(help="SFT records to write; default OUT.sft.jsonl")] = None,
    every_round: Annotated[bool, typer.Option(help="one SFT record per round's revision, not only the last")] = False,
    fewshot: Annotated[Optional[Path], typer.Option(help="few-shot file (Anthropic CritiqueRevisionFewShotPrompts "
                                                         "format); default: the package's own")] = None,
    model: ModelOpt = "default",
    max_new_tokens: Annotated[int, typer.Option(min=1, help="most tokens per generated text")] = 64,
    repetition_penalty: Annotated[float, typer.Option(min=1.0, help="> 1 discourages repeats")] = 1.3,
    temperature: Annotated[float, typer.Option(min=0.0, help="sampling temperature (0: greedy)")] = 0.7,
    batch_size: Annotated[int, typer.Option(min=1, help="prompts per batch (one fsync of the chain file each)")] = 8,
    seed: SeedOpt = 0,
) -> None:
    """SL-CAI: answer, critique and revise each prompt under randomly drawn principles."""
    from pluralign.feedback.critique import ReviseConfig, finished_ids, read_chains, revise, sft_records
    from pluralign.feedback.fewshot import load_critique_examples
    from pluralign.io import check_output_file, write_records
    from pluralign.lm import load_model
    from pluralign.lm.cli import read_prompts
    from pluralign.progress import progress_bar

    rows = read_prompts(prompts)
    for row in rows:
        if not isinstance(row["prompt"], str):
            raise InputError("revise takes text prompts", path=str(prompts), field=f"prompt (id {row['id']})")
    cons, examples = _constitution(constitution), load_critique_examples(fewshot)
    config = ReviseConfig(rounds=rounds, max_new_tokens=max_new_tokens, repetition_penalty=repetition_penalty,
                          temperature=temperature, batch_size=batch_size, seed=seed)
    sft = sft or _sibling(out, ".sft.jsonl")
    finished_ids(out)  # a wrong --out or --sft fails here, before the model loads
    check_output_file(sft)
    lm = load_model(model, batch_size=batch_size)
    with progress_bar("critique/revise", len(rows)) as advance:
        done_now = revise(lm, rows, cons, examples, out, config, progress=advance)
    n = write_records(sft, sft_records(read_chains(out), every_round=every_round))
    typer.echo(f"revised {done_now} prompts ({len(rows) - done_now} already done); chains in {out}, "
               f"{n} SFT records in {sft}")


@cai_app.command("pairs")
def pairs_cmd(
    prompts: Annotated[Path, typer.Option(help="JSONL with a 'prompt' per line")],
    out: Annotated[Path, typer.Option(help="pairs JSONL: id, prompt, response_a, response_b, model, seed")],
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = None,
    temperature: Annotated[float, typer.Option(min=0.0, help="sampling temperature (0: greedy)")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="most tokens per generated text")] = 96,
    seed: SeedOpt = 0,
) -> None:
    """Sample two responses per prompt from a policy, to be labelled."""
    from pluralign.feedback.pairs import sample_pairs
    from pluralign.io import write_records
    from pluralign.lm import load_model
    from pluralign.lm.cli import read_prompts
    from pluralign.progress import progress_bar

    rows = read_prompts(prompts)
    lm = load_model(model, batch_size=batch_size)
    with progress_bar("sampling pairs", len(rows)) as advance:
        pairs = sample_pairs(lm, rows, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
                             progress=advance)
    write_records(out, pairs)
    typer.echo(f"wrote {len(pairs)} pairs to {out}")


def _labeller(load_lm, constitution, principles, both_orders, calibrate, chat, fewshot, fewshot_file, cot, clamp,
              seed, low_precision=False):
    """The labeller; every option and file is checked before ``load_lm()`` loads the model."""
    from pluralign.feedback.ai_preference import AIFeedback, LabelConfig
    from pluralign.feedback.fewshot import load_choice_examples

    try:
        low, high = (float(x) for x in clamp.split(","))
        config = LabelConfig(principles=principles, both_orders=both_orders, calibrate=calibrate, chat=chat,
                             fewshot=fewshot, cot=cot, clamp_range=(low, high), low_precision=low_precision,
                             seed=seed)
    except ValueError as err:
        raise InputError(f"bad labelling option: {err}") from None
    examples = load_choice_examples(fewshot_file)
    return AIFeedback(load_lm(), constitution, config, examples=examples)


Principles = Annotated[str, typer.Option(help="'sample' one principle per pair, or average 'all'")]
BothOrders = Annotated[bool, typer.Option(help="ask with the options in both orders and average")]
Calibrate = Annotated[bool, typer.Option(help="contextual calibration against a content-free question")]
Chat = Annotated[bool, typer.Option(help="ask through the model's chat template")]
Fewshot = Annotated[int, typer.Option(min=0, help="solved examples to prepend")]
FewshotFile = Annotated[Optional[Path], typer.Option(help="choice examples {prompt, corrects, incorrects}; "
                                                         "default: the package's own")]


@cai_app.command("label")
def label_cmd(
    pairs: Annotated[Path, typer.Option(help="JSONL: prompt + response_a/response_b (or responses)")],
    out: Annotated[Path, typer.Option(help="Comparison records with soft labels (.jsonl or .parquet)")],
    constitution: ConstitutionOpt = None,
    preferences: Annotated[Optional[Path], typer.Option(help="TRL preference records; default OUT.preferences.jsonl")] = None,
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = None,
    principles: Principles = "sample",
    both_orders: BothOrders = True,
    calibrate: Calibrate = True,
    chat: Chat = False,
    fewshot: Fewshot = 0,
    fewshot_file: FewshotFile = None,
    cot: Annotated[bool, typer.Option(help="chain of thought first, then clamp")] = False,
    clamp: Annotated[str, typer.Option(help="LOW,HIGH bounds for chain-of-thought labels")] = "0.4,0.6",
    low_precision: Annotated[bool, typer.Option(help="score with the backend's bf16 weights where faster")] = False,
    seed: SeedOpt = 0,
) -> None:
    """RL-CAI: soft preference labels for response pairs from a constitution's principles."""
    from pluralign.feedback.ai_preference import to_preferences
    from pluralign.feedback.pairs import read_pairs
    from pluralign.io import write_records
    from pluralign.lm import load_model
    from pluralign.progress import progress_bar

    from pluralign.io import check_output_file

    items, cons = read_pairs(pairs), _constitution(constitution)
    preferences = preferences or _sibling(out, ".preferences.jsonl")
    check_output_file(out)
    check_output_file(preferences)
    labeller = _labeller(lambda: load_model(model, batch_size=batch_size), cons, principles, both_orders, calibrate,
                         chat, fewshot, fewshot_file, cot, clamp, seed, low_precision)
    asks = len(items) * (len(cons.principles) if principles == "all" else 1) * (2 if both_orders else 1)
    with progress_bar("labelling", asks) as advance:
        comparisons = labeller.label(items, progress=advance, source=str(pairs))
    write_records(out, comparisons)
    write_records(preferences, to_preferences(comparisons))
    typer.echo(f"labelled {len(comparisons)} pairs: {out}; preferences: {preferences}")


@cai_app.command("eval")
def eval_cmd(
    comparisons: Annotated[Path, typer.Option(help="Anthropic format {prompt, corrects, incorrects} (.jsonl/.json)")],
    constitution: ConstitutionOpt = None,
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="only the first N items")] = None,
    principles: Principles = "sample",
    both_orders: BothOrders = True,
    calibrate: Calibrate = True,
    chat: Chat = False,
    fewshot: Fewshot = 0,
    fewshot_file: FewshotFile = None,
    batch_calibrate: Annotated[bool, typer.Option(help="multiple choice: centre log-odds on the batch mean")] = True,
    low_precision: Annotated[bool, typer.Option(help="score with the backend's bf16 weights where faster")] = False,
    seed: SeedOpt = 0,
    yes_question: Annotated[Optional[str], typer.Option(
        help="multiple choice: ask this yes/no question about each conversation instead (Yes = option A)")] = None,
    contrast_question: Annotated[Optional[str], typer.Option(
        help="with --yes-question: a question whose Yes means option B; the two log-odds are subtracted")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--out", help="also write the figures as JSON")] = None,
) -> None:
    """Accuracy and Brier score of the AI labeller on comparisons with known answers.

    For multiple-choice files, --fewshot-file may hold solved questions in the same format (kept apart from the
    evaluated file); for response-pair files it holds choice examples.
    """
    from pluralign.feedback.evaluate import evaluate, read_items
    from pluralign.io import check_output_file, write_jsonl
    from pluralign.lm import load_model
    from pluralign.progress import progress_bar

    if contrast_question and not yes_question:
        raise InputError("--contrast-question needs --yes-question")
    if json_out is not None:
        check_output_file(json_out)
    items = read_items(comparisons, limit)
    if yes_question and any(it.multiple_choice and it.k != 2 for it in items):
        raise InputError("--yes-question reads Yes as option (A): it needs two-option questions",
                         path=str(comparisons))
    solved = [it for it in read_items(fewshot_file) if it.multiple_choice] if fewshot_file else []
    shots = solved[:fewshot]  # a file of solved questions is read as such, even when none are asked for
    labeller = _labeller(lambda: load_model(model, batch_size=batch_size), _constitution(constitution), principles,
                         both_orders, calibrate, chat, fewshot, fewshot_file if not solved else None, False,
                         "0.4,0.6", seed, low_precision)
    per_pair = len(labeller.constitution.principles) if principles == "all" else 1

    def mc_asks(item) -> int:  # one question per rotation of the options, or the yes/no question(s)
        return (2 if contrast_question else 1) if yes_question else (item.k if both_orders else 1)

    asks = sum(mc_asks(it) if it.multiple_choice else per_pair * (2 if both_orders else 1) for it in items)
    with progress_bar("evaluating", asks) as advance:
        result = evaluate(labeller, items, fewshot_items=shots, batch_calibrate=batch_calibrate,
                          yes_question=yes_question, contrast_question=contrast_question, progress=advance)
    rule = ("yes-no" + ("/contrast" if contrast_question else "") if yes_question else labeller.config.rule) \
        + ("/batch-calibrated" if batch_calibrate else "")
    asked = {"yes_question": yes_question, "contrast_question": contrast_question} if yes_question else {}
    figures = {"file": str(comparisons), "model": labeller.lm.name, "rule": rule, **asked, **result.as_dict()}
    typer.echo(json.dumps(figures))
    if not result.distinguishable:
        low, high = result.accuracy_ci
        typer.echo(f"warning: accuracy {result.accuracy:.3f} (95% interval {low:.3f}-{high:.3f}) is not "
                   f"distinguishable from chance ({result.chance:.3f}) or from always giving the most common answer "
                   f"({result.majority:.3f}): these labels are noise", err=True)
    if json_out:
        write_jsonl(json_out, [figures])


@cai_app.command("prompts")
def prompts_cmd(
    seeds: Annotated[Path, typer.Option(help="JSONL of seed prompts: prompt, language, category, global_or_local")],
    out: Annotated[Path, typer.Option(help="JSONL of new prompts with provenance")],
    n: Annotated[int, typer.Option(min=1, help="new prompts asked for per seed")] = 4,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="cosine at or above which a prompt is a "
                                                                     "duplicate")] = 0.9,
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = None,
    temperature: Annotated[float, typer.Option(min=0.0, help="sampling temperature (0: greedy)")] = 1.0,
    seed: SeedOpt = 0,
) -> None:
    """Synthesize red-team prompts by rephrasing seeds per language and harm category, deduplicated."""
    from pluralign.feedback.redteam import RedTeamConfig, read_seeds, synthesize
    from pluralign.io import write_records
    from pluralign.lm import load_model
    from pluralign.progress import progress_bar

    rows = read_seeds(seeds)
    lm = load_model(model, batch_size=batch_size)
    with progress_bar("rephrasing", len(rows)) as advance:
        new = synthesize(lm, rows, RedTeamConfig(n=n, threshold=threshold, temperature=temperature, seed=seed),
                         progress=advance)
    write_records(out, new)
    typer.echo(f"kept {len(new)} of {len(rows) * n} generated prompts: {out}")
