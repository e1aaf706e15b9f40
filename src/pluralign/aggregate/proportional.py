"""Proportional aggregation across prompts: a 60% majority should win about 60% of the prompts, not 100%.

Aggregating each prompt on its own lets the same majority win every time (Peters 2024, "Proportional
Representation for Artificial Intelligence": 60% of raters dislike emojis, so 100% of aggregated rankings
advise against them). Here the prompts are rounds of one long-term decision, and each round's winner is chosen
by **perpetual Phragmén** (Lackner 2020, "Perpetual Voting: Fairness in Long-Term Decision Making", AAAI):

    every group g carries a load l_g (start 0). In a round, picking candidate c would spread one unit of load
    over the groups approving c:  new_load(c) = (1 + sum_{g approves c} s_g l_g) / sum_{g approves c} s_g,
    with s_g the group's share. Pick the c with the smallest new load; its approvers' loads become new_load(c).

A group that has won recently carries a high load, so the others win next; over many rounds each group's wins
approach its share. A group approves the candidates its own members' aggregate (same rule) puts first.
Rounds are sequential by nature (a Python loop over prompts, numpy over groups and candidates); everything
else is vectorised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pluralign.aggregate.socialchoice import apply_rule, rule_name
from pluralign.aggregate.voting.outcome import SocialRanking, outcome_from_scores
from pluralign.aggregate.voting.profiles import Profiles
from pluralign.errors import InputError


def perpetual_phragmen(approvals: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winners of T rounds by perpetual Phragmén.

    approvals: (T, G, C) bool, group g approves candidate c in round t. shares: (G,) > 0, any scale.
    Returns (winners (T,) int — -1 when nobody approves anything that round, loads (G,) at the end).
    Ties between candidates with equal new load go to the one with more approving share, then the lowest index.
    """
    approvals = np.asarray(approvals, bool)
    shares = np.asarray(shares, np.float64)
    if approvals.ndim != 3 or shares.shape != approvals.shape[1:2]:
        raise InputError(f"approvals must be (rounds, groups, candidates) and shares (groups,); got "
                         f"{approvals.shape} and {shares.shape}")
    if np.any(shares <= 0) or not np.all(np.isfinite(shares)):
        raise InputError("group shares must be positive")
    shares = shares / shares.sum()
    loads = np.zeros(len(shares))
    winners = np.full(approvals.shape[0], -1)
    for t, approve in enumerate(approvals):
        backing = shares @ approve  # (C,) approving share
        if not backing.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            new_load = np.where(backing > 0, (1.0 + (shares * loads) @ approve) / backing, np.inf)
        best = np.flatnonzero(np.isclose(new_load, new_load.min(), rtol=1e-12, atol=0))
        c = best[np.argmax(backing[best])]
        winners[t] = c
        loads[approve[:, c]] = new_load[c]
    return winners, loads


@dataclass(frozen=True)
class ProportionalResult:
    """outcome: the social ranking (winner by perpetual Phragmén, the rest by the rule); approvals (P, G, C):
    each group's top choices; groups: names; shares: (G,) normalised; won: (G,) share of the prompts a group
    voted on whose winner it approved."""

    outcome: SocialRanking
    approvals: np.ndarray
    groups: list[str]
    shares: np.ndarray
    won: np.ndarray


def group_masks(profiles: Profiles, annotator_groups: Mapping[str, str]) -> tuple[list[str], np.ndarray]:
    """(names, (G, P, A) bool): which ballot slots belong to each group; every annotator needs a group."""
    names = sorted(set(annotator_groups.values()))
    index = {g: k for k, g in enumerate(names)}
    masks = np.zeros((len(names), *profiles.weights.shape), bool)
    for p, row in enumerate(profiles.annotators):
        for a, annotator in enumerate(row):
            if profiles.weights[p, a] == 0:
                continue
            if annotator not in annotator_groups:
                raise InputError(f"annotator {annotator!r} (prompt {p + 1}) has no group")
            masks[index[annotator_groups[annotator]], p, a] = True
    return names, masks


def proportional_aggregate(profiles: Profiles, rule: str, annotator_groups: Mapping[str, str],
                           shares: Mapping[str, float] | None = None) -> ProportionalResult:
    """Choose each prompt's winner proportionally across prompts; rank the rest by ``rule``.

    annotator_groups: annotator -> group (e.g. Participant.group, or learned opinion clusters).
    shares: group -> share of the population; default: each group's share of the total ballot weight.
    """
    name = rule_name(rule)
    groups, masks = group_masks(profiles, annotator_groups)
    if shares is None:
        share = np.array([profiles.weights[m].sum() for m in masks])
    else:
        missing = [g for g in groups if g not in shares]
        if missing:
            raise InputError(f"no share given for group(s) {missing}")
        share = np.array([float(shares[g]) for g in groups])
    approvals = group_tops(profiles, name, masks)
    winners, _ = perpetual_phragmen(approvals, share)
    base = apply_rule(name, profiles)
    chosen = np.zeros_like(base.winners)
    chosen[np.flatnonzero(winners >= 0), winners[winners >= 0]] = True
    chosen |= (winners < 0)[:, None] & base.winners  # no group approved anything: keep the rule's winners
    scores = np.where(chosen, 1.0, -base.tiers.astype(float))
    outcome = outcome_from_scores(scores, profiles.present, f"perpetual_phragmen+{name}",
                                  tie_breaking=f"Phragmén: least new load, then most approving share, then first "
                                               f"candidate; below the winner: {base.tie_breaking}")
    return ProportionalResult(outcome, approvals, groups, share / share.sum(), group_wins(approvals, masks, chosen))


def group_tops(profiles: Profiles, rule: str, masks: np.ndarray) -> np.ndarray:
    """(P, G, C) bool: each group's winners under ``rule`` from its own members' ballots (none where the
    group cast no ballot)."""
    voted = (masks & (profiles.weights > 0)).any(axis=2)  # (G, P)
    return np.stack([apply_rule(rule, profiles.with_weights(np.where(m, profiles.weights, 0.0))).winners
                     & v[:, None] for m, v in zip(masks, voted)], axis=1)


def group_wins(tops: np.ndarray, masks: np.ndarray, winners: np.ndarray) -> np.ndarray:
    """(G,) share of the prompts a group voted on whose social winners include one of the group's top choices."""
    voted = masks.any(axis=2)  # (G, P)
    hit = (tops & winners[:, None, :]).any(axis=2).T  # (G, P)
    return np.array([hit[g][voted[g]].mean() if voted[g].any() else np.nan for g in range(len(masks))])
