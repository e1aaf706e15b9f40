"""Supervised fine-tuning (step 0 of the RLHF recipe; SL-CAI trains on revisions the same way).

TRL's ``SFTTrainer`` does the work: the chat template is applied to prompt/completion conversations and, with
``completion_only``, the loss is the mean token cross-entropy over completion tokens only (prompt tokens masked).
"""

from __future__ import annotations

from typing import Any

from pluralign.errors import InputError
from pluralign.train.checkpoint import (check_run_dir, load_model, load_tokenizer, lora_config, run_trainer,
                                        trainer_arguments)
from pluralign.train.config import SFTConfig
from pluralign.train.data import load_demonstrations, split_by_prompt


def train_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``cfg.data``; returns the run summary (see :func:`run_trainer`)."""
    check_run_dir(cfg)  # before anything loads
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    tokenizer = load_tokenizer(cfg)
    conversational = getattr(tokenizer, "chat_template", None) is not None
    train = load_demonstrations(cfg.data, conversational=conversational)
    held_out = load_demonstrations(cfg.eval_data, conversational=conversational) if cfg.eval_data else None
    if held_out is None and cfg.eval_split > 0:
        if "prompt" not in train.column_names:  # messages / text rows have no prompt to hold out by
            raise InputError("needs prompt/completion data to hold prompts out; give eval_data instead",
                             path=cfg.data, field="eval_split")
        train, held_out = split_by_prompt(train, cfg.eval_split, cfg.seed)
    if "completion_only" in cfg.model_fields_set and "completion" not in train.column_names:
        raise InputError("applies to prompt/completion data only (messages and text rows have no completion)",
                         path=cfg.data, field="completion_only")
    args = TRLSFTConfig(**trainer_arguments(cfg, held_out is not None), completion_only_loss=cfg.completion_only)
    trainer = SFTTrainer(model=load_model(cfg), args=args, train_dataset=train, eval_dataset=held_out,
                         processing_class=tokenizer, peft_config=lora_config(cfg))
    return run_trainer(trainer, cfg, "sft")
