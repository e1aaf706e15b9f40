"""The metrics every evaluation shares: distances between answer distributions and bootstrap intervals.

- :func:`js_distance`: Jensen–Shannon distance, base 2, in [0, 1] (the square root of the JS divergence), as
  GlobalOpinionQA reports similarity 1 − JSD (Durmus et al., 2023, section 2.2).
- :func:`wasserstein_similarity`: 1 − W1 / (N − 1) between two distributions over N ordinal options placed at
  their ordinal positions (Santurkar et al., 2023, section 3.1, "representativeness"; reference code
  tatsu-lab/opinions_qa, ``helpers.py``: ``wasserstein_distance(range(N), range(N), p, q)`` over the
  ordinal values, divided by N − 1).
- :func:`bootstrap_mean`: the mean and its percentile-bootstrap 95% interval (Efron and Tibshirani, 1993, ch. 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _distribution(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or not len(p) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"not a distribution: {p!r}")
    return p / p.sum()


def js_distance(p, q) -> float:
    """Jensen–Shannon distance between two distributions over the same options, base 2: in [0, 1]."""
    p, q = _distribution(p), _distribution(q)
    if len(p) != len(q):
        raise ValueError(f"distributions over {len(p)} and {len(q)} options")
    m = (p + q) / 2

    def kl(a):  # KL(a || m) in bits; 0 log 0 = 0
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(np.sqrt(max(0.5 * kl(p) + 0.5 * kl(q), 0.0)))


def wasserstein_similarity(p, q, ordinal: Sequence[float] | None = None) -> float:
    """1 − W1(p, q) / (max(ordinal) − min(ordinal)) over ordinal option positions (default 1..N, i.e. N − 1)."""
    p, q = _distribution(p), _distribution(q)
    positions = np.arange(len(p), dtype=np.float64) if ordinal is None else np.asarray(ordinal, dtype=np.float64)
    if len(positions) != len(p) or len(q) != len(p):
        raise ValueError("p, q and ordinal need the same length")
    span = positions.max() - positions.min()
    if span <= 0:
        return 1.0
    order = np.argsort(positions, kind="stable")
    x, cp, cq = positions[order], np.cumsum(p[order]), np.cumsum(q[order])
    w1 = float(np.sum(np.abs(cp - cq)[:-1] * np.diff(x)))  # W1 on the line: area between the two CDFs
    return 1.0 - w1 / span


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap 95% interval and the number of items behind it."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        if self.n == 0:
            return "n/a"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def bootstrap_mean(values, *, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> Estimate:
    """The mean of ``values`` and its percentile-bootstrap interval (NaN when there are no values)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Estimate(float(values.mean()), float(low), float(high), len(values))


def by_group(groups: Sequence[str], values, **kwargs) -> dict[str, Estimate]:
    """:func:`bootstrap_mean` of ``values`` within each group, groups in first-seen order."""
    values = np.asarray(values, dtype=np.float64)
    groups = list(groups)
    return {g: bootstrap_mean(values[[i for i, x in enumerate(groups) if x == g]], **kwargs)
            for g in dict.fromkeys(groups)}


def bootstrap(statistic, n: int, *, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> Estimate:
    """``statistic(indices)`` on all n items, with a percentile-bootstrap interval over resampled items
    (for figures that are not plain means, e.g. BBQ's bias scores). NaN resamples are dropped."""
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(resamples)], dtype=np.float64)
    values = values[np.isfinite(values)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
    return Estimate(float(statistic(np.arange(n))), float(low), float(high), n)


def chance_p_value(right: int, total: int) -> float:
    """One-sided binomial test of ``right`` correct of ``total`` two-way decisions against a coin (p = 1/2)."""
    from scipy.stats import binomtest

    return float(binomtest(right, total, 0.5, alternative="greater").pvalue) if total else 1.0


def at_chance(right: int, total: int, alpha: float = 0.05) -> bool:
    """A judge is at chance when its right decisions are not significantly more than half."""
    return not chance_p_value(right, total) < alpha
