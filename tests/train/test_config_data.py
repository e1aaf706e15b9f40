"""TRL-format training data: bad JSON, wrong types, NaN and out-of-range numbers are one-line errors naming
file:line:field (never a datasets/pyarrow traceback), raised before any model loads."""

from __future__ import annotations

import json

import pytest

from pluralign.errors import InputError
from pluralign.train.data import load_demonstrations, load_preferences, load_prompts

GOOD = {"prompt": "Hi?", "chosen": "Hello!", "rejected": "Go away.", "p_chosen": 1.0}  # TRL columns, not a record


def _jsonl(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("row, where", [
    ('{"prompt": "Hi?", "chosen": "a", ', r":2: invalid JSON"),
    ({**GOOD, "prompt": 5}, r":2: field 'prompt"),
    ({**GOOD, "chosen": [{"role": "wizard", "content": "x"}]}, r":2: field 'chosen"),
    ({**GOOD, "p_chosen": "0.9"}, r":2: field 'p_chosen': Input should be a valid number"),
    ('{"prompt": "Hi?", "chosen": "a", "rejected": "b", "p_chosen": NaN}', r":2: field 'p_chosen': .*finite"),
    ({**GOOD, "p_chosen": 1.5}, r":2: field 'p_chosen': Input should be less than or equal to 1"),
    ({**GOOD, "weight": -1}, r":2: field 'weight'"),
    ('{"prompt": "Hi?", "chosen": "a", "rejected": "b", "margin": Infinity}', r":2: field 'margin'"),
    ({"prompt": "Hi?", "chosen": "a"}, r":2: field 'rejected': Field required"),
])
def test_bad_trl_preference_rows_name_file_line_field(tmp_path, row, where):
    path = _jsonl(tmp_path, [GOOD, row])
    with pytest.raises(InputError, match=str(path) + where) as err:
        load_preferences(path)
    assert "\n" not in str(err.value)


def test_bad_parquet_rows_name_the_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "prefs.parquet"
    pq.write_table(pa.table({"prompt": ["a", "b"], "chosen": ["x", "y"], "rejected": ["p", "q"],
                             "p_chosen": [0.9, float("nan")]}), path)
    with pytest.raises(InputError, match=rf"{path}:2: field 'p_chosen'"):
        load_preferences(path)
    pq.write_table(pa.table({"prompt": [1, 2], "completion": ["x", "y"]}), path)
    with pytest.raises(InputError, match=rf"{path}:1: field 'prompt"):
        load_demonstrations(path)


def test_good_trl_rows_still_load_with_mixed_text_and_turns(tmp_path):
    turns = [{"role": "user", "content": "Hi?"}]
    prefs = load_preferences(_jsonl(tmp_path, [GOOD, {**GOOD, "prompt": turns, "p_chosen": 0.75, "margin": 1}]))
    assert prefs["p_chosen"] == [1.0, 0.75] and prefs["prompt"] == [turns, turns] and prefs["margin"][1] == 1.0
    demos = load_demonstrations(_jsonl(tmp_path, [{"prompt": "Hi?", "completion": "Hello"},
                                                  {"prompt": turns, "completion": "Hey"}], "sft.jsonl"))
    assert demos.column_names == ["prompt", "completion"] and len(demos) == 2


@pytest.mark.parametrize("rows, where", [
    ([{"messages": [{"role": "user", "content": "hi"}]}, {"messages": []}], r":2: field 'messages'"),
    ([{"messages": [{"role": "user", "content": "hi"}]}, {"messages": [{"role": "user"}]}], r":2: field 'messages"),
    ([{"text": "a"}, {"text": 3}], r":2: field 'text'"),
    ([{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": None}], r":2: field 'completion"),
])
def test_bad_trl_sft_rows_name_file_line_field(tmp_path, rows, where):
    path = _jsonl(tmp_path, rows)
    with pytest.raises(InputError, match=str(path) + where):
        load_demonstrations(path)


def test_prompt_errors_give_the_file_line_with_blank_lines(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "a"}\n\n{"prompt": ""}\n')
    with pytest.raises(InputError, match=rf"{path}:3: field 'prompt': .*empty prompt"):
        load_prompts(path)
    path.write_text('{"prompt": "a"}\n{"prompt": {"role": "user"}}\n')
    with pytest.raises(InputError, match=rf"{path}:2: field 'prompt"):
        load_prompts(path)


def test_rl_data_is_checked_before_the_reward_model_loads(tmp_path):
    """PPO reads its prompts before its scorer: a bad file is named although the reward model does not exist."""
    from pluralign.config import load_config
    from pluralign.train.ppo import PPOConfig, train_ppo

    path = _jsonl(tmp_path, [{"prompt": "a"}, '{"prompt": '])
    cfg = load_config(None, PPOConfig, {"data": str(path), "reward": str(tmp_path / "no-such-rm"),
                                        "output_dir": str(tmp_path / "run")})
    with pytest.raises(InputError, match=rf"{path}:2: invalid JSON"):
        train_ppo(cfg)
    assert not (tmp_path / "run").exists()


def test_sft_dpo_and_rm_data_are_checked_before_the_tokenizer_or_model(tmp_path):
    from pluralign.config import load_config
    from pluralign.train.config import DPOConfig, RewardConfig, SFTConfig
    from pluralign.train.dpo import train_dpo
    from pluralign.train.reward import train_reward_model
    from pluralign.train.sft import train_sft

    no_model = str(tmp_path / "no-such-model")
    demos = _jsonl(tmp_path, [{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": 7}], "sft.jsonl")
    with pytest.raises(InputError, match=rf"{demos}:2: field 'completion"):
        train_sft(load_config(None, SFTConfig, {"model": no_model, "data": str(demos)}))
    texts = _jsonl(tmp_path, [{"text": "a"}, {"text": "b"}], "text.jsonl")
    with pytest.raises(InputError, match=rf"{texts}: field 'eval_split': needs prompt/completion data"):
        train_sft(load_config(None, SFTConfig, {"model": no_model, "data": str(texts), "eval_split": 0.5}))
    prefs = _jsonl(tmp_path, [GOOD, {**GOOD, "weight": "heavy"}], "prefs.jsonl")
    for train, cls in [(train_dpo, DPOConfig), (train_reward_model, RewardConfig)]:
        with pytest.raises(InputError, match=rf"{prefs}:2: field 'weight'"):
            train(load_config(None, cls, {"model": no_model, "data": str(prefs)}))
