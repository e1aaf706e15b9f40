"""``pluralign aggregate``: rankings (or comparisons) -> social ranking per prompt -> preference pairs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pluralign.errors import InputError

if TYPE_CHECKING:
    import numpy as np


def _participants(path: Path):
    from pluralign.io import read_records
    from pluralign.records import Participant

    return read_records(path, Participant)


def _weights(path: Path | None, margins: Path | None) -> dict[str, float] | None:
    """Annotator weights from Participant records, raked to ``margins`` (JSON) when given."""
    if path is None:
        if margins is not None:
            raise InputError("--rake needs --weights FILE: the participants (with attributes) to rake")
        return None
    people = _participants(path)
    if margins is not None:
        from pluralign.participants.raking import rake_participants

        targets = _margins(margins)
        people, result = rake_participants(people, targets, base_weights=[p.weight for p in people])
        typer.echo(f"raked {len(people)} participants in {result.iterations} passes: max margin error "
                   f"{result.max_margin_error:.2g}, design effect {result.design_effect:.3f}, effective n "
                   f"{result.effective_n:.1f}, {result.trimmed} trimmed")
    return {p.id: p.weight for p in people}


def _margins(path: Path) -> dict[str, dict[str, float]]:
    """Raking targets {variable: {category: share}} from JSON; every share a finite number >= 0."""
    from pluralign.io import read_json

    targets = read_json(path)
    if not isinstance(targets, dict) or not targets:
        raise InputError("expected a JSON object {variable: {category: share}}", path=str(path))
    for var, shares in targets.items():
        if not isinstance(shares, dict) or not shares:
            raise InputError("expected an object {category: share}", path=str(path), field=var)
        for cat, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) or share < 0:
                raise InputError(f"a share must be a finite number >= 0, got {json.dumps(share)[:40]}",
                                 path=str(path), field=f"{var}.{cat}")
    return targets


def _groups(path: Path) -> dict[str, str]:
    """annotator -> group from Participant records, or from the JSON of ``pluralign opinion analyze``
    (its "groups": {participant: group number}, the learned opinion groups)."""
    if Path(path).suffix == ".json":
        from pluralign.io import read_json

        data = read_json(path)
        found = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(found, dict) or not found:
            raise InputError("expected a non-empty 'groups' object {participant: group}", path=str(path))
        return {str(k): f"group {v}" for k, v in found.items()}
    groups = {p.id: p.group for p in _participants(path) if p.group is not None}
    if not groups:
        raise InputError("no participant has a 'group'", path=str(path))
    return groups


ANNOTATORS_SHOWN = 20


def _summary(outcome, data, n_prefs: int, rule: str, groups: dict[str, str] | None, won: np.ndarray | None) -> None:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from pluralign.aggregate.proportional import group_masks, group_tops, group_wins
    from pluralign.aggregate.socialchoice import agreement
    from pluralign.aggregate.voting.profiles import Profiles

    console = Console(stderr=True)
    console.print(f"[bold]{outcome.rule}[/]: {len(data.prompts)} prompts -> {n_prefs} preference pairs; "
                  f"ties: {outcome.tie_breaking}")
    if not isinstance(data, Profiles):
        return
    agree = agreement(outcome, data)
    by_annotator: dict[str, list[float]] = {}
    for row, names in zip(agree, data.annotators):
        for value, name in zip(row, names):
            if name is not None and not np.isnan(value):
                by_annotator.setdefault(name, []).append(value)
    means = {name: float(np.mean(v)) for name, v in by_annotator.items()}
    if means:
        values = np.array(list(means.values()))
        console.print(f"agreement of the social ranking with each annotator's pairs: mean {values.mean():.3f}, "
                      f"median {np.median(values):.3f}, min {values.min():.3f} ({min(means, key=means.get)})")
        shown = sorted(means, key=means.get)[:ANNOTATORS_SHOWN]
        table = Table(title="annotators" + (f" (the {len(shown)} least in agreement of {len(means)})"
                                            if len(shown) < len(means) else ""))
        for col in ("annotator", "group", "prompts", "agreement"):
            table.add_column(col, justify="left" if col in ("annotator", "group") else "right")
        for name in shown:
            table.add_row(name, (groups or {}).get(name, "-"), str(len(by_annotator[name])), f"{means[name]:.3f}")
        console.print(table)
    if groups is None:
        return
    names, masks = group_masks(data, groups)
    if won is None:
        won = group_wins(group_tops(data, rule, masks), masks, outcome.winners)
    table = Table(title="groups")
    for col in ("group", "annotators", "ballot weight", "top choice won", "mean agreement"):
        table.add_column(col, justify="left" if col == "group" else "right")
    total = data.weights.sum()
    for g, name in enumerate(names):
        members = [m for m in means if groups.get(m) == name]
        table.add_row(name, str(len(members)), f"{data.weights[masks[g]].sum() / total:.1%}", f"{won[g]:.1%}",
                      f"{np.mean([means[m] for m in members]):.3f}" if members else "-")
    console.print(table)


def aggregate(
    out: Annotated[Path, typer.Option("--out", help="preference pairs to write (.jsonl or .parquet)")],
    rankings: Annotated[Path | None, typer.Option("--rankings", help="Ranking records (JSONL/Parquet)")] = None,
    comparisons: Annotated[Path | None, typer.Option("--comparisons", help="Comparison records instead")] = None,
    rule: Annotated[str, typer.Option(help="borda, bucklin, copeland, instant_runoff, kemeny_young, "
                                           "maximal_lotteries, minimax, plurality, ranked_pairs, schulze, "
                                           "bradley_terry")] = "schulze",
    pairs: Annotated[str, typer.Option(help="all: every pair the social ranking orders; best-worst")] = "all",
    weights: Annotated[Path | None, typer.Option("--weights", help="Participant records: annotator weights")] = None,
    rake: Annotated[Path | None, typer.Option("--rake", help="JSON margins {variable: {category: share}}: rake "
                                                             "the --weights participants to them first")] = None,
    groups: Annotated[Path | None, typer.Option("--participant-groups", help="Participant records with 'group', or the "
                                                                 "JSON of 'pluralign opinion analyze'")] = None,
    proportional: Annotated[bool, typer.Option("--proportional", help="choose winners across prompts in "
                                                                      "proportion to group shares")] = False,
    method: Annotated[str, typer.Option("--proportional-method", help="phragmen (perpetual Phragmén, prompts "
                                                                      "in order) or equal-shares")] = "phragmen",
    use_strength: Annotated[bool, typer.Option("--use-strength", help="comparisons: weight by 1-4 strength")] = False,
    tie_break: Annotated[str | None, typer.Option("--tie-break", help="make the social ranking strict: "
                                                                     "candidate-order or random")] = None,
    seed: Annotated[int, typer.Option(help="seed for --tie-break random")] = 0,
) -> None:
    """Aggregate many annotators' rankings of each prompt with a voting rule; write preference pairs."""
    from pluralign.aggregate.socialchoice import apply_rule, check_weights, rule_name, write_preferences
    from pluralign.aggregate.voting.outcome import break_ties
    from pluralign.aggregate.voting.pairwise import from_comparisons
    from pluralign.aggregate.voting.read import read_profiles
    from pluralign.io import check_output_file, read_records
    from pluralign.records import Comparison

    check_output_file(out)
    if (rankings is None) == (comparisons is None):
        raise InputError("give exactly one of --rankings FILE or --comparisons FILE")
    if proportional and groups is None:
        raise InputError("--proportional needs --participant-groups FILE (participants with a 'group')")
    name = rule_name(rule)
    group_of = _groups(groups) if groups is not None else None
    won = None
    if comparisons is not None:
        if group_of is not None or weights is not None:
            raise InputError("--participant-groups, --proportional and --weights need --rankings (comparisons "
                             "carry their own weight)")
        records = read_records(comparisons, Comparison)
        check_weights(records, str(comparisons))
        data = from_comparisons(records, use_strength)
        outcome = apply_rule(name, data)
    else:
        data = read_profiles(rankings, _weights(weights, rake))
        if proportional:
            from pluralign.aggregate.proportional import proportional_aggregate

            result = proportional_aggregate(data, name, group_of, method=method)  # type: ignore[arg-type]
            outcome, won = result.outcome, result.won
        else:
            outcome = apply_rule(name, data)
    if tie_break is not None:
        outcome = break_ties(outcome, tie_break, seed)
    n_prefs = write_preferences(out, outcome, data, pairs, str(rankings or comparisons), progress=True)
    _summary(outcome, data, n_prefs, name, group_of, won)
    typer.echo(f"wrote {n_prefs} preferences -> {out}")
