"""PPO mechanics (GAE by hand, masks, clipping, KL controller) and short runs on the tiny model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from pluralign.errors import InputError
from pluralign.train.config import load_config
from pluralign.train.ppo import (
    AdaptiveKLController,
    PPOConfig,
    gae,
    per_token_rewards,
    ppo_losses,
    response_mask,
    train_ppo,
    whiten,
)


def test_gae_matches_hand_computation():
    gamma, lam = 0.9, 0.8
    rewards = torch.tensor([[1.0, 0.0, 2.0], [0.5, 3.0, 9.0]])
    values = torch.tensor([[0.5, 1.0, 1.5], [1.0, 2.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # second response ended after 2 tokens
    adv, ret = gae(rewards, values, mask, gamma, lam)
    # Row 0: deltas d2 = 2 - 1.5, d1 = 0 + .9*1.5 - 1, d0 = 1 + .9*1 - .5; A_t = d_t + gamma*lam*A_{t+1}.
    d2, d1, d0 = 0.5, 0.35, 1.4
    a2, a1 = d2, d1 + 0.72 * d2
    a0 = d0 + 0.72 * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2])
    # Row 1: the padded token contributes neither reward nor value.
    e1 = 3.0 - 2.0
    e0 = 0.5 + 0.9 * 2.0 - 1.0
    assert adv[1].tolist() == pytest.approx([e0 + 0.72 * e1, e1, 0.0])
    assert ret[0].tolist() == pytest.approx([a0 + 0.5, a1 + 1.0, a2 + 1.5])


def test_response_mask_keeps_first_eos_only():
    eos = 7
    ids = torch.tensor([[1, 2, eos, 7, 7], [3, 4, 5, 6, 1], [eos, 7, 7, 7, 7]])
    assert response_mask(ids, eos).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]


def test_per_token_rewards_put_the_score_on_the_last_token():
    logprobs = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -2.0, -2.0], [-1.0, -1.0, -1.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    rewards, kl = per_token_rewards(torch.tensor([10.0, 20.0]), logprobs, ref, mask, beta=0.1)
    assert torch.allclose(kl, torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    assert torch.allclose(rewards, torch.tensor([[-0.05, 10.0, 0.0], [0.0, 0.0, 20.0]]))


def test_whiten_ignores_padding():
    x = torch.tensor([[1.0, 2.0, 100.0], [3.0, 4.0, -50.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    w = whiten(x, mask)
    real = w[mask.bool()]
    assert float(real.mean()) == pytest.approx(0.0, abs=1e-6) and float(real.std(unbiased=False)) == pytest.approx(1.0)
    assert w[:, 2].tolist() == [0.0, 0.0]


def test_clipped_ratio_stops_the_gradient():
    mask = torch.ones(1, 2)
    old = torch.zeros(1, 2)
    values = torch.zeros(1, 2, requires_grad=True)
    # Ratio 1.5 > 1 + 0.2 with a positive advantage: the clipped term is the max, its gradient is zero.
    new = torch.full((1, 2), math.log(1.5), requires_grad=True)
    policy_loss, _, stats = ppo_losses(new, old, torch.ones(1, 2), values, old, old, mask, 0.2, 0.2)
    policy_loss.backward()
    assert policy_loss.item() == pytest.approx(-1.2) and stats["clipfrac"] == 1.0
    assert new.grad.abs().sum() == 0
    # Same ratio, negative advantage: the unclipped term is the max and keeps its gradient.
    new = torch.full((1, 2), math.log(1.5), requires_grad=True)
    policy_loss, _, _ = ppo_losses(new, old, -torch.ones(1, 2), values, old, old, mask, 0.2, 0.2)
    policy_loss.backward()
    assert policy_loss.item() == pytest.approx(1.5) and new.grad.abs().sum() > 0


def test_value_loss_is_clipped_around_the_old_values():
    mask, zeros = torch.ones(1, 1), torch.zeros(1, 1)
    values = torch.full((1, 1), 1.0, requires_grad=True)  # moved 1.0 from old value 0, clip range 0.2
    returns = torch.full((1, 1), 2.0)
    _, value_loss, _ = ppo_losses(zeros, zeros, zeros, values, zeros, returns, mask, 0.2, 0.2)
    assert float(value_loss) == pytest.approx(0.5 * (2.0 - 0.2) ** 2)  # the clipped error is the larger


def test_adaptive_kl_controller_moves_beta_towards_the_target():
    ctl = AdaptiveKLController(beta=0.1, target=6.0, horizon=100)
    ctl.update(kl=60.0, n_samples=10)  # far above target: error clipped to +0.2
    assert ctl.value == pytest.approx(0.1 * (1 + 0.2 * 10 / 100))
    ctl.update(kl=3.0, n_samples=10)  # below target: beta shrinks
    assert ctl.value < 0.1 * 1.02


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": [{"role": "user", "content": f"question {i}"}]}) + "\n"
                            for i in range(8)))
    return path


def _config(prompts_file, out, **overrides):
    values = dict(data=str(prompts_file), reward="count:aeiou", output_dir=str(out), rollout_size=16,
                  batch_size=8, max_new_tokens=16, lr=1e-2, lora=False, seed=0)
    return load_config(None, PPOConfig, {**values, **overrides})


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_rule_reward_rises_kl_starts_at_zero_and_hacking_is_caught(prompts_file, tmp_path):
    from pluralign.lm.tiny import tiny_model
    from pluralign.train.monitors import RewardHackingWarning

    model, tokenizer = tiny_model(seed=0)  # a fresh copy: this run changes its weights
    # The proxy pays for vowels; the gold counts consonants, which a fixed-length response must give up for them.
    cfg = _config(prompts_file, tmp_path / "run", steps=20, gold="count:bcdfghjklmnpqrstvwxyz")
    with pytest.warns(RewardHackingWarning, match="gold reward falls"):
        result = train_ppo(cfg, model=model, tokenizer=tokenizer)
    rows = _metrics(tmp_path / "run")
    assert rows[0]["kl"] == 0.0  # policy == reference before the first update
    first = sum(r["reward"] for r in rows[:5]) / 5
    last = sum(r["reward"] for r in rows[-5:]) / 5
    assert last > first + 2.0, (first, last)  # random init emits ~0.3 vowels in 16 bytes
    assert rows[-1]["kl"] > 0 and rows[-1]["gold"] < rows[0]["gold"]
    assert {"loss", "policy_loss", "value_loss", "clipfrac", "beta", "response_length"} <= rows[0].keys()
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert (tmp_path / "run" / "metrics.html").is_file() and result["reward_last"] == rows[-1]["reward"]
    assert len(result["warnings"]) == 1


def test_lora_reference_is_the_disabled_adapter(prompts_file, tmp_path):
    from pluralign.lm.tiny import tiny_model

    model, tokenizer = tiny_model(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_ppo(_config(prompts_file, tmp_path / "lora", steps=3, lora=True, lora_r=4, rollout_size=8, batch_size=4),
              model=model, tokenizer=tokenizer)
    rows = _metrics(tmp_path / "lora")
    assert rows[0]["kl"] == 0.0 and rows[-1]["kl"] != 0.0
    merged = json.loads((tmp_path / "lora" / "model" / "config.json").read_text())
    assert merged["model_type"] == "llama"  # the saved policy is a plain model, LoRA merged in
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k in before)


def test_rerun_resumes_from_the_checkpoint(prompts_file, tmp_path):
    from pluralign.lm.tiny import tiny_model

    whole = tmp_path / "whole"
    train_ppo(_config(prompts_file, whole, steps=4, save_every=2), model=tiny_model(seed=0)[0],
              tokenizer=tiny_model(seed=0)[1])
    split = tmp_path / "split"
    train_ppo(_config(prompts_file, split, steps=2, save_every=2), model=tiny_model(seed=0)[0],
              tokenizer=tiny_model(seed=0)[1])
    train_ppo(_config(prompts_file, split, steps=4, save_every=2), model=tiny_model(seed=0)[0],
              tokenizer=tiny_model(seed=0)[1])
    a, b = _metrics(whole), _metrics(split)
    assert [r["step"] for r in b] == [0, 1, 2, 3]
    for key in ("reward", "kl", "loss"):
        assert b[-1][key] == pytest.approx(a[-1][key], abs=1e-4), key


def test_config_errors_name_the_field(prompts_file, tmp_path):
    with pytest.raises(InputError, match="field 'reward'"):
        load_config(None, PPOConfig, {"data": str(prompts_file)})
    with pytest.raises(InputError, match="field 'batch_size'"):
        _config(prompts_file, tmp_path, batch_size=32, rollout_size=8)
    bad = tmp_path / "ppo.toml"
    bad.write_text('data = "p.jsonl"\nreward = "count:a"\nkl_target = -1\n')
    with pytest.raises(InputError, match="ppo.toml: field 'kl_target'"):
        load_config(bad, PPOConfig)
    good = tmp_path / "configs" / "ppo.toml"
    good.parent.mkdir()
    good.write_text('data = "p.jsonl"\nreward = "rm/model"\ngold = "count:a"\n')
    cfg = load_config(good, PPOConfig)  # a reward model directory is relative to the file, like data
    assert cfg.reward == str(good.parent / "rm" / "model") and cfg.gold == "count:a"
    assert load_config(good, PPOConfig, {"reward": "rm2"}).reward == str(Path.cwd() / "rm2")


def test_cli_runs_ppo_and_reports(tmp_path, prompts_file, capsys):
    from pluralign.cli import main
    from pluralign.lm.tiny import save_tiny_model

    model_dir = save_tiny_model(tmp_path / "tiny")
    out = tmp_path / "cli"
    main(["train", "ppo", "--model", str(model_dir), "--data", str(prompts_file), "--out-dir", str(out), "--steps", "2",
          "--full", "--batch-size", "2", "--set", "reward=count:e", "--set", "gold=count:a",
          "--set", "rollout_size=4", "--set", "max_new_tokens=8"])
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.index("{\n"):])  # the report follows the progress bar
    assert report["steps"] == 2 and report["kl_last"] is not None
    assert "gold" in _metrics(out)[0]
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "ppo", "--model", str(model_dir), "--data", str(prompts_file), "--out-dir", str(out),
              "--set", "reward=nosuchmodule_xyz:f"])
    assert exit_info.value.code == 2
