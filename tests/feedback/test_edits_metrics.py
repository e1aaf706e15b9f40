"""Cumulative cost, its intervals, the paired difference, and preference accuracy with its controls."""

import numpy as np
import pytest

from pluralign.feedback.edits.metrics import (cost_table, curves, paired_difference, preference_accuracy,
                                              t_interval, totals)


def _records(costs: dict[str, list[list[int]]]) -> list[dict]:
    return [{"agent": a, "seed": s, "round": t, "cost": c}
            for a, by_seed in costs.items() for s, row in enumerate(by_seed) for t, c in enumerate(row)]


RECS = _records({"a": [[1, 2, 3], [2, 2, 2]], "b": [[3, 3, 3], [4, 3, 5]]})


def test_totals_curves_and_table():
    assert totals(RECS) == {"a": {0: 6, 1: 6}, "b": {0: 9, 1: 12}}
    assert curves(RECS)["a"].tolist() == [1.5, 3.5, 6.0]
    table = cost_table(RECS)
    assert [r["agent"] for r in table] == ["a", "b"] and table[1]["cumulative_cost"] == 10.5
    lo, hi = table[0]["t95"]
    assert lo == hi == 6.0  # no spread over seeds
    blo, bhi = table[1]["bootstrap95"]
    assert 9 <= blo <= 10.5 <= bhi <= 12


def test_t_interval_matches_scipy():
    mean, lo, hi = t_interval([1.0, 2.0, 6.0])
    assert mean == 3.0 and hi - mean == pytest.approx(4.303 * np.std([1, 2, 6], ddof=1) / np.sqrt(3), rel=1e-3)
    assert t_interval([5]) == (5.0, 5.0, 5.0)


def test_paired_difference():
    diff, lo, hi = paired_difference(RECS, "a", "b")
    assert diff == -4.5 and lo <= diff <= hi < 0
    same = paired_difference(RECS, "a", "a")
    assert same == (0.0, 0.0, 0.0)


def test_preference_accuracy_and_controls():
    descriptions = ["x", "y", "z"]
    vec = {"x": [1, 0, 0], "y": [0, 1, 0], "z": [0, 0, 1], "x-ish": [0.9, 0.1, 0], "y-ish": [0.1, 0.9, 0]}
    embed = lambda ts: np.array([vec[t] for t in ts], dtype=np.float32)  # noqa: E731
    acc = preference_accuracy(["x-ish", "y-ish", "x-ish", "x-ish"], ["x", "y", "x", "z"], descriptions, embed)
    assert acc["accuracy"] == 0.75 and acc["chance"] == pytest.approx(1 / 3)
    assert acc["majority_control"] == 0.5  # always "x" is right on the two x rows
    assert acc["shuffled_control"] < acc["accuracy"]
    assert acc["similarity_true"] > acc["similarity_other"]
    assert preference_accuracy([], [], descriptions, embed) == {"n": 0}
