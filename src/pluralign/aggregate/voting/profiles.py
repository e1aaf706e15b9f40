"""A dataset of ranked ballots as padded tensors, so that every rule runs over all prompts at once.

Shapes: P prompts, A ballot slots (the most ballots any prompt has), C candidate slots (the most candidates any
prompt has). Prompts with fewer ballots or candidates are padded; padding has weight 0 / ``present`` False.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from pluralign.errors import InputError
from pluralign.records import Ranking


@dataclass(frozen=True)
class Profiles:
    """Ballots of many prompts.

    ranks: (P, A, C) int16 — tier of candidate c on ballot a of prompt p, 0 = best; candidates in one tier tie.
        ``C`` (the number of candidate slots) marks a candidate the ballot leaves unranked: below every ranked
        one. ``C + 1`` marks a candidate the ballot was not shown: it is compared with nothing.
    weights: (P, A) float64 — how much each ballot counts (annotator weight x ballot weight); 0 = no ballot.
    present: (P, C) bool — whether candidate slot c exists for prompt p.
    prompts, candidates, annotators: names for each prompt / candidate slot / ballot slot (for records).
    """

    ranks: np.ndarray
    weights: np.ndarray
    present: np.ndarray
    prompts: list = field(default_factory=list)
    candidates: list[list[str]] = field(default_factory=list)
    annotators: list[list[str | None]] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.ranks.shape  # type: ignore[return-value]

    @property
    def unranked(self) -> int:
        """The rank value meaning "not ranked on this ballot" (below every ranked candidate)."""
        return self.ranks.shape[2]

    @property
    def not_shown(self) -> int:
        """The rank value meaning "this ballot never saw the candidate"."""
        return self.ranks.shape[2] + 1

    def with_weights(self, weights: np.ndarray) -> "Profiles":
        """The same ballots with other (P, A) weights, e.g. one annotator group's."""
        return Profiles(self.ranks, _check_weights(weights, self.weights.shape), self.present, self.prompts,
                        self.candidates, self.annotators)


def _check_weights(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != shape:
        raise InputError(f"weights have shape {weights.shape}, expected {shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InputError("weights must be finite and >= 0")
    return weights


def from_arrays(ranks, weights=None, present=None) -> Profiles:
    """Validated :class:`Profiles` from arrays.

    ranks: (P, A, C) integers, lower is better, equal values tie, a negative value leaves the candidate unranked.
    weights: (P, A) >= 0, default 1 for every ballot. present: (P, C) bool, default all True.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 3 or not np.issubdtype(ranks.dtype, np.integer):
        raise InputError(f"ranks must be a (prompts, ballots, candidates) integer array, got {ranks.dtype}{ranks.shape}")
    P, A, C = ranks.shape
    if C < 2:
        raise InputError("need at least 2 candidates")
    weights = np.ones((P, A)) if weights is None else _check_weights(weights, (P, A))
    present = np.ones((P, C), bool) if present is None else np.asarray(present, bool)
    if present.shape != (P, C):
        raise InputError(f"present has shape {present.shape}, expected {(P, C)}")
    return Profiles(_dense_tiers(ranks, (ranks < 0) | ~present[:, None, :]), weights, present, list(range(P)),
                    [[str(c) for c in range(C)]] * P, [[None] * A] * P)


def _dense_tiers(ranks: np.ndarray, unranked: np.ndarray) -> np.ndarray:
    """(P, A, C) int16 tiers below C keeping each ballot's order and ties; ``unranked`` entries -> C.

    Rules only compare tiers, so values already in 0..C-1 are kept; others are renumbered 0, 1, 2, ...
    """
    C = ranks.shape[2]
    if np.all(unranked | (ranks < C)):
        return np.where(unranked, C, ranks).astype(np.int16)
    values = np.where(unranked, np.iinfo(np.int64).max, ranks.astype(np.int64))
    order = np.argsort(values, axis=2, kind="stable")
    ascending = np.take_along_axis(values, order, axis=2)
    tier = np.concatenate([np.zeros_like(ascending[..., :1]), np.diff(ascending, axis=2) != 0], axis=2).cumsum(axis=2)
    tiers = np.empty_like(tier)
    np.put_along_axis(tiers, order, tier, axis=2)
    return np.where(unranked, C, tiers).astype(np.int16)


def prompt_key(prompt) -> str:
    """A hashable key for a prompt (text or a conversation)."""
    if isinstance(prompt, str):
        return prompt
    return json.dumps([m.model_dump() if hasattr(m, "model_dump") else m for m in prompt], sort_keys=True)


def from_rankings(rankings: Iterable[Ranking], annotator_weights: Mapping[str, float] | None = None) -> Profiles:
    """Group Ranking records by prompt into :class:`Profiles`.

    A prompt's candidates are the union of its ballots' candidates (first-seen order). A candidate a ballot
    lists but leaves out of ``order`` is unranked (below the ranked ones); one the ballot does not list at all
    was not shown to that annotator and is compared with nothing on that ballot. A ballot's weight is ``ranking.weight`` times its annotator's weight in
    ``annotator_weights`` (when given, every annotator must be in it). Errors name the record.
    """
    groups: dict[str, list[Ranking]] = {}
    for r in rankings:
        groups.setdefault(prompt_key(r.prompt), []).append(r)
    if not groups:
        raise InputError("no rankings given")
    P = len(groups)
    A = max(len(g) for g in groups.values())
    names = [list(dict.fromkeys(c for r in g for c in r.candidates)) for g in groups.values()]
    C = max(len(n) for n in names)
    ranks = np.full((P, A, C), C + 1, np.int16)
    weights = np.zeros((P, A))
    present = np.zeros((P, C), bool)
    prompts, annotators = [], []
    for p, (ballots, cands) in enumerate(zip(groups.values(), names)):
        index = {c: i for i, c in enumerate(cands)}
        present[p, : len(cands)] = True
        prompts.append(ballots[0].prompt)
        seen: set[str] = set()
        for a, r in enumerate(ballots):
            if r.annotator is not None and r.annotator in seen:
                raise InputError(f"ranking {r.id}: annotator {r.annotator!r} ranks this prompt twice")
            seen.add(r.annotator)  # type: ignore[arg-type]
            weights[p, a] = r.weight * _annotator_weight(r, annotator_weights)
            ranks[p, a, [index[c] for c in r.candidates]] = C  # shown; ranked ones get their tier next
            for tier, members in enumerate(r.order):
                ranks[p, a, [index[c] for c in members]] = tier
        annotators.append([r.annotator for r in ballots] + [None] * (A - len(ballots)))
    return Profiles(ranks, weights, present, prompts, [n + [""] * (C - len(n)) for n in names], annotators)


def _annotator_weight(r: Ranking, annotator_weights: Mapping[str, float] | None) -> float:
    if annotator_weights is None:
        return 1.0
    if r.annotator not in annotator_weights:
        raise InputError(f"ranking {r.id}: annotator {r.annotator!r} has no weight")
    w = float(annotator_weights[r.annotator])
    if not np.isfinite(w) or w < 0:
        raise InputError(f"ranking {r.id}: annotator {r.annotator!r} has weight {w}; weights must be >= 0")
    return w
