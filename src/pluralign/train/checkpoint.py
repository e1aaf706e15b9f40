"""What every run shares around TRL's trainers: loading the model, translating our config into the trainer's
arguments, resuming from the last complete checkpoint, metrics, a progress bar, and saving the final model.

A run directory holds ``config.toml`` (what it ran with), ``checkpoint-N/`` (model, optimizer, scheduler, RNG
states, trainer state and the run's ``config.toml`` every ``save_every`` updates), ``metrics.jsonl`` (one JSON object per log), ``model/``
(the final weights, LoRA merged in) and ``result.json``. Rerunning the same command resumes from the newest
checkpoint whose ``trainer_state.json`` was written (it is written last, so a run killed mid-save falls back to
the previous one); the trainer restores the data order and RNG states, so the resumed run matches an
uninterrupted one. A rerun under a different config refuses to resume and names the fields that differ (only the
method's ``resumable`` fields, such as ``save_every``, may change).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pluralign.config import config_diff, save_config
from pluralign.errors import InputError
from pluralign.train.config import RunConfig

_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def load_tokenizer(cfg: RunConfig):
    """The tokenizer of ``cfg.model``, with a pad token (the eos when it has none)."""
    from transformers import AutoTokenizer

    from pluralign.lm.cache import resolve_model_path

    path, _ = resolve_model_path(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(cfg: RunConfig, head: str = "causal-lm"):
    """``cfg.model`` in fp32 (master weights stay fp32; bf16 is only ever autocast).

    head: "causal-lm" (a policy) or "reward" (sequence classification, 1 output, body from the policy's weights;
    the new score head is initialised from ``cfg.seed``).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, set_seed

    from pluralign.lm.cache import resolve_model_path

    path, _ = resolve_model_path(cfg.model)
    set_seed(cfg.seed)
    if head == "reward":
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    return model


def lora_config(cfg: RunConfig, task_type: str = "CAUSAL_LM"):
    """peft LoRA on every linear layer (``None`` for full fine-tuning). No dropout: resumed runs stay exact."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, target_modules="all-linear",
                      task_type=task_type)


def warn_if_bf16_is_emulated(bf16_autocast: bool) -> None:
    """Say so when bf16 autocast will run on a CPU that has no bf16 instructions: torch then emulates the bf16
    matmuls, and training runs many times slower than fp32 (a SmolLM2-135M forward and backward of 4 x 96 tokens on
    an AVX2-only CPU: 106 s against 7-9 s; docs/ditto.md)."""
    import warnings

    import torch

    from pluralign.lm.hf import cpu_has_native_bf16

    if bf16_autocast and not torch.cuda.is_available() and not cpu_has_native_bf16():
        warnings.warn("bf16_autocast on a CPU without native bf16 (avx512_bf16 or AMX): torch emulates the bf16 "
                      "matmuls, many times slower than fp32; set bf16_autocast = false here", stacklevel=2)


def trainer_arguments(cfg: RunConfig, has_eval: bool) -> dict[str, Any]:
    """Our config as keyword arguments of TRL's ``*Config`` (a ``transformers.TrainingArguments``).

    Without a GPU, ``use_cpu`` is set: under a multi-process launcher (``accelerate launch --multi_gpu`` or
    ``torchrun``) accelerate then runs DDP over gloo instead of looking for GPUs.
    """
    import torch

    warn_if_bf16_is_emulated(cfg.bf16_autocast)
    return dict(use_cpu=not torch.cuda.is_available(),
        output_dir=cfg.output_dir, max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, warmup_steps=cfg.warmup_steps, seed=cfg.seed, data_seed=cfg.seed,
        max_length=cfg.max_length, bf16=cfg.bf16_autocast, save_strategy="steps", save_steps=cfg.save_every,
        save_total_limit=2, logging_steps=cfg.log_every, eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.log_every if has_eval else None, report_to="none", disable_tqdm=True,
        dataloader_num_workers=0, remove_unused_columns=False,
    )


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` in ``output_dir`` whose trainer state is complete, or None."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    steps = sorted((int(m.group(1)), p) for p in output_dir.iterdir()
                   if (m := _CHECKPOINT_RE.match(p.name)) and p.is_dir())
    for _, path in reversed(steps):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        return str(path)
    return None


def stored_config(directory: str | Path) -> dict[str, Any] | None:
    """The ``config.toml`` a run or checkpoint directory holds (None when it has none)."""
    path = Path(directory) / "config.toml"
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise InputError("not a config written by a training run; use a new output_dir", path=str(path)) from None


def check_resume(cfg: RunConfig, stored: Mapping[str, Any] | None, checkpoint: str | Path) -> None:
    """Refuse to resume ``checkpoint`` when it was written under another config, naming the fields that differ."""
    if stored is None:
        return
    differ = config_diff(stored, cfg.to_dict(), ignore=cfg.resumable)
    if differ:
        raise InputError(f"this run was started with another config ({differ}); rerun with the same config to "
                         "resume it, or use a new output_dir", path=str(checkpoint))


def check_run_dir(cfg: RunConfig) -> None:
    """Before anything loads: a rerun may resume ``cfg.output_dir`` only under the config it was started with."""
    checkpoint = last_checkpoint(cfg.output_dir)
    if checkpoint is not None:
        check_resume(cfg, stored_config(checkpoint) or stored_config(cfg.output_dir), checkpoint)


def checkpoint_step(checkpoint: str | None) -> int:
    if checkpoint is None:
        return 0
    return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"])


def make_callbacks(config: RunConfig, description: str):
    """Trainer callbacks: metrics through :class:`~pluralign.train.monitors.MetricsLogger`, the config into each
    checkpoint, and a progress bar.

    The main process writes ``metrics.jsonl`` (+ plot); rank R > 0 of a data-parallel run writes
    ``rankR/metrics.jsonl``. Every row carries the rank's sum of trainable weights (``weight_sum``), so ranks can
    be checked for agreement. An eval log is merged into the training row of the same step.
    """
    from transformers import TrainerCallback

    from pluralign.progress import progress_bar
    from pluralign.train.monitors import MetricsLogger, from_trl_logs

    output_dir = config.output_dir

    class MetricsCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            rank = args.process_index
            self.logger = MetricsLogger(Path(output_dir) / (f"rank{rank}" if rank else ""))
            self.last_step, self.last_row = -1, {}

        def on_log(self, args, state, control, logs=None, model=None, **kwargs):
            if not logs or "train_runtime" in logs:
                return
            row = from_trl_logs(logs)
            if state.global_step == self.last_step:
                row = {**self.last_row, **row}  # the logger replaces a repeated step: keep both halves
            if model is not None:
                row["weight_sum"] = float(sum(p.detach().double().sum() for p in model.parameters()
                                              if p.requires_grad))
            self.logger.log(state.global_step, **row)
            self.last_step, self.last_row = state.global_step, row

        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.logger.finish()

    class ConfigCallback(TrainerCallback):
        """Each checkpoint carries the run's config (the resume check reads it back)."""

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                save_config(config, Path(output_dir) / f"checkpoint-{state.global_step}" / "config.toml")

    class ProgressCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = None
            if state.is_world_process_zero:
                self.bar = progress_bar(description, total=state.max_steps)
                self.advance = self.bar.__enter__()
                self.advance(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.advance(1)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.__exit__(None, None, None)

    return [MetricsCallback(), ConfigCallback(), ProgressCallback()]


def run_trainer(trainer, cfg: RunConfig, description: str) -> dict[str, Any]:
    """Train with resume (the caller has run :func:`check_run_dir`), save the final model (LoRA merged) to
    ``output_dir/model``, and return a summary: final loss (the last logged training loss), steps, where it
    resumed from, and eval metrics of the final model."""
    checkpoint = last_checkpoint(cfg.output_dir)
    resumed = checkpoint_step(checkpoint)
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # metrics go to metrics.jsonl and the progress bar
    for callback in make_callbacks(cfg, description):
        trainer.add_callback(callback)
    if trainer.accelerator.is_main_process:
        os.makedirs(cfg.output_dir, exist_ok=True)
        save_config(cfg, Path(cfg.output_dir) / "config.toml")
    trainer.train(resume_from_checkpoint=checkpoint)
    history, step = trainer.state.log_history, trainer.state.global_step
    losses = [h["loss"] for h in history if "loss" in h]
    final_eval = next((h for h in history if h.get("step") == step and "eval_loss" in h), None)
    if final_eval is None and trainer.eval_dataset is not None:
        final_eval = trainer.evaluate()  # the last step was not an eval step
    result = {
        "output_dir": cfg.output_dir, "steps": step, "resumed_from_step": resumed,
        "final_loss": losses[-1] if losses else None, "eval": final_eval,
    }
    save_final_model(trainer, Path(cfg.output_dir) / "model")
    if trainer.accelerator.is_main_process:
        from pluralign.io import atomic_path

        with atomic_path(Path(cfg.output_dir) / "result.json") as tmp:
            Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
    return result


def save_final_model(trainer, directory: Path) -> None:
    """Save the trained model with its tokenizer; LoRA adapters are merged so ``--model directory`` loads it."""
    trainer.accelerator.wait_for_everyone()
    if not trainer.accelerator.is_main_process:
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(directory)
    trainer.processing_class.save_pretrained(directory)
