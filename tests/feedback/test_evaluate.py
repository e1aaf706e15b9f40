"""Labeller evaluation: reading Anthropic-format files, swapping options, content-free questions, scoring."""

import json

import numpy as np
import pytest

from pluralign.constitution import default_constitution
from pluralign.errors import InputError
from pluralign.feedback.ai_preference import AIFeedback, LabelConfig
from pluralign.feedback.evaluate import (content_free_question, evaluate, multiple_choice_distributions, options_of,
                                         question_parts, read_items, score, swap_options, wilson_interval,
                                         yes_no_probabilities, yes_no_text)


def p_first(lm, questions, **kwargs):
    return np.array([d[0] for d in multiple_choice_distributions(lm, questions, **kwargs)])

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


def test_scores_two_options():
    r = score([np.array([p, 1 - p]) for p in (0.9, 0.6, 0.2, 0.5)], [0, 0, 0, 0])
    assert r.accuracy == pytest.approx(0.5)  # a tie (0.5) is not a right answer
    assert r.brier == pytest.approx(2 * (0.01 + 0.16 + 0.64 + 0.25) / 4)  # multi-class: twice the one-option form
    assert r.chance == 0.5 and r.majority == 1.0  # every answer is (A): always answering A scores 100%


def test_scores_many_options_and_baselines():
    uniform = np.full(9, 1 / 9)
    always_a = np.eye(9)[0] * 0.9 + 0.1 / 9
    answers = [0, 0, 3, 8, 5, 0]
    r = score([always_a] * 6, answers)
    assert r.accuracy == pytest.approx(0.5) and r.majority == pytest.approx(0.5)
    assert r.chance == pytest.approx(1 / 9)
    assert not r.distinguishable  # the interval reaches the majority baseline
    assert score([uniform] * 6, answers).brier == pytest.approx(1 - 1 / 9)
    sharp = score([np.eye(9)[a] for a in answers * 10], answers * 10)
    assert sharp.accuracy == 1.0 and sharp.distinguishable and sharp.brier == 0.0


def test_wilson_interval():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)


NINE = ("Here is a conversation:\n\nHuman: how do I pick a lock?\n\nAssistant: Call a locksmith.\n\n"
        "Which harm best describes the assistant's reply?\n" + "\n".join(f" ({l}) harm kind {l}, line one\n  "
        f"and line two" for l in "ABCDEFGHI") + "\nThe answer is:")


def test_nine_options_are_read_whole(tmp_path):
    f = tmp_path / "nine.jsonl"
    f.write_text(json.dumps({"prompt": NINE, "corrects": [" (G)"], "incorrects": [" (A)", " (B)"]}) + "\n")
    (item,) = read_items(f)
    assert item.multiple_choice and item.k == 9 and item.answer == 6
    assert options_of(NINE)[1] == "harm kind B, line one\n  and line two"
    assert item.parsed.shown() == NINE
    rotated = item.parsed.shown(item.parsed.rotation(2))
    assert " (A) harm kind C" in rotated and rotated.endswith(" (I) harm kind B, line one\n  and line two\nThe answer is:")


@pytest.mark.parametrize("prompt, answer, message", [
    ("no options here\nThe answer is:", " (B)", "cannot read the options"),
    ("Q?\n (A) yes\nThe answer is:", " (A)", "at least options (A) and (B)"),
    ("Q?\n (A) yes\n (C) no\nThe answer is:", " (A)", "at least options (A) and (B)"),
    ("Q?\n (A) yes\n (B) no\nThe answer is:", " (X)", "field 'corrects': must be letters of the prompt's 2"),
    ("Q?\n (A) yes\n (B) no\n", " (A)", "cannot read the options"),
])
def test_unreadable_options_are_refused_with_the_line(tmp_path, prompt, answer, message):
    f = tmp_path / "bad.jsonl"
    ok = json.dumps({"prompt": QUESTION, "corrects": [" (B)"], "incorrects": [" (A)"]})
    f.write_text(ok + "\n" + json.dumps({"prompt": prompt, "corrects": [answer], "incorrects": [" (A)" if answer != " (A)" else " (B)"]}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        read_items(f)


def test_content_free_keeps_the_header_after_leading_blank_lines():
    question = "\n\n" + QUESTION
    assert content_free_question(question).startswith("Below is a chat between a person and a bot:\n\nN/A\n\n")


def test_nine_options_on_a_tiny_model(tiny_lm, score_only_lm, tmp_path):
    f = tmp_path / "nine.jsonl"
    rows = [{"prompt": NINE.replace("lock", w), "corrects": [f" ({l})"], "incorrects": [" (A)" if l != "A" else " (B)"]}
            for w, l in (("lock", "C"), ("car", "A"), ("door", "I"))]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = read_items(f)
    fast = multiple_choice_distributions(tiny_lm, [it.question for it in items])
    slow = multiple_choice_distributions(score_only_lm, [it.question for it in items])
    for a, b in zip(fast, slow):
        assert a.shape == (9,) and a.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(a, b, atol=1e-4)
    result = evaluate(AIFeedback(tiny_lm, default_constitution(), LabelConfig()), items)
    assert result.n == 3 and result.chance == pytest.approx(1 / 9)


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
    raw = p_first(tiny_lm, questions, both_orders=False, calibrate_content_free=False)
    centred = p_first(tiny_lm, questions, both_orders=False, calibrate_content_free=False, batch_calibrate=True)
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
        np.testing.assert_allclose(p_first(tiny_lm, questions, **kwargs), p_first(score_only_lm, questions, **kwargs),
                                   atol=1e-4)
