"""``pluralign train sft|rm|dpo [CONFIG] [flags]``: one config file per run, flags override its keys.

Every field of the run's config is a flag, with the field's description, range and default as help (TRL's
``HfArgumentParser`` habit): ``--beta 0.2 --loss-type ipo``, ``--lora/--full``. ``--set key=value`` sets a key
with a TOML value too (for scripts; flags win over it). Options a method does not use have no flag. Other
modules add commands with :func:`add_train_command`. Rerunning the same command after an interruption resumes
from the last checkpoint; rerunning with a different config is refused, naming the fields that differ.
The same command runs under ``accelerate launch --num_processes N`` for data-parallel training.
"""

from __future__ import annotations

import importlib
import inspect
import json
import tomllib
from typing import Any, Optional

import typer

from pluralign.cli_options import config_command
from pluralign.config import load_config
from pluralign.errors import InputError
from pluralign.train.config import DPOConfig, RewardConfig, SFTConfig

train_app = typer.Typer(help="Train: SFT, reward model, DPO (and RL methods).", no_args_is_help=True)


def parse_sets(assignments: list[str] | None) -> dict[str, Any]:
    """``["beta=0.2", "loss_type=ipo"]`` -> ``{"beta": 0.2, "loss_type": "ipo"}`` (TOML values, else strings)."""
    out: dict[str, Any] = {}
    for item in assignments or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set needs key=value, got {item!r}", path="<flags>")
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out


SetParam = inspect.Parameter(
    "set_", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[list[str]],
    default=typer.Option(None, "--set", help="any config key as key=TOML value (repeatable; flags win)",
                         show_default=False))


def add_train_command(name: str, config_cls: type, runner: str, help_text: str) -> None:
    """Register ``pluralign train NAME [CONFIG] [flags]``: one flag per field of ``config_cls``; loads the config
    and calls ``runner`` ("module:function", imported only when the command runs, so ``--help`` stays fast)."""

    def run(config, overrides: dict[str, Any], set_: list[str] | None) -> None:
        run_config = load_config(config, config_cls, {**parse_sets(set_), **overrides})
        module, function = runner.split(":")
        result = getattr(importlib.import_module(module), function)(run_config)
        typer.echo(json.dumps(result, indent=2, default=str))

    command = config_command(config_cls, run, skip=config_cls.unused, extra=[SetParam],
                             config_help="TOML or YAML run config; flags override its keys")
    command.__doc__ = help_text
    train_app.command(name)(command)


add_train_command("sft", SFTConfig, "pluralign.train.sft:train_sft",
                  "Supervised fine-tuning on demonstrations (prompt/completion) or CAI revisions.")
add_train_command("rm", RewardConfig, "pluralign.train.reward:train_reward_model",
                  "Bradley–Terry reward model on preferences or comparisons; reports held-out pairwise accuracy.")
add_train_command("dpo", DPOConfig, "pluralign.train.dpo:train_dpo",
                  "DPO (sigmoid, ipo or robust via --loss-type) with reference log-probs precomputed once.")
