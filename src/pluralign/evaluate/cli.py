"""``pluralign eval ...``: measure whose values a model ended up with, side by side with its baseline.

Every command takes ``--model/-m`` and ``--baseline`` (optional; any model spec), subsamples with ``--limit``
and ``--seed``, prints a table with the model's figure beside the baseline's (each with its bootstrap 95%
interval), and writes per-item rows with ``--out``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pluralign.cli_options import BatchSizeOpt, ModelOpt, SeedOpt

eval_app = typer.Typer(help="Evaluate: distributional, steerable and Overton pluralism, the run's own panel, "
                            "bias, safety, capability, and an HTML report.", no_args_is_help=True)

BaselineOpt = Annotated[Optional[str], typer.Option("--baseline", help="a second model to show beside it (any "
                                                                       "--model spec), e.g. the base model")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="items drawn (seeded) from the data")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="JSONL of per-item rows (written whole, or not at all)")]
RotationsOpt = Annotated[str, typer.Option("--rotations", help="all: average over the options' cyclic rotations "
                                                               "(position bias); none: options as given")]
CalibrateOpt = Annotated[bool, typer.Option("--calibrate", help="also divide by a content-free question's letter "
                                                                "probabilities")]


def models(model: str, baseline: str | None, batch_size: int | None = None) -> list:
    """The model, and the baseline if one is named, loaded (offline) through :func:`pluralign.lm.load_model`."""
    from pluralign.lm import load_model

    return [load_model(spec, batch_size=batch_size) for spec in ([model] + ([baseline] if baseline else []))]


def side_by_side(title: str, first: str, names: list[str], figures: list[dict], *, keys=None) -> None:
    """Print one table: a row per key, one column per model (figures[m][key] -> Estimate or text)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(first, *names, title=title)
    for key in keys if keys is not None else list(figures[0]):
        table.add_row(str(key), *[str(f.get(key, "")) for f in figures])
    Console().print(table)


def write_rows(out: Path | None, names: list[str], row_lists: list[list[dict]]) -> None:
    if out is None:
        return
    from pluralign.io import write_jsonl

    write_jsonl(out, ({"model": name, **row} for name, rows in zip(names, row_lists) for row in rows))
    typer.echo(f"rows: {out}")


@eval_app.command("distributional")
def distributional_cmd(
    data: Annotated[Path, typer.Option(help="questions with group distributions: a JSONL (GlobalOpinionQA, "
                                            "MoralChoice layout) or an OpinionQA directory")],
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    limit: LimitOpt = 40,
    samples: Annotated[int, typer.Option(min=0, help="also estimate by sampling this many answers per "
                                                     "question")] = 0,
    rotations: RotationsOpt = "all",
    calibrate: CalibrateOpt = False,
    top: Annotated[int, typer.Option(min=1, help="groups shown in the ranked table")] = 15,
    out: OutOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Whose opinions does the model reflect: 1 − Jensen–Shannon distance to each group's answers, ranked."""
    from pluralign.evaluate.ask import AskConfig
    from pluralign.evaluate.data import question_key, read_questions, subsample
    from pluralign.evaluate.distributional import evaluate_distributional

    questions = subsample(read_questions(data), limit, seed, key=question_key)
    config = AskConfig(rotations=rotations, calibrate=calibrate)
    lms = models(model, baseline, batch_size)
    results = [evaluate_distributional(lm, questions, config, samples=samples, seed=seed) for lm in lms]
    names = [lm.name for lm in lms]
    ranked = [g for g, _ in results[0].ranked()]
    keys = ["overall", *ranked[:top], *(["…"] if len(ranked) > 2 * top else []), *ranked[max(top, len(ranked) - top):]]
    figures = [{"overall": r.overall, **r.similarity} for r in results]
    side_by_side(f"similarity 1 − JSD per group, ranked ({len(set(map(question_key, questions)))} questions, "
                 f"{config.label})", "group", names, figures, keys=keys)
    if results[0].wasserstein:
        overall = [{"1 − W1/(N−1), all groups": _pooled(r)} for r in results]
        side_by_side("ordinal questions (Santurkar et al.)", "metric", names, overall)
    write_rows(out, names, [r.rows for r in results])


def _pooled(result):
    from pluralign.evaluate.metrics import bootstrap_mean

    return bootstrap_mean([r["wasserstein_similarity"] for r in result.rows if "wasserstein_similarity" in r])


BBQ_KEYS = ("accuracy_ambiguous", "accuracy_disambiguated", "s_AMB", "s_DIS")


@eval_app.command("bias")
def bias_cmd(
    data: Annotated[Path, typer.Option(help="BBQ: a directory of category JSONL files, or one file")],
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    limit: LimitOpt = 40,
    rotations: RotationsOpt = "all",
    calibrate: CalibrateOpt = False,
    out: OutOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """BBQ accuracy (ambiguous, disambiguated) and bias scores s_AMB, s_DIS per category (Parrish et al.)."""
    from pluralign.evaluate.ask import AskConfig
    from pluralign.evaluate.bias import evaluate_bias
    from pluralign.evaluate.data import read_bbq, subsample

    items = read_bbq(data)
    # --limit items per category and context condition, so every cell of the table has data.
    items = [it for cell in dict.fromkeys((i.category, i.ambiguous) for i in items)
             for it in subsample([i for i in items if (i.category, i.ambiguous) == cell], limit, seed,
                                 key=lambda i: i.id)]
    lms = models(model, baseline, batch_size)
    results = [evaluate_bias(lm, items, AskConfig(rotations=rotations, calibrate=calibrate), seed) for lm in lms]
    names = [lm.name for lm in lms]
    for key in BBQ_KEYS:
        side_by_side(f"BBQ {key}", "category", names, [{c: f[key] for c, f in r.categories.items()} for r in results])
    write_rows(out, names, [r.rows for r in results])


@eval_app.command("panel")
def panel_cmd(
    votes: Annotated[Path, typer.Option(help="the conversation's votes: Vote JSONL, or a Polis export/API "
                                             "directory")],
    statements: Annotated[Optional[Path], typer.Option(help="Statement JSONL with the texts (for Vote "
                                                            "JSONL)")] = None,
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    limit: LimitOpt = 60,
    rotations: RotationsOpt = "all",
    calibrate: CalibrateOpt = False,
    out: OutOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """The model votes Agree/Disagree/Pass on each statement; compared with each opinion group's votes."""
    from pluralign.evaluate.ask import AskConfig
    from pluralign.evaluate.panel import evaluate_panel, panel_votes, subset

    panel = subset(panel_votes(votes, statements, seed=seed), limit, seed)
    lms = models(model, baseline, batch_size)
    results = [evaluate_panel(lm, panel, AskConfig(rotations=rotations, calibrate=calibrate), seed) for lm in lms]
    names = [lm.name for lm in lms]
    n = len(panel.statement_ids)
    side_by_side(f"similarity 1 − JSD to each opinion group ({n} statements)", "group", names,
                 [r.similarity for r in results])
    side_by_side("sides with the group's majority (share of statements)", "group", names,
                 [r.sides_with for r in results])
    side_by_side("closest group (share of statements)", "group", names,
                 [{g: f"{v:.0%}" for g, v in r.closest.items()} for r in results])
    if panel.note:
        typer.echo(panel.note)
    write_rows(out, names, [r.rows for r in results])


@eval_app.command("steerable")
def steerable_cmd(
    opinionqa: Annotated[Optional[Path], typer.Option(help="questions with a group each (steerable_opinionqa.jsonl "
                                                           "layout, or an OpinionQA directory)")] = None,
    kaleidoscope: Annotated[Optional[Path], typer.Option(help="Value Kaleidoscope support/oppose/either items "
                                                              "(steerable_valuekaleidoscope.jsonl layout)")] = None,
    style: Annotated[str, typer.Option("--format", help="steering prompt: portray | bio | qa (Santurkar et "
                                                        "al.)")] = "portray",
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    limit: LimitOpt = 40,
    rotations: RotationsOpt = "all",
    calibrate: CalibrateOpt = False,
    out: OutOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Steered to answer as a group, how much closer does the model get to it; Value Kaleidoscope accuracy."""
    from pluralign.errors import InputError
    from pluralign.evaluate.ask import AskConfig
    from pluralign.evaluate.data import read_questions, read_value_kaleidoscope, subsample
    from pluralign.evaluate.steerable import FORMATS, evaluate_kaleidoscope, evaluate_steering

    if opinionqa is None and kaleidoscope is None:
        raise InputError("give --opinionqa and/or --kaleidoscope")
    if style not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {style!r}")
    config = AskConfig(rotations=rotations, calibrate=calibrate)
    lms = models(model, baseline, batch_size)
    names, rows = [lm.name for lm in lms], [[] for _ in lms]
    if opinionqa is not None:
        questions = subsample(read_questions(opinionqa), limit, seed, key=lambda q: (q.id, q.group))
        results = [evaluate_steering(lm, questions, config, style=style, seed=seed) for lm in lms]
        side_by_side(f"steerability: gain in 1 − JSD when steered ({style} format)", "group", names,
                     [{"overall": r.overall_gain, **r.gain} for r in results])
        for i, r in enumerate(results):
            rows[i] += [{"task": "opinionqa", **row} for row in r.rows]
    if kaleidoscope is not None:
        items = subsample(read_value_kaleidoscope(kaleidoscope), limit, seed, key=lambda it: it["id"])
        results = [evaluate_kaleidoscope(lm, items, config, seed) for lm in lms]
        side_by_side(f"Value Kaleidoscope support/oppose/either ({len(items)} items)", "metric", names,
                     [{"accuracy": r["accuracy"], "macro-F1": r["macro_f1"],
                       "predicted shares": ", ".join(f"{k} {v:.0%}" for k, v in r["predicted_share"].items())}
                      for r in results])
        for i, r in enumerate(results):
            rows[i] += [{"task": "kaleidoscope", **row} for row in r["rows"]]
    write_rows(out, names, rows)


def judged(figure, accuracy: float, at_chance: bool) -> str:
    """A judged figure with its judge's accuracy on the controls beside it, flagged when at chance."""
    return f"{figure}  judge {accuracy:.0%}" + (" (JUDGE AT CHANCE)" if at_chance else "")


@eval_app.command("overton")
def overton_cmd(
    data: Annotated[Path, typer.Option(help="situations with their values, rights, duties and explanations "
                                            "(overton_valuekaleidoscope.jsonl layout)")],
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    limit: LimitOpt = 20,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="the judge's cosine threshold")] = 0.4,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="most tokens per answer")] = 96,
    out: OutOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Coverage of each situation's values by one answer, with the judge's accuracy on its controls."""
    from pluralign.evaluate.data import read_overton, subsample
    from pluralign.evaluate.overton import EmbeddingJudge, evaluate_overton, judge_controls

    items = subsample(read_overton(data), limit, seed, key=lambda it: it["id"])
    judge = EmbeddingJudge(threshold)
    controls = judge_controls(items, judge, seed)
    lms = models(model, baseline, batch_size)
    results = [evaluate_overton(lm, items, judge, max_new_tokens=max_new_tokens, seed=seed, controls=controls)
               for lm in lms]
    names = [lm.name for lm in lms]
    side_by_side(f"Overton coverage ({len(items)} situations; judge accuracy on controls: own "
                 f"{controls['own']:.0%}, other {controls['other']:.0%}, empty {controls['empty']:.0%})", "metric",
                 names, [{"coverage": judged(r.coverage, r.judge["accuracy"], r.judge["at_chance"])} for r in results])
    write_rows(out, names, [r.rows for r in results])


@eval_app.command("safety")
def safety_cmd(
    prompts: Annotated[Optional[Path], typer.Option(help="red-team prompts with language and global_or_local (e.g. "
                                                         "from pluralign cai prompts); default: the package's")] = None,
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    judge: Annotated[str, typer.Option(help="the labeller's model (any --model spec)")] = "default",
    constitution: Annotated[Optional[Path], typer.Option(help="constitution the judge applies; default: the "
                                                              "package's")] = None,
    controls: Annotated[Optional[Path], typer.Option(help="control responses with known verdicts (prompt, response, "
                                                          "harmful); default: the package's")] = None,
    limit: LimitOpt = 40,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="most tokens per response")] = 64,
    out: OutOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Harmful-response rate per language and global/local, judged under a constitution; win rate vs baseline."""
    from pluralign.constitution import load
    from pluralign.evaluate.data import read_prompts, subsample
    from pluralign.evaluate.safety import evaluate_safety, make_judge, package_file, read_controls, respond, win_rate
    from pluralign.lm import load_model

    rows = subsample(read_prompts(prompts or package_file("redteam_prompts.jsonl")), limit, seed, key=lambda r: r["id"])
    checked = make_judge(load_model(judge, batch_size=batch_size), load(constitution) if constitution else None,
                         read_controls(str(controls) if controls else None), seed)
    lms = models(model, baseline, batch_size)
    answers = [respond(lm, rows, max_new_tokens, seed) for lm in lms]
    results = [evaluate_safety(a, rows, checked, seed) for a in answers]
    names = [lm.name for lm in lms]
    typer.echo(checked.describe())
    side_by_side("harmful-response rate", "slice", names,
                 [{"all": judged(r.harmful, checked.accuracy, checked.at_chance), **r.by_language, **r.by_scope} for r in results])
    if len(lms) == 2:
        typer.echo(f"win rate of {names[0]} over {names[1]}: "
                   f"{judged(win_rate(*answers, rows, checked, seed), checked.accuracy, checked.at_chance)}")
    write_rows(out, names, [r.rows for r in results])


@eval_app.command("capability")
def capability_cmd(
    data: Annotated[Path, typer.Option(help="held-out reference answers: situations with values and explanations "
                                            "(overton_valuekaleidoscope.jsonl layout)")],
    bbq: Annotated[Optional[Path], typer.Option(help="BBQ data for disambiguated accuracy")] = None,
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    limit: LimitOpt = 20,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Did the model keep its general ability: reference-answer log-likelihood per token, BBQ disambiguated accuracy."""
    from pluralign.evaluate.bias import evaluate_bias
    from pluralign.evaluate.capability import paired_difference, reference_pairs, token_loglik
    from pluralign.evaluate.data import read_bbq, read_overton, subsample
    from pluralign.evaluate.metrics import bootstrap_mean

    prompts, answers = reference_pairs(subsample(read_overton(data), limit, seed, key=lambda it: it["id"]))
    lms = models(model, baseline, batch_size)
    names = [lm.name for lm in lms]
    logliks = [token_loglik(lm, prompts, answers) for lm in lms]
    figures = [{"log-likelihood per token (nats)": bootstrap_mean(ll, seed=seed)} for ll in logliks]
    if len(lms) == 2:
        figures[0]["difference vs baseline"] = paired_difference(*logliks, seed=seed)
    if bbq is not None:
        items = [it for it in read_bbq(bbq) if not it.ambiguous]
        items = [it for cat in dict.fromkeys(i.category for i in items)
                 for it in subsample([i for i in items if i.category == cat], limit, seed, key=lambda i: i.id)]
        for f, lm in zip(figures, lms):
            f["BBQ accuracy, disambiguated"] = evaluate_bias(lm, items, seed=seed).categories["all"][
                "accuracy_disambiguated"]
    side_by_side(f"capability ({len(answers)} reference answers)", "metric", names, figures)


@eval_app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (self-contained)")],
    model: ModelOpt = "default",
    baseline: BaselineOpt = None,
    data_dir: Annotated[Path, typer.Option(help="folder laid out like the shared data (pluralism/, bbq/)")] = Path(
        "../shared/data"),
    votes: Annotated[Optional[Path], typer.Option(help="the run's conversation for the panel section (Vote JSONL "
                                                       "or a Polis directory)")] = None,
    statements: Annotated[Optional[Path], typer.Option(help="Statement JSONL for --votes")] = None,
    prompts: Annotated[Optional[Path], typer.Option(help="red-team prompts; default: the package's")] = None,
    judge: Annotated[str, typer.Option(help="the safety labeller's model")] = "default",
    scale: Annotated[float, typer.Option(min=0.01, help="multiply every section's default item count")] = 1.0,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the figures as JSON")] = None,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Every measure, model beside baseline, in one HTML page with plots and the model's provenance."""
    import json
    import time
    from dataclasses import fields

    from pluralign.evaluate.report import ReportConfig, run_report
    from pluralign.evaluate.report_html import render
    from pluralign.io import atomic_path

    sizes = {f.name: max(1, round(f.default * scale)) for f in fields(ReportConfig) if isinstance(f.default, int)
             and f.name != "seed"}
    cfg = ReportConfig(data_dir=str(data_dir), votes=str(votes) if votes else None,
                       statements=str(statements) if statements else None, prompts=str(prompts) if prompts else None,
                       judge=judge, seed=seed, **sizes)
    start = time.perf_counter()
    lms = models(model, baseline, batch_size)
    loaded = time.perf_counter() - start
    result = run_report(lms[0], lms[1] if len(lms) > 1 else None, cfg, model_spec=model, baseline_spec=baseline or "")
    result["timings"]["loading models"] = loaded
    page = render(result)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    if json_out:
        with atomic_path(json_out) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    split = ", ".join(f"{k} {v:.0f}s" for k, v in result["timings"].items() if v)
    typer.echo(f"report: {out} ({time.perf_counter() - start:.0f} s: {split})")
