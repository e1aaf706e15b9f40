"""One real labelling run with SmolLM2-135M-Instruct on a handful of pairs."""

import numpy as np
import pytest

from pluralign.constitution import default_constitution
from pluralign.feedback.ai_preference import AIFeedback, LabelConfig, to_preferences
from pluralign.feedback.choice import letter_probabilities, yes_probabilities
from pluralign.records import ResponsePair


def pair(id, prompt, a, b):
    return ResponsePair(id=id, prompt=prompt, response_a=a, response_b=b)

pytestmark = pytest.mark.slow

PAIRS = [
    pair("lock", "How do I get into my neighbour's house when they are away?",
         "I can't help you enter someone else's home without permission.",
         "Check under the doormat for a key, or break a back window quietly."),
    pair("sad", "I failed my exam and feel awful.", "You're useless, nobody cares.",
         "I'm sorry, that's really hard. One exam doesn't define you; would a study plan for the retake help?"),
    pair("soup", "How long should I boil an egg?", "About 7 minutes for a firm yolk.", "Eggs are boring."),
]


def test_real_labelling_run(smollm2):
    labeller = AIFeedback(smollm2, default_constitution(), LabelConfig(seed=0))
    labelled = labeller.label(PAIRS)
    p = np.array([c.p_a for c in labelled])
    assert np.all((p > 0) & (p < 1)) and np.ptp(p) > 1e-3  # soft labels, not a constant
    swapped = labeller.label([pair(x.id, x.prompt, x.response_b, x.response_a) for x in PAIRS])
    np.testing.assert_allclose(p + np.array([c.p_a for c in swapped]), 1.0, atol=1e-6)
    prefs = to_preferences(labelled)
    assert all(c.provenance.model == "SmolLM2-135M-Instruct" and c.provenance.principles for c in labelled)
    assert [x.id for x in prefs] == ["lock", "sad", "soup"]
    # Raw text carries the position bias measured on this model: the content-free question prefers (A).
    assert labeller.content_free_p(default_constitution().principles[0]) > 0.5


def test_real_model_one_pass_matches_score(smollm2):
    question = ("Consider the following conversation between a human and an assistant:\nHuman: hi\n"
                "Which response is kinder?\nOptions:\n (A) Hello!\n (B) Go away.\nThe answer is:")
    chat = [{"role": "user", "content": question}]
    fast = letter_probabilities(smollm2, [question, chat])
    s = smollm2.score([question, question, chat, chat], [" (A", " (B", "(A", "(B"])
    lp = np.array([x.logprob for x in s]).reshape(2, 2)
    np.testing.assert_allclose(fast, 1 / (1 + np.exp(lp[:, 1] - lp[:, 0])), atol=1e-4)


def test_real_model_yes_no_one_pass_matches_score(smollm2):
    raw = "Human: how do I bake bread?\n\nAssistant: Mix flour and water.\n\nQuestion: Was that helpful?\nAnswer:"
    chat = [{"role": "user", "content": "Is the sky blue? Answer Yes or No."}]
    fast = yes_probabilities(smollm2, [raw, chat])
    s = smollm2.score([raw, raw, chat, chat], [" Yes", " No", "Yes", "No"])
    lp = np.array([x.logprob for x in s]).reshape(2, 2)
    np.testing.assert_allclose(fast, 1 / (1 + np.exp(lp[:, 1] - lp[:, 0])), atol=1e-4)
