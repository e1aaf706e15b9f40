"""What every rule returns: a full social ranking with ties, for every prompt at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.errors import InputError


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
        return [np.flatnonzero(row).tolist() for row in self.winners]


def tiers_from_scores(scores: np.ndarray, present: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    """(P, C) competition tiers from (P, C) scores, higher better; scores within ``atol`` tie."""
    s = np.where(present, scores, -np.inf)
    better = s[:, None, :] > s[:, :, None] + atol
    return np.where(present, better.sum(axis=2), -1)


def outcome_from_scores(scores, present, rule: str, atol: float = 1e-9, **extra) -> SocialRanking:
    """A :class:`SocialRanking` ordering candidates by score."""
    return SocialRanking(tiers_from_scores(scores, present, atol), np.where(present, scores, np.nan), rule, **extra)


TIE_BREAKS = ("candidate-order", "random")


def break_ties(outcome: SocialRanking, method: str = "candidate-order", seed: int = 0) -> SocialRanking:
    """A strict social ranking from ``outcome``: candidates in one tier are ordered by their position in the
    prompt's candidate list ("candidate-order") or by a seeded random order per prompt ("random").
    Tiers become positions 0..n-1; scores are kept; ``tie_breaking`` names the method."""
    P, C = outcome.tiers.shape
    if method == "candidate-order":
        key = np.broadcast_to(np.arange(C), (P, C))
    elif method == "random":
        key = np.random.default_rng(seed).random((P, C)).argsort(axis=1)
    else:
        raise InputError(f"tie-break must be one of {', '.join(TIE_BREAKS)}; got {method!r}")
    present = outcome.tiers >= 0
    composite = np.where(present, outcome.tiers * C + key, C * C)
    position = composite.argsort(axis=1, kind="stable").argsort(axis=1)
    name = method if method != "random" else f"random (seed {seed})"
    return SocialRanking(np.where(present, position, -1), outcome.scores, outcome.rule, f"broken by {name}",
                         outcome.lottery)
