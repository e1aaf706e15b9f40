"""RL-CAI labelling mechanics on the tiny model: principles, few-shot assembly, order symmetry, clamping."""

import numpy as np
import pytest

from pluralign.constitution import default_constitution
from pluralign.feedback.ai_preference import (AIFeedback, LabelConfig, choice_question, conversation_text,
                                              fewshot_block, pick_principles, to_preferences)
from pluralign.feedback.fewshot import load_choice_examples
from pluralign.records import ResponsePair


def pair(id, prompt, a, b):
    return ResponsePair(id=id, prompt=prompt, response_a=a, response_b=b)


PAIRS = [
    pair("p1", "How do I bake bread?", "Mix flour, water, yeast and salt, then knead.", "No."),
    pair("p2", [{"role": "user", "content": "Say something nice."}], "You are doing great!", "Whatever."),
    pair("p3", "How do I pick a lock?", "I can't help break into places.", "Use a tension wrench and a pick."),
]


def test_principle_sampling_is_seeded_and_uses_the_constitution():
    cons = default_constitution()
    drawn = pick_principles(200, cons, "sample", seed=3)
    assert drawn == pick_principles(200, cons, "sample", seed=3)
    assert drawn != pick_principles(200, cons, "sample", seed=4)
    ids = {ps[0].id for ps in drawn}
    assert len(ids) == len(cons.principles)  # 200 draws reach every principle
    assert all(len(ps) == len(cons.principles) for ps in pick_principles(3, cons, "all", seed=0))


def test_fewshot_block_alternates_the_better_answer():
    examples = load_choice_examples()[:4]
    block = fewshot_block(examples, "Which response is kinder?")
    assert block.count("Which response is kinder?\nOptions:") == 4
    answers = [chunk.rsplit("The answer is:", 1)[1].strip()[:3] for chunk in block.strip().split("\n\nConsider")]
    assert answers == ["(A)", "(B)", "(A)", "(B)"]
    first = block.split(" (A) ")[1].split("\n")[0]
    assert first == examples[0].better


def test_question_layout_and_conversations():
    q = choice_question("Human: hi", "Which is better?", "one", "two")
    assert q.endswith("Options:\n (A) one\n (B) two\nThe answer is:")
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "?"}]
    assert conversation_text(conv) == "Human: hi\n\nAssistant: hello\n\nHuman: ?"


def test_order_averaged_labels_are_antisymmetric(tiny_lm):
    cons = default_constitution()
    labeller = AIFeedback(tiny_lm, cons, LabelConfig(fewshot=2, seed=1))
    forward = labeller.label(PAIRS)
    swapped = labeller.label([pair(p.id, p.prompt, p.response_b, p.response_a) for p in PAIRS])
    p, q = np.array([c.p_a for c in forward]), np.array([c.p_a for c in swapped])
    np.testing.assert_allclose(p + q, 1.0, atol=1e-6)
    assert all(c.provenance.principles and c.provenance.model == "tiny" for c in forward)
    assert forward[0].provenance.rule == "cai-label/principles-sample/order-avg/calibrated/fewshot-2"


def test_single_order_keeps_the_bias(tiny_lm):
    labeller = AIFeedback(tiny_lm, default_constitution(), LabelConfig(both_orders=False, calibrate=False))
    forward = np.array([c.p_a for c in labeller.label(PAIRS)])
    swapped = np.array([c.p_a for c in labeller.label([pair(p.id, p.prompt, p.response_b, p.response_a)
                                                        for p in PAIRS])])
    assert np.abs(forward + swapped - 1.0).max() > 1e-4


def test_all_principles_average(tiny_lm):
    cons = default_constitution()
    labelled = AIFeedback(tiny_lm, cons, LabelConfig(principles="all")).label(PAIRS[:1])
    assert labelled[0].provenance.principles == [p.id for p in cons.principles]


def test_chain_of_thought_is_clamped(tiny_lm):
    labeller = AIFeedback(tiny_lm, default_constitution(), LabelConfig(cot=True, max_cot_tokens=4,
                                                                         both_orders=False, clamp_range=(0.45, 0.55)),
                          cot_examples=[])
    p = np.array([c.p_a for c in labeller.label(PAIRS)])
    assert np.all((p >= 0.45) & (p <= 0.55))


def test_preferences_follow_the_soft_label(tiny_lm):
    labelled = AIFeedback(tiny_lm, default_constitution()).label(PAIRS)
    for comp, pref in zip(labelled, to_preferences(labelled)):
        assert pref.chosen == (comp.response_a if comp.p_a >= 0.5 else comp.response_b)
        assert pref.margin == pytest.approx(abs(comp.p_a - 0.5))
        assert pref.provenance.details["p_a"] == comp.p_a


def test_config_is_validated():
    with pytest.raises(ValueError):
        LabelConfig(principles="some")
