"""DPO on a tiny model: the preference moves on held-out prompts, the loss type is the one configured, the
reference log-probs are precomputed once, and bf16 autocast (over fp32 weights) learns the same as fp32."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pluralign.io import write_records
from pluralign.lm.tiny import save_tiny_model
from pluralign.records import Preference
from pluralign.train.config import DPOConfig, load_config
from pluralign.train.data import load_preferences
from pluralign.train.dpo import decided_pairs, train_dpo


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo")
    save_tiny_model(root / "tiny", seed=2)
    cities = ["Oslo", "Lima", "Rome", "Kyiv", "Doha", "Riga", "Baku", "Bern", "Nuuk", "Apia", "Male", "Suva"]
    write_records(root / "prefs.jsonl", [
        Preference(prompt=f"Describe {c}.", chosen=f"{c} is lovely.", rejected=f"{c}?? no no no no no")
        for c in cities])
    return root


def _config(root, out, **overrides):
    return load_config(None, DPOConfig, {
        "model": str(root / "tiny"), "data": str(root / "prefs.jsonl"), "eval_split": 0.25, "lr": 1e-3,
        "batch_size": 4, "steps": 10, "log_every": 5, "save_every": 10, "output_dir": str(root / out), **overrides})


@pytest.fixture(scope="module")
def fp32_run(pairs):
    return train_dpo(_config(pairs, "sigmoid"))


def test_dpo_moves_held_out_preference(pairs, fp32_run):
    result = fp32_run
    assert result["eval"]["eval_rewards/accuracies"] == 1.0
    assert result["eval"]["eval_rewards/margins"] > 0.05
    assert result["final_loss"] < math.log(2)
    rows = [json.loads(line) for line in (pairs / "sigmoid" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10] and all("reward" in r for r in rows)  # monitors' name for margins
    assert (pairs / "sigmoid" / "metrics.png").is_file()
    args = torch.load(pairs / "sigmoid" / "checkpoint-10" / "training_args.bin", weights_only=False)
    assert args.precompute_ref_log_probs and args.beta == 0.1 and args.loss_type == ["sigmoid"]


def test_bf16_autocast_learns_the_same(pairs, fp32_run):
    result = train_dpo(_config(pairs, "bf16", bf16_autocast=True))
    assert result["eval"]["eval_rewards/accuracies"] == 1.0
    assert result["final_loss"] == pytest.approx(fp32_run["final_loss"], abs=0.01)
    args = torch.load(pairs / "bf16" / "checkpoint-10" / "training_args.bin", weights_only=False)
    assert args.bf16 and not args.bf16_full_eval  # autocast over fp32 weights, never pure bf16


@pytest.mark.parametrize("loss_type, smoothing, first_loss", [
    ("ipo", 0.0, (1 / (2 * 0.1)) ** 2),  # (h - 1/(2β))² with h = 0: policy equals its reference at step 1
    ("robust", 0.2, math.log(2)),  # [(1-ε)·log 2 - ε·log 2] / (1 - 2ε)
])
def test_loss_type_is_the_configured_one(pairs, loss_type, smoothing, first_loss):
    cfg = _config(pairs, loss_type, loss_type=loss_type, label_smoothing=smoothing, steps=1, log_every=1,
                  save_every=1, eval_split=0.0)
    assert train_dpo(cfg)["final_loss"] == pytest.approx(first_loss, rel=1e-3)


def test_ties_are_dropped(tmp_path):
    from pluralign.records import Comparison

    write_records(tmp_path / "c.jsonl", [
        Comparison(prompt="p", response_a="x", response_b="y", label="tie"),
        Comparison(prompt="q", response_a="x", response_b="y", p_a=0.3)])
    kept = decided_pairs(load_preferences(tmp_path / "c.jsonl", conversational=False))
    assert kept.to_list() == [{"prompt": "q", "chosen": "y", "rejected": "x"}]
