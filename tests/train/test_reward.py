"""Bradley–Terry reward model: the loss (soft labels, weights, margin), data orientation, and a tiny run that
must rank held-out pairs correctly."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.nn import functional as F

from pluralign.errors import InputError
from pluralign.io import write_records
from pluralign.lm.tiny import save_tiny_model
from pluralign.records import Comparison
from pluralign.train.config import RewardConfig, load_config
from pluralign.train.data import load_preferences, split_by_prompt
from pluralign.train.reward import bradley_terry_loss, pairwise_accuracy, train_reward_model


def test_hard_labels_reduce_to_trl_loss():
    delta, margin = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([0.0, 0.5, 1.0])
    ones = torch.ones(3)
    expected = -F.logsigmoid(delta - margin).mean()
    assert bradley_terry_loss(delta, ones, ones, margin).item() == pytest.approx(expected.item(), rel=1e-6)


def test_soft_label_optimum_is_the_label_log_odds():
    delta = torch.tensor([0.0], requires_grad=True)
    optimiser = torch.optim.SGD([delta], lr=1.0)
    for _ in range(300):
        optimiser.zero_grad()
        bradley_terry_loss(delta, torch.tensor([0.8]), torch.ones(1), torch.tensor([0.25])).backward()
        optimiser.step()
    assert delta.item() == pytest.approx(0.25 + math.log(0.8 / 0.2), abs=1e-3)


def test_weights_scale_each_pair():
    delta, p, m = torch.tensor([1.0, -1.0]), torch.ones(2), torch.zeros(2)
    only_first = bradley_terry_loss(delta, p, torch.tensor([2.0, 0.0]), m)
    assert only_first.item() == pytest.approx(-F.logsigmoid(torch.tensor(1.0)).item(), rel=1e-6)


def test_accuracy_leaves_out_ties():
    acc = pairwise_accuracy(torch.tensor([1.0, -1.0, 5.0, -2.0]), torch.tensor([1.0, 0.9, 0.5, 0.2]))
    assert acc.item() == pytest.approx(2 / 3)  # pair 3 is a tie; pair 4 prefers rejected (p < .5) and Δ < 0


@pytest.fixture(scope="module")
def greetings(tmp_path_factory):
    root = tmp_path_factory.mktemp("rm")
    save_tiny_model(root / "tiny", seed=1)
    names = ["Ann", "Bob", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu"]
    comparisons = []
    for i, n in enumerate(names):
        good, bad = f"Hello {n}, thank you.", f"go away {n}!!!"
        if i % 2:  # better answer in position b, soft label, heavier annotator
            comparisons.append(Comparison(prompt=f"Greet {n}", response_a=bad, response_b=good, p_a=0.1, weight=2))
        else:
            comparisons.append(Comparison(prompt=f"Greet {n}", response_a=good, response_b=bad, label="a"))
    comparisons.append(Comparison(prompt="Greet Max", response_a="Hi Max.", response_b="Hey Max.", label="tie"))
    write_records(root / "comparisons.jsonl", comparisons)
    return root


def test_comparisons_become_oriented_soft_preferences(greetings):
    ds = load_preferences(greetings / "comparisons.jsonl", conversational=False)
    assert ds.column_names == ["prompt", "chosen", "rejected", "p_chosen", "weight", "margin"]
    row = ds[1]
    assert row["chosen"] == "Hello Bob, thank you." and row["p_chosen"] == pytest.approx(0.9)
    assert row["weight"] == 2.0 and math.isnan(row["margin"])
    assert ds[-1]["p_chosen"] == 0.5
    train, held = split_by_prompt(ds, 0.25, seed=0)
    assert not set(train["prompt"]) & set(held["prompt"]) and len(train) + len(held) == len(ds)


def test_unknown_columns_are_named(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    with pytest.raises(InputError, match=r"odd.jsonl: expected preference columns"):
        load_preferences(path)


def test_reward_model_ranks_held_out_pairs(greetings):
    cfg = load_config(None, RewardConfig, {
        "model": str(greetings / "tiny"), "data": str(greetings / "comparisons.jsonl"), "eval_split": 0.25,
        "lora": False, "lr": 1e-3, "steps": 20, "batch_size": 4, "log_every": 10, "save_every": 20,
        "center_rewards": 0.01, "output_dir": str(greetings / "run")})
    result = train_reward_model(cfg)
    assert result["eval"]["eval_accuracy"] == 1.0
    assert result["eval"]["eval_loss"] < math.log(2) - 0.2  # well below chance
    saved = json.loads((greetings / "run" / "model" / "config.json").read_text())
    assert saved["architectures"] == ["LlamaForSequenceClassification"] and len(saved["id2label"]) == 1


def test_reward_model_body_starts_from_the_policy(greetings):
    from transformers import AutoModelForCausalLM

    from pluralign.train.checkpoint import load_model

    cfg = load_config(None, RewardConfig, {"model": str(greetings / "tiny"), "data": "x"})
    reward_model, policy = load_model(cfg, head="reward"), AutoModelForCausalLM.from_pretrained(greetings / "tiny")
    assert torch.equal(reward_model.model.layers[0].mlp.up_proj.weight, policy.model.layers[0].mlp.up_proj.weight)
    assert reward_model.score.weight.shape == (1, policy.config.hidden_size)


def test_pairs_longer_than_max_length_are_refused(greetings):
    cfg = load_config(None, RewardConfig, {"model": str(greetings / "tiny"), "data": str(greetings / "comparisons.jsonl"),
                                           "max_length": 8, "output_dir": str(greetings / "short")})
    with pytest.raises(InputError, match=r"comparisons.jsonl: field 'max_length': every pair is longer"):
        train_reward_model(cfg)
