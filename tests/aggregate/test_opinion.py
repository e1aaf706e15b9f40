"""Opinion analysis on constructed votes: formulas, sparsity, readers and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.aggregate.opinion import analyze, build, from_votes, read_polis_export
from pluralign.aggregate.opinion.clusters import in_conversation, max_groups
from pluralign.aggregate.opinion.pca import centred_votes, principal_components, project
from pluralign.aggregate.opinion.repness import prop_test, two_prop_test
from pluralign.errors import InputError
from pluralign.io import write_records
from pluralign.records import Vote


def two_camps(n_per_camp: int = 20, n_statements: int = 12, seed: int = 0):
    """Camp A agrees with the first half of statements and disagrees with the rest; camp B the opposite;
    every statement's last column is agreed by all (a consensus statement); 20% of votes are unseen."""
    rng = np.random.default_rng(seed)
    p, s, v = [], [], []
    for camp in (0, 1):
        for i in range(n_per_camp):
            for j in range(n_statements):
                if j < n_statements - 1 and rng.random() < 0.2:
                    continue
                side = 1 if (j < n_statements // 2) == (camp == 0) else -1
                vote = 1 if j == n_statements - 1 else (side if rng.random() < 0.9 else 0)
                p.append(f"{'ab'[camp]}{i}"), s.append(str(j)), v.append(vote)
    return build(p, s, v)


def test_two_camps_are_found_with_consensus_and_repness():
    result = analyze(two_camps())
    assert result.n_groups == 2
    camp = np.array([p[0] for p in result.matrix.participants])
    for letter in "ab":
        assert len(set(result.groups[camp == letter])) == 1
    assert result.groups[camp == "a"][0] != result.groups[camp == "b"][0]
    last = result.matrix.statements.index("11")
    assert int(np.argmax(result.gac)) == last  # agreed by both groups
    assert result.consensus["agree"][0]["statement"] == last
    for entries in result.repness:
        assert entries and all(e["statement"] != last for e in entries if e["repful_for"] == "disagree")


def test_sparse_pca_equals_dense_mean_imputation():
    matrix = two_camps(seed=1)
    dense = matrix.values().toarray()
    seen = matrix.codes.toarray() > 0
    mean = (dense * seen).sum(0) / seen.sum(0)
    imputed = np.where(seen, dense, mean)
    _, _, vt = np.linalg.svd(imputed - imputed.mean(0), full_matrices=False)
    comps = project(matrix).comps
    for k in range(2):
        assert abs(comps[k] @ vt[k]) == pytest.approx(1.0, abs=1e-8)
    centred, center = centred_votes(matrix)
    np.testing.assert_allclose(center, mean)
    randomized = principal_components(centred, exact_up_to=0)  # the large-matrix path
    for k in range(2):
        assert abs(randomized[k] @ comps[k]) == pytest.approx(1.0, abs=1e-6)


def test_projection_scales_by_votes_cast():
    matrix = build(["a", "b", "c", "c", "d"], ["1", "1", "1", "2", "2"], [1, -1, 1, 0, -1])
    proj = project(matrix)
    dense, seen = matrix.values().toarray(), matrix.codes.toarray() > 0
    centred = np.where(seen, dense - proj.center, 0.0)
    expected = (centred @ proj.comps.T) * np.sqrt(2 / seen.sum(1))[:, None]
    np.testing.assert_allclose(proj.participants, expected)
    # A statement sits where a participant agreeing with it alone would: sqrt(m) (1 - mu_j) comps[:, j].
    np.testing.assert_allclose(proj.statements[0], np.sqrt(2) * (1 - proj.center[0]) * proj.comps[:, 0])


def test_tests_and_filter_formulas():
    assert prop_test(np.array(4.0), np.array(4.0)) == pytest.approx(2 * np.sqrt(5) * (5 / 5 - 0.5))
    assert two_prop_test(np.array(9.0), np.array(9.0), np.array(9.0), np.array(9.0)) == 0.0  # pooled p = 1
    counts = np.array([10, 7, 6, 1, 0, 3])
    assert list(in_conversation(counts, 40)) == [0, 1, 2, 3, 5]  # < 15 qualify: topped up by most active
    many = np.array([7] * 20 + [6])
    assert list(in_conversation(many, 40)) == list(range(20))
    assert list(in_conversation(np.array([3, 3, 2]), 3)) == [0, 1, 2]  # threshold min(7, n_statements)
    assert [max_groups(n) for n in (5, 12, 30, 100)] == [2, 3, 4, 5]


def test_latest_vote_counts_and_jsonl_reader(tmp_path):
    votes = [Vote(participant="p", statement="s", value=1, timestamp=2.0),
             Vote(participant="p", statement="s", value=-1, timestamp=1.0),
             Vote(participant="q", statement="s", value="pass")]
    write_records(tmp_path / "votes.jsonl", votes)
    matrix = from_votes(tmp_path / "votes.jsonl")
    assert matrix.values().toarray().ravel().tolist() == [1.0, 0.0]
    assert matrix.counts()["S"].tolist() == [2.0]


def test_one_group_is_a_stated_degenerate_result():
    matrix = build(["a", "b", "c"], ["1", "1", "1"], [1, 1, 1])
    result = analyze(matrix)
    assert result.n_groups == 1 and "one opinion group" in result.note
    assert result.gac.shape == (1,)


@pytest.mark.parametrize("kwargs, message", [
    ({"participant_ids": [], "statement_ids": [], "values": []}, "empty"),
    ({"participant_ids": ["a"], "statement_ids": ["1"], "values": [2]}, "not one of -1, 0, 1"),
    ({"participant_ids": ["a"], "statement_ids": ["9"], "values": [1], "statements": ["1"]}, "unknown statement"),
])
def test_bad_votes_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        build(**kwargs)


def test_meta_statements_are_kept_out():
    from pluralign.aggregate.opinion.cli import parse_ids
    from pluralign.aggregate.opinion.matrix import with_meta

    assert parse_ids("0-2, 7,x") == ["0", "1", "2", "7", "x"]
    matrix = with_meta(two_camps(), ["0", "11"])
    result = analyze(matrix)
    assert result.matrix.meta.tolist() == [0, 11]
    np.testing.assert_allclose(result.projection.comps[:, [0, 11]], 0.0, atol=1e-12)
    assert result.priority[0] == 49.0  # meta statements get Polis's fixed priority 7^2
    with pytest.raises(InputError, match="unknown statement"):
        with_meta(matrix, ["99"])


def test_bad_export_directory(tmp_path):
    with pytest.raises(InputError, match="no votes.csv"):
        read_polis_export(tmp_path)
    (tmp_path / "votes.csv").write_text("timestamp,datetime,comment-id,voter-id,vote\n1,x,0,0,yes\n")
    with pytest.raises(InputError, match=r"votes.csv:2: field 'vote': expected -1, 0 or 1"):
        read_polis_export(tmp_path)


def test_large_sparse_matrix_runs():
    rng = np.random.default_rng(0)
    n, m, nnz = 3000, 400, 60_000
    rows, cols = rng.integers(0, n, nnz), rng.integers(0, m, nnz)
    result = analyze(build(rows, cols, rng.integers(-1, 2, nnz)))
    assert result.projection.participants.shape == (len(result.matrix.participants), 2)
    assert 1 <= result.n_groups <= 5


def test_one_analysis_has_one_answer_whatever_the_seed():
    # Polis's k-means starts from the first distinct points, so no seed moves the groups (clusters.py).
    matrix = two_camps(n_per_camp=60, seed=3)
    results = [analyze(matrix, seed=seed) for seed in range(5)]
    for other in results[1:]:
        assert (other.groups == results[0].groups).all()
        assert other.clustering.silhouettes == pytest.approx(results[0].clustering.silhouettes, abs=1e-12)


def test_rows_join_in_polis_load_order():
    from pluralign.aggregate.opinion.clusters import polis_row_order

    # Votes load ordered by (statement, participant): row 2's lowest statement is 0, rows 0 and 1 start at 1.
    matrix = build(["0", "0", "1", "2", "2"], ["1", "2", "1", "0", "2"], [1, 1, -1, 1, 0])
    assert polis_row_order(matrix.codes).tolist() == [2, 0, 1]


def test_min_votes_forced_groups_and_dropped_participants():
    from pluralign.aggregate.opinion import drop_participants

    matrix = two_camps()
    assert len(analyze(matrix, min_votes=12).clustering.in_conv) < len(analyze(matrix).clustering.in_conv)
    assert analyze(matrix, n_groups=3).n_groups == 3
    kept, unknown = drop_participants(matrix, ["a0", "b1", "zz"])
    assert unknown == ["zz"] and kept.shape[0] == matrix.shape[0] - 2 and "a0" not in kept.participants
    assert kept.codes.nnz == matrix.codes.nnz - matrix.codes[[matrix.participants.index("a0"),
                                                               matrix.participants.index("b1")]].nnz


def test_votes_files_are_read_by_extension(tmp_path):
    from pluralign.aggregate.opinion import read_votes
    from pluralign.aggregate.opinion.matrix import read_id_list

    (tmp_path / "votes.csv").write_text("timestamp,datetime,comment-id,voter-id,vote\n1,x,0,7,1\n2,x,1,7,-1\n")
    (tmp_path / "comments.csv").write_text("timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,"
                                           "comment-body\n1,x,0,,0,0,1,a\n1,x,1,,0,0,-1,b\n1,x,2,,0,0,0,c\n")
    matrix = read_votes(tmp_path / "votes.csv", tmp_path / "comments.csv")
    assert matrix.shape == (1, 3) and matrix.mod_out.tolist() == [1] and matrix.log is not None
    (tmp_path / "pv.csv").write_text("participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1\n7,,0,2,1,1,1,-1\n")
    assert read_votes(tmp_path / "pv.csv").values().toarray().tolist() == [[1.0, -1.0]]
    (tmp_path / "votes.json").write_text('[{"pid": 7, "tid": 0, "vote": 1, "modified": "5"}]')
    assert read_votes(tmp_path / "votes.json").shape == (1, 1)
    (tmp_path / "votes.txt").write_text("x")
    with pytest.raises(InputError, match="unknown votes format '.txt'"):
        read_votes(tmp_path / "votes.txt")
    (tmp_path / "toss.csv").write_text("pid,reason\n7,spam\n 9 ,spam\n")
    assert read_id_list(tmp_path / "toss.csv") == ["7", "9"]
    (tmp_path / "toss.txt").write_text("3\n\n4\n")
    assert read_id_list(tmp_path / "toss.txt") == ["3", "4"]
    with pytest.raises(InputError, match="not a number"):
        build(["a"], ["1"], [None])
    with pytest.raises(InputError, match="not one of -1, 0, 1"):
        build(["a"], ["1"], [0.9])
    with pytest.raises(InputError, match="timestamp inf"):
        build(["a"], ["1"], [1], order=[float("inf")], seconds_per_unit=1.0)


def test_top_up_ties_follow_polis_vote_count_map_order():
    from pluralign.aggregate.opinion.clusters import _murmur3_long, clojure_map_rank

    assert int(_murmur3_long(np.array([1]))[0]) == 1392991556  # Clojure's (hash 1)
    assert clojure_map_rank([str(i) for i in range(8)]).tolist() == list(range(8))  # an array map: insertion order
    hashes = _murmur3_long(np.arange(12))
    chunks = [tuple(int(h >> (5 * level)) & 31 for level in range(7)) for h in hashes]
    assert np.argsort(clojure_map_rank([str(i) for i in range(12)])).tolist() == sorted(range(12), key=chunks.__getitem__)
    # 20 participants tie at 3 votes out of 40 statements: the top-up takes 15 of them in that order.
    rank = clojure_map_rank([str(i) for i in range(20)])
    assert in_conversation(np.full(20, 3), 40, tie_rank=rank).tolist() == sorted(np.argsort(rank)[:15].tolist())
