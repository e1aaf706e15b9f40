"""Run configs: TOML/YAML loading, flag overrides, and one-line errors naming the file and key."""

from __future__ import annotations

import pytest

from pluralign.errors import InputError
from pluralign.train.cli import parse_sets
from pluralign.train.config import DPOConfig, RewardConfig, RunConfig, SFTConfig, load_config, save_config


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_loads_with_types_and_relative_paths(tmp_path):
    path = _write(tmp_path, "run.toml", 'data = "prefs.jsonl"\nsteps = 7\nlr = 1\nbeta = 0.25\nloss_type = "ipo"\n')
    cfg = load_config(path, DPOConfig)
    assert cfg.steps == 7 and cfg.beta == 0.25 and cfg.loss_type == "ipo"
    assert isinstance(cfg.lr, float) and cfg.lr == 1.0  # int widened to float
    assert cfg.data == str(tmp_path / "prefs.jsonl")  # relative to the config file
    assert cfg.output_dir.endswith("runs/dpo") and cfg.output_dir.startswith("/")


def test_yaml_and_flag_overrides(tmp_path):
    path = _write(tmp_path, "run.yaml", "data: /d.jsonl\nsteps: 5\nmargin: 0.5\n")
    cfg = load_config(path, RewardConfig, {"steps": 9, "lr": None, "seed": 3})
    assert (cfg.steps, cfg.seed, cfg.margin, cfg.lr) == (9, 3, 0.5, RewardConfig.model_fields["lr"].default)


def test_flags_alone_build_a_config():
    cfg = load_config(None, SFTConfig, {"data": "x.jsonl", "lora": False})
    assert cfg.lora is False and cfg.completion_only is True


@pytest.mark.parametrize(
    "text, message",
    [
        ('data = "d"\nstepz = 3\n', "field 'stepz': unknown key"),
        ('data = "d"\nsteps = "3"\n', "field 'steps': Input should be a valid integer, got '3'"),
        ('data = "d"\nsteps = 0\n', "field 'steps': Input should be greater than or equal to 1, got 0"),
        ('data = "d"\nlora = 1\n', "field 'lora': Input should be a valid boolean"),
        ('data = "d"\nloss_type = "hinge"\n', "field 'loss_type': Input should be 'sigmoid', 'ipo' or 'robust'"),
        ('data = "d"\nlabel_smoothing = 0.5\n', "field 'label_smoothing': Input should be less than 0.5"),
        ('data = "d"\nbeta = 0\n', "field 'beta': Input should be greater than 0"),
        ("steps = 3\n", "field 'data': missing"),
        ("steps = = 3\n", "invalid TOML"),
    ],
)
def test_bad_configs_name_file_and_key(tmp_path, text, message):
    path = _write(tmp_path, "bad.toml", text)
    with pytest.raises(InputError) as err:
        load_config(path, DPOConfig)
    assert str(err.value).startswith(str(path)) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_flag_is_named_as_flag(tmp_path):
    path = _write(tmp_path, "ok.toml", 'data = "d"\n')
    with pytest.raises(InputError, match=r"^<flags>: field 'lr': Input should be greater than 0"):
        load_config(path, RunConfig, {"lr": 0.0})
    with pytest.raises(InputError, match="field 'nope'"):
        load_config(path, RunConfig, {"nope": 1})


def test_other_suffix_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="must be a .toml"):
        load_config(_write(tmp_path, "run.ini", "x=1"), RunConfig)
    with pytest.raises(InputError, match="absent.toml: cannot read"):
        load_config(tmp_path / "absent.toml", RunConfig)


def test_save_config_round_trips(tmp_path):
    cfg = load_config(None, DPOConfig, {"data": "/d.jsonl", "beta": 0.3, "loss_type": "robust"})
    save_config(cfg, tmp_path / "config.toml")
    assert load_config(tmp_path / "config.toml", DPOConfig) == cfg


def test_parse_sets_reads_toml_values():
    assert parse_sets(["beta=0.2", "loss_type=ipo", "lora=false"]) == {"beta": 0.2, "loss_type": "ipo", "lora": False}
    with pytest.raises(InputError, match="key=value"):
        parse_sets(["beta"])


def test_bf16_autocast_on_a_cpu_without_bf16_is_flagged(monkeypatch):
    import warnings

    import pluralign.lm.hf as hf
    from pluralign.train.checkpoint import warn_if_bf16_is_emulated

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr(hf, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(UserWarning, match="without native bf16"):
        warn_if_bf16_is_emulated(True)
    monkeypatch.setattr(hf, "cpu_has_native_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_bf16_is_emulated(True)  # native bf16: nothing to say
        warn_if_bf16_is_emulated(False)
