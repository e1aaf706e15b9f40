"""Social choice for feedback (RLCHF): aggregate many annotators' rankings of each prompt's responses into one
social ranking per prompt with a named voting rule, and emit preference pairs with provenance.

One call aggregates a whole dataset: ballots become padded tensors (:mod:`.voting.profiles`) and each rule is
one vectorised function over all prompts (:mod:`.voting.rules`, :mod:`.voting.orders`, :mod:`.voting.lotteries`).

>>> outcome, profiles, prefs = aggregate_rankings(rankings, rule="schulze")   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from typing import Literal

import numpy as np

from pluralign.aggregate.voting import lotteries, orders, rules
from pluralign.aggregate.voting.outcome import SocialRanking
from pluralign.aggregate.voting.pairwise import PairwiseData, from_comparisons, strictly_above, support
from pluralign.aggregate.voting.profiles import Profiles, from_rankings
from pluralign.errors import InputError
from pluralign.progress import progress_bar
from pluralign.records import Comparison, Preference, Provenance, Ranking

MARGIN_RULES: dict[str, Callable[[np.ndarray, np.ndarray], SocialRanking]] = {
    "borda": rules.borda,
    "copeland": rules.copeland,
    "minimax": rules.minimax,
    "schulze": rules.schulze,
    "ranked_pairs": orders.ranked_pairs,
    "kemeny_young": orders.kemeny_young,
    "maximal_lotteries": lotteries.maximal_lotteries,
    "bradley_terry": lotteries.bradley_terry,
}
"""Rules that need only the margin graph: they aggregate rankings and pairwise comparisons alike."""

BALLOT_RULES: dict[str, Callable[[Profiles], SocialRanking]] = {
    "plurality": rules.plurality,
    "instant_runoff": rules.instant_runoff,
    "bucklin": rules.bucklin,
}
"""Rules that read whole ballots (first choices, k-th choices)."""

ALIASES = {"beat_path": "schulze", "tideman": "ranked_pairs", "kemeny": "kemeny_young", "irv": "instant_runoff",
           "hare": "instant_runoff", "maximal_lottery": "maximal_lotteries", "bt": "bradley_terry"}
RULES = sorted(MARGIN_RULES | BALLOT_RULES)

Pairs = Literal["all", "best-worst"]


def rule_name(rule: str) -> str:
    """The canonical name of ``rule`` (accepts aliases and dashes); unknown names raise InputError."""
    name = ALIASES.get(rule.lower().replace("-", "_"), rule.lower().replace("-", "_"))
    if name not in MARGIN_RULES and name not in BALLOT_RULES:
        raise InputError(f"unknown rule {rule!r}; one of {', '.join(RULES)}")
    return name


def apply_rule(rule: str, data: Profiles | PairwiseData) -> SocialRanking:
    """Run ``rule`` on every prompt of ``data`` (ranked ballots, or pairwise comparisons for margin rules)."""
    name = rule_name(rule)
    if name in BALLOT_RULES:
        if not isinstance(data, Profiles):
            raise InputError(f"rule {name!r} needs ranked ballots; pairwise comparisons support {', '.join(MARGIN_RULES)}")
        return BALLOT_RULES[name](data)
    sup = support(data) if isinstance(data, Profiles) else data.support
    return MARGIN_RULES[name](sup, data.present)


def preference_pairs(outcome: SocialRanking, pairs: Pairs = "all") -> np.ndarray:
    """(P, C, C) bool: the (chosen, rejected) pairs the social ranking implies.

    "all": every pair in different tiers; "best-worst": each winner against each candidate of the last tier.
    """
    tiers = outcome.tiers
    present = tiers >= 0
    both = present[:, :, None] & present[:, None, :]
    if pairs == "all":
        return both & (tiers[:, :, None] < tiers[:, None, :])
    if pairs == "best-worst":
        last = np.where(present, tiers, -1).max(axis=1, keepdims=True)
        return both & (tiers[:, :, None] == 0) & (tiers[:, None, :] == last[:, :, None]) & (last[:, :, None] > 0)
    raise InputError(f"pairs must be 'all' or 'best-worst', got {pairs!r}")


def _ballot_weights(data: Profiles | PairwiseData, p: int) -> dict[str, float]:
    weights: dict[str, float] = {}
    for name, w in zip(data.annotators[p], data.weights[p]):
        if name is not None and w > 0:
            weights[name] = weights.get(name, 0.0) + float(w)
    return weights


def social_preferences(outcome: SocialRanking, data: Profiles | PairwiseData, pairs: Pairs = "all",
                       source: str | None = None, progress: bool = False) -> list[Preference]:
    """Preference records (TRL's prompt/chosen/rejected) from a social ranking, with provenance.

    margin: (support(chosen over rejected) - support(rejected over chosen)) / their sum, in [-1, 1] (the
    weighted share of annotators agreeing minus disagreeing); provenance names the rule, its tie-breaking,
    the annotators, their weights and the two tiers. ``progress`` shows a bar (records are built one by one).
    """
    sup = support(data) if isinstance(data, Profiles) else data.support
    chosen_rejected = preference_pairs(outcome, pairs)
    records, provenance_of = [], {}
    found = np.nonzero(chosen_rejected)
    with progress_bar("preference pairs", len(found[0])) if progress else nullcontext(lambda k=1: None) as advance:
        for p, i, j in zip(*found):
            records.append(_preference(data, outcome, sup, provenance_of, p, i, j, source))
            advance()
    return records


def _preference(data, outcome: SocialRanking, sup: np.ndarray, provenance_of: dict, p: int, i: int, j: int,
                source: str | None) -> Preference:
    """The record for chosen i over rejected j on prompt p (provenance shared per prompt)."""
    if p not in provenance_of:
        weights = _ballot_weights(data, p)
        provenance_of[p] = dict(participants=sorted(weights), rule=outcome.rule, source=source,
                                details={"weights": weights, "tie_breaking": outcome.tie_breaking})
    both = sup[p, i, j] + sup[p, j, i]
    prov = provenance_of[p]
    details = prov["details"] | {"tiers": [int(outcome.tiers[p, i]), int(outcome.tiers[p, j])],
                                 "scores": [float(outcome.scores[p, i]), float(outcome.scores[p, j])]}
    return Preference(
        prompt=data.prompts[p], chosen=data.candidates[p][i], rejected=data.candidates[p][j],
        margin=float((sup[p, i, j] - sup[p, j, i]) / both) if both > 0 else 0.0,
        provenance=Provenance(**(prov | {"details": details})),
    )


def check_weights(records: list[Ranking] | list[Comparison], where: str | None = None) -> None:
    """Refuse a record whose ``weight`` is not a finite number (JSON's ``Infinity``/``NaN`` parse as floats,
    and an infinite ballot makes every margin inf - inf: a silent tie). ``where``: the file, for the message."""
    for i, record in enumerate(records, 1):
        if not math.isfinite(record.weight):
            raise InputError(f"record {i} (id {record.id!r}): weight must be a finite number, got {record.weight}", path=where,
                             field="weight")


def aggregate_rankings(rankings: Iterable[Ranking], rule: str = "schulze",
                       annotator_weights: Mapping[str, float] | None = None, pairs: Pairs = "all",
                       source: str | None = None) -> tuple[SocialRanking, Profiles, list[Preference]]:
    """Rankings -> (social ranking of every prompt, the ballot tensors, preference records)."""
    rankings = list(rankings)
    check_weights(rankings, source)
    profiles = from_rankings(rankings, annotator_weights)
    outcome = apply_rule(rule, profiles)
    return outcome, profiles, social_preferences(outcome, profiles, pairs, source)


def aggregate_comparisons(comparisons: Iterable[Comparison], rule: str = "schulze", use_strength: bool = False,
                          pairs: Pairs = "all", source: str | None = None
                          ) -> tuple[SocialRanking, PairwiseData, list[Preference]]:
    """Pairwise comparisons -> social ranking through the margin graph (margin rules only) and preferences."""
    comparisons = list(comparisons)
    check_weights(comparisons, source)
    data = from_comparisons(comparisons, use_strength)
    outcome = apply_rule(rule, data)
    return outcome, data, social_preferences(outcome, data, pairs, source)


def agreement(outcome: SocialRanking, profiles: Profiles) -> np.ndarray:
    """(P, A) share of each ballot's strict pairs that the social ranking orders the same way (NaN: no pairs)."""
    ballot = strictly_above(profiles)  # (P, A, C, C)
    social = (outcome.tiers[:, :, None] < outcome.tiers[:, None, :]) & (outcome.tiers[:, None, :] >= 0)
    agreed = (ballot & social[:, None]).sum(axis=(2, 3))
    total = ballot.sum(axis=(2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, agreed / total, np.nan)
