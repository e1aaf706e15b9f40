"""Letter probabilities (fast path vs the backend's score()), order averaging, calibration and clamping."""

import numpy as np
import pytest

from pluralign.feedback.choice import calibrate, clamp, letter_probabilities, order_average


def test_one_pass_letters_match_scored_continuations(tiny_lm, score_only_lm):
    questions = ["Is this fine? The answer is:", [{"role": "user", "content": "Pick one. The answer is:"}],
                 "A much longer question " * 8 + "The answer is:"]
    fast = letter_probabilities(tiny_lm, questions)
    slow = letter_probabilities(score_only_lm, questions)
    assert fast.shape == (3,)
    np.testing.assert_allclose(fast, slow, atol=1e-4)


def test_order_average_cancels_a_pure_position_bias():
    # A judge that always says "A" with 0.9 learns nothing: averaged over both orders it gives 0.5.
    np.testing.assert_allclose(order_average([0.9, 0.9], [0.9, 0.9]), [0.5, 0.5])
    np.testing.assert_allclose(order_average([0.8], [0.3]), [0.75])


def test_calibration_removes_the_content_free_bias():
    # If the content-free question already gets P(A)=0.8, a question answered 0.8 carries no information.
    np.testing.assert_allclose(calibrate([0.8, 0.5], 0.8), [0.5, 0.2], atol=1e-9)
    np.testing.assert_allclose(calibrate([0.3], 0.5), [0.3])


def test_clamp_bounds_and_validates():
    np.testing.assert_allclose(clamp([0.01, 0.5, 0.99]), [0.4, 0.5, 0.6])
    with pytest.raises(ValueError):
        clamp([0.5], 0.6, 0.4)
