"""Supervised fine-tuning (step 0 of the RLHF recipe; SL-CAI trains on revisions the same way).

TRL's ``SFTTrainer`` does the work: the chat template is applied to prompt/completion conversations and, with
``completion_only``, the loss is the mean token cross-entropy over completion tokens only (prompt tokens masked).
"""

from __future__ import annotations

from typing import Any

from pluralign.train.checkpoint import lora_config, load_model, load_tokenizer, run_trainer, trainer_arguments
from pluralign.train.config import SFTConfig
from pluralign.train.data import load_demonstrations, split_by_prompt


def train_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``cfg.data``; returns the run summary (see :func:`run_trainer`)."""
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    tokenizer = load_tokenizer(cfg)
    conversational = getattr(tokenizer, "chat_template", None) is not None
    train = load_demonstrations(cfg.data, conversational=conversational)
    held_out = load_demonstrations(cfg.eval_data, conversational=conversational) if cfg.eval_data else None
    if held_out is None and "prompt" in train.column_names:
        train, held_out = split_by_prompt(train, cfg.eval_split, cfg.seed)
    args = TRLSFTConfig(**trainer_arguments(cfg, held_out is not None), completion_only_loss=cfg.completion_only)
    trainer = SFTTrainer(model=load_model(cfg), args=args, train_dataset=train, eval_dataset=held_out,
                         processing_class=tokenizer, peft_config=lora_config(cfg))
    return run_trainer(trainer, cfg, "sft")
