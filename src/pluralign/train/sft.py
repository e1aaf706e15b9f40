"""Supervised fine-tuning (step 0 of the RLHF recipe; SL-CAI trains on revisions the same way).

TRL's ``SFTTrainer`` does the work: the chat template is applied to prompt/completion conversations and, with
``completion_only``, the loss is the mean token cross-entropy over completion tokens only (prompt tokens masked).
"""

from __future__ import annotations

from typing import Any

from pluralign.errors import InputError
from pluralign.records import Demonstration
from pluralign.train.checkpoint import (check_run_dir, load_model, load_tokenizer, lora_config, run_trainer,
                                        trainer_arguments)
from pluralign.train.config import SFTConfig
from pluralign.train.data import demonstration_dataset, read_demonstrations, split_by_prompt


def train_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``cfg.data``; returns the run summary (see :func:`run_trainer`)."""
    check_run_dir(cfg)  # the run directory and the data are checked before anything loads
    train_rows = read_demonstrations(cfg.data)
    held_rows = read_demonstrations(cfg.eval_data) if cfg.eval_data else None
    paired = bool(train_rows) and isinstance(train_rows[0], Demonstration)  # prompt/completion, not messages/text
    if not paired and held_rows is None and cfg.eval_split > 0:
        raise InputError("needs prompt/completion data to hold prompts out; give eval_data instead",
                         path=cfg.data, field="eval_split")
    if not paired and "completion_only" in cfg.model_fields_set:
        raise InputError("applies to prompt/completion data only (messages and text rows have no completion)",
                         path=cfg.data, field="completion_only")
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    tokenizer = load_tokenizer(cfg)
    conversational = getattr(tokenizer, "chat_template", None) is not None
    train = demonstration_dataset(train_rows, conversational)
    held_out = demonstration_dataset(held_rows, conversational) if held_rows is not None else None
    if held_out is None:
        train, held_out = split_by_prompt(train, cfg.eval_split, cfg.seed)
    args = TRLSFTConfig(**trainer_arguments(cfg, held_out is not None), completion_only_loss=cfg.completion_only)
    trainer = SFTTrainer(model=load_model(cfg), args=args, train_dataset=train, eval_dataset=held_out,
                         processing_class=tokenizer, peft_config=lora_config(cfg))
    return run_trainer(trainer, cfg, "sft")
