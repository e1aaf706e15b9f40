"""Social choice on pluralign records: rankings and comparisons in, Preference records with provenance out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pluralign.aggregate.socialchoice import (RULES, agreement, aggregate_comparisons, aggregate_rankings,
                                              apply_rule, rule_name)
from pluralign.aggregate.voting.profiles import from_arrays, from_rankings
from pluralign.errors import InputError
from pluralign.io import read_records, to_dataset
from pluralign.records import Comparison, Ranking


def _ballot(prompt, order, annotator, candidates=("x", "y", "z")):
    return Ranking(prompt=prompt, candidates=list(candidates), order=order, annotator=annotator)


def _dataset():
    """Prompt "q1": x is the Condorcet winner; prompt "q2": 4 candidates, a tie on one ballot."""
    return [
        _ballot("q1", [["x"], ["y"], ["z"]], "ana"),
        _ballot("q1", [["x"], ["z"], ["y"]], "bo"),
        _ballot("q1", [["y"], ["x"], ["z"]], "cy"),
        _ballot("q2", [["b"], ["a", "c"], ["d"]], "ana", candidates=("a", "b", "c", "d")),
        _ballot("q2", [["b"], ["d"]], "bo", candidates=("a", "b", "c", "d")),
    ]


def test_rankings_to_preferences_with_provenance():
    outcome, profiles, prefs = aggregate_rankings(_dataset(), rule="schulze", source="ballots.jsonl")
    assert profiles.shape == (2, 3, 4)
    assert outcome.winner_sets() == [[0], [1]]  # x; b
    assert outcome.tiers[0, :3].tolist() == [0, 1, 2] and outcome.tiers[0, 3] == -1
    q1 = [p for p in prefs if p.prompt == "q1"]
    assert {(p.chosen, p.rejected) for p in q1} == {("x", "y"), ("x", "z"), ("y", "z")}
    xy = next(p for p in q1 if (p.chosen, p.rejected) == ("x", "y"))
    assert xy.margin == pytest.approx(1 / 3)
    assert xy.provenance.rule == "schulze" and xy.provenance.source == "ballots.jsonl"
    assert xy.provenance.participants == ["ana", "bo", "cy"]
    assert xy.provenance.details["weights"] == {"ana": 1.0, "bo": 1.0, "cy": 1.0}
    assert "tie" in xy.provenance.details["tie_breaking"]
    ds = to_dataset(prefs)
    assert {"prompt", "chosen", "rejected"} <= set(ds.column_names) and len(ds) == len(prefs)


def test_best_worst_pairs():
    _, _, prefs = aggregate_rankings(_dataset(), rule="borda", pairs="best-worst")
    assert {(p.chosen, p.rejected) for p in prefs if p.prompt == "q1"} == {("x", "z")}
    # q2: b wins; a, c, d tie last (a and c tie on ana's ballot, bo leaves them unranked)
    assert {(p.chosen, p.rejected) for p in prefs if p.prompt == "q2"} == {("b", "a"), ("b", "c"), ("b", "d")}


@pytest.mark.parametrize("rule", RULES)
def test_weights_flow_into_every_rule(rule):
    """3 annotators prefer x, 2 prefer y; weighting the two by 2 makes y win under every rule."""
    ballots = [_ballot("q", [["x"], ["y"], ["z"]], n) for n in ("a1", "a2", "a3")]
    ballots += [_ballot("q", [["y"], ["x"], ["z"]], n) for n in ("b1", "b2")]
    plain, _, _ = aggregate_rankings(ballots, rule=rule)
    weighted, _, prefs = aggregate_rankings(ballots, rule=rule, annotator_weights={"a1": 1, "a2": 1, "a3": 1,
                                                                                    "b1": 2, "b2": 2})
    if rule != "maximal_lotteries" or plain.lottery is None:
        assert plain.winner_sets() == [[0]]
    assert weighted.winner_sets() == [[1]]
    assert prefs[0].provenance.details["weights"]["b1"] == 2.0


def test_comparisons_aggregate_through_the_margin_graph():
    comps = [Comparison(prompt="q", response_a="x", response_b="y", label="a", annotator="ana"),
             Comparison(prompt="q", response_a="y", response_b="z", label="a", annotator="bo"),
             Comparison(prompt="q", response_a="z", response_b="x", p_a=0.25, annotator="cy", strength=4)]
    outcome, data, prefs = aggregate_comparisons(comps, rule="copeland")
    assert data.candidates[0] == ["x", "y", "z"]
    assert data.support[0, 0, 2] == pytest.approx(0.75)
    assert outcome.winner_sets() == [[0]]  # x beats y and z
    assert outcome.scores[0].tolist() == [2, 0, -2]  # x beats y and z, y beats z
    assert {(p.chosen, p.rejected) for p in prefs} == {("x", "y"), ("x", "z"), ("y", "z")}
    strong, _, _ = aggregate_comparisons(comps, rule="borda", use_strength=True)
    assert strong.scores[0, 0] == pytest.approx(1 + 4 * 0.5)  # x: +1 over y, 4 x (0.75 - 0.25) over z
    with pytest.raises(InputError, match="needs ranked ballots"):
        aggregate_comparisons(comps, rule="irv")


def test_agreement_with_each_annotator():
    outcome, profiles, _ = aggregate_rankings(_dataset(), rule="kemeny")
    agree = agreement(outcome, profiles)
    assert agree[0].tolist() == pytest.approx([1.0, 2 / 3, 2 / 3])  # x>y>z vs each ballot
    assert np.isnan(agree[1, 2])  # q2 has no third ballot


def test_rule_names_and_limits():
    assert rule_name("Kemeny") == "kemeny_young" and rule_name("irv") == "instant_runoff"
    with pytest.raises(InputError, match="unknown rule 'dictator'"):
        rule_name("dictator")
    ten = from_arrays(np.tile(np.arange(10), (1, 3, 1)))
    with pytest.raises(InputError, match="stops at 9 candidates"):
        apply_rule("kemeny_young", ten)
    assert apply_rule("ranked_pairs", ten).winner_sets() == [[0]]  # unanimous: no order search needed


@pytest.mark.parametrize("bad,message", [
    ({"candidates": ["x", "y"], "order": [["x"], ["w"]]}, "unknown candidate 'w'"),
    ({"candidates": ["x", "y"], "order": [["x"], ["x"]]}, "repeats candidate 'x'"),
    ({"candidates": ["x", "y"], "order": []}, "order"),
    ({"candidates": ["x", "y"], "order": [["x"]], "weight": -1}, "weight"),
])
def test_bad_ballots_are_named_with_their_line(tmp_path, bad, message):
    path = tmp_path / "rankings.jsonl"
    good = {"prompt": "q", "candidates": ["x", "y"], "order": [["x"], ["y"]], "annotator": "ana"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({"prompt": "q", "annotator": "bo"} | bad) + "\n")
    with pytest.raises(InputError, match=f"rankings.jsonl:2: .*{message}"):
        read_records(path, Ranking)


def test_bad_weights_and_duplicate_ballots_are_named():
    ballots = _dataset()
    with pytest.raises(InputError, match=f"ranking {ballots[0].id}: annotator 'ana' has weight -1"):
        aggregate_rankings(ballots, annotator_weights={"ana": -1, "bo": 1, "cy": 1})
    with pytest.raises(InputError, match="annotator 'cy' has no weight"):
        aggregate_rankings(ballots, annotator_weights={"ana": 1, "bo": 1})
    twice = ballots + [_ballot("q1", [["z"]], "ana")]
    with pytest.raises(InputError, match="annotator 'ana' ranks this prompt twice"):
        aggregate_rankings(twice)
    with pytest.raises(InputError, match="weights must be finite and >= 0"):
        from_arrays(np.zeros((1, 2, 3), int), weights=np.array([[1.0, -2.0]]))


def test_exact_ranked_pairs_at_feedback_scale_matches_from_stacks():
    """6 candidates, 50 voters: many tied margins, where pref_voting's default algorithm stalls."""
    pytest.importorskip("pref_voting")
    from pref_voting.margin_based_methods import ranked_pairs
    from pref_voting.profiles import Profile

    rng = np.random.default_rng(7)
    ballots = np.argsort(rng.random((6, 50, 6)), axis=2)  # ballots[p, v] = candidates best first
    ranks = np.argsort(ballots, axis=2)
    ours = apply_rule("ranked_pairs", from_arrays(ranks)).winner_sets()
    for p in range(6):
        assert list(ours[p]) == ranked_pairs(Profile(ballots[p].tolist()), algorithm="from_stacks")


def test_break_ties_names_the_method():
    from pluralign.aggregate.voting.outcome import break_ties

    outcome, _, _ = aggregate_rankings(_dataset(), rule="borda")
    assert outcome.tiers[1].tolist() == [1, 0, 1, 1]  # b, then a = c = d
    strict = break_ties(outcome)
    assert strict.tiers.tolist() == [[0, 1, 2, -1], [1, 0, 2, 3]]
    assert strict.tie_breaking == "broken by candidate-order"
    shuffled = [break_ties(outcome, "random", seed).tiers[1] for seed in range(20)]
    assert all(t[1] == 0 and sorted(t) == [0, 1, 2, 3] for t in shuffled)
    assert len({tuple(t) for t in shuffled}) > 1
    with pytest.raises(InputError, match="tie-break must be one of"):
        break_ties(outcome, "coin")


def test_lotteries_and_strengths_on_textbook_cases():
    """A Condorcet cycle with equal margins: the maximal lottery is uniform; one with margins 3, 1, 1 puts
    1/5, 1/5, 3/5 on (x, y, z). Bradley–Terry stays finite when a candidate never loses."""
    def cycle(n_xy, n_yz, n_zx):
        comps = [("x", "y")] * n_xy + [("y", "z")] * n_yz + [("z", "x")] * n_zx
        return [Comparison(prompt="q", response_a=a, response_b=b, label="a") for a, b in comps]

    uniform, _, _ = aggregate_comparisons(cycle(2, 2, 2), rule="maximal_lotteries")
    np.testing.assert_allclose(uniform.lottery[0], [1 / 3] * 3, atol=1e-9)
    assert uniform.winner_sets() == [[0, 1, 2]]
    skewed, _, _ = aggregate_comparisons(cycle(3, 1, 1), rule="maximal_lotteries")
    np.testing.assert_allclose(skewed.lottery[0], [0.2, 0.2, 0.6], atol=1e-9)
    one_sided = [Comparison(prompt="q", response_a="x", response_b="y", label="a")] * 5
    bt, _, _ = aggregate_comparisons(one_sided, rule="bradley_terry")
    assert np.isfinite(bt.scores).all() and bt.winner_sets() == [[0]]
    # with prior 0.1 both ways: P(x beats y) = 5.1 / 5.2 at the maximum
    assert 1 / (1 + np.exp(bt.scores[0, 1] - bt.scores[0, 0])) == pytest.approx(5.1 / 5.2, abs=1e-6)


def test_candidates_a_ballot_was_not_shown_are_compared_with_nothing():
    """Each annotator saw two of three responses: only the pairs they saw get support."""
    ballots = [Ranking(prompt="q", candidates=["x", "y"], order=[["x"], ["y"]], annotator="a"),
               Ranking(prompt="q", candidates=["y", "z"], order=[["y"], ["z"]], annotator="b"),
               Ranking(prompt="q", candidates=["z", "x"], order=[["z"]], annotator="c")]  # x shown, unranked
    from pluralign.aggregate.voting.pairwise import support

    profiles = from_rankings(ballots)
    np.testing.assert_array_equal(support(profiles)[0], [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert apply_rule("copeland", profiles).winner_sets() == [[0, 1, 2]]  # a cycle, not "x is unranked twice"
    assert apply_rule("plurality", profiles).scores[0].tolist() == [1, 1, 1]


def test_from_arrays_keeps_order_and_ties_of_any_integers():
    profiles = from_arrays(np.array([[[0, 5, 10, -1], [7, 7, 3, 9]]]))
    assert profiles.ranks[0].tolist() == [[0, 1, 2, 4], [1, 1, 0, 2]]
