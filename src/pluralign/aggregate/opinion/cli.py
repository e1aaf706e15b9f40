"""``pluralign opinion analyze`` (JSON of groups, consensus, repness) and ``pluralign opinion report`` (HTML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

opinion_app = typer.Typer(help="Opinion groups, representative statements and consensus (Polis math).",
                          no_args_is_help=True)

VotesOpt = Annotated[Path, typer.Option("--votes", help="Polis export dir, Polis API dir, or Vote JSONL")]
StatementsOpt = Annotated[Path | None, typer.Option("--statements", help="Statement JSONL (with Vote JSONL)")]
GroupsOpt = Annotated[int | None, typer.Option("--groups", min=1, help="force the number of groups")]
InitOpt = Annotated[str, typer.Option("--init", help="group k-means starts: polis | best")]
MetaOpt = Annotated[str, typer.Option("--meta", help="meta statement ids kept out of the math, e.g. '0-14,20' "
                                                     "(Polis CSV exports do not mark them)")]


def parse_ids(text: str) -> list[str]:
    """'0-3,7' -> ['0', '1', '2', '3', '7']; non-numeric ids are taken as they are."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, dash, high = part.partition("-")
        if dash and low.isdigit() and high.isdigit():
            out += [str(i) for i in range(int(low), int(high) + 1)]
        else:
            out.append(part)
    return out


def load_analysis(votes: Path, statements: Path | None, groups: int | None, init: str, seed: int, meta: str = ""):
    from pluralign.aggregate.opinion import analyze
    from pluralign.aggregate.opinion.matrix import read_votes

    return analyze(read_votes(votes, statements, parse_ids(meta)), n_groups=groups, init=init, seed=seed)


@opinion_app.command("analyze")
def analyze_cmd(votes: VotesOpt, out: Annotated[Path, typer.Option(help="JSON file to write")],
                statements: StatementsOpt = None, groups: GroupsOpt = None, init: InitOpt = "polis",
                seed: int = 0, meta: MetaOpt = "") -> None:
    """Run the analysis and write groups, projections, consensus, repness and priority as JSON."""
    from pluralign.io import atomic_path

    result = load_analysis(votes, statements, groups, init, seed, meta)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(json.dumps(result.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    typer.echo(f"{result.matrix.shape[0]} participants, {result.n_groups} groups -> {out}"
               + (f" ({result.note})" if result.note else ""))


@opinion_app.command("report")
def report_cmd(votes: VotesOpt, out: Annotated[Path, typer.Option(help="HTML file to write")],
               statements: StatementsOpt = None, groups: GroupsOpt = None, init: InitOpt = "polis",
               seed: int = 0, meta: MetaOpt = "", title: str = "Opinion groups") -> None:
    """Write an HTML page: opinion map, each group's representative statements, consensus."""
    from pluralign.aggregate.opinion.matrix import read_statement_texts
    from pluralign.aggregate.opinion_report import write_report

    result = load_analysis(votes, statements, groups, init, seed, meta)
    write_report(out, result, read_statement_texts(statements or votes), title)
    typer.echo(f"{result.n_groups} groups -> {out}")
