"""Differential test: our vectorised rules against pref_voting, profile by profile, on 2,000 random profiles
(3-5 candidates, 2-9 voters; strict ballots, ballots with ties, weighted ballots)."""

from __future__ import annotations

import numpy as np
import pytest

pv_profiles = pytest.importorskip("pref_voting.profiles")
from pref_voting.c1_methods import copeland, copeland_ranking  # noqa: E402
from pref_voting.iterative_methods import instant_runoff, instant_runoff_ranking  # noqa: E402
from pref_voting.margin_based_methods import beat_path, minimax, ranked_pairs  # noqa: E402
from pref_voting.other_methods import bucklin, kemeny_young, kemeny_young_rankings  # noqa: E402
from pref_voting.probabilistic_methods import maximal_lottery  # noqa: E402
from pref_voting.profiles_with_ties import ProfileWithTies  # noqa: E402
from pref_voting.scoring_methods import (borda, borda_for_profile_with_ties, borda_ranking, plurality,  # noqa: E402
                                         plurality_ranking)

from pluralign.aggregate.socialchoice import apply_rule  # noqa: E402
from pluralign.aggregate.voting.profiles import from_arrays  # noqa: E402

C, A = 5, 9


def _random_profiles(n: int, ties: bool, seed: int, weighted: bool = False):
    """Our padded tensors and the matching pref_voting profiles (weights become pref_voting's ballot counts)."""
    rng = np.random.default_rng(seed)
    n_cands, n_voters = rng.integers(3, C + 1, n), rng.integers(2, A + 1, n)
    ranks = np.full((n, A, C), -1)
    weights = (np.arange(A) < n_voters[:, None]) * (rng.integers(1, 4, (n, A)) if weighted else 1)
    theirs = []
    for p, (m, v) in enumerate(zip(n_cands, n_voters)):
        ballots = rng.integers(0, m, (v, m)) if ties else np.argsort(rng.random((v, m)), axis=1)
        ranks[p, :v, :m] = ballots
        counts = weights[p, :v].tolist()
        if ties:
            theirs.append(ProfileWithTies([{c: int(b[c]) for c in range(m)} for b in ballots], rcounts=counts,
                                          candidates=list(range(m))))
        else:
            theirs.append(pv_profiles.Profile([list(np.argsort(b)) for b in ballots], rcounts=counts))
    present = np.arange(C) < n_cands[:, None]
    return from_arrays(ranks, weights.astype(float), present), theirs, weights.sum(axis=1)


@pytest.fixture(scope="module")
def strict():
    return _random_profiles(1100, ties=False, seed=1)


@pytest.fixture(scope="module")
def tied():
    return _random_profiles(500, ties=True, seed=2)


@pytest.fixture(scope="module")
def weighted():
    return _random_profiles(400, ties=False, seed=3, weighted=True)


def _rp_exact(edata):
    return ranked_pairs(edata, algorithm="from_stacks")


WINNERS_STRICT = {"plurality": plurality, "borda": borda, "copeland": copeland, "minimax": minimax,
                  "schulze": beat_path, "ranked_pairs": _rp_exact, "kemeny_young": kemeny_young,
                  "instant_runoff": instant_runoff, "bucklin": bucklin}
WINNERS_TIED = {"borda": borda_for_profile_with_ties, "copeland": copeland, "minimax": minimax,
                "schulze": beat_path, "ranked_pairs": _rp_exact, "kemeny_young": kemeny_young,
                "instant_runoff": instant_runoff}


def _mismatches(ours, theirs, fn):
    return [p for p, (mine, prof) in enumerate(zip(ours.winner_sets(), theirs)) if list(mine) != list(fn(prof))]


@pytest.mark.parametrize("rule", sorted(WINNERS_STRICT))
def test_same_winners_strict_ballots(strict, rule):
    profiles, theirs, _ = strict
    assert _mismatches(apply_rule(rule, profiles), theirs, WINNERS_STRICT[rule]) == []


@pytest.mark.parametrize("rule", sorted(WINNERS_TIED))
def test_same_winners_ballots_with_ties(tied, rule):
    profiles, theirs, _ = tied
    assert _mismatches(apply_rule(rule, profiles), theirs, WINNERS_TIED[rule]) == []


@pytest.mark.parametrize("rule", sorted(WINNERS_STRICT))
def test_same_winners_weighted_ballots(weighted, rule):
    """Integer ballot weights against pref_voting's ballot counts."""
    profiles, theirs, _ = weighted
    assert _mismatches(apply_rule(rule, profiles), theirs, WINNERS_STRICT[rule]) == []


def _same_order(tiers: np.ndarray, rmap: dict) -> bool:
    cands = sorted(rmap)
    return all((tiers[i] < tiers[j]) == (rmap[i] < rmap[j]) for i in cands for j in cands)


@pytest.mark.parametrize("rule,swf", [("plurality", plurality_ranking), ("borda", borda_ranking),
                                      ("copeland", copeland_ranking), ("instant_runoff", instant_runoff_ranking)])
def test_same_social_ranking(strict, rule, swf):
    profiles, theirs, _ = strict
    tiers = apply_rule(rule, profiles).tiers
    assert [p for p, prof in enumerate(theirs) if not _same_order(tiers[p], swf(prof).rmap)] == []


def test_kemeny_ranking_when_unique(strict):
    profiles, theirs, _ = strict
    tiers = apply_rule("kemeny_young", profiles).tiers
    checked = 0
    for p, prof in enumerate(theirs):
        rankings, _ = kemeny_young_rankings(prof)
        if len(rankings) == 1:
            checked += 1
            assert list(np.argsort(tiers[p][: prof.num_cands], kind="stable")) == list(rankings[0])
    assert checked > 500


def test_maximal_lottery_matches_when_unique(strict):
    """With an odd number of strict ballots no margin is 0 and the maximal lottery is unique."""
    profiles, theirs, n_voters = strict
    lottery = apply_rule("maximal_lotteries", profiles).lottery
    odd = [p for p in range(len(theirs)) if n_voters[p] % 2 == 1][:300]  # n_voters: total ballot weight
    for p in odd:
        expected = maximal_lottery(theirs[p])
        np.testing.assert_allclose(lottery[p, : len(expected)], [expected[c] for c in range(len(expected))], atol=1e-6)
    assert np.allclose(lottery.sum(axis=1), 1.0)


def test_bradley_terry_orders_like_borda_on_linear_ballots(strict):
    """Theorem 3.1 of arXiv:2312.08358 (cited by pref_voting): on linear ballots BT MLE ranks as Borda."""
    profiles, _, _ = strict
    bt, b = apply_rule("bradley_terry", profiles), apply_rule("borda", profiles)
    np.testing.assert_array_equal(bt.tiers, b.tiers)
