"""Direct preference optimisation on TRL's ``DPOTrainer``.

With policy π, frozen reference π_ref (the starting model; with LoRA, the same weights with adapters off) and
h = log π(y+|x)/π_ref(y+|x) − log π(y−|x)/π_ref(y−|x) (summed token log-probs), the losses are

    sigmoid (DPO):  −log σ(β h)
    ipo:            (h − 1/(2β))²        (h from length-averaged log-probs, as in TRL)
    robust:         [−(1 − ε) log σ(β h) + ε log σ(−β h)] / (1 − 2ε),   ε = label_smoothing

When training runs over the data more than once, the reference log-probs are computed once, before training
(``precompute_ref_log_probs``), so no reference forward pass runs during training; over one epoch or less that
pass costs what it would save (one reference forward per pair either way, plus a pass of its own), so the
reference runs beside the policy instead (benchmarks/bench_train.py). β·h per pair is the implicit reward margin; its held-out sign is the DPO
reward accuracy (``eval_rewards/accuracies``). Every log goes to ``metrics.jsonl`` through the reward-hacking
monitors (reward margin, chosen/rejected log-probs, held-out accuracy).
"""

from __future__ import annotations

import os
from typing import Any

from pluralign.train.checkpoint import (check_run_dir, load_model, load_tokenizer, lora_config, run_trainer,
                                        trainer_arguments)
from pluralign.train.config import DPOConfig
from pluralign.train.data import preference_splits, read_preference_data


def decided_pairs(dataset):
    """Keep TRL's three columns, dropping ties (p = 0.5 carries no direction for DPO)."""
    return dataset.filter(lambda row: row["p_chosen"] > 0.5).select_columns(["prompt", "chosen", "rejected"])


def precompute_pays(cfg: DPOConfig, n_pairs: int) -> bool:
    """Precompute the reference log-probs only when the run covers the data more than once, and in one process:
    TRL's precomputed table is written to a per-process temporary folder that the other ranks of an
    ``accelerate launch`` run cannot open."""
    return cfg.steps * cfg.batch_size * cfg.grad_accum > n_pairs and int(os.environ.get("WORLD_SIZE", "1")) == 1


def train_dpo(cfg: DPOConfig) -> dict[str, Any]:
    """DPO-train ``cfg.model`` on ``cfg.data``; returns the run summary with held-out reward accuracy."""
    check_run_dir(cfg)  # the run directory and the data are checked before anything loads
    rows = read_preference_data(cfg)
    from trl import DPOConfig as TRLDPOConfig
    from trl import DPOTrainer

    tokenizer = load_tokenizer(cfg)
    train, held_out = preference_splits(cfg, tokenizer, rows)
    pairs = decided_pairs(train)
    args = TRLDPOConfig(
        **trainer_arguments(cfg, held_out is not None), beta=cfg.beta, loss_type=[cfg.loss_type],
        label_smoothing=cfg.label_smoothing,
        precompute_ref_log_probs=precompute_pays(cfg, len(pairs)),
    )
    trainer = DPOTrainer(
        model=load_model(cfg), args=args, train_dataset=pairs,
        eval_dataset=None if held_out is None else decided_pairs(held_out), processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )
    return run_trainer(trainer, cfg, "dpo")
