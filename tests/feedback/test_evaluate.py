"""Labeller evaluation: reading Anthropic-format files, swapping options, content-free questions, scoring."""

import json

import numpy as np
import pytest

from pluralign.constitution import default_constitution
from pluralign.errors import InputError
from pluralign.feedback.ai_preference import AIFeedback, LabelConfig
from pluralign.feedback.evaluate import (content_free_question, evaluate, multiple_choice_probabilities, options_of,
                                         yes_no_probabilities, yes_no_text,
                                         question_parts, read_items, score, swap_options)

QUESTION = ("Below is a chat between a person and a bot:\n\nHuman: hi\n\nAssistant: [hello]\n\n"
            "Choose the best option:\n (A) It was rude. [see]\n (B) It was kind.]\nThe answer is:")


def test_swap_is_anchored_at_the_end():
    swapped = swap_options(QUESTION)
    assert swapped.endswith("\n (A) It was kind.]\n (B) It was rude. [see]\nThe answer is:")
    assert swapped.startswith(QUESTION[: QUESTION.index("\n (A)")])
    assert swap_options(swapped) == QUESTION


def test_content_free_question_keeps_header_question_and_options():
    cf = content_free_question(QUESTION)
    assert cf == ("Below is a chat between a person and a bot:\n\nN/A\n\nChoose the best option:\n"
                  " (A) It was rude. [see]\n (B) It was kind.]\nThe answer is:")


def test_question_parts_and_options():
    head, conversation, instruction, options = question_parts(QUESTION)
    assert head == "Below is a chat between a person and a bot:"
    assert conversation == "Human: hi\n\nAssistant: [hello]" and instruction == "Choose the best option:"
    assert options_of(QUESTION) == ("It was rude. [see]", "It was kind.]")
    assert head + "\n\n" + conversation + "\n\n" + instruction + options == QUESTION


def test_read_items_both_kinds_and_errors(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"prompt": QUESTION, "corrects": [" (B)"], "incorrects": [" (A)"]}) + "\n"
                 + json.dumps({"prompt": "Human: hi\n\nAssistant:", "corrects": ["Hello!"], "incorrects": ["Go."]}) + "\n")
    mc, pair = read_items(f)
    assert mc.multiple_choice and mc.correct_is_a is False
    assert not pair.multiple_choice and pair.correct == "Hello!"
    f.write_text(json.dumps({"prompt": "no options here", "corrects": [" (B)"], "incorrects": [" (A)"]}) + "\n")
    with pytest.raises(InputError, match="c.jsonl:1: field 'prompt'"):
        read_items(f)
    f.write_text(json.dumps({"prompt": "x", "corrects": "yes", "incorrects": ["no"]}) + "\n")
    with pytest.raises(InputError, match="field 'corrects'"):
        read_items(f)


def test_scores():
    r = score(np.array([0.9, 0.6, 0.2, 0.5]))
    assert r.accuracy == pytest.approx(0.5)
    assert r.brier == pytest.approx((0.01 + 0.16 + 0.64 + 0.25) / 4)


def test_evaluate_on_tiny_model(tiny_lm, tmp_path):
    rows = [{"prompt": QUESTION, "corrects": [" (B)"], "incorrects": [" (A)"]},
            {"prompt": swap_options(QUESTION), "corrects": [" (A)"], "incorrects": [" (B)"]},
            {"prompt": "Human: hi\n\nAssistant:", "corrects": ["Hello!"], "incorrects": ["Go away."]},
            {"prompt": "Human: bye\n\nAssistant:", "corrects": ["Take care!"], "incorrects": ["Finally."]}]
    f = tmp_path / "c.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = read_items(f)
    labeller = AIFeedback(tiny_lm, default_constitution(), LabelConfig())
    result = evaluate(labeller, items)
    assert result.n == 4 and 0.0 <= result.brier <= 1.0
    # The same question in both orders, averaged and calibrated: its two items get the same probability.
    assert result.p_correct[0] == pytest.approx(result.p_correct[1], abs=1e-6)


def test_batch_calibration_centres_the_log_odds(tiny_lm):
    questions = [QUESTION, QUESTION.replace("hi", "hello there, how are you"), QUESTION.replace("kind", "short")]
    raw = multiple_choice_probabilities(tiny_lm, questions, both_orders=False, calibrate_content_free=False)
    centred = multiple_choice_probabilities(tiny_lm, questions, both_orders=False, calibrate_content_free=False,
                                            batch_calibrate=True)
    log_odds = np.log(centred / (1 - centred))
    assert abs(np.log(raw / (1 - raw)).mean()) > 1e-4
    assert abs(log_odds.mean()) < 1e-9
    np.testing.assert_allclose(np.diff(log_odds), np.diff(np.log(raw / (1 - raw))), atol=1e-9)  # order kept


def test_yes_no_question_and_its_contrast(tiny_lm):
    questions = [QUESTION, QUESTION.replace("hi", "hello there, how are you"), QUESTION.replace("hello", "bye")]
    rude = "Was the bot rude? Answer Yes or No."
    raw = yes_no_probabilities(tiny_lm, questions, rude, batch_calibrate=False)
    assert raw.shape == (3,) and np.all((raw > 0) & (raw < 1))
    # The conversation alone is asked: options and instruction are not in the text.
    assert yes_no_text("Human: hi", rude) == "Human: hi\n\nQuestion: Was the bot rude? Answer Yes or No.\nAnswer:"
    # Contrasting a question with itself cancels everything it reads: every item ends at exactly 0.5.
    np.testing.assert_allclose(yes_no_probabilities(tiny_lm, questions, rude, contrast_question=rude), 0.5)
    kind = yes_no_probabilities(tiny_lm, questions, "Was the bot kind?", batch_calibrate=False)
    both = yes_no_probabilities(tiny_lm, questions, rude, contrast_question="Was the bot kind?", batch_calibrate=False)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(logit(both), logit(raw) - logit(kind), atol=1e-9)


def test_evaluate_with_a_yes_no_question(tiny_lm, tmp_path):
    rows = [{"prompt": QUESTION, "corrects": [" (B)"], "incorrects": [" (A)"]},
            {"prompt": QUESTION.replace("hi", "hey"), "corrects": [" (A)"], "incorrects": [" (B)"]}]
    f = tmp_path / "c.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    labeller = AIFeedback(tiny_lm, default_constitution(), LabelConfig())
    result = evaluate(labeller, read_items(f), yes_question="Was the bot rude?", batch_calibrate=True)
    # Batch calibration centres two items: one log-odds is minus the other, so p_correct(0) = p_correct(1).
    assert result.p_correct[0] == pytest.approx(result.p_correct[1], abs=1e-9)


def test_shared_stems_match_whole_questions(tiny_lm, score_only_lm):
    questions = [QUESTION, QUESTION.replace("hi", "hello there, how are you"), QUESTION.replace("kind", "short")]
    shots = QUESTION.replace("hi", "bye") + " (B)\n\n"
    for calibrate in (False, True):
        kwargs = dict(both_orders=True, calibrate_content_free=calibrate, prefix=shots)
        np.testing.assert_allclose(multiple_choice_probabilities(tiny_lm, questions, **kwargs),
                                   multiple_choice_probabilities(score_only_lm, questions, **kwargs), atol=1e-4)
