"""What every rule returns: a full social ranking with ties, for every prompt at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SocialRanking:
    """The result of a rule over P prompts with C candidate slots.

    tiers: (P, C) int — 0 for the winners; otherwise how many candidates are strictly above (competition
        ranking: "0 0 2 3"); equal tiers tie. -1 for absent candidates.
    scores: (P, C) float — the rule's score, higher is better (NaN for absent candidates).
    rule: the rule's name. tie_breaking: how ties are treated (ties are kept unless it says otherwise).
    lottery: (P, C) probabilities for lottery rules, else None.
    """

    tiers: np.ndarray
    scores: np.ndarray
    rule: str
    tie_breaking: str = "none: tied candidates share a tier"
    lottery: np.ndarray | None = None

    @property
    def winners(self) -> np.ndarray:
        """(P, C) bool: the candidates in the top tier."""
        return self.tiers == 0

    def winner_sets(self) -> list[list[int]]:
        """Winner candidate indices per prompt (sorted), for comparisons and display."""
        return [list(np.flatnonzero(row)) for row in self.winners]


def tiers_from_scores(scores: np.ndarray, present: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    """(P, C) competition tiers from (P, C) scores, higher better; scores within ``atol`` tie."""
    s = np.where(present, scores, -np.inf)
    better = s[:, None, :] > s[:, :, None] + atol
    return np.where(present, better.sum(axis=2), -1)


def outcome_from_scores(scores, present, rule: str, atol: float = 1e-9, **extra) -> SocialRanking:
    """A :class:`SocialRanking` ordering candidates by score."""
    return SocialRanking(tiers_from_scores(scores, present, atol), np.where(present, scores, np.nan), rule, **extra)
