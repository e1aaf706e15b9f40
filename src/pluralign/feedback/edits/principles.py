"""From a person's edits to a stated preference, and from that to a Principle (a personal constitution).

:func:`learn_preferences` runs CIPHER's two model steps over ``Edit`` records (from ``pluralign edits simulate``,
or people's edits stored by the elicitation app), one person (``annotator``) at a time: what each edit reveals
(``prompts.infer``), then one phrase for what those share (``prompts.merge``, as CIPHER-k merges retrieved
preferences; gao-g/prelude ``src/agent/cipher.py``). Each result is a :class:`~pluralign.records.Principle`
whose provenance names the person, the edits, their contexts and the model, so it can be proposed as a
statement in an elicitation conversation or used by ``pluralign cai label`` as a constitution of one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from pluralign.constitution.templates import PrincipleTemplates
from pluralign.feedback.edits import prompts
from pluralign.feedback.edits.cost import edit_cost
from pluralign.records import Constitution, Edit, Principle, Provenance, Text

PERSONAL = PrincipleTemplates(
    critique="Identify specific ways in which the assistant's last response does not match this user's "
             "preference: {principle}",
    revision="Please rewrite the assistant's response to match this user's preference: {principle}",
    choice="Which of these assistant responses better matches this user's preference: {principle}",
)


def as_text(value: Text) -> str:
    if isinstance(value, str):
        return value
    return "\n\n".join(m.content for m in value)


def principle_for(description: str, *, person: str, edits: list[str], contexts: list[str], model: str | None,
                  inferred: list[str] | None = None, rule: str = "cipher/infer+merge") -> Principle:
    """A learned preference as a Principle; provenance: the person, the edits and contexts it rests on."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", person).strip("-") or "user"
    return Principle(id=f"edits-{slug}", text=description, **PERSONAL.fill(description),
                     provenance=Provenance(participants=[person], rule=rule, model=model,
                                           details={"edits": edits, "contexts": contexts,
                                                    "inferred": inferred or []}))


def personal_constitution(principle: Principle) -> Constitution:
    person = principle.provenance.participants[0] if principle.provenance.participants else "user"
    return Constitution(name=f"preference of {person}", principles=[principle], provenance=principle.provenance)


def learn_preferences(lm, edits: list[Edit], *, phrase_tokens: int = 24, max_merge: int = 8, seed: int = 0,
                      progress: Callable[[int], None] | None = None) -> list[Principle]:
    """One Principle per annotator with at least one real edit (edited differs from original)."""
    people: dict[str, list[Edit]] = {}
    for e in edits:
        if edit_cost(as_text(e.original), as_text(e.edited)) > 0:
            people.setdefault(e.annotator or "anonymous", []).append(e)
    asks = [prompts.infer(as_text(e.original), as_text(e.edited)) for es in people.values() for e in es]
    phrases = [prompts.as_phrase(o[0]) for o in lm.generate(asks, temperature=0.0, max_new_tokens=phrase_tokens,
                                                             seed=seed, progress=progress)] if asks else []
    inferred, at = {}, 0
    for person, es in people.items():
        inferred[person] = [p for p in phrases[at:at + len(es)] if p]
        at += len(es)
    # The most frequent phrases first; one distinct phrase needs no merge.
    merging = {p: [x for x, _ in Counter(found).most_common(max_merge)] for p, found in inferred.items() if found}
    to_merge = [p for p, found in merging.items() if len(found) > 1]
    merged = dict(zip(to_merge, (prompts.as_phrase(o[0]) for o in lm.generate(
        [prompts.merge(merging[p]) for p in to_merge], temperature=0.0, max_new_tokens=phrase_tokens,
        seed=seed)))) if to_merge else {}
    out = []
    for person, found in merging.items():
        description = merged.get(person) or found[0]
        es = people[person]
        out.append(principle_for(description, person=person, edits=[e.id for e in es],
                                 contexts=[prompts.clip(as_text(e.prompt), 60) for e in es], model=lm.name,
                                 inferred=inferred[person]))
    return out


def edits_from_log(records: list[dict], *, user: str, model: str) -> list[Edit]:
    """A session log's rounds as Edit records: the context as prompt, the response, the user's edit."""
    return [Edit(id=r["edit_id"], prompt=r["context"], original=r["response"], edited=r["edited"],
                 annotator=f"{user}:{r['source']}",
                 provenance=Provenance(participants=[f"{user}:{r['source']}"], rule="edits-simulate",
                                       model=model, details={"agent": r["agent"], "seed": r["seed"],
                                                             "round": r["round"], "doc": r["doc"],
                                                             "cost": r["cost"]}))
            for r in records]
