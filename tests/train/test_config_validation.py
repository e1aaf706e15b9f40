"""One way to validate configs: declared ranges, NaN/inf refused everywhere, every field described, generated
flags whose values merge over a config file, unused options refused, and resuming under another config refused."""

from __future__ import annotations

import json
import math
import typing

import pytest
import typer
from typer.testing import CliRunner

from pluralign.cli_options import config_command
from pluralign.config import Config, load_config
from pluralign.aggregate.opinion.replay import ReplayConfig
from pluralign.constitution.build import BuildConfig
from pluralign.errors import InputError
from pluralign.evaluate.ask import AskConfig
from pluralign.feedback.ai_preference import LabelConfig
from pluralign.feedback.critique import ReviseConfig
from pluralign.feedback.redteam import RedTeamConfig
from pluralign.train.checkpoint import check_run_dir
from pluralign.train.config import DPOConfig, RewardConfig, SFTConfig, save_config
from pluralign.train.ppo import PPOConfig
from pluralign.train.rl_trl import GRPOConfig, RLOOConfig

TRAIN = [SFTConfig, RewardConfig, DPOConfig, PPOConfig, RLOOConfig, GRPOConfig]
OTHERS = [LabelConfig, ReviseConfig, RedTeamConfig, BuildConfig, AskConfig, ReplayConfig]
REQUIRED = {"data": "/d.jsonl", "reward": "count:a"}


def _required(cls):
    return {k: v for k, v in REQUIRED.items() if k in cls.model_fields}


def _float_fields(cls):
    return [name for name, f in cls.model_fields.items()
            if float in (f.annotation, *typing.get_args(f.annotation)) and name not in getattr(cls, "unused", ())]


@pytest.mark.parametrize("cls", TRAIN + OTHERS, ids=lambda c: c.__name__)
def test_every_field_is_described_and_a_pydantic_config(cls):
    assert issubclass(cls, Config)
    assert [name for name, f in cls.model_fields.items() if not f.description] == []


@pytest.mark.parametrize("cls", TRAIN, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nan_and_inf_are_refused_in_every_float_field_of_a_file(tmp_path, cls, bad):
    fields = _float_fields(cls)
    assert "lr" in fields
    for name in fields:
        path = tmp_path / "run.toml"
        path.write_text("".join(f'{k} = "{v}"\n' for k, v in _required(cls).items()) + f"{name} = {bad}\n")
        with pytest.raises(InputError, match=rf"run.toml: field '{name}': Input should be"):
            load_config(path, cls)


@pytest.mark.parametrize("cls", OTHERS, ids=lambda c: c.__name__)
def test_nan_is_refused_by_the_other_stages_configs(cls):
    for name in _float_fields(cls):
        pair = typing.get_origin(cls.model_fields[name].annotation) is tuple  # LabelConfig.clamp_range
        with pytest.raises(InputError, match=f"field '{name}{'.0' if pair else ''}': Input should be a finite"):
            cls(**{name: (math.nan, 0.5) if pair else math.nan})


def test_fixed_choices_and_ranges_are_checked_in_python_too():
    with pytest.raises(InputError, match="field 'principles': Input should be 'sample' or 'all'"):
        LabelConfig(principles="most")
    with pytest.raises(InputError, match="field 'clamp_range'"):
        LabelConfig(cot=True, clamp_range=(0.7, 0.2))
    with pytest.raises(InputError, match="field 'clamp_range': only used with cot"):
        LabelConfig(clamp_range=(0.3, 0.7))
    assert LabelConfig(cot=True, clamp_range=(0.3, 0.7)).clamp_range == (0.3, 0.7)
    with pytest.raises(InputError, match="field 'label_smoothing': only the robust loss uses it, not 'ipo'"):
        DPOConfig(data="d", loss_type="ipo", label_smoothing=0.1)
    with pytest.raises(InputError, match="field 'rounds'"):
        ReviseConfig(rounds=0)
    with pytest.raises(ValueError):  # assignments are checked as well
        LabelConfig().fewshot = -1
    with pytest.raises(InputError, match="field 'steps'"):
        load_config(None, SFTConfig, {"data": "d", "steps": 10**30})
    assert LabelConfig(fewshot=2).fewshot == 2 and DPOConfig(data="d", beta=0.5).beta == 0.5


def test_yaml_nan_and_a_non_utf8_config_give_one_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data: d.jsonl\nbeta: .nan\n")
    with pytest.raises(InputError, match="field 'beta': Input should be a finite number"):
        load_config(path, DPOConfig)
    binary = tmp_path / "run.toml"
    binary.write_bytes(b"data = \"\xff\xfe\"\n")
    with pytest.raises(InputError, match="not UTF-8") as err:
        load_config(binary, SFTConfig)
    assert "\n" not in str(err.value)


# ---- flags generated from the fields ------------------------------------------------------------------------

def _app(cls, seen):
    app = typer.Typer()

    def run(config, overrides):
        seen.append(load_config(config, cls, overrides))

    app.command()(config_command(cls, run, skip=cls.unused))
    return app


def test_flags_merge_over_the_file_and_win(tmp_path):
    path = tmp_path / "ppo.toml"
    path.write_text('data = "p.jsonl"\nreward = "count:a"\nbeta = 0.3\nrollout_size = 6\nadaptive_kl = true\n')
    seen = []
    result = CliRunner().invoke(_app(PPOConfig, seen), [str(path), "--beta", "0.2", "--fixed-kl",
                                                         "--reward", "count:e"])
    assert result.exit_code == 0, result.output
    cfg = seen[0]
    assert (cfg.beta, cfg.rollout_size, cfg.adaptive_kl, cfg.reward) == (0.2, 6, False, "count:e")
    assert cfg.data == str(tmp_path / "p.jsonl")


def test_flag_values_are_checked_and_choices_listed(capsys):
    from pluralign.cli import main

    seen = []
    app = _app(DPOConfig, seen)
    for flags, message in [(["--loss-type", "hinge"], "field 'loss_type': Input should be 'sigmoid', 'ipo' or 'robust'"),
                           (["--beta", "nan"], "field 'beta': Input should be a finite number"),
                           (["--steps", "99999999999999999999"], "field 'steps': Input should be less than or equal")]:
        with pytest.raises(InputError, match=rf"^<flags>: {message}"):
            CliRunner().invoke(app, ["--data", "d", *flags], catch_exceptions=False)
    assert seen == []
    with pytest.raises(SystemExit) as exit_info:  # the real command: one line, exit 2
        main(["train", "dpo", "--data", "d", "--loss-type", "hinge"])
    assert exit_info.value.code == 2 and "field 'loss_type'" in capsys.readouterr().err
    main(["train", "dpo", "--help"])
    assert "sigmoid|ipo|robust" in capsys.readouterr().out


def test_train_commands_have_a_flag_per_used_field(capsys):
    from pluralign.cli import main
    from pluralign.train.cli import train_app

    commands = typer.main.get_command(train_app).commands
    for method, cls in [("sft", SFTConfig), ("rm", RewardConfig), ("dpo", DPOConfig), ("ppo", PPOConfig),
                        ("rloo", RLOOConfig), ("grpo", GRPOConfig)]:
        flags = {opt for p in commands[method].params for opt in [*p.opts, *p.secondary_opts]}
        for name in cls.model_fields:
            flag = "--out-dir" if name == "output_dir" else "--" + name.replace("_", "-")  # the CLI convention
            assert (flag in flags) is (name not in cls.unused), (method, name)
    assert {"-m", "--out-dir", "--full", "--fixed-kl", "--rollout-size", "--reward", "--beta"} <= {
        opt for p in commands["ppo"].params for opt in [*p.opts, *p.secondary_opts]}
    main(["train", "ppo", "--help"])
    assert "prompts sampled per step (>= 1" in " ".join(capsys.readouterr().out.split())  # help from the field


def test_an_unused_option_is_refused_not_ignored(tmp_path):
    for cls, name, value in [(PPOConfig, "eval_data", "held.jsonl"), (PPOConfig, "grad_accum", 1),
                             (PPOConfig, "log_every", 2), (GRPOConfig, "eval_split", 0.1), (RLOOConfig, "max_length", 64)]:
        with pytest.raises(InputError, match=f"field '{name}': {cls.__name__} does not use it"):
            load_config(None, cls, {**_required(cls), name: value})
    with pytest.raises(InputError, match="field 'eval_split': not used when eval_data is given"):
        load_config(None, DPOConfig, {"data": "d", "eval_data": "e", "eval_split": 0.3})
    path = tmp_path / "ppo.toml"
    path.write_text('data = "p.jsonl"\nreward = "count:a"\neval_data = "held.jsonl"\n')
    with pytest.raises(InputError, match="ppo.toml: field 'eval_data'"):
        load_config(path, PPOConfig)
    cfg = load_config(None, PPOConfig, _required(PPOConfig))
    save_config(cfg, tmp_path / "saved.toml")  # what a run records loads back
    assert load_config(tmp_path / "saved.toml", PPOConfig) == cfg


# ---- resuming under another config ------------------------------------------------------------------------

def test_checkpoints_carry_their_config_and_another_config_is_refused(tmp_path):
    from pluralign.io import write_records
    from pluralign.lm.tiny import save_tiny_model
    from pluralign.records import Demonstration
    from pluralign.train.sft import train_sft

    write_records(tmp_path / "demos.jsonl", [Demonstration(prompt=f"Say {w}.", completion=f"{w}!") for w in "abcd"])
    values = {"model": str(save_tiny_model(tmp_path / "tiny")), "data": str(tmp_path / "demos.jsonl"),
              "output_dir": str(tmp_path / "run"), "lora": False, "lr": 0.001, "steps": 1, "save_every": 1,
              "batch_size": 2, "log_every": 1}
    first = load_config(None, SFTConfig, values)
    train_sft(first)
    stored = (tmp_path / "run" / "checkpoint-1" / "config.toml").read_text()
    assert load_config(tmp_path / "run" / "checkpoint-1" / "config.toml", SFTConfig) == first
    changed = load_config(None, SFTConfig, {**values, "lr": 0.002, "lora": True})
    with pytest.raises(InputError, match=r"checkpoint-1: this run was started with another config "
                                         r"\(lora: False -> True, lr: 0.001 -> 0.002\)"):
        train_sft(changed)
    assert (tmp_path / "run" / "checkpoint-1" / "config.toml").read_text() == stored
    check_run_dir(load_config(None, SFTConfig, {**values, "save_every": 5}))  # save_every may change


def test_ppo_refuses_to_resume_under_another_config_and_keeps_its_config(tmp_path):
    import torch

    from pluralign.train.ppo import train_ppo

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    run = tmp_path / "ppo"
    run.mkdir()
    values = {"data": str(prompts), "reward": "count:a", "output_dir": str(run), "kl_target": 6.0}
    first = load_config(None, PPOConfig, values)
    save_config(first, run / "config.toml")
    torch.save({"step": 2, "config": first.to_dict()}, run / "checkpoint.pt")
    before = (run / "config.toml").read_text()
    with pytest.raises(InputError, match=r"checkpoint.pt: .*\(kl_target: 6.0 -> 3.0\)"):
        train_ppo(load_config(None, PPOConfig, {**values, "kl_target": 3.0}))
    assert (run / "config.toml").read_text() == before


@pytest.mark.parametrize("name, cls", [("sft", SFTConfig), ("rm", RewardConfig), ("dpo", DPOConfig),
                                       ("ppo", PPOConfig)])
def test_the_example_configs_are_valid(name, cls):
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / "train" / f"{name}.toml"
    cfg = load_config(path, cls)
    assert cfg.data == str(path.parent / "data" / Path(cfg.data).name)
