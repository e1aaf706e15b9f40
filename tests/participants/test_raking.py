"""Raking participants to population margins: margins met, bias removed, trimming, design effect, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.errors import InputError
from pluralign.participants.raking import design_effect, rake, rake_participants
from pluralign.records import Participant

TARGETS = {
    "age": {"18-34": 0.3, "35-54": 0.35, "55+": 0.35},
    "gender": {"f": 0.51, "m": 0.49},
    "country": {"us": 0.5, "in": 0.3, "br": 0.2},
}


def _panel(n=800, seed=0):
    """A panel that over-samples the young, men and the US; an opinion that depends on all three."""
    rng = np.random.default_rng(seed)
    age = rng.choice(list(TARGETS["age"]), n, p=[0.6, 0.3, 0.1])
    gender = rng.choice(["f", "m"], n, p=[0.3, 0.7])
    country = rng.choice(["us", "in", "br"], n, p=[0.7, 0.2, 0.1])
    p_agree = 0.2 + 0.4 * (age == "55+") + 0.2 * (gender == "f") + 0.1 * (country == "br")
    return {"age": age, "gender": gender, "country": country}, p_agree


def _population_mean():
    total = 0.0
    for a, pa in TARGETS["age"].items():
        for g, pg in TARGETS["gender"].items():
            for c, pc in TARGETS["country"].items():
                total += pa * pg * pc * (0.2 + 0.4 * (a == "55+") + 0.2 * (g == "f") + 0.1 * (c == "br"))
    return total


def test_raking_meets_every_margin_and_removes_the_bias():
    cats, p_agree = _panel()
    result = rake(cats, TARGETS, trim=None)
    assert result.converged and result.max_margin_error < 1e-6
    for var, shares in TARGETS.items():
        for k, share in shares.items():
            assert result.weights[cats[var] == k].sum() / result.weights.sum() == pytest.approx(share, abs=1e-6)
    truth = _population_mean()  # the opinion is additive in the raked variables, so raking removes the bias
    assert abs(np.average(p_agree, weights=result.weights) - truth) < 1e-6 < abs(p_agree.mean() - truth) - 0.05
    assert result.design_effect == pytest.approx(design_effect(result.weights))
    assert result.design_effect > 1.2 and result.effective_n == pytest.approx(800 / result.design_effect)


def test_trimming_bounds_weights_and_lowers_the_design_effect():
    cats, _ = _panel()
    free = rake(cats, TARGETS, trim=None)
    trimmed = rake(cats, TARGETS, trim=(0.3, 3.0), max_iter=100)
    assert free.weights.max() / free.weights.mean() > 3.0
    assert trimmed.weights.max() / trimmed.weights.min() <= 10.0 + 1e-9
    assert not trimmed.converged and trimmed.trimmed > 0
    assert trimmed.design_effect < free.design_effect
    assert trimmed.max_margin_error < 0.05


def test_design_effect_of_equal_weights_is_one():
    assert design_effect(np.ones(10)) == pytest.approx(1.0)
    assert design_effect(np.array([1.0, 3.0])) == pytest.approx(2 * 10 / 16)


def test_rake_participants_sets_weights_from_attributes():
    cats, _ = _panel(n=200)
    people = [Participant(id=f"p{i}", attributes={v: str(cats[v][i]) for v in TARGETS}) for i in range(200)]
    weighted, result = rake_participants(people, TARGETS)
    assert [p.id for p in weighted] == [p.id for p in people]
    np.testing.assert_allclose([p.weight for p in weighted], result.weights)


@pytest.mark.parametrize("targets,cats,message", [
    ({"age": {"young": 0.5, "old": 0.6}}, {"age": ["young", "old"]}, "sum to 1"),
    ({"age": {"young": 1.0}}, {"age": ["young", "old"]}, "no target share"),
    ({"age": {"young": 0.5, "old": 0.5}}, {"age": ["young", "young"]}, "no participant in categories ['old']"),
    ({"age": {"young": 0.5, "old": 0.5}}, {"sex": ["f", "m"]}, "target variable 'age'"),
])
def test_bad_margins_are_named(targets, cats, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rake(cats, targets)


def test_participant_without_attribute_is_named():
    people = [Participant(id="ana", attributes={"age": "18-34"}), Participant(id="bo", attributes={})]
    with pytest.raises(InputError, match="participant 'bo' has no attribute 'age'"):
        rake_participants(people, {"age": {"18-34": 1.0}})
