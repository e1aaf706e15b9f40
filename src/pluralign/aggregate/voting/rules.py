"""Positional, elimination and margin rules, each a pure function over all prompts at once.

Margin rules take ``support`` (P, C, C) and ``present`` (P, C) (see :mod:`.pairwise`), so they aggregate ranked
ballots and pairwise comparisons alike; ballot rules (plurality, instant runoff, Bucklin) take
:class:`~.profiles.Profiles`. Every rule returns a :class:`~.outcome.SocialRanking` whose ties are kept.
"""

from __future__ import annotations

import numpy as np

from pluralign.aggregate.voting.outcome import SocialRanking, outcome_from_scores
from pluralign.aggregate.voting.pairwise import margins, widest_paths
from pluralign.aggregate.voting.profiles import Profiles


def _atol(weights: np.ndarray) -> float:
    """Tolerance for comparing weighted counts: fractional weights must not split exact ties."""
    return 1e-9 * max(1.0, float(weights.sum(axis=-1).max(initial=0.0)))


# ---- margin rules ------------------------------------------------------------------------------------------

def borda(support: np.ndarray, present: np.ndarray) -> SocialRanking:
    """Borda count from the margin graph: score_i = sum_j margin(i, j) (symmetric Borda).

    With complete strict ballots this is 2 x classic Borda - (C - 1) x total weight: same winners and ranking.
    A tie on a ballot counts half to each side, the usual extension to weak orders.
    """
    return outcome_from_scores(margins(support).sum(axis=2), present, "borda")


def copeland(support: np.ndarray, present: np.ndarray) -> SocialRanking:
    """Copeland: +1 for each majority win, 0 for each tie, -1 for each loss."""
    return outcome_from_scores(np.sign(margins(support)).sum(axis=2), present, "copeland")


def minimax(support: np.ndarray, present: np.ndarray) -> SocialRanking:
    """Minimax (Simpson–Kramer): score = -(largest margin by which any candidate beats it, or 0)."""
    worst_defeat = np.maximum(margins(support).max(axis=1), 0.0)
    return outcome_from_scores(-worst_defeat, present, "minimax")


def schulze(support: np.ndarray, present: np.ndarray) -> SocialRanking:
    """Schulze (beat path) with margins as strengths.

    p = strongest-path strengths over edges with positive margin; i beats j when p[i, j] > p[j, i] (a strict
    partial order). Score = -(how many candidates beat it), so winners are those nobody beats.
    """
    margin = margins(support)
    paths = widest_paths(np.where(margin > 0, margin, 0.0))
    beaten_by = (np.swapaxes(paths, 1, 2) > paths).sum(axis=2)
    return outcome_from_scores(-beaten_by.astype(float), present, "schulze")


# ---- ballot rules ------------------------------------------------------------------------------------------

def _tops(ranks: np.ndarray, remaining: np.ndarray, unranked: int) -> np.ndarray:
    """(P, A, C) bool: the candidates in each ballot's best tier among ``remaining`` (ranked ones only)."""
    r = np.where(remaining[:, None, :], ranks, unranked)
    best = np.minimum.reduce([r[:, :, c] for c in range(r.shape[2])])[:, :, None]  # faster than min over a short axis
    return (r == best) & (best < unranked)


def plurality(profiles: Profiles) -> SocialRanking:
    """Plurality: each ballot's weight goes to its top choice; a top tier of k candidates gives each 1/k."""
    tops = _tops(profiles.ranks, profiles.present, profiles.unranked)
    share = tops / np.maximum(tops.sum(axis=2, keepdims=True), 1)
    scores = np.einsum("pa,pac->pc", profiles.weights, share)
    return outcome_from_scores(scores, profiles.present, "plurality", atol=_atol(profiles.weights))


def instant_runoff(profiles: Profiles) -> SocialRanking:
    """Instant runoff (Hare): repeatedly eliminate the candidates with the fewest first choices.

    All candidates tied for fewest go out together (no tie-breaking); it stops when one candidate is left or
    all left tie. A ballot whose top tier holds k candidates counts fully for each (pref_voting's "approval"
    reading of ties); exhausted ballots count for no one. Score = the round a candidate went out (winners: C),
    so the ranking is the reverse elimination order. The loop runs over rounds (at most C), not prompts.
    """
    P, A, C = profiles.shape
    atol = _atol(profiles.weights)
    remaining = profiles.present.copy()
    out_round = np.full((P, C), float(C))
    for rnd in range(C):
        counts = np.einsum("pa,pac->pc", profiles.weights, _tops(profiles.ranks, remaining, C))
        fewest = np.where(remaining, counts, np.inf).min(axis=1, keepdims=True)
        lowest = remaining & (counts <= fewest + atol)
        go_on = (remaining.sum(axis=1) > 1) & (lowest != remaining).any(axis=1)
        eliminated = lowest & go_on[:, None]
        if not eliminated.any():
            break
        out_round[eliminated] = rnd
        remaining &= ~eliminated
    return outcome_from_scores(out_round, profiles.present, "instant_runoff")


def bucklin(profiles: Profiles) -> SocialRanking:
    """Bucklin: add k-th choices (k = 1, 2, ...) until some candidate is on more than half of the ballot
    weight; the score is each candidate's count at that k.

    With ties on a ballot a candidate is among the top k when fewer than k candidates are strictly above it.
    """
    P, A, C = profiles.shape
    r, present = profiles.ranks, profiles.present[:, None, :]
    position = sum(((r[:, :, j, None] < r) & present[:, :, j, None]) for j in range(C))  # (P, A, C): above it
    ranked = r < profiles.unranked
    within_k = np.stack([np.einsum("pa,pac->pc", profiles.weights, (position < k) & ranked)
                         for k in range(1, C + 1)], axis=1)  # (P, k, C)
    half = profiles.weights.sum(axis=1)[:, None, None] / 2
    majority = (within_k > half + _atol(profiles.weights)).any(axis=2)  # (P, k)
    decisive_k = np.where(majority.any(axis=1), majority.argmax(axis=1), C - 1)
    scores = within_k[np.arange(P), decisive_k]
    return outcome_from_scores(scores, profiles.present, "bucklin", atol=_atol(profiles.weights))
