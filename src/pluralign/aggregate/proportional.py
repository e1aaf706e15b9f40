"""Proportional aggregation across prompts: a 60% majority should win about 60% of the prompts, not 100%.

Aggregating each prompt on its own lets the same majority win every time (Peters 2024, "Proportional
Representation for Artificial Intelligence": 60% of raters dislike emojis, so 100% of aggregated rankings
advise against them). Here the prompts are rounds of one long-term decision, and each round's winner is chosen
by **perpetual Phragmén** (Lackner 2020, "Perpetual Voting: Fairness in Long-Term Decision Making", AAAI):

    every group g carries a load l_g (start 0). In a round, picking candidate c would spread one unit of load
    over the groups approving c:  new_load(c) = (1 + sum_{g approves c} s_g l_g) / sum_{g approves c} s_g,
    with s_g the group's share. Pick the c with the smallest new load; its approvers' loads become new_load(c).

A group that has won recently carries a high load, so the others win next; over many rounds each group's wins
approach its share. Rounds are sequential by nature (a Python loop over prompts, numpy over groups and
candidates); everything else is vectorised.

The alternative, order-free rule is the **method of equal shares** for public decisions (Peters & Skowron 2020,
"Proportionality and the Limits of Welfarism"; Skowron & Górecki 2022, "Proportional Public Decisions", AAAI):
each group gets a budget of s_g x T for T prompts; a prompt's candidate costs 1, paid by its approvers at an
equal price rho per unit of share (a group short of rho * s_g pays what it has); repeatedly fund the cheapest
(smallest rho) candidate of an undecided prompt. Prompts left when nothing is affordable keep the rule's winners.

In both, a group approves the candidates its own members' aggregate (same rule) puts first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pluralign.aggregate.socialchoice import apply_rule, rule_name
from pluralign.aggregate.voting.outcome import SocialRanking, outcome_from_scores
from pluralign.aggregate.voting.profiles import Profiles
from pluralign.errors import InputError


def _validated(approvals, shares) -> tuple[np.ndarray, np.ndarray]:
    approvals = np.asarray(approvals, bool)
    shares = np.asarray(shares, np.float64)
    if approvals.ndim != 3 or shares.shape != approvals.shape[1:2]:
        raise InputError(f"approvals must be (rounds, groups, candidates) and shares (groups,); got "
                         f"{approvals.shape} and {shares.shape}")
    if np.any(shares <= 0) or not np.all(np.isfinite(shares)):
        raise InputError("group shares must be positive")
    return approvals, shares / shares.sum()


def perpetual_phragmen(approvals: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winners of T rounds by perpetual Phragmén.

    approvals: (T, G, C) bool, group g approves candidate c in round t. shares: (G,) > 0, any scale.
    Returns (winners (T,) int — -1 when nobody approves anything that round, loads (G,) at the end).
    Ties between candidates with equal new load go to the one with more approving share, then the lowest index.
    """
    approvals, shares = _validated(approvals, shares)
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


def _equal_price(budget: np.ndarray, share: np.ndarray) -> float:
    """Smallest rho with sum_g min(budget_g, rho * share_g) = 1 over the approving groups (inf if they cannot
    pay 1): groups that run out pay their whole budget, the others rho per unit of share."""
    if budget.sum() < 1 - 1e-12:
        return np.inf
    order = np.argsort(budget / share)
    paid, rest = 0.0, share.sum()
    for b, s in zip(budget[order], share[order]):
        rho = (1 - paid) / rest
        if rho * s <= b + 1e-12:
            return rho
        paid, rest = paid + b, rest - s
    return np.inf


def equal_shares(approvals: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winners of T prompts by the method of equal shares (order-free).

    approvals: (T, G, C) bool; shares: (G,) > 0. Returns (winners (T,) int, -1 where nothing was funded; the
    budgets left (G,)). The price depends only on which groups approve, so each step prices the distinct
    approval patterns (at most 2^G), not every candidate; ties: lower price, more approving share, earlier
    prompt, lower candidate index.
    """
    approvals, shares = _validated(approvals, shares)
    T, G, _ = approvals.shape
    budget = shares * T
    codes = np.einsum("tgc,g->tc", approvals, 1 << np.arange(G))  # approving groups as a bit pattern
    queues = {int(code): np.argwhere(codes == code) for code in np.unique(codes[codes > 0])}  # (t, c) rows
    front = dict.fromkeys(queues, 0)
    winners = np.full(T, -1)
    while True:
        best = None
        for code, rows in queues.items():
            while front[code] < len(rows) and winners[rows[front[code], 0]] >= 0:
                front[code] += 1  # that prompt is decided already
            if front[code] == len(rows):
                continue
            backers = (code >> np.arange(G)) & 1 == 1
            key = (_equal_price(budget[backers], shares[backers]), -shares[backers].sum(), *rows[front[code]])
            if best is None or key < best[0]:
                best = (key, backers)
        if best is None or not np.isfinite(best[0][0]):
            return winners, budget
        (rho, _, t, c), backers = best
        winners[t] = c
        budget[backers] -= np.minimum(budget[backers], rho * shares[backers])


PROPORTIONAL_RULES = {"phragmen": perpetual_phragmen, "equal-shares": equal_shares}


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
                           shares: Mapping[str, float] | None = None, method: str = "phragmen") -> ProportionalResult:
    """Choose each prompt's winner proportionally across prompts; rank the rest by ``rule``.

    annotator_groups: annotator -> group (e.g. Participant.group, or learned opinion clusters).
    shares: group -> share of the population; default: each group's share of the total ballot weight.
    method: "phragmen" (perpetual Phragmén, prompts in order) or "equal-shares" (method of equal shares).
    """
    if method not in PROPORTIONAL_RULES:
        raise InputError(f"proportional method must be one of {', '.join(PROPORTIONAL_RULES)}; got {method!r}")
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
    winners, _ = PROPORTIONAL_RULES[method](approvals, share)
    base = apply_rule(name, profiles)
    chosen = np.zeros_like(base.winners)
    chosen[np.flatnonzero(winners >= 0), winners[winners >= 0]] = True
    chosen |= (winners < 0)[:, None] & base.winners  # nothing approved or affordable: keep the rule's winners
    scores = np.where(chosen, 1.0, -base.tiers.astype(float))
    label = {"phragmen": "perpetual_phragmen", "equal-shares": "equal_shares"}[method]
    first = {"phragmen": "least new load", "equal-shares": "lowest price"}[method]
    outcome = outcome_from_scores(scores, profiles.present, f"{label}+{name}",
                                  tie_breaking=f"{first}, then most approving share, then first candidate; "
                                               f"below the winner: {base.tie_breaking}")
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
