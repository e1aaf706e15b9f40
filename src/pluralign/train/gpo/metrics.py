"""Alignment scores between a predicted and a group's answer distribution, and bootstrap intervals.

- nominal options (GlobalOpinionQA): 1 − Jensen–Shannon distance, base 2 (so in [0, 1]); the reference
  computes the distance in base e (reference ``train_gpo.py:302``).
- ordinal options (OpinionQA): 1 − Wasserstein distance over the options' ordinal positions divided by the
  largest possible one (positions' spread, N − 1 for positions 1..N); questions whose positions do not spread
  are skipped (reference ``train_gpo.py:36-41, 364-368``; Santurkar et al. 2023, sec. 3).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance


def alignment(predicted: np.ndarray, truth: np.ndarray, ordinal: list[float] | None = None) -> float | None:
    """1 − distance between two distributions over the same options; None where the metric is undefined."""
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    if ordinal is None:
        return float(1.0 - jensenshannon(predicted, truth, base=2))
    positions = np.asarray(ordinal, float)
    spread = positions.max() - positions.min()
    if spread == 0:
        return None
    return float(1.0 - wasserstein_distance(positions, positions, predicted, truth) / spread)


def cluster_bootstrap(per_group: list[np.ndarray], n_boot: int = 2000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of per-group means, with a two-level bootstrap interval (groups resampled,
    then each resampled group's items). Pass paired differences to get an interval for a difference."""
    per_group = [np.asarray(g, float) for g in per_group if len(g)]
    point = float(np.mean([g.mean() for g in per_group]))
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        picks = rng.integers(len(per_group), size=len(per_group))
        stats[b] = np.mean([per_group[i][rng.integers(len(per_group[i]), size=len(per_group[i]))].mean()
                            for i in picks])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return point, float(low), float(high)
