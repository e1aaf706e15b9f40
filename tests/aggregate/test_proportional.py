"""Proportional aggregation across prompts: the seed's emoji example and perpetual Phragmén's guarantees."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.aggregate.proportional import equal_shares, perpetual_phragmen, proportional_aggregate
from pluralign.aggregate.socialchoice import aggregate_rankings, social_preferences
from pluralign.aggregate.voting.profiles import from_rankings
from pluralign.errors import InputError
from pluralign.records import Ranking

PLAIN, EMOJI = "Here is the answer.", "Here is the answer! 🎉"


def _emoji_ballots(n_prompts=200, n_annotators=50, seed=0):
    """60% of annotators dislike emojis, 40% like them; every prompt has a plain and an emoji response
    (and a weaker third one), presented in random order."""
    rng = np.random.default_rng(seed)
    groups = {f"a{i}": ("no-emoji" if i < 0.6 * n_annotators else "emoji") for i in range(n_annotators)}
    ballots = []
    for t in range(n_prompts):
        cands = [f"{PLAIN} ({t})", f"{EMOJI} ({t})", f"Unsure. ({t})"]
        order = list(rng.permutation(3))
        for name, group in groups.items():
            top = [cands[0], cands[1]] if group == "no-emoji" else [cands[1], cands[0]]
            ballots.append(Ranking(prompt=f"prompt {t}", candidates=[cands[i] for i in order],
                                   order=[[top[0]], [top[1]], [cands[2]]], annotator=name))
    return ballots, groups


def _emoji_share(winner_names):
    return np.mean([EMOJI in w for w in winner_names])


@pytest.mark.parametrize("method", ["phragmen", "equal-shares"])
def test_emoji_example_majority_wins_everything_proportional_sixty_percent(method):
    ballots, groups = _emoji_ballots()
    majority, profiles, _ = aggregate_rankings(ballots, rule="schulze")
    names = [profiles.candidates[p][c] for p, c in zip(*np.nonzero(majority.winners))]
    assert len(names) == 200 and _emoji_share(names) == 0.0  # 100% no-emoji

    result = proportional_aggregate(profiles, "schulze", groups, method=method)
    assert result.outcome.winners.sum(axis=1).tolist() == [1] * 200
    names = [profiles.candidates[p][c] for p, c in zip(*np.nonzero(result.outcome.winners))]
    no_emoji = 1 - _emoji_share(names)
    assert no_emoji == pytest.approx(0.6, abs=0.05)
    assert result.groups == ["emoji", "no-emoji"]
    np.testing.assert_allclose(result.shares, [0.4, 0.6])
    np.testing.assert_allclose(result.won, [1 - no_emoji, no_emoji])
    # below the winner the rule's ranking stays: the third response is last everywhere
    prefs = social_preferences(result.outcome, profiles)
    assert all("Unsure" not in p.chosen for p in prefs)
    assert prefs[0].provenance.rule == {"phragmen": "perpetual_phragmen", "equal-shares": "equal_shares"}[method] + "+schulze"


def test_given_shares_override_ballot_weight():
    ballots, groups = _emoji_ballots(n_prompts=100, n_annotators=10)
    profiles = from_rankings(ballots)
    result = proportional_aggregate(profiles, "borda", groups, shares={"emoji": 0.25, "no-emoji": 0.75})
    assert result.won[1] == pytest.approx(0.75, abs=0.02)
    with pytest.raises(InputError, match="no share given"):
        proportional_aggregate(profiles, "borda", groups, shares={"emoji": 1.0})
    with pytest.raises(InputError, match="has no group"):
        proportional_aggregate(profiles, "borda", {"a0": "no-emoji"})


def test_equal_shares_funds_each_group_in_proportion_and_prefers_shared_candidates():
    approvals = np.zeros((100, 3, 3), bool)
    approvals[:, [0, 1, 2], [0, 1, 2]] = True  # each group wants its own candidate
    approvals[:10, 1, 0] = True  # on 10 prompts group 1 also accepts group 0's candidate
    winners, budgets = equal_shares(approvals, np.array([5.0, 3.0, 2.0]))
    assert (winners[:10] == 0).all()  # shared candidates are cheapest: groups 0 and 1 pay 0.625 + 0.375
    counts = np.bincount(winners[winners >= 0], minlength=3)
    # budgets 50 / 30 / 20: after the shared 10, group 0 funds 43 more (0.75 left), group 1 26 (0.25 left);
    # the last prompt is affordable to no one and is left to the rule
    assert counts.tolist() == [53, 26, 20] and (winners < 0).sum() == 1
    np.testing.assert_allclose(budgets, [0.75, 0.25, 0.0], atol=1e-9)
    with pytest.raises(InputError, match="method must be one of"):
        proportional_aggregate(from_rankings(_emoji_ballots(2, 2)[0]), "borda", {"a0": "x", "a1": "y"}, method="dhondt")


def test_perpetual_phragmen_is_proportional_for_three_groups():
    approvals = np.zeros((1000, 3, 3), bool)
    approvals[:, [0, 1, 2], [0, 1, 2]] = True  # each group wants its own candidate
    approvals[::2, 0, 1] = True  # group 0 also accepts group 1's candidate every other round
    winners, loads = perpetual_phragmen(approvals, np.array([0.5, 0.3, 0.2]))
    assert (winners >= 0).all()
    counts = np.bincount(winners, minlength=3) / 1000
    assert counts[2] == pytest.approx(0.2, abs=0.01)  # the smallest group still gets its share
    assert counts[0] + counts[1] == pytest.approx(0.8, abs=0.01)
    assert loads.max() - loads.min() < 5  # loads stay balanced


def test_perpetual_phragmen_validates_shapes_and_shares():
    with pytest.raises(InputError, match="shares must be positive"):
        perpetual_phragmen(np.ones((2, 2, 2), bool), np.array([1.0, 0.0]))
    with pytest.raises(InputError, match="approvals must be"):
        perpetual_phragmen(np.ones((2, 2), bool), np.array([1.0, 1.0]))
    winners, _ = perpetual_phragmen(np.zeros((3, 2, 2), bool), np.array([1.0, 1.0]))
    assert winners.tolist() == [-1, -1, -1]
