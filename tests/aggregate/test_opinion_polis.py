"""Known answers from the live Polis math server, and agreement with Polis's groups on real conversations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from pluralign.aggregate.opinion import VoteMatrix, analyze, read_polis_api, read_polis_export, read_polis_groups
from pluralign.aggregate.opinion.choice import decide
from pluralign.aggregate.opinion.mathversion import detect_export
from pluralign.aggregate.opinion.replay import ReplayConfig

KNOWN = ["below-100-ptpts", "25ptpt-3gp-no-strict-with-meta"]


def in_polis_order(matrix: VoteMatrix, math: dict) -> VoteMatrix:
    """Rows in the order Polis created its base clusters (its k-means starts depend on that history)."""
    order = [str(p) for members in math["base-clusters"]["members"] for p in members]
    rows = [matrix.participants.index(p) for p in order]
    rows += [i for i in range(matrix.shape[0]) if i not in rows]
    return VoteMatrix(codes=matrix.codes[rows], participants=[matrix.participants[i] for i in rows],
                      statements=matrix.statements, mod_out=matrix.mod_out, meta=matrix.meta)


@pytest.fixture(scope="module", params=KNOWN)
def known(request, shared_data):
    folder = shared_data / "polis" / "polismath-known-answers" / request.param
    math = json.loads((folder / "math-pca2.json").read_text())
    matrix = in_polis_order(read_polis_api(folder), math)
    # Polis's history-dependent inputs: who it had admitted and how many groups its smoother held.
    result = analyze(matrix, keep=math["in-conv"], n_groups=len(math["group-clusters"]))
    base = dict(zip(math["base-clusters"]["id"], math["base-clusters"]["members"]))
    truth = {str(p): g["id"] for g in math["group-clusters"] for b in g["members"] for p in base[b]}
    return math, result, truth


def test_pca_matches(known):
    math, result, _ = known
    comps = np.array(math["pca"]["comps"])
    for ours, theirs in zip(result.projection.comps, comps):
        assert abs(ours @ theirs) / np.linalg.norm(ours) / np.linalg.norm(theirs) >= 0.99
    # Polis's internal sign is agree = -1: its centre is minus ours.
    np.testing.assert_allclose(-result.projection.center, math["pca"]["center"], atol=1e-9)
    np.testing.assert_allclose(result.projection.extremity, math["pca"]["comment-extremity"], atol=1e-9)


def test_groups_consensus_and_repness_match(known):
    math, result, truth = known
    m = result.matrix
    rows = [i for i, p in enumerate(m.participants) if p in truth]
    assert adjusted_rand_score([truth[m.participants[i]] for i in rows], result.groups[rows]) >= 0.9
    gac = result.to_dict()["group_aware_consensus"]
    for tid, value in math["group-aware-consensus"].items():
        assert gac[tid] == pytest.approx(value, abs=1e-6)
    ours = result.to_dict()
    for g in range(result.n_groups):
        members = [truth[m.participants[i]] for i in np.flatnonzero(result.groups == g)]
        polis_group = max(set(members), key=members.count)
        expected = {(str(e["tid"]), e["repful-for"]) for e in math["repness"][str(polis_group)]}
        assert {(e["statement"], e["repful_for"]) for e in ours["repness"][str(g)]} == expected
    for side in ("agree", "disagree"):
        assert [e["statement"] for e in ours["consensus"][side]] == [str(e["tid"]) for e in math["consensus"][side]]
    for tid, value in math["comment-priorities"].items():
        assert ours["priority"][tid] == pytest.approx(value, rel=1e-6)


# Demographic questions ("I am between 15 and 19 years old", "I am male"): Polis keeps such meta statements out
# of its math, but its CSV export does not mark them, so they are named here.
META = {"london.youth.policing": [str(i) for i in range(15)], "vtaiwan.uberx": []}


@pytest.mark.parametrize("name", sorted(META))
def test_real_conversation_groups_agree_with_polis(shared_data, name):
    folder = shared_data / "polis" / name
    result = analyze(read_polis_export(folder, meta=META[name]))
    polis = read_polis_groups(folder)
    rows = [i for i, p in enumerate(result.matrix.participants) if p in polis and result.groups[i] >= 0]
    ari = adjusted_rand_score([polis[result.matrix.participants[i]] for i in rows], result.groups[rows])
    assert result.n_groups == len(set(polis.values())) and ari >= 0.8


@pytest.mark.parametrize("name", KNOWN)
def test_replaying_the_vote_log_reproduces_polis_from_scratch(shared_data, name):
    # No Polis output goes in: the clustered set, the group count and the base-cluster order all come from
    # replaying the votes update by update (1 s polls, daily restarts) with today's math. Both conversations were
    # modified days after their last vote, so their final math ran on a server that loaded the saved state: the
    # default decides both the replay and the fresh load from the dump.
    folder = shared_data / "polis" / "polismath-known-answers" / name
    math = json.loads((folder / "math-pca2.json").read_text())
    matrix = read_polis_api(folder)
    config, reasons = decide(folder, matrix, ReplayConfig())
    assert config is not None and config.fresh_load, reasons
    result = analyze(matrix, replay=config)
    m = result.matrix
    base = dict(zip(math["base-clusters"]["id"], math["base-clusters"]["members"]))
    truth = {str(p): g["id"] for g in math["group-clusters"] for b in g["members"] for p in base[b]}
    assert sorted(m.participants[i] for i in result.clustering.in_conv) == sorted(map(str, math["in-conv"]))
    rows = [i for i, p in enumerate(m.participants) if p in truth]
    assert adjusted_rand_score([truth[m.participants[i]] for i in rows], result.groups[rows]) >= 0.9
    for ours, theirs in zip(result.projection.comps, np.array(math["pca"]["comps"])):
        assert abs(ours @ theirs) / np.linalg.norm(ours) / np.linalg.norm(theirs) >= 0.99
    out = result.to_dict()
    for tid, value in math["group-aware-consensus"].items():
        assert out["group_aware_consensus"][tid] == pytest.approx(value, abs=1e-6)
    for g in range(result.n_groups):
        members = [truth[m.participants[i]] for i in np.flatnonzero(result.groups == g)]
        polis_group = max(set(members), key=members.count)
        expected = {(str(e["tid"]), e["repful-for"]) for e in math["repness"][str(polis_group)]}
        assert {(e["statement"], e["repful_for"]) for e in out["repness"][str(g)]} == expected


def test_a_2017_export_is_reproduced_by_replaying_2017_math(shared_data):
    # scoop-hivemind.ubi ran in August 2017; its export clusters participants with 2 votes, which only the
    # filter of that time did. Its demographic questions 32-42 are meta statements.
    folder = shared_data / "polis" / "scoop-hivemind.ubi"
    matrix = read_polis_export(folder, meta=[str(i) for i in range(32, 43)])
    polis = read_polis_groups(folder)
    assert detect_export(matrix, polis)[0] == "2017"
    config, reasons = decide(folder, matrix, ReplayConfig(math="2017"))  # the default replays it, no fresh load
    assert config is not None and not config.fresh_load, reasons
    result = analyze(matrix, replay=config)
    rows = [i for i, p in enumerate(matrix.participants) if p in polis and result.groups[i] >= 0]
    assert len(rows) == len(polis)
    assert adjusted_rand_score([polis[matrix.participants[i]] for i in rows], result.groups[rows]) >= 0.8


def test_the_default_analyses_vtaiwan_once_its_votes_spanning_math_changes(shared_data):
    folder = shared_data / "polis" / "vtaiwan.uberx"
    config, reasons = decide(folder, read_polis_export(folder), ReplayConfig(math="2018"))
    assert config is None and "span a change of Polis's math (2017 to 2018)" in reasons[0]
