"""``pluralign constitution build`` (from votes) and ``pluralign constitution show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli_options import BatchSizeOpt

constitution_app = typer.Typer(help="Constitutions: build one from people's votes, or show one.",
                               no_args_is_help=True)


@constitution_app.command("build")
def build_cmd(
    votes: Annotated[Path, typer.Option("--votes", help="Polis export dir, Polis API dir, or Vote JSONL")],
    out: Annotated[Path, typer.Option("--out", help="constitution JSON to write")],
    statements: Annotated[Path | None, typer.Option(help="Statement JSONL (needed with Vote JSONL)")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="keep at most this many statements")] = 10,
    min_consensus: Annotated[float | None, typer.Option(help="group-informed consensus threshold")] = None,
    min_group_agree: Annotated[float | None, typer.Option(help="every group's agree share more than this (CCAI: > 0.5)")] = 0.5,
    merge_threshold: Annotated[float, typer.Option(help="embedding cosine at which statements merge")] = 0.8,
    model: Annotated[str | None, typer.Option("--model", "-m", help="rewrite statements into rules with this model "
                                                                     "(default: fixed templates, no model)")] = None,
    meta: Annotated[str, typer.Option(help="meta statement ids kept out, e.g. '0-14' (demographic questions)")] = "",
    name: Annotated[str, typer.Option(help="the constitution's name")] = "people's constitution",
    batch_size: BatchSizeOpt = None,
) -> None:
    """Select statements by group-informed consensus, merge near-duplicates, map each to a principle."""
    from pluralign.aggregate.opinion import analyze
    from pluralign.aggregate.opinion.cli import parse_ids
    from pluralign.aggregate.opinion.matrix import read_statement_texts, read_votes
    from pluralign.constitution.build import BuildConfig, build
    from pluralign.constitution.formats import save

    result = analyze(read_votes(votes, statements, parse_ids(meta)))
    lm = None
    if model:
        from pluralign.lm import load_model

        lm = load_model(model, batch_size=batch_size)
    config = BuildConfig(top_k=top_k, min_consensus=min_consensus, min_group_agree=min_group_agree,
                         merge_threshold=merge_threshold)
    constitution, report = build(result, read_statement_texts(statements or votes), config, lm=lm, name=name,
                                 source=str(votes))
    save(out, constitution)
    for merge in report["merged"]:
        typer.echo(f"merged {merge['members']} into {merge['kept']} (cosine {merge['max_cosine']})")
    typer.echo(f"{len(constitution.principles)} principles from {len(report['selected'])} statements "
               f"({result.n_groups} groups) -> {out}")


@constitution_app.command("show")
def show_cmd(path: Annotated[Path | None, typer.Argument(help="constitution file or Anthropic CAI file/dir; "
                                                              "omit for the default")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False) -> None:
    """Print a constitution's principles (the package default when no path is given)."""
    from pluralign.constitution import default_constitution, load

    constitution = load(path) if path else default_constitution()
    if as_json:
        typer.echo(json.dumps(constitution.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    typer.echo(f"{constitution.name}: {len(constitution.principles)} principles")
    for p in constitution.principles:
        support = p.provenance.details.get("consensus")
        typer.echo(f"- [{p.id}] {p.text}" + (f"  (consensus {support:.3f})" if support is not None else ""))
        typer.echo(f"    critique: {p.critique_request}")
        typer.echo(f"    revision: {p.revision_request}")
        typer.echo(f"    choice:   {p.choice_prompt}")
