"""Distributional pluralism: whose answer distributions does the model's own distribution resemble?

For each multiple-choice question the model's answer distribution is the normalised probability of each option
letter (:mod:`pluralign.evaluate.ask`; averaged over the options' cyclic rotations unless asked not to). Per
(question, group): the Jensen–Shannon distance to the group's gold distribution and the similarity 1 − JSD
(GlobalOpinionQA, Durmus et al., 2023, section 2.2); for ordinal OpinionQA questions also 1 − W1 / (N − 1)
(Santurkar et al., 2023, section 3.1) over the options on the scale. Per group: the mean similarity with a
bootstrap 95% interval, ranked: "whose opinions does this model reflect".

``samples`` > 0 adds a sampled estimate: that many short answers per question at temperature 1, read by letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pluralign.evaluate.ask import AskConfig, ask
from pluralign.evaluate.data import Question
from pluralign.evaluate.metrics import Estimate, bootstrap_mean, by_group, js_distance, wasserstein_similarity
from pluralign.lm.base import LanguageModel
from pluralign.lm.multiple_choice import Format, sampled_distribution
from pluralign.progress import progress_bar


@dataclass
class GroupResult:
    """Per group (country, demographic) the mean similarity 1 − JSD, and 1 − W1/(N − 1) where ordinal."""

    similarity: dict[str, Estimate]
    wasserstein: dict[str, Estimate]
    overall: Estimate
    rows: list[dict] = field(default_factory=list)

    def ranked(self) -> list[tuple[str, Estimate]]:
        """Groups from the most to the least resembled."""
        return sorted(self.similarity.items(), key=lambda kv: -kv[1].mean)

    def to_dict(self) -> dict:
        return {"overall": self.overall.to_dict(),
                "groups": {g: e.to_dict() for g, e in self.ranked()},
                "wasserstein": {g: e.to_dict() for g, e in self.wasserstein.items()}}


def score_rows(questions: Sequence[Question], model: Sequence[np.ndarray], *, seed: int = 0,
               extra: dict[str, Sequence] | None = None) -> GroupResult:
    """Distances of the model's distributions (one per question) to each question's gold, grouped."""
    rows = []
    for i, (q, p) in enumerate(zip(questions, model)):
        jsd = js_distance(p, q.gold)
        row = {"id": q.id, "group": q.group, "answer": [round(float(x), 6) for x in p],
               "gold": [round(x / sum(q.gold), 6) for x in q.gold], "jsd": jsd, "similarity": 1.0 - jsd}
        if q.ordinal:  # the scale's options only, each side renormalised over them
            n = len(q.ordinal)
            if sum(p[:n]) > 0 and sum(q.gold[:n]) > 0:
                row["wasserstein_similarity"] = wasserstein_similarity(p[:n], q.gold[:n], q.ordinal)
        for name, values in (extra or {}).items():
            row[name] = values[i]
        rows.append(row)
    groups = [r["group"] for r in rows]
    wd_rows = [r for r in rows if "wasserstein_similarity" in r]
    return GroupResult(
        similarity=by_group(groups, [r["similarity"] for r in rows], seed=seed),
        wasserstein=by_group([r["group"] for r in wd_rows], [r["wasserstein_similarity"] for r in wd_rows],
                             seed=seed),
        overall=bootstrap_mean([r["similarity"] for r in rows], seed=seed), rows=rows)


def evaluate_distributional(lm: LanguageModel, questions: Sequence[Question], config: AskConfig | None = None,
                            *, samples: int = 0, seed: int = 0) -> GroupResult:
    """The model's answer distribution for each question, scored against each group's gold distribution."""
    config = config or AskConfig()
    dists = ask(lm, [q.header for q in questions], [q.options for q in questions], config,
                description="answer distributions")
    extra = {}
    if samples:
        keys = list(dict.fromkeys((q.header, tuple(q.options)) for q in questions))
        with progress_bar(f"sampling answers ({lm.name})", len(keys)) as advance:
            sampled, unparsed = sampled_distribution(lm, [h for h, _ in keys], [list(o) for _, o in keys],
                                                     Format(chat=config.chat), samples=samples, seed=seed,
                                                     progress=advance)
        by_key = dict(zip(keys, zip(sampled, unparsed)))
        pairs = [by_key[(q.header, tuple(q.options))] for q in questions]
        extra = {"sampled_jsd": [js_distance(s, q.gold) for (s, _), q in zip(pairs, questions)],
                 "sampled_unparsed": [float(u) for _, u in pairs]}
    return score_rows(questions, dists, seed=seed, extra=extra)
