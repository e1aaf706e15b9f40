"""Multiple-choice answer distributions: letters as the model writes them, rotations mapped back to the original
order, calibration, and agreement with scoring each letter by hand on a real (tiny) model."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.lm.base import option_distribution
from pluralign.lm.multiple_choice import (
    Format, answer_strings, choice_distribution, choice_distributions, content_free, letters, parse_letter,
    rotate, sampled_distribution,
)


class PositionalLM:
    """A stand-in whose letter log-probs depend only on position (``bias``) plus a bonus for the letter shown
    beside the word ``liked``: enough to check where each rotation's probability goes."""

    name = "positional"

    def __init__(self, bias, liked=None, bonus=3.0):
        self.bias, self.liked, self.bonus, self.calls = np.log(np.asarray(bias, float)), liked, bonus, 0

    def option_logprobs(self, prompts, options, progress=None):
        self.calls += 1
        out = np.tile(self.bias[: len(options)], (len(prompts), 1))
        for i, p in enumerate(prompts):
            text = p[-1]["content"] if isinstance(p, list) else p
            for j, letter in enumerate(letters(len(options))):
                if self.liked and f"{letter}. {self.liked}" in text:
                    out[i, j] += self.bonus
        if progress:
            progress(len(prompts))
        return out


def test_letters_run_past_z():
    assert letters(3) == ["A", "B", "C"]
    assert letters(28)[-3:] == ["Z", "AA", "AB"]
    with pytest.raises(ValueError):
        letters(0)


def test_answers_as_the_model_would_write_them():
    assert answer_strings(3, chat=True) == ["A", "B", "C"]
    assert answer_strings(2, chat=False) == [" A", " B"]
    assert answer_strings(2, chat=True, paren=True) == ["(A", "(B"]
    assert answer_strings(2, chat=False, paren=True) == [" (A", " (B"]
    assert answer_strings(2, chat=False, prefix="The answer is ") == [" The answer is A", " The answer is B"]


def test_render_and_prompt():
    fmt = Format(system="You are a farmer.")
    assert fmt.render("Q?", ["x", "y"]) == "Q?\nA. x\nB. y\nAnswer:"
    prompt = fmt.prompt("Q?", ["x", "y"])
    assert prompt[0] == {"role": "system", "content": "You are a farmer."} and prompt[1]["role"] == "user"
    assert Format(chat=False).prompt("Q?", ["x"]) == "Q?\nA. x\nAnswer:"
    assert rotate(["a", "b", "c"], 1) == ["b", "c", "a"]


def test_rotations_cancel_pure_position_bias():
    lm = PositionalLM([0.7, 0.2, 0.1])
    one = choice_distribution(lm, ["q"], [["x", "y", "z"]], rotations=1)
    np.testing.assert_allclose(one[0], [0.7, 0.2, 0.1])
    every = choice_distribution(lm, ["q", "r"], [["x", "y", "z"], ["u", "v", "w"]])
    np.testing.assert_allclose(every, np.full((2, 3), 1 / 3))
    assert lm.calls == 1 + 3  # one option_logprobs call per rotation, whatever the number of questions


def test_rotated_answers_return_to_their_option():
    lm = PositionalLM([0.5, 0.3, 0.2], liked="yes")
    dist = choice_distribution(lm, ["q1", "q2"], [["no", "maybe", "yes"], ["yes", "no", "maybe"]])
    assert dist[0].argmax() == 2 and dist[1].argmax() == 0
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    # By hand: in each rotation "yes" gets exp(bonus) at its position; the average is taken per option.
    w = np.array([0.5, 0.3, 0.2])
    expected = np.mean([w[(2 - r) % 3] * np.exp(3) / (w.sum() + w[(2 - r) % 3] * (np.exp(3) - 1))
                        for r in range(3)])
    assert dist[0, 2] == pytest.approx(expected)


def test_calibration_removes_the_format_bias():
    lm = PositionalLM([0.6, 0.3, 0.1])
    np.testing.assert_allclose(content_free(lm, 3, Format()), [0.6, 0.3, 0.1])
    dist = choice_distribution(lm, ["q"], [["x", "y", "z"]], rotations=1, calibrate=True)
    np.testing.assert_allclose(dist[0], [1 / 3] * 3)


def test_questions_of_different_sizes():
    lm = PositionalLM([0.5, 0.3, 0.2], liked="yes")
    out = choice_distributions(lm, ["a", "b", "c"], [["yes", "no"], ["no", "x", "yes"], ["no", "yes"]])
    assert [len(d) for d in out] == [2, 3, 2]
    assert [int(d.argmax()) for d in out] == [0, 2, 1]
    with pytest.raises(ValueError, match="same number"):
        choice_distribution(lm, ["a", "b"], [["x"], ["x", "y"]])
    with pytest.raises(ValueError, match="rotations"):
        choice_distribution(lm, ["a"], [["x", "y"]], rotations=3)


@pytest.mark.parametrize("chat", [True, False])
def test_tiny_model_matches_scoring_each_letter(tiny_lm, chat):
    fmt = Format(chat=chat)
    headers, options = ["Is water wet?", "Pick a colour."], [["yes", "no", "unsure"], ["red", "green", "blue"]]
    dist = choice_distribution(tiny_lm, headers, options, fmt, rotations=1)
    for i, (h, o) in enumerate(zip(headers, options)):
        prompt = fmt.prompt(h, o)
        conts = ["A", "B", "C"] if chat else [" A", " B", " C"]
        by_hand = option_distribution(np.array([s.logprob for s in tiny_lm.score([prompt] * 3, conts)]))
        np.testing.assert_allclose(dist[i], by_hand, atol=1e-6)
    averaged = choice_distribution(tiny_lm, headers, options, fmt)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0)
    assert not np.allclose(averaged, dist)  # a random model has position bias; rotating changes the answer


def test_parse_letter():
    assert parse_letter("(B) because", 3) == 1
    assert parse_letter("Answer: C.", 3) == 2
    assert parse_letter("D", 3) is None
    assert parse_letter("no idea", 3) is None
    assert parse_letter(" AB", 28) == 27


def test_sampled_distribution_on_tiny_model(tiny_lm):
    dists, unparsed = sampled_distribution(tiny_lm, ["q?"], [["x", "y"]], samples=4, seed=0)
    assert dists[0].shape == (2,) and dists[0].sum() == pytest.approx(1.0)
    assert 0.0 <= unparsed[0] <= 1.0
