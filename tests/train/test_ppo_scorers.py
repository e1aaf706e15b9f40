"""Reward callables: the rule scorer, reward-model directories, importable callables, and bad specs."""

from __future__ import annotations

import pytest
import torch

from pluralign.errors import InputError
from pluralign.train.scorers import CountScorer, RewardModelScorer, load_scorer


def test_count_scorer_counts_characters():
    scorer = CountScorer("ae")
    assert scorer(["p", "q", "r"], ["banana", "", [{"role": "assistant", "content": "ee"}]]) == [3.0, 0.0, 2.0]
    assert CountScorer("a", per_char=True)(["p"], ["abab"]) == [0.5]


def test_specs_resolve_and_bad_ones_name_the_field(tmp_path, monkeypatch):
    assert isinstance(load_scorer("count:xyz"), CountScorer)
    (tmp_path / "my_rewards.py").write_text(
        "def shout(prompts, responses):\n    return [r.count('!') for r in responses]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_scorer("my_rewards:shout")(["p"], ["hi!!"]) == [2]
    bad_specs = [("count:", "count: needs"), ("similar: ", "similar: needs"), ("my_rewards:nope", "cannot import"),
                 ("nothing", "unknown")]
    for spec, message in bad_specs:
        with pytest.raises(InputError, match=f"field 'gold': .*{message}"):
            load_scorer(spec, field="gold")


def test_similarity_scorer_prefers_the_target_meaning():
    scorer = load_scorer("similar:I am sorry, I cannot help with that.")
    polite, off_topic = scorer(["p", "p"], ["Sorry, I can't help you with this.", "Bananas are yellow fruit."])
    assert polite > off_topic + 2 and polite <= 10.0 + 1e-4


@pytest.fixture(scope="module")
def reward_model_dir(tmp_path_factory):
    from transformers import LlamaForSequenceClassification

    from pluralign.lm.tiny import tiny_model

    causal, tokenizer = tiny_model(seed=1)
    torch.manual_seed(1)
    model = LlamaForSequenceClassification(causal.config.__class__(**{**causal.config.to_dict(), "num_labels": 1}))
    path = tmp_path_factory.mktemp("rm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_reward_model_scores_do_not_depend_on_batching(reward_model_dir):
    scorer = RewardModelScorer(reward_model_dir, batch_size=4)
    prompts = [[{"role": "user", "content": "hi"}], "plain text prompt ", [{"role": "user", "content": "a longer one"}]]
    responses = ["hello there", "ok", "a much longer response than the others"]
    together = scorer(prompts, responses)
    alone = [scorer([p], [r])[0] for p, r in zip(prompts, responses)]
    assert together == pytest.approx(alone, abs=1e-4)
    assert len(set(round(s, 4) for s in together)) == 3  # a real model: different inputs, different scores
    tokenizer = scorer.tokenizer
    assert tokenizer.decode(scorer.encode(prompts[0], "yo")).endswith("<|im_start|>assistant\nyo<|im_end|>\n")
    assert tokenizer.decode(scorer.encode("Q: ", "yo")) == "Q: yo<|im_end|>"
    assert isinstance(load_scorer(str(reward_model_dir)), RewardModelScorer)


def test_a_classifier_with_several_labels_is_refused(tmp_path):
    from transformers import LlamaForSequenceClassification

    from pluralign.lm.tiny import tiny_model

    causal, tokenizer = tiny_model(seed=0)
    LlamaForSequenceClassification(causal.config.__class__(**{**causal.config.to_dict(), "num_labels": 3})
                                   ).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(InputError, match="one label"):
        RewardModelScorer(tmp_path)
