"""``pluralign opinion analyze`` (JSON of groups, consensus, repness) and ``pluralign opinion report`` (HTML).

Heavy libraries (scipy, scikit-learn, pyarrow) load inside the commands, so ``pluralign --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli_options import OutFile, SeedOpt

opinion_app = typer.Typer(help="Opinion groups, representative statements and consensus (Polis math).",
                          no_args_is_help=True)

VotesOpt = Annotated[Path, typer.Option("--votes", help="Polis export dir, Polis API dir, or one votes file: "
                                                         "votes.csv, participants-votes.csv, votes.json, Vote .jsonl")]
StatementsOpt = Annotated[Path | None, typer.Option("--statements", help="statements for a votes file: "
                                                                         "comments.csv, comments.json, Statement JSONL")]
GroupsOpt = Annotated[int | None, typer.Option("--groups", min=1, help="force the number of opinion groups k")]
MinVotesOpt = Annotated[int, typer.Option("--min-votes", min=1, help="votes a participant needs to be clustered "
                                                                      "(Polis: 7, or all statements if fewer)")]
DropOpt = Annotated[Path | None, typer.Option("--drop-participants", help="file of participant ids to leave out "
                                                                          "(one per line, or a CSV with a "
                                                                          "participant/pid column)")]
MetaOpt = Annotated[str, typer.Option("--meta", help="meta statement ids kept out of the math, e.g. '0-14,20' "
                                                     "(Polis CSV exports do not mark them)")]
MathOpt = Annotated[str, typer.Option("--math", help="Polis math version: auto (from the export's dates and "
                                                     "math output) | current | 2018 | 2017-11 | 2017-10 | 2017")]
ReplayOpt = Annotated[bool | None, typer.Option("--replay/--no-replay", help="replay the vote log update by "
                                               "update, as a live Polis server computed it, or analyse once; "
                                               "default: replay where the export has vote times, one Polis math "
                                               "version ran them all and the replay's estimated time is within a "
                                               "minute (the command prints why)")]
PollOpt = Annotated[float | None, typer.Option("--poll-seconds", min=0.0, help="replay only: votes closer than "
                                               "this join one update [1]")]
RestartOpt = Annotated[float | None, typer.Option("--restart-hours", min=0.0, help="replay only: server restart "
                                                  "period, 0 = never [24]")]
FreshOpt = Annotated[bool | None, typer.Option("--fresh-load/--no-fresh-load", help="replay only: end with an "
                                               "update on a freshly loaded server (math computed after the votes); "
                                               "default: from the export's dates (the command prints why)")]


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


def detect_math(votes: Path, matrix) -> tuple[str, str]:
    """The math version a Polis export's evidence points to (:func:`~.mathversion.detect_export`); pluralign's
    own Vote records get today's math."""
    from pluralign.aggregate.opinion.mathversion import detect_export
    from pluralign.aggregate.opinion.matrix import read_json, read_polis_groups

    if votes.suffix == ".jsonl":
        return "current", "pluralign Vote records: today's math"
    groups = math_output = None
    if votes.is_dir() and (votes / "participants-votes.csv").is_file():
        groups = read_polis_groups(votes)
    if votes.is_dir() and (votes / "math-pca2.json").is_file():
        math_output = read_json(votes / "math-pca2.json")
    return detect_export(matrix, groups, math_output)


def load_analysis(votes: Path, statements: Path | None = None, groups: int | None = None, seed: int = 0,
                  meta: str = "", replay: bool | None = None, math: str = "auto", poll_seconds: float | None = None,
                  restart_hours: float | None = None, fresh_load: bool | None = None, min_votes: int = 7,
                  drop: Path | None = None, echo=typer.echo):
    """Read the votes, apply the options, analyse once or replay (``None``: decided from the export, :mod:`.choice`);
    ``echo`` gets the math version line and, for each decision, what was chosen and why."""
    from pluralign.aggregate.opinion import analyze
    from pluralign.aggregate.opinion.choice import decide
    from pluralign.aggregate.opinion.matrix import drop_participants, read_id_list, read_votes
    from pluralign.aggregate.opinion.replay import ReplayConfig, count_updates
    from pluralign.errors import InputError

    replay_only = {"--poll-seconds": poll_seconds, "--restart-hours": restart_hours, "--fresh-load": fresh_load}
    given = [k for k, v in replay_only.items() if v is not None]
    only = f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} with --replay"
    if replay is False and given:
        raise InputError(only)
    forced = groups is not None or min_votes != 7
    if replay and forced:
        raise InputError("--groups and --min-votes cannot be forced on a replay: the conversation's history "
                         "chooses them")
    matrix = read_votes(votes, statements, parse_ids(meta))
    if drop is not None:
        matrix, unknown = drop_participants(matrix, read_id_list(drop))
        if unknown:
            echo(f"{len(unknown)} of the ids in {drop} are not in the votes (first: {unknown[0]!r})")
    version, evidence = detect_math(votes, matrix) if math == "auto" else (math, "given with --math")
    echo(f"Polis math {version} ({evidence})")
    config = ReplayConfig(math=version, poll_seconds=1.0 if poll_seconds is None else poll_seconds,
                          restart_hours=restart_hours or None if restart_hours is not None else 24.0, seed=seed)
    if replay and matrix.log is None:
        raise InputError("--replay needs the votes' times (votes.csv, votes.json or Votes with timestamps)",
                         path=str(votes))
    config, reasons = decide(votes, matrix, config, replay, fresh_load, forced)
    if config is None and given:
        raise InputError(f"{only}; {reasons[0]}")
    for reason in reasons:
        echo(reason[0].upper() + reason[1:])
    if config is None:
        return analyze(matrix, n_groups=groups, seed=seed, math=version, min_votes=min_votes)
    from pluralign.progress import progress_bar  # rich, only for a replay's progress

    with progress_bar("replaying updates", count_updates(matrix, config)) as advance:
        return analyze(matrix, replay=config, progress=advance)


@opinion_app.command("analyze")
def analyze_cmd(votes: VotesOpt, out: OutFile, statements: StatementsOpt = None, groups: GroupsOpt = None,
                min_votes: MinVotesOpt = 7, drop_participants: DropOpt = None, seed: SeedOpt = 0, meta: MetaOpt = "",
                math: MathOpt = "auto", replay: ReplayOpt = None, poll_seconds: PollOpt = None,
                restart_hours: RestartOpt = None, fresh_load: FreshOpt = None) -> None:
    """Run the analysis and write groups, projections, consensus, repness and priority as JSON."""
    from pluralign.io import atomic_path

    result = load_analysis(votes, statements, groups, seed, meta, replay, math, poll_seconds, restart_hours,
                           fresh_load, min_votes, drop_participants)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(json.dumps(result.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    typer.echo(f"{result.matrix.shape[0]} participants, {len(result.clustering.in_conv)} clustered, "
               f"{result.n_groups} groups -> {out}" + (f" ({result.note})" if result.note else ""))


@opinion_app.command("report")
def report_cmd(votes: VotesOpt, out: OutFile, statements: StatementsOpt = None, groups: GroupsOpt = None,
               min_votes: MinVotesOpt = 7, drop_participants: DropOpt = None, seed: SeedOpt = 0, meta: MetaOpt = "",
               title: Annotated[str, typer.Option(help="the page title")] = "Opinion groups",
               math: MathOpt = "auto", replay: ReplayOpt = None,
               poll_seconds: PollOpt = None, restart_hours: RestartOpt = None, fresh_load: FreshOpt = None) -> None:
    """Write an HTML page: opinion map, each group's representative statements, consensus."""
    from pluralign.aggregate.opinion.matrix import read_statement_texts
    from pluralign.aggregate.opinion_report import write_report

    result = load_analysis(votes, statements, groups, seed, meta, replay, math, poll_seconds, restart_hours,
                           fresh_load, min_votes, drop_participants)
    texts = read_statement_texts(statements) if statements else read_statement_texts(votes) if votes.is_dir() else {}
    write_report(out, result, texts, title)
    typer.echo(f"{result.n_groups} groups -> {out}")
