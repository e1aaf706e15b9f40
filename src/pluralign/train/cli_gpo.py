"""``pluralign train gpo [CONFIG] [flags]`` (meta-train GPO) and ``pluralign gpo predict|label``.

GPO predicts a group's answer distributions on new questions from a few of its answers (Zhao et al. 2024).
``train gpo`` reads a TOML config of :class:`~pluralign.train.gpo.meta.GpoConfig` keys (all optional), flags
override it; rerunning the same command resumes. ``gpo predict`` gives a group's predicted distributions;
``gpo label`` turns response pairs into Comparison records labelled for one group.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Optional

import typer

from pluralign.cli_options import OutFile, SeedOpt
from pluralign.errors import InputError
from pluralign.train.cli import parse_sets, train_app

gpo_app = typer.Typer(help="Group Preference Optimization: a group's preferences from a few of its answers.",
                      no_args_is_help=True)

ModelPath = Annotated[Path, typer.Option("--model", "-m", help="GPO run directory or gpo.pt / checkpoint.pt")]
GroupOpt = Annotated[str, typer.Option("--group", help="a group of the data the model was trained on, e.g. "
                                                       "'POLPARTY:Republican' or 'Germany'")]
ContextOpt = Annotated[int, typer.Option("--context", help="how many of the group's answered questions GPO sees")]


def load_gpo_config(path: Path | None, overrides: dict):
    from pydantic import ValidationError

    from pluralign.train.gpo.meta import GpoConfig

    values = {}
    if path is not None:
        from pluralign.io import read_text

        try:
            values = tomllib.loads(read_text(path))
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"invalid TOML: {err}", path=str(path)) from None
    try:
        return GpoConfig(**{**values, **overrides})
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(first["msg"], path=str(path or "<flags>"),
                         field=".".join(map(str, first["loc"])) or None) from None


@train_app.command("gpo")
def train_gpo_cmd(
    config: Annotated[Optional[Path], typer.Argument(help="TOML file of GpoConfig keys; flags override")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="opinionqa | globalopinionqa | polis")] = None,
    data_path: Annotated[Optional[str], typer.Option("--data-path", help="the data's folder or JSONL")] = None,
    embedder: Annotated[Optional[str], typer.Option("--embedder", help="minilm or a model spec")] = None,
    output_dir: Annotated[Optional[str], typer.Option("--out-dir", help="run directory")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="optimizer updates")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="random seed")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="any GpoConfig key: --set key=value")] = None,
) -> None:
    """Meta-train GPO across groups (held-out groups kept apart); resumes when rerun."""
    from pluralign.train.gpo.meta import train_gpo

    flags = dict(data=data, data_path=data_path, embedder=embedder, output_dir=output_dir, steps=steps, seed=seed)
    cfg = load_gpo_config(config, {**{k: v for k, v in flags.items() if v is not None}, **parse_sets(set_)})
    typer.echo(json.dumps(train_gpo(cfg), indent=2))


def _load(model: Path, group: str, context: int, seed: int):
    """The predictor, its embedding cache, the group's context from the data it was trained on, and the
    population prior of that data (None for a model that reads none)."""
    from pluralign.train.gpo.data import read_survey
    from pluralign.train.gpo.embeddings import cache_for, embed_survey
    from pluralign.train.gpo.label import group_context
    from pluralign.train.gpo.predict import GpoPredictor
    from pluralign.train.gpo.prior import prior_for

    predictor = GpoPredictor.load(model)
    cfg = predictor.config
    survey = read_survey(cfg.data, cfg.data_path)
    group_context(survey, group, {}, 0, seed)  # an unknown group fails before any model loads
    cache = cache_for(cfg.embedder, cfg.cache_dir)
    emb = embed_survey(survey, cache)
    ctx, ids = group_context(survey, group, emb, context, seed)
    prior = prior_for(cfg, survey, predictor.train_groups)
    return predictor, cache, survey, emb, ctx, ids, prior


@gpo_app.command("predict")
def predict_cmd(model: ModelPath, group: GroupOpt, out: OutFile, context: ContextOpt = 10, seed: SeedOpt = 0) -> None:
    """Predict GROUP's distribution on each question it answered but GPO did not see (JSONL, with the truth and
    the alignment score), from CONTEXT of its answers."""
    import numpy as np

    from pluralign.io import write_jsonl
    from pluralign.train.gpo.metrics import alignment

    predictor, _, survey, emb, ctx, ids, prior = _load(model, group, context, seed)
    targets = [q for q in sorted(survey.answers[group]) if q not in set(ids)]
    priors = prior.episode(group, ids, targets) if prior else None
    preds = predictor.predict(ctx, [emb[q] for q in targets], *((priors[:len(ids)], priors[len(ids):]) if prior
                                                                 else (None, None)))
    rows = []
    for q, p in zip(targets, preds):
        question, truth = survey.questions[q], survey.answers[group][q]
        rows.append(dict(group=group, question_id=q, question=question.text, options=question.options,
                         predicted=np.round(p, 6).tolist(), truth=np.round(truth, 6).tolist(),
                         alignment=alignment(p, truth, question.ordinal), context_questions=ids))
    write_jsonl(out, rows)
    scores = [r["alignment"] for r in rows if r["alignment"] is not None]
    typer.echo(json.dumps(dict(group=group, questions=len(rows), context=len(ids),
                               mean_alignment=round(float(np.mean(scores)), 4) if scores else None, out=str(out))))


@gpo_app.command("label")
def label_cmd(model: ModelPath, group: GroupOpt,
              pairs: Annotated[Path, typer.Option("--pairs", help="JSONL of {prompt, response_a, response_b}")],
              out: OutFile, context: ContextOpt = 10, seed: SeedOpt = 0) -> None:
    """Label response pairs by which response GROUP would prefer: Comparison records with provenance. A model
    meta-trained with the population prior needs each pair's "population": [share for a, share for b]."""
    from pluralign.io import write_records
    from pluralign.train.gpo.label import label_pairs, read_pairs

    rows = read_pairs(pairs)
    predictor, cache, _, _, ctx, ids, prior = _load(model, group, context, seed)
    context_prior = prior.episode(group, ids, []) if prior else None
    records = label_pairs(predictor, cache, ctx, ids, group, rows, context_prior, source=pairs)
    write_records(out, records)
    typer.echo(json.dumps(dict(group=group, pairs=len(records), a=sum(r.label == "a" for r in records),
                               out=str(out))))
