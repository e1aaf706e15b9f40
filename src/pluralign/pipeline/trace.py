"""Provenance of a trained preference, read from a run directory's manifests and records (no in-memory state).

A human preference: the rule that produced it -> the prompt's outcome under the rule and the proportional rule
-> each camp's and opinion group's agreement with it (the share of its raters who ranked chosen above rejected)
-> the participants whose rankings it rests on, with their weight, camp and opinion group. An AI preference: the
labelling rule and model -> the principle and the statement it came from, with its consensus and each opinion
group's agreement -> the pair the panel chose -> the participants of the opinion analysis.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from pluralign.errors import InputError
from pluralign.pipeline.context import read_json


def manifests(run_dir: Path) -> dict[str, dict]:
    """Finished stages in the pipeline's order."""
    run_dir = Path(run_dir)
    if not (run_dir / "pipeline.toml").is_file():
        raise InputError("not a run directory of `pluralign run` (no pipeline.toml)", path=str(run_dir))
    order = tomllib.loads((run_dir / "pipeline.toml").read_text(encoding="utf-8")).get("stages", {})
    return {name: read_json(run_dir / name / "manifest.json") for name in order
            if (run_dir / name / "manifest.json").is_file()}


def _records(path: Path, kind: str) -> list:
    from pluralign.io import read_records

    return read_records(path, kind)


def _train_stage(found: dict[str, dict]) -> str:
    names = [n for n, m in found.items() if m["uses"] == "train" and m["config"]["method"] != "sft"]
    if not names:
        raise InputError("the run has no finished training stage on preferences: no preference to trace")
    return names[-1]


def trained_preferences(run_dir: Path) -> list:
    found = manifests(run_dir)
    return _records(Path(run_dir) / _train_stage(found) / "data.jsonl", "preference")


def first_traceable(run_dir: Path, kind: str) -> str | None:
    """The first trained preference from people (``kind="human"``) or from the AI labeller (``"ai"``)."""
    try:
        prefs = trained_preferences(run_dir)
    except InputError:
        return None
    return next((p.id for p in prefs if bool(p.provenance.principles) == (kind == "ai")), None)


def _participant_view(run_dir: Path, found: dict, ids: list[str], panel: str | None, opinion: str | None) -> dict:
    people = {p.id: p for p in _records(Path(run_dir) / panel / "participants.jsonl", "participant")} if panel else {}
    groups = read_json(Path(run_dir) / opinion / "opinion.json")["groups"] if opinion else {}
    return {"n": len(ids), "ids": ids,
            "camps": dict(Counter(people[i].group or "(none)" for i in ids if i in people)),
            "weight": sum(people[i].weight for i in ids if i in people),
            "opinion_groups": dict(Counter(f"group {groups[i]}" for i in ids if i in groups))}


def _agreement(run_dir: Path, found: dict, social: str, pref, opinion: str | None) -> dict:
    """Per camp and per opinion group: the share of its raters of this prompt who ranked chosen above rejected."""
    from pluralign.pipeline.stages import prompt_key

    rankings_stage = found[social]["inputs"]["rankings"]["stage"]
    key = prompt_key(pref.prompt)
    panel = found[social]["inputs"].get("panel", {}).get("stage")
    people = {p.id: p for p in _records(run_dir / panel / "participants.jsonl", "participant")} if panel else {}
    groups = read_json(run_dir / opinion / "opinion.json")["groups"] if opinion else {}
    tally: dict[str, list[int]] = {}
    for r in _records(run_dir / rankings_stage / "rankings.jsonl", "ranking"):
        if prompt_key(r.prompt) != key or r.annotator is None:
            continue
        tier = {c: t for t, cands in enumerate(r.order) for c in cands}
        if pref.chosen not in tier or pref.rejected not in tier:
            continue
        above = int(tier[pref.chosen] < tier[pref.rejected])
        labels = []
        if r.annotator in people and people[r.annotator].group:
            labels.append(f"camp {people[r.annotator].group}")
        if r.annotator in groups:
            labels.append(f"opinion group {groups[r.annotator]}")
        for label in labels:
            tally.setdefault(label, []).append(above)
    return {label: {"agree": sum(v) / len(v), "n": len(v)} for label, v in sorted(tally.items())}


def trace(run_dir: str | Path, preference_id: str) -> dict:
    """The chain behind one trained preference, as a JSON-ready dict."""
    run_dir = Path(run_dir)
    found = manifests(run_dir)
    train = _train_stage(found)
    prefs = {p.id: p for p in _records(run_dir / train / "data.jsonl", "preference")}
    if preference_id not in prefs:
        raise InputError(f"no trained preference {preference_id!r} (ids such as {', '.join(list(prefs)[:3])}; "
                         f"all in {run_dir / train / 'data.jsonl'})")
    pref = prefs[preference_id]
    social = found[train]["inputs"]["social_choice"]["stage"]
    sc_inputs = found[social]["inputs"]
    panel = sc_inputs.get("panel", {}).get("stage")
    out = {"preference": {"id": pref.id, "prompt": pref.prompt, "chosen": pref.chosen, "rejected": pref.rejected},
           "trained_in": train, "rule": pref.provenance.rule, "model": pref.provenance.model}
    if pref.provenance.principles:
        labels = found[train]["inputs"]["ai_labels"]["stage"]
        cons_stage = found[labels]["inputs"]["constitution"]["stage"]
        from pluralign.io import load_constitution

        constitution = load_constitution(run_dir / cons_stage / "constitution.json")
        opinion = found[cons_stage]["inputs"]["opinion"]["stage"]
        principles = []
        for pid in pref.provenance.principles:
            principle = constitution.principle(pid)
            d = principle.provenance.details
            principles.append({"id": pid, "text": principle.text, "statement": d.get("statement"),
                               "statement_text": d.get("statement_text"), "merged": d.get("merged", []),
                               "consensus": d.get("consensus"), "group_agree": d.get("group_agree", [])})
        control = read_json(run_dir / labels / "control.json")
        out.update(kind="ai", labelled_in=labels, p_a=pref.provenance.details.get("p_a"), principles=principles,
                   constitution_stage=cons_stage, opinion_stage=opinion,
                   labeller_control={k: control[k] for k in ("accuracy", "ci95", "at_chance", "n")},
                   labelled_pair=f"the pair the panel produced for the same prompt ({social}/preferences.jsonl)",
                   participants=_participant_view(run_dir, found, constitution.provenance.participants,
                                                  found[cons_stage]["inputs"]["panel"]["stage"], opinion))
    else:
        outcome = read_json(run_dir / social / "outcome.json")
        p = pref.provenance.details.get("prompt_index")
        opinion = sc_inputs.get("opinion", {}).get("stage") or next(
            (n for n, m in found.items() if m["uses"] == "opinion"), None)
        out.update(kind="human", chosen_by=social, tie_breaking=pref.provenance.details.get("tie_breaking"),
                   margin=pref.margin, outcome=outcome["prompts"][p] if p is not None else None,
                   train_on=outcome["train_on"], group_agreement=_agreement(run_dir, found, social, pref, opinion),
                   participants=_participant_view(run_dir, found, pref.provenance.participants, panel, opinion))
    return out


def _short(text, n: int = 90) -> str:
    text = text if isinstance(text, str) else json.dumps(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def lines(chain: dict) -> list[str]:
    """The chain as plain lines, for the terminal and the report."""
    pref, people = chain["preference"], chain["participants"]
    rows = [f"preference {pref['id']} (trained in stage '{chain['trained_in']}'): chosen {_short(pref['chosen'], 60)!r}"
            f" over {_short(pref['rejected'], 60)!r}"]
    if chain["kind"] == "ai":
        ctl = chain["labeller_control"]
        rows.append(f"  <- AI label by {chain['model']} ({chain['rule']}), p = {chain['p_a']:.2f}; labeller accuracy "
                    f"on the control set {ctl['accuracy']:.0%} (CI {ctl['ci95'][0]:.0%}-{ctl['ci95'][1]:.0%})"
                    + (" — AT CHANCE: this label is noise" if ctl["at_chance"] else ""))
        for pr in chain["principles"]:
            agree = ", ".join(f"group {g}: {a:.0%}" for g, a in enumerate(pr["group_agree"]))
            rows.append(f"  <- principle {pr['id']}: {pr['text']}")
            rows.append(f"  <- statement {pr['statement']} {_short(pr['statement_text'])!r} "
                        f"(merged: {', '.join(pr['merged'])}): consensus {pr['consensus']:.2f}; agree {agree}")
        rows.append(f"  <- {people['n']} participants in the opinion analysis (stage '{chain['opinion_stage']}'): "
                    f"camps {people['camps']}, opinion groups {people['opinion_groups']}")
    else:
        o = chain["outcome"] or {}
        rows.append(f"  <- rule {chain['rule']} (stage '{chain['chosen_by']}', training on the {chain['train_on']} "
                    f"winners); margin {chain['margin']:+.2f}; tie-breaking: {chain['tie_breaking']}")
        if o:
            rows.append(f"  <- this prompt's winners: majority rule {o['rule_winners']}, proportional "
                        f"{o['proportional_winners']}; each camp's favourite {o['group_tops']}")
        agree = ", ".join(f"{g}: {a['agree']:.0%} of {a['n']}" for g, a in chain["group_agreement"].items())
        rows.append(f"  <- ranked chosen above rejected: {agree}")
        rows.append(f"  <- rankings by {people['n']} participants (total weight {people['weight']:.1f}): camps "
                    f"{people['camps']}, opinion groups {people['opinion_groups']}")
    return rows


def print_trace(run_dir: str | Path, preference_id: str, console: Console | None = None) -> dict:
    chain = trace(run_dir, preference_id)
    title = "provenance: why the model was trained toward this" + (" (AI label)" if chain["kind"] == "ai" else
                                                                    " (people's choice)")
    (console or Console()).print(Panel(Text("\n".join(lines(chain))), title=title))
    return chain
