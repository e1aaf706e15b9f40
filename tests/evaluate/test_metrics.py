"""Metric definitions on hand-made cases and against independent implementations (scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from pluralign.evaluate.metrics import bootstrap_mean, by_group, js_distance, wasserstein_similarity


def test_js_distance_hand_made_cases():
    assert js_distance([1, 0], [1, 0]) == 0.0
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint supports: the maximum in base 2
    # [1, 0] vs [.5, .5]: m = [.75, .25]; JS = .5*log2(4/3) + .5*(.5*log2(2/3) + .5*log2(2)) = 0.3113
    assert js_distance([1, 0], [0.5, 0.5]) ** 2 == pytest.approx(0.311278, abs=1e-6)
    assert js_distance([2, 2], [1, 1]) == 0.0  # counts are normalised
    with pytest.raises(ValueError):
        js_distance([1, 0], [1, 0, 0])
    with pytest.raises(ValueError):
        js_distance([np.nan, 1], [1, 0])


def test_js_distance_matches_scipy():
    rng = np.random.default_rng(0)
    for k in (2, 3, 5, 9):
        for _ in range(20):
            p, q = rng.dirichlet(np.ones(k) * 0.5), rng.dirichlet(np.ones(k))
            assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)


def test_wasserstein_similarity():
    assert wasserstein_similarity([1, 0, 0], [0, 0, 1]) == pytest.approx(0.0)  # opposite ends of the scale
    assert wasserstein_similarity([1, 0, 0], [0, 1, 0]) == pytest.approx(0.5)
    assert wasserstein_similarity([0.2, 0.8], [0.2, 0.8]) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    for _ in range(20):
        positions = np.sort(rng.uniform(1, 5, size=4))
        p, q = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
        expected = 1 - wasserstein_distance(positions, positions, p, q) / (positions.max() - positions.min())
        assert wasserstein_similarity(p, q, positions) == pytest.approx(expected, abs=1e-9)
    # Unsorted ordinal positions (OpinionQA puts "neither" at 1.5 after 2.0)
    assert wasserstein_similarity([0, 0, 1], [0, 1, 0], [1.0, 2.0, 1.5]) == pytest.approx(0.5)


def test_bootstrap_interval_covers_the_mean_and_shrinks():
    rng = np.random.default_rng(2)
    small, large = bootstrap_mean(rng.normal(size=20)), bootstrap_mean(rng.normal(size=2000))
    assert small.low <= small.mean <= small.high and large.low <= large.mean <= large.high
    assert large.high - large.low < (small.high - small.low) / 4
    assert bootstrap_mean([]).n == 0 and str(bootstrap_mean([])) == "n/a"
    groups = by_group(["a", "b", "a"], [1.0, 0.0, 0.5])
    assert list(groups) == ["a", "b"] and groups["a"].mean == 0.75 and groups["b"].n == 1
