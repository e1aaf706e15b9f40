"""``pluralign train sft|rm|dpo CONFIG [flags]``: one config file per run, flags override its keys.

Common keys have their own flags (``--model``, ``--data``, ``--steps`` ...); any other key of the run's config
is set with ``--set key=value`` (value in TOML syntax: ``--set beta=0.2 --set loss_type='"ipo"'`` or plain
``--set loss_type=ipo``). Other modules add commands with :func:`add_train_command`. Rerunning the same command after an interruption resumes from the last checkpoint.
The same command runs under ``accelerate launch --num_processes N`` for data-parallel training.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path
from typing import Any, Optional

import typer

from pluralign.errors import InputError
from pluralign.train.config import DPOConfig, RewardConfig, SFTConfig, load_config

train_app = typer.Typer(help="Train: SFT, reward model, DPO (and RL methods).", no_args_is_help=True)

ConfigArg = typer.Argument(None, help="TOML or YAML run config; flags override its keys.", show_default=False)


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


def common_overrides(
    model: str | None, data: str | None, eval_data: str | None, output_dir: str | None, steps: int | None,
    lr: float | None, batch_size: int | None, seed: int | None, lora: bool | None, sets: list[str] | None,
) -> dict[str, Any]:
    """The flags every ``train`` command shares, as config overrides (``None`` = not given)."""
    flags = dict(model=model, data=data, eval_data=eval_data, output_dir=output_dir, steps=steps, lr=lr,
                 batch_size=batch_size, seed=seed, lora=lora)
    return {**{k: v for k, v in flags.items() if v is not None}, **parse_sets(sets)}


# typer options shared by every command (declared once so all commands read the same).
ModelOpt = typer.Option(None, "--model", help="transformers dir, .gguf file, or 'default'.")
DataOpt = typer.Option(None, "--data", help="Training data: pluralign records or TRL JSONL/Parquet.")
EvalOpt = typer.Option(None, "--eval-data", help="Held-out data (else a split of --data).")
OutOpt = typer.Option(None, "--output-dir", "-o", help="Run directory (checkpoints, metrics, final model).")
StepsOpt = typer.Option(None, "--steps", help="Optimizer updates.")
LrOpt = typer.Option(None, "--lr", help="Learning rate.")
BatchOpt = typer.Option(None, "--batch-size", help="Examples per device per micro-step.")
SeedOpt = typer.Option(None, "--seed", help="Random seed (data order, init, dropout).")
LoraOpt = typer.Option(None, "--lora/--full", help="LoRA adapters or all weights.")
SetOpt = typer.Option(None, "--set", help="Any config key: --set key=value (repeatable).")


def _report(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, default=str))


def add_train_command(name: str, config_cls: type, runner: str, help_text: str) -> None:
    """Register ``pluralign train NAME CONFIG [flags]``: load ``config_cls`` and call ``runner``
    ("module:function", imported only when the command runs, so ``--help`` stays fast)."""

    def command(
        config: Optional[Path] = ConfigArg, model: Optional[str] = ModelOpt, data: Optional[str] = DataOpt,
        eval_data: Optional[str] = EvalOpt, output_dir: Optional[str] = OutOpt, steps: Optional[int] = StepsOpt,
        lr: Optional[float] = LrOpt, batch_size: Optional[int] = BatchOpt, seed: Optional[int] = SeedOpt,
        lora: Optional[bool] = LoraOpt, set_: Optional[list[str]] = SetOpt,
    ) -> None:
        overrides = common_overrides(model, data, eval_data, output_dir, steps, lr, batch_size, seed, lora, set_)
        run_config = load_config(config, config_cls, overrides)
        module, function = runner.split(":")
        _report(getattr(importlib.import_module(module), function)(run_config))

    command.__doc__ = help_text
    train_app.command(name)(command)


add_train_command("sft", SFTConfig, "pluralign.train.sft:train_sft",
                  "Supervised fine-tuning on demonstrations (prompt/completion) or CAI revisions.")
add_train_command("rm", RewardConfig, "pluralign.train.reward:train_reward_model",
                  "Bradley–Terry reward model on preferences or comparisons; reports held-out pairwise accuracy.")
add_train_command("dpo", DPOConfig, "pluralign.train.dpo:train_dpo",
                  "DPO (sigmoid; IPO or robust via --set loss_type=...) with reference log-probs precomputed once.")
