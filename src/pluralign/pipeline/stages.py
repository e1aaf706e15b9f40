"""Stage adapters, people's side: each calls one stage's public functions and writes records into its directory.

``REGISTRY`` says, for each kind, which earlier stages it reads (slot -> kind; optional slots in brackets) and
whether it needs a model. Model-side adapters (responses, AI labels, training, evaluation) live in
:mod:`.stages_lm`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.markup import escape
from rich.table import Table

from pluralign.errors import InputError
from pluralign.pipeline.context import Context, read_candidates, read_json, write_json


@dataclass(frozen=True)
class StageDef:
    run: Callable[[Context], None]
    needs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    model: bool = False
    external: Callable[[object], list[str]] = lambda stage: []  # files outside the run it reads


# ---- panel -------------------------------------------------------------------------------------------------

def run_panel(ctx: Context) -> None:
    from pluralign.io import read_records, write_records

    s = ctx.stage
    if s.source == "simulate":
        from pluralign.participants.simulate import simulate_votes

        participants, statements, votes = simulate_votes(s.n_participants, s.share_plain, s.seen, seed=ctx.seed)
    elif s.source == "polis":
        participants, statements, votes = polis_records(s, ctx.name)
    else:
        from pluralign.records import Participant

        for key in ("statements", "votes"):
            if getattr(s, key) is None:
                raise InputError("needed with source = 'records'", field=f"stages.{ctx.name}.{key}")
        statements, votes = read_records(s.statements, "statement"), read_records(s.votes, "vote")
        participants = (read_records(s.participants, "participant") if s.participants else
                        [Participant(id=p) for p in dict.fromkeys(v.participant for v in votes)])
    weighting = {"raked": False}
    if s.rake:
        from pluralign.participants.raking import rake_participants

        participants, result = rake_participants(participants, s.rake)
        weighting = {"raked": True, "targets": s.rake, "converged": result.converged,
                     "max_margin_error": result.max_margin_error, "design_effect": result.design_effect,
                     "effective_n": result.effective_n}
    for name, records in (("participants", participants), ("statements", statements), ("votes", votes)):
        write_records(ctx.out / f"{name}.jsonl", records)
    groups: dict[str, list[float]] = {}
    for p in participants:
        groups.setdefault(p.group or "(none)", []).append(p.weight)
    total = sum(sum(w) for w in groups.values())
    weighting["groups"] = {g: {"n": len(w), "share": len(w) / len(participants), "weighted_share": sum(w) / total}
                           for g, w in groups.items()}
    write_json(ctx.out / "weighting.json", weighting)
    camps = ", ".join(f"{g} {v['n']} ({v['share']:.0%})" for g, v in weighting["groups"].items())
    ctx.say(f"{len(participants)} participants ({camps}) cast {len(votes)} votes on {len(statements)} statements")
    ctx.figures.update(participants=len(participants), votes=len(votes), statements=len(statements))


def polis_records(s, name: str):
    """A Polis export as records: participants, statements (moderated-out and meta ones marked -1), votes."""
    from pluralign.aggregate.opinion.matrix import read_statement_texts, read_votes
    from pluralign.records import Participant, Statement, Vote

    if s.export is None:
        raise InputError("needed with source = 'polis'", field=f"stages.{name}.export")
    matrix = read_votes(s.export, None, s.meta)
    texts = read_statement_texts(s.export)
    out = set(matrix.mod_out.tolist()) | set(matrix.meta.tolist())
    statements = [Statement(id=sid, text=texts.get(sid, "").strip() or f"(statement {sid})",
                            moderated=-1 if j in out else 1) for j, sid in enumerate(matrix.statements)]
    codes = matrix.codes
    votes = [Vote(participant=matrix.participants[i], statement=matrix.statements[j], value=int(code) - 2)
             for i in range(codes.shape[0])
             for j, code in zip(codes.indices[codes.indptr[i]:codes.indptr[i + 1]],
                                codes.data[codes.indptr[i]:codes.indptr[i + 1]])]
    return [Participant(id=p) for p in matrix.participants], statements, votes


def panel_files(stage) -> list[str]:
    if stage.source == "polis":
        return [stage.export] if stage.export else []
    return [p for p in (stage.participants, stage.statements, stage.votes) if p] if stage.source == "records" else []


# ---- opinion groups and the constitution --------------------------------------------------------------------

def analysis(panel: Path, settings: dict, seed: int):
    from pluralign.aggregate.opinion import analyze, from_votes
    from pluralign.io import read_records

    votes = read_records(panel / "votes.jsonl", "vote")
    statements = read_records(panel / "statements.jsonl", "statement")
    return analyze(from_votes(votes, statements=statements), n_groups=settings.get("groups"),
                   init=settings.get("init", "polis"), seed=seed), {s.id: s.text for s in statements}


def run_opinion(ctx: Context) -> None:
    result, texts = analysis(ctx.input("panel"), ctx.stage.model_dump(), ctx.seed)
    summary = result.to_dict()
    summary["texts"] = texts
    summary["agree_fraction"] = dict(zip(result.matrix.statements, _agree_fraction(result).T.tolist()))
    write_json(ctx.out / "opinion.json", summary)
    table = Table("statement", "consensus", *[f"group {g} agree" for g in range(result.n_groups)])
    for j in result.gac.argsort()[::-1]:
        sid = result.matrix.statements[j]
        table.add_row(escape(texts[sid]), f"{result.gac[j]:.2f}", *[f"{result.agree_rate[g, j]:.2f}"
                                                               for g in range(result.n_groups)])
    ctx.say(f"{result.n_groups} opinion groups found. {result.note}")
    ctx.say(table)
    ctx.figures.update(groups=result.n_groups)


def _agree_fraction(result) -> np.ndarray:
    from pluralign.constitution.build import group_agree_fraction

    return group_agree_fraction(result)


def run_constitution(ctx: Context) -> None:
    from pluralign.constitution import save
    from pluralign.constitution.build import BuildConfig, build

    s = ctx.stage
    opinion = ctx.upstream_config("opinion")
    result, texts = analysis(ctx.input("panel"), opinion, json.loads(
        (ctx.input("opinion") / "manifest.json").read_text())["seed"])
    config = BuildConfig(top_k=s.top_k, min_consensus=s.min_consensus, min_group_agree=s.min_group_agree,
                         merge_threshold=s.merge_threshold)
    constitution, report = build(result, texts, config, name=s.name, source=str(ctx.input("panel") / "votes.jsonl"))
    save(ctx.out / "constitution.json", constitution)
    write_json(ctx.out / "report.json", report)
    for p in constitution.principles:
        agree = ", ".join(f"{a:.0%}" for a in p.provenance.details["group_agree"])
        ctx.say(f"• [cyan]{escape(p.id)}[/] {escape(p.text)}  (consensus {p.provenance.details['consensus']:.2f}; "
                f"agree by group {agree})")
    ctx.figures.update(principles=len(constitution.principles))


# ---- rankings and social choice -------------------------------------------------------------------------------

def plain(prompt):
    """A prompt as JSON-ready data (text, or a list of {role, content})."""
    return prompt if isinstance(prompt, str) else [m if isinstance(m, dict) else m.model_dump() for m in prompt]


def prompt_key(prompt) -> str:
    return json.dumps(plain(prompt), sort_keys=True)


def run_rankings(ctx: Context) -> None:
    from pluralign.io import read_records, write_records

    s = ctx.stage
    if s.source == "records":
        if s.file is None:
            raise InputError("needed with source = 'records'", field=f"stages.{ctx.name}.file")
        rankings = read_records(s.file, "ranking")
    else:
        from pluralign.participants.simulate import simulate_rankings

        rows = read_candidates(ctx.input("responses"))
        participants = read_records(ctx.input("panel") / "participants.jsonl", "participant")
        rankings = simulate_rankings(participants, [r["prompt"] for r in rows], [r["candidates"] for r in rows],
                                     raters_per_prompt=s.raters_per_prompt, noise=s.noise, seed=ctx.seed)
    write_records(ctx.out / "rankings.jsonl", rankings)
    ctx.say(f"{len(rankings)} rankings of {len({prompt_key(r.prompt) for r in rankings})} prompts")
    ctx.figures.update(rankings=len(rankings))


def _annotator_groups(ctx: Context, participants) -> dict[str, str]:
    """Each participant's camp (``group``) where the panel has them, else the opinion group found."""
    if all(p.group for p in participants):
        return {p.id: p.group for p in participants}
    if ctx.has("opinion"):
        found = read_json(ctx.input("opinion") / "opinion.json")["groups"]
        return {p.id: f"group {found[p.id]}" for p in participants if p.id in found}
    raise InputError("participants have no group: add an opinion stage before it", field=f"stages.{ctx.name}")


def run_social_choice(ctx: Context) -> None:
    from pluralign.aggregate.proportional import group_masks, group_wins, proportional_aggregate
    from pluralign.aggregate.socialchoice import aggregate_rankings, social_preferences
    from pluralign.io import read_records, write_records

    s = ctx.stage
    rankings = read_records(ctx.input("rankings") / "rankings.jsonl", "ranking")
    participants = read_records(ctx.input("panel") / "participants.jsonl", "participant")
    groups = _annotator_groups(ctx, participants)
    weights = {p.id: p.weight for p in participants}
    source = str(ctx.input("rankings") / "rankings.jsonl")
    outcome, profiles, rule_prefs = aggregate_rankings(rankings, s.rule, weights, s.pairs, source)
    prop = proportional_aggregate(profiles, s.rule, groups, method=s.proportional)
    majority = group_wins(prop.approvals, group_masks(profiles, groups)[1], outcome.winners)
    prefs = rule_prefs if s.train_on == "rule" else social_preferences(prop.outcome, profiles, s.pairs, source)
    prompts = [prompt_key(p) for p in profiles.prompts]
    held = set(np.random.default_rng(ctx.seed).permutation(len(prompts))[: s.held_out].tolist())
    train, test = [], []
    for i, pref in enumerate(prefs):
        p = prompts.index(prompt_key(pref.prompt))
        pref = pref.model_copy(update={"id": f"human-{i}", "provenance": pref.provenance.model_copy(
            update={"details": {**pref.provenance.details, "prompt_index": p}})})
        (test if p in held else train).append(pref)
    write_records(ctx.out / "preferences.jsonl", train)
    write_records(ctx.out / "heldout_preferences.jsonl", test)
    rule_label = {"schulze": "Schulze"}.get(s.rule, s.rule)
    prop_label = {"phragmen": "perpetual Phragmén", "equal-shares": "equal shares"}[s.proportional]
    table_rows = [{"group": g, "share": float(prop.shares[k]), "majority": float(majority[k]),
                   "proportional": float(prop.won[k])} for k, g in enumerate(prop.groups)]
    write_json(ctx.out / "outcome.json", {
        "rule": s.rule, "rule_label": rule_label, "proportional": s.proportional, "proportional_label": prop_label,
        "train_on": s.train_on, "held_out_prompts": sorted(held), "groups": table_rows,
        "prompts": [{"prompt": plain(profiles.prompts[p]), "candidates": list(profiles.candidates[p]),
                     "rule_winners": np.flatnonzero(outcome.winners[p]).tolist(),
                     "proportional_winners": np.flatnonzero(prop.outcome.winners[p]).tolist(),
                     "group_tops": {g: np.flatnonzero(prop.approvals[p, k]).tolist()
                                    for k, g in enumerate(prop.groups)}} for p in range(len(prompts))]})
    table = Table("camp", "share of panel", f"prompts its favourite won: {rule_label} (majority rule)",
                  f"… {prop_label} (proportional)", title=f"{len(prompts)} prompts, each ranked by the panel")
    for row in table_rows:
        table.add_row(escape(row["group"]), f"{row['share']:.0%}", f"{row['majority']:.0%}",
                      f"{row['proportional']:.0%}")
    ctx.say(table)
    top = max(table_rows, key=lambda r: r["share"])
    shares = ", ".join(f"{escape(r['group'])} {r['proportional']:.0%} for {r['share']:.0%}" for r in table_rows)
    ctx.say(f"{rule_label}, prompt by prompt, gives the largest camp ({escape(top['group'])}, {top['share']:.0%} of "
            f"the panel) its favourite on {top['majority']:.0%} of the prompts; {prop_label} gives each camp about its "
            f"share ({shares}). A prompt on which the camps' favourites coincide counts for both.")
    ctx.say(f"{len(train)} preference pairs for training from the "
            f"{'proportional' if s.train_on == 'proportional' else rule_label} winners "
            f"({s.pairs}); {len(test)} held out on {len(held)} prompts")
    ctx.figures.update(groups=table_rows, train_pairs=len(train), heldout_pairs=len(test))


def _registry() -> dict[str, StageDef]:
    from pluralign.pipeline import stages_lm as lm

    return {
        "panel": StageDef(run_panel, external=panel_files),
        "opinion": StageDef(run_opinion, needs=("panel",)),
        "constitution": StageDef(run_constitution, needs=("panel", "opinion")),
        "responses": StageDef(lm.run_responses, model=True, external=lm.prompt_files),
        "rankings": StageDef(run_rankings, optional=("panel", "responses"),
                             external=lambda s: [s.file] if s.source == "records" and s.file else []),
        "social_choice": StageDef(run_social_choice, needs=("rankings", "panel"), optional=("opinion",)),
        "ai_labels": StageDef(lm.run_ai_labels, needs=("constitution", "social_choice"), model=True,
                              external=lm.control_files),
        "sl_cai": StageDef(lm.run_sl_cai, needs=("constitution",), optional=("responses",), model=True,
                           external=lm.prompt_files),
        "train": StageDef(lm.run_train, optional=("social_choice", "ai_labels", "sl_cai"), model=True),
        "evaluate": StageDef(lm.run_evaluate, needs=("social_choice", "train", "panel"), model=True),
    }


REGISTRY = _registry()
