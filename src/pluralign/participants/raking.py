"""Raking (iterative proportional fitting) of participant weights to population margins, with trimming and
Kish's design effect.

Given each participant's category on a few variables (age band, gender, country ...) and the population's share
of every category, raking rescales the weights one variable at a time until the weighted sample matches every
margin (Deming & Stephan 1940). Trimming caps extreme weights (bounds relative to the mean weight) between
passes, trading a little margin error for variance. Kish's design effect n·Σw² / (Σw)² says how much the
weights inflate variance; the effective sample size is n / deff.

A few lines of numpy: the PyPI ``ipfn`` package fits tables, not per-person weights, and has no trimming
or design effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pluralign.errors import InputError
from pluralign.records import Participant

Targets = Mapping[str, Mapping[str, float]]
"""variable -> category -> population share (each variable's shares sum to 1)."""


@dataclass(frozen=True)
class RakingResult:
    """weights: (n,) with mean 1; iterations: full passes made; converged: every margin within ``tol``;
    max_margin_error: largest |weighted share - target| at the end; trimmed: weights cut by the last trim;
    design_effect: Kish's deff; effective_n: n / deff."""

    weights: np.ndarray
    iterations: int
    converged: bool
    max_margin_error: float
    trimmed: int
    design_effect: float
    effective_n: float


def design_effect(weights: np.ndarray) -> float:
    """Kish's design effect of unequal weights: n Σw² / (Σw)² (1 for equal weights)."""
    w = np.asarray(weights, np.float64)
    return float(len(w) * (w**2).sum() / w.sum() ** 2)


def _encode(categories: Mapping[str, Sequence[str]], targets: Targets, n: int):
    """Per variable: (codes (n,) int, target shares (K,)), validated."""
    encoded = []
    for var, shares in targets.items():
        if var not in categories:
            raise InputError(f"no participant categories for target variable {var!r}")
        values = list(categories[var])
        if len(values) != n:
            raise InputError(f"variable {var!r} has {len(values)} values for {n} participants")
        total = sum(shares.values())
        if any(s < 0 for s in shares.values()) or abs(total - 1) > 1e-6:
            raise InputError(f"targets for {var!r} must be >= 0 and sum to 1 (they sum to {total:.6g})")
        names = list(shares)
        index = {k: i for i, k in enumerate(names)}
        unknown = sorted({v for v in values if v not in index})
        if unknown:
            raise InputError(f"variable {var!r}: categories {unknown} have no target share")
        codes = np.array([index[v] for v in values])
        empty = [k for k in names if shares[k] > 0 and not np.any(codes == index[k])]
        if empty:
            raise InputError(f"variable {var!r}: no participant in categories {empty} that have a target share")
        encoded.append((codes, np.array([shares[k] for k in names], np.float64)))
    return encoded


def rake(categories: Mapping[str, Sequence[str]], targets: Targets, base_weights: Sequence[float] | None = None,
         trim: tuple[float, float] | None = (0.2, 5.0), max_iter: int = 200, tol: float = 1e-6) -> RakingResult:
    """Rake weights so that every variable's weighted category shares match ``targets``.

    categories: variable -> each participant's category (all the same length n). base_weights: starting
    weights (e.g. inclusion probabilities' inverses), default 1. trim: (low, high) bounds on weight / mean
    weight applied after each pass, or None. Stops when all margins are within ``tol`` or after ``max_iter``.
    """
    n = len(next(iter(categories.values()))) if categories else 0
    if n == 0:
        raise InputError("no participants to rake")
    w = np.ones(n) if base_weights is None else np.asarray(base_weights, np.float64).copy()
    if w.shape != (n,) or np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise InputError("base weights must be n positive numbers")
    encoded = _encode(categories, targets, n)

    def margin_error(w):
        return max(np.abs(np.bincount(codes, w, len(t)) / w.sum() - t).max() for codes, t in encoded)

    iterations, error, clipped = 0, margin_error(w), 0
    while error > tol and iterations < max_iter:
        for codes, target in encoded:
            current = np.bincount(codes, w, len(target)) / w.sum()
            w = w * np.divide(target, current, out=np.zeros_like(target), where=current > 0)[codes]
        if trim is not None:
            low, high = trim[0] * w.mean(), trim[1] * w.mean()
            clipped = int(np.sum((w < low) | (w > high)))
            w = np.clip(w, low, high)
        iterations += 1
        error = margin_error(w)
    w = w / w.mean()
    deff = design_effect(w)
    return RakingResult(w, iterations, bool(error <= tol), float(error), clipped, deff, n / deff)


def rake_participants(participants: Sequence[Participant], targets: Targets, **kwargs
                      ) -> tuple[list[Participant], RakingResult]:
    """Rake Participant records by their ``attributes``; returns copies with the new ``weight``.

    Every participant needs every target variable among its attributes (the error names who lacks it).
    """
    categories: dict[str, list[str]] = {var: [] for var in targets}
    for person in participants:
        for var in targets:
            if var not in person.attributes:
                raise InputError(f"participant {person.id!r} has no attribute {var!r}")
            categories[var].append(person.attributes[var])
    result = rake(categories, targets, **kwargs)
    weighted = [p.model_copy(update={"weight": float(w)}) for p, w in zip(participants, result.weights)]
    return weighted, result
