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


ReplayOpt = Annotated[bool, typer.Option("--replay", help="replay the vote log update by update, as a live Polis "
                                                           "server computed it (needs vote times)")]
MathOpt = Annotated[str, typer.Option("--math", help="with --replay: Polis's math of 'current' or '2017' (before "
                                                     "November 2017 missing votes were filled with 0)")]
PollOpt = Annotated[float, typer.Option("--poll-seconds", min=0.0, help="with --replay: votes closer than this "
                                                                        "join one update")]
RestartOpt = Annotated[float, typer.Option("--restart-hours", min=0.0, help="with --replay: server restart "
                                                                            "period (0 = never)")]
FreshOpt = Annotated[bool, typer.Option("--fresh-load", help="with --replay: end with an update on a freshly "
                                                             "loaded server (math computed after the votes)")]


def load_analysis(votes: Path, statements: Path | None, groups: int | None, init: str, seed: int, meta: str = "",
                  replay: bool = False, math: str = "current", poll_seconds: float = 1.0,
                  restart_hours: float = 24.0, fresh_load: bool = False):
    from pluralign.aggregate.opinion import analyze
    from pluralign.aggregate.opinion.matrix import read_votes
    from pluralign.aggregate.opinion.replay import ReplayConfig, count_updates
    from pluralign.errors import InputError
    from pluralign.progress import progress_bar

    matrix = read_votes(votes, statements, parse_ids(meta))
    if not replay:
        return analyze(matrix, n_groups=groups, init=init, seed=seed)
    if groups is not None:
        raise InputError("--groups cannot be forced on a replay: the conversation's history chooses them")
    if matrix.log is None:
        raise InputError("--replay needs the votes' times (votes.csv, votes.json or Votes with timestamps)",
                         path=str(votes))
    config = ReplayConfig(math=math, poll_seconds=poll_seconds, restart_hours=restart_hours or None,
                          fresh_load=fresh_load, seed=seed)
    with progress_bar("replaying updates", count_updates(matrix, config)) as advance:
        return analyze(matrix, replay=config, progress=advance)


@opinion_app.command("analyze")
def analyze_cmd(votes: VotesOpt, out: Annotated[Path, typer.Option(help="JSON file to write")],
                statements: StatementsOpt = None, groups: GroupsOpt = None, init: InitOpt = "polis",
                seed: int = 0, meta: MetaOpt = "", replay: ReplayOpt = False, math: MathOpt = "current",
                poll_seconds: PollOpt = 1.0, restart_hours: RestartOpt = 24.0, fresh_load: FreshOpt = False) -> None:
    """Run the analysis and write groups, projections, consensus, repness and priority as JSON."""
    from pluralign.io import atomic_path

    result = load_analysis(votes, statements, groups, init, seed, meta, replay, math, poll_seconds, restart_hours,
                           fresh_load)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(json.dumps(result.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    typer.echo(f"{result.matrix.shape[0]} participants, {result.n_groups} groups -> {out}"
               + (f" ({result.note})" if result.note else ""))


@opinion_app.command("report")
def report_cmd(votes: VotesOpt, out: Annotated[Path, typer.Option(help="HTML file to write")],
               statements: StatementsOpt = None, groups: GroupsOpt = None, init: InitOpt = "polis",
               seed: int = 0, meta: MetaOpt = "", title: str = "Opinion groups", replay: ReplayOpt = False,
               math: MathOpt = "current", poll_seconds: PollOpt = 1.0, restart_hours: RestartOpt = 24.0,
               fresh_load: FreshOpt = False) -> None:
    """Write an HTML page: opinion map, each group's representative statements, consensus."""
    from pluralign.aggregate.opinion.matrix import read_statement_texts
    from pluralign.aggregate.opinion_report import write_report

    result = load_analysis(votes, statements, groups, init, seed, meta, replay, math, poll_seconds, restart_hours,
                           fresh_load)
    write_report(out, result, read_statement_texts(statements or votes), title)
    typer.echo(f"{result.n_groups} groups -> {out}")
