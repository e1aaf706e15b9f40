"""Replaying a vote log through Polis's incremental math: k-means warm starts, silhouette, the replay itself."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from pluralign.aggregate.opinion import analyze, build
from pluralign.aggregate.opinion.kmeans import kmeans, silhouette
from pluralign.aggregate.opinion.mathversion import detect, detect_export
from pluralign.aggregate.opinion.replay import ReplayConfig, replay, update_starts
from pluralign.errors import InputError


def timed_camps(n_per_camp: int = 20, n_statements: int = 10, seed: int = 0):
    """Two camps with opposite views, joining one participant at a time, a vote every 2 seconds."""
    rng = np.random.default_rng(seed)
    p, s, v, t = [], [], [], []
    clock = 0.0
    for i in range(n_per_camp):
        for camp in (0, 1):
            for j in range(n_statements):
                side = 1 if (j < n_statements // 2) == (camp == 0) else -1
                p.append(f"{'ab'[camp]}{i}"), s.append(str(j)), v.append(side if rng.random() < 0.9 else 0)
                t.append(clock)
                clock += 2.0
    return build(p, s, v, order=t, seconds_per_unit=1.0)


def test_silhouette_equals_scikit_learn_with_singletons():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    for labels in (rng.integers(0, 4, 30), np.r_[np.zeros(28, int), 1, 2]):
        assert silhouette(points, labels) == pytest.approx(silhouette_score(points, labels), abs=1e-12)
    assert silhouette(points, np.zeros(30, int)) == -np.inf


def test_kmeans_keeps_ids_and_founds_a_cluster_at_the_farthest_point():
    points = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [20.0, 0.0]])
    ids, centres, labels = kmeans(points, np.ones(5), 2, None, 20)
    assert list(ids) == [0, 1] and labels[0] == labels[1] != labels[2]
    # Next update: the old clusters (ids 7 and 9) carry on; a third cluster is born at the far newcomer.
    previous = (np.array([7, 7, 9, 9, -1]), np.array([7, 9]))
    ids, centres, labels = kmeans(points, np.ones(5), 3, previous, 20)
    assert list(ids) == [7, 9, 10] and labels[4] == 10
    np.testing.assert_allclose(centres[0], [0.05, 0.0])


def test_updates_start_after_pauses():
    assert list(update_starts(np.array([0.0, 0.5, 0.9, 3.0, 3.2, 10.0]), 1.0)) == [0, 3, 5]


def test_replay_finds_the_camps_and_the_filter_only_grows():
    matrix = timed_camps()
    result = analyze(matrix, replay=ReplayConfig())
    camp = np.array([p[0] for p in matrix.participants])
    assert result.n_groups == 2 and result.options["replay"]["math"] == "current"
    for letter in "ab":
        assert len(set(result.groups[camp == letter])) == 1
    assert result.groups[camp == "a"][0] != result.groups[camp == "b"][0]
    # The two math versions differ only in imputation here (no moderated statements): both find the camps.
    old = analyze(matrix, replay=ReplayConfig(math="2017", restart_hours=None))
    assert len(set(zip(old.groups, result.groups))) == 2


def test_replay_needs_times_and_takes_no_forced_groups():
    untimed = build(["a", "b"], ["1", "1"], [1, -1])
    with pytest.raises(InputError, match="times"):
        replay(untimed)
    with pytest.raises(InputError, match="keep, n_groups"):
        analyze(timed_camps(), replay=ReplayConfig(), n_groups=2)
    with pytest.raises(InputError, match="math must be"):
        ReplayConfig(math="2014")


def test_math_version_is_read_from_the_export_dates_and_who_it_clustered():
    matrix = timed_camps(n_per_camp=10)  # vote times from 0 s: January 1970, before any dated change
    everyone = {p: 0 for p in matrix.participants}
    assert detect_export(matrix, everyone)[0] == "current"  # all have 10 votes >= 7: recomputed later
    # 20 participants with 3 votes each on a 9-statement conversation, all clustered: more than the top-up to 15
    # can admit, so only the 2017 filter did that.
    few = build([f"p{i}" for i in range(20) for _ in range(3)], [str((i + j) % 9) for i in range(20) for j in range(3)],
                [1] * 60, order=[1.5e9] * 60, seconds_per_unit=1.0)
    assert detect_export(few, {f"p{i}": 0 for i in range(20)})[0] == "2017"
    assert detect_export(few, {f"p{i}": 0 for i in range(15)})[0] == "current"
    # A conversation still voting in 2018 cannot have 2017 math, whoever it clustered.
    late = build([f"p{i}" for i in range(20) for _ in range(3)], [str((i + j) % 9) for i in range(20) for j in range(3)],
                 [1] * 60, order=[1.52e9] * 60, seconds_per_unit=1.0)
    assert detect_export(late, {f"p{i}": 0 for i in range(20)})[0] == "2018"
    # The math output's own dates and fields: after June 2022, today's iteration counts.
    name, evidence = detect(1.5e9, math_output={"lastModTimestamp": 1.7e12, "group-aware-consensus": {}})
    assert name == "current" and "lastModTimestamp 2023-11-14" in evidence
    assert detect(None)[0] == "current"


def test_replay_of_too_few_positions_is_one_stated_group():
    # Three participants who all vote alike: one position, nothing to split.
    matrix = build(["a", "b", "c"] * 2, ["1", "1", "1", "2", "2", "2"], [1, 1, 1, -1, -1, -1],
                   order=[0, 5, 10, 15, 20, 25], seconds_per_unit=1.0)
    result = analyze(matrix, replay=ReplayConfig())
    assert result.n_groups == 1 and "only one opinion group" in result.note


def test_a_matrix_too_big_to_replay_is_refused_up_front(monkeypatch):
    import pluralign.aggregate.opinion.replay as replay_module

    monkeypatch.setattr(replay_module, "MAX_CELLS", 100)
    with pytest.raises(InputError, match="analyse this conversation once"):
        replay(timed_camps())  # 40 x 10 = 400 cells


def test_a_loaded_server_orders_rows_by_their_lowest_statement():
    from pluralign.aggregate.opinion.replay import _load_order

    votes = np.full((3, 3), np.nan)
    votes[0, 2], votes[1, 0], votes[2, 1], votes[2, 2] = 1, -1, 0, 1
    # Arrival order was rows 0, 2, 1 and columns 2, 1, 0; a load sorts columns and takes rows by lowest column.
    assert _load_order(votes, [0, 2, 1], [2, 1, 0]) == ([1, 2, 0], [0, 1, 2])
