"""Letter probabilities (fast path vs the backend's score()), order averaging, calibration and clamping."""

import numpy as np
import pytest

from pluralign.feedback.choice import (_common_prefix_length, calibrate, clamp, letter_probabilities, order_average,
                                       shared_stem_probabilities)


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


def test_shared_stem_pass_matches_whole_questions(tiny_lm):
    stems = ["Consider the following conversation:\nHuman: hi there\nWhich response is kinder?\nOptions:\n",
             "Human: a much longer conversation than the first one, " * 3 + "\nWhich is better?\nOptions:\n",
             "Human: yo\nOptions:\n"]
    endings = [[" (A) Hello!\n (B) Go away, now.\nThe answer is:", " (A) Go away, now.\n (B) Hello!\nThe answer is:"],
               [" (A) ok\n (B) no\nThe answer is:", " (A) no\n (B) ok, a longer answer\nThe answer is:"],
               [" (A) x\n (B) y\nThe answer is:", " (A) y\n (B) x\nThe answer is:"]]
    whole = letter_probabilities(tiny_lm, [s + e for s, ends in zip(stems, endings) for e in ends]).reshape(3, 2)
    np.testing.assert_allclose(shared_stem_probabilities(tiny_lm, stems, endings), whole, atol=1e-5)
    for per_pass in (2, 8):  # stems of different lengths padded together, as on an accelerator
        np.testing.assert_allclose(shared_stem_probabilities(tiny_lm, stems, endings, stems_per_pass=per_pass),
                                   whole, atol=1e-5)
    with pytest.raises(ValueError, match="same number"):
        shared_stem_probabilities(tiny_lm, stems[:2], [endings[0], endings[1][:1]])


def test_stems_reuse_the_cache_of_their_common_prefix(tiny_lm):
    shots = "Consider this solved example:\nHuman: hello\nWhich is kinder?\n (A) Hi\n (B) Go\nThe answer is: (A)\n\n"
    stems = [shots + "Human: how do I bake bread?\nOptions:\n", shots + "Human: how do I bake a cake?\nOptions:\n",
             "Another header\nHuman: tell me a joke\nOptions:\n", shots + "Human: hi\nOptions:\n",
             shots + "Human: hi\nOptions:\n", shots]  # a repeated stem, and one that is all shared prefix
    endings = [[" (A) Sure.\n (B) No.\nThe answer is:", " (A) No.\n (B) Sure.\nThe answer is:"]] * len(stems)
    whole = letter_probabilities(tiny_lm, [s + e for s, ends in zip(stems, endings) for e in ends]).reshape(-1, 2)
    for per_pass in (1, 2, 3, 8):
        np.testing.assert_allclose(shared_stem_probabilities(tiny_lm, stems, endings, stems_per_pass=per_pass),
                                   whole, atol=1e-5)


def test_common_prefix_length():
    assert _common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert _common_prefix_length([[1, 2], [1, 2, 3]]) == 2
    assert _common_prefix_length([[7, 1], [8, 1]]) == 0
    assert _common_prefix_length([[], [1]]) == 0
