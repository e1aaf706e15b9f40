"""``pluralign edits ...``: learning a user's latent preference from their edits (PRELUDE / CIPHER).

simulate: agents against a simulated user over a documents file, with a resumable log and a cost table;
learn: a stated preference (a Principle, and a personal constitution) per person from Edit records.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from pluralign.cli_options import BatchSizeOpt, ModelOpt, OutFile, SeedOpt
from pluralign.errors import InputError

edits_app = typer.Typer(help="Learn a user's latent preference from their edits (PRELUDE / CIPHER).",
                        no_args_is_help=True)


def _ints(text: str, what: str) -> list[int]:
    parts = [x.strip() for x in text.split(",") if x.strip()]
    if not all(re.fullmatch(r"-?[0-9]{1,18}", x) for x in parts):  # ASCII digits only: int() takes "٣" too
        raise InputError(f"expected comma-separated integers, got {text!r}", field=what)
    values = [int(x) for x in parts]
    if not values:
        raise InputError("needs at least one value", field=what)
    return values


@edits_app.command("simulate")
def simulate_cmd(
    documents: Annotated[Path, typer.Option(help="JSONL: 'text' and 'source' (and optional 'id') per line")],
    log: Annotated[Path, typer.Option(help="session log JSONL (appended; a rerun resumes at the next round)")],
    agents: Annotated[str, typer.Option(help="comma-separated: no-learning, oracle, icl-edit-K, cipher-K; "
                                             "':lm' retrieves with the model's embeddings")] =
        "no-learning,oracle,icl-edit-3,cipher-1,cipher-3",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds (document orders)")] = "0",
    rounds: Annotated[int, typer.Option(min=1, help="rounds per agent and seed")] = 200,
    user: Annotated[str, typer.Option(help="'programmatic' (text transforms) or 'lm' (--user-model)")] =
        "programmatic",
    user_model: Annotated[Optional[str], typer.Option(help="model playing the user; default: --model")] = None,
    preferences: Annotated[Optional[str], typer.Option(
        help="SOURCE=TRANSFORM,...; default: sorted sources take the transforms in order")] = None,
    model: ModelOpt = "default",
    max_new_tokens: Annotated[int, typer.Option(min=1, help="tokens per response")] = 48,
    phrase_tokens: Annotated[int, typer.Option(min=1, help="tokens per inferred or merged preference")] = 24,
    context_words: Annotated[int, typer.Option(min=1, help="documents are clipped to this many words")] = 120,
    tolerance: Annotated[int, typer.Option(min=0, help="CIPHER learns from edits costing more than this")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="prompts per generation batch")] = 8,
    edits_out: Annotated[Optional[Path], typer.Option(help="also write every round as an Edit record")] = None,
) -> None:
    """Run agents against a simulated user; print each agent's cumulative edit cost."""
    from pluralign.feedback.edits.agents import parse_spec
    from pluralign.feedback.edits.documents import read_documents
    from pluralign.feedback.edits.metrics import cost_table
    from pluralign.feedback.edits.principles import edits_from_log
    from pluralign.feedback.edits.session import Session, SessionConfig
    from pluralign.feedback.edits.users import LMUser, ProgrammaticUser, assign
    from pluralign.io import write_records
    from pluralign.lm import load_model
    from pluralign.progress import progress_bar

    if user not in ("programmatic", "lm"):
        raise InputError(f"--user must be 'programmatic' or 'lm', got {user!r}", field="user")
    docs = read_documents(documents, context_words=context_words)
    mapping = assign([d.source for d in docs], preferences)
    try:
        config = SessionConfig(agents=[a.strip() for a in agents.split(",") if a.strip()],
                               seeds=_ints(seeds, "seeds"), rounds=rounds, max_new_tokens=max_new_tokens,
                               phrase_tokens=phrase_tokens, tolerance=tolerance)
    except ValueError as err:
        raise InputError(f"bad option: {err}") from None
    for spec in config.agents:
        parse_spec(spec)  # before loading any model
    lm = load_model(model, batch_size=batch_size)
    simulated = ProgrammaticUser(mapping) if user == "programmatic" else LMUser(
        lm if user_model in (None, model) else load_model(user_model, batch_size=batch_size), mapping,
        max_new_tokens=max_new_tokens)
    session = Session(lm, simulated, docs, config, log)
    with progress_bar("rounds", rounds) as advance:
        records = session.run(progress=advance)
    for row in cost_table(records):
        lo, hi = row["t95"]
        typer.echo(f"{row['agent']:>16}  cumulative cost {row['cumulative_cost']:9.1f}  95% [{lo:.1f}, {hi:.1f}] "
                   f"over {len(row['per_seed'])} seeds  zero-cost rounds {row['zero_cost_share']:.0%}")
    if edits_out:
        n = write_records(edits_out, edits_from_log(records, user=simulated.name, model=lm.name))
        typer.echo(f"wrote {n} edits to {edits_out}")
    typer.echo(f"log: {log}")


@edits_app.command("learn")
def learn_cmd(
    edits: Annotated[Path, typer.Option(help="Edit records (.jsonl or .parquet): prompt, original, edited, "
                                            "annotator")],
    out: OutFile,
    constitutions: Annotated[Optional[Path], typer.Option(
        help="also write one constitution JSON per person here (for `pluralign cai label --constitution`)")] = None,
    model: ModelOpt = "default",
    phrase_tokens: Annotated[int, typer.Option(min=1, help="tokens per inferred or merged preference")] = 24,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Infer each person's preference from their edits; write it as a Principle with its provenance."""
    from pluralign.feedback.edits.principles import learn_preferences, personal_constitution
    from pluralign.io import read_records, save_constitution, write_records
    from pluralign.lm import load_model
    from pluralign.progress import progress_bar

    records = read_records(edits, "edit")
    if not records:
        raise InputError("no edits", path=str(edits))
    lm = load_model(model, batch_size=batch_size)
    with progress_bar("inferring", len(records)) as advance:
        principles = learn_preferences(lm, records, phrase_tokens=phrase_tokens, seed=seed, progress=advance)
    n = write_records(out, principles)
    typer.echo(f"wrote {n} learned preferences to {out}")
    for p in principles:
        typer.echo(f"  {p.provenance.participants[0]}: {p.text}  ({len(p.provenance.details['edits'])} edits)")
        if constitutions:
            path = constitutions / f"{p.id}.json"
            save_constitution(path, personal_constitution(p))
    silent = sorted({e.annotator or "anonymous" for e in records} - {p.provenance.participants[0] for p in principles})
    if silent:
        typer.echo(f"no preference inferred for {', '.join(silent)} (no real edit, or the model stated none)")
    if constitutions:
        constitutions.mkdir(parents=True, exist_ok=True)
        typer.echo(f"constitutions in {constitutions}")
