"""TRL's RLOO and GRPO behind our reward interface: the proxy is optimised, the gold only logged."""

from __future__ import annotations

import json

import pytest

from pluralign.errors import InputError
from pluralign.train.config import load_config
from pluralign.train.rl_trl import GRPOConfig, RLOOConfig, reward_functions, train_grpo, train_rloo
from pluralign.train.scorers import CountScorer


def test_reward_functions_give_gold_zero_weight(tmp_path):
    cfg = load_config(None, GRPOConfig, {"data": "p.jsonl", "reward": "count:a", "gold": "count:b"})
    funcs, weights = reward_functions(cfg)
    assert [f.__name__ for f in funcs] == ["proxy", "gold"] and weights == [1.0, 0.0]
    conversational = [[{"role": "assistant", "content": "aab"}], [{"role": "assistant", "content": "b"}]]
    assert funcs[0](prompts=["x", "y"], completions=conversational) == [2.0, 0.0]
    assert funcs[1](prompts=["x", "y"], completions=["bb", "a"]) == [2.0, 0.0]
    with pytest.raises(InputError, match="field 'reward'"):
        load_config(None, RLOOConfig, {"data": "p.jsonl"})
    with pytest.raises(InputError, match="field 'num_generations'"):
        load_config(None, RLOOConfig, {"data": "p.jsonl", "reward": "count:a", "num_generations": 1})


@pytest.mark.parametrize("method", ["rloo", "grpo"])
def test_trl_run_logs_proxy_gold_kl_and_length(method, tmp_path):
    from pluralign.lm.tiny import save_tiny_model

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"say {i}:"}) + "\n" for i in range(4)))
    cls, train = {"rloo": (RLOOConfig, train_rloo), "grpo": (GRPOConfig, train_grpo)}[method]
    cfg = load_config(None, cls, dict(model=str(save_tiny_model(tmp_path / "tiny")), data=str(prompts),
                                      output_dir=str(tmp_path / method), reward="count:aeiou", gold="count:xyz",
                                      steps=2, batch_size=2, num_generations=4, max_new_tokens=8, lora=False))
    seen = []

    def gold(prompts, responses):  # the gold scorer sees the same samples as the proxy
        seen.extend(responses)
        return CountScorer("xyz")(prompts, responses)

    result = train(cfg, gold_scorer=gold)
    assert result["steps"] == 2 and len(seen) == 2 * 2 * 4
    rows = [json.loads(line) for line in (tmp_path / method / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert {"reward", "gold", "kl", "response_length"} <= rows[-1].keys()
    assert 0 < rows[-1]["response_length"] <= 8
    assert (tmp_path / method / "metrics.png").is_file() and (tmp_path / method / "model" / "config.json").is_file()
