"""A Bradley–Terry reward model (step 2 of the RLHF recipe) on TRL's ``RewardTrainer``.

The model is ``AutoModelForSequenceClassification(num_labels=1)`` built from the policy's weights (only the
score head is new). For a pair with rewards r+ (chosen) and r− (rejected), Δ = r+ − r−, margin m, soft label p
(probability that chosen is better), annotator weight w, the loss over a batch is

    L = Σ w · −[p log σ(Δ − m) + (1 − p) log σ(m − Δ)] / Σ w   +   c · mean((r+ + r−)²)

With p = 1 and w = 1 this is TRL's loss exactly; the subclass below adds the soft labels and weights TRL lacks
(it keeps TRL's tokenisation, batching, logging and checkpointing). The last term (``center_rewards`` = c)
keeps rewards near zero. Pairwise accuracy on the held-out split is ``eval_accuracy``: the share of pairs
with r+ > r− (pairs labelled as ties, p = 0.5, are left out of it).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from torch.nn import functional as F

from pluralign.errors import InputError
from pluralign.train.checkpoint import (check_run_dir, load_model, load_tokenizer, lora_config, run_trainer,
                                        trainer_arguments)
from pluralign.train.config import RewardConfig
from pluralign.train.data import preference_splits, read_preference_data

log = logging.getLogger("pluralign.train")


def bradley_terry_loss(delta: torch.Tensor, p_chosen: torch.Tensor, weight: torch.Tensor,
                       margin: torch.Tensor) -> torch.Tensor:
    """Weighted soft-label Bradley–Terry loss; all arguments have shape (pairs,); returns a scalar."""
    per_pair = -(p_chosen * F.logsigmoid(delta - margin) + (1 - p_chosen) * F.logsigmoid(margin - delta))
    return (weight * per_pair).sum() / weight.sum().clamp_min(1e-12)


def pairwise_accuracy(delta: torch.Tensor, p_chosen: torch.Tensor) -> torch.Tensor:
    """Share of non-tied pairs whose reward order agrees with the label (NaN when all are ties)."""
    decided = p_chosen != 0.5
    agree = (delta > 0) == (p_chosen > 0.5)
    return agree[decided].float().mean() if decided.any() else torch.tensor(math.nan)


def _collator(pad_token_id: int):
    from trl.trainer.reward_trainer import DataCollatorForPreference

    class WeightedPreferenceCollator(DataCollatorForPreference):
        """TRL's collator plus per-pair ``p_chosen`` and ``weight`` tensors."""

        def torch_call(self, examples):
            batch = super().torch_call(examples)
            batch["p_chosen"] = torch.tensor([e["p_chosen"] for e in examples], dtype=torch.float)
            batch["weight"] = torch.tensor([e["weight"] for e in examples], dtype=torch.float)
            return batch

    return WeightedPreferenceCollator(pad_token_id=pad_token_id)


def _trainer_class():
    from trl import RewardTrainer

    class BradleyTerryTrainer(RewardTrainer):
        """TRL's RewardTrainer with soft labels, annotator weights and a reward-centring term."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            mode = "train" if self.model.training else "eval"
            p_chosen, weight, margin = inputs.pop("p_chosen"), inputs.pop("weight"), inputs.pop("margin")
            outputs = model(**inputs, use_cache=False)
            chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            delta = chosen - rejected
            loss = bradley_terry_loss(delta, p_chosen, weight, margin)
            if self.args.center_rewards_coefficient:
                loss = loss + self.args.center_rewards_coefficient * torch.mean((chosen + rejected) ** 2)
            with torch.no_grad():
                gather = self.accelerator.gather_for_metrics
                self._metrics[mode]["accuracy"].append(gather(pairwise_accuracy(delta, p_chosen)).nanmean().item())
                self._metrics[mode]["margin"].append(gather(delta.mean()).mean().item())
                self._metrics[mode]["mean_reward"].append(gather(outputs.logits.mean()).mean().item())
            return (loss, outputs) if return_outputs else loss

        def _set_signature_columns_if_needed(self):
            if self._signature_columns is None:
                self._signature_columns = ["chosen_ids", "rejected_ids", "margin", "p_chosen", "weight"]

    return BradleyTerryTrainer


def _prepare(dataset, cfg: RewardConfig):
    """Fill missing margins with ``cfg.margin``; drop soft labels when ``soft_labels`` is off."""
    def fill(row):
        row["margin"] = cfg.margin if math.isnan(row["margin"]) else row["margin"]
        row["p_chosen"] = row["p_chosen"] if cfg.soft_labels else 1.0
        return row

    return dataset.map(fill)


def train_reward_model(cfg: RewardConfig) -> dict[str, Any]:
    """Train a reward model on ``cfg.data``; returns the run summary with held-out ``eval_accuracy``."""
    check_run_dir(cfg)  # the run directory and the data are checked before anything loads
    rows = read_preference_data(cfg)
    from trl import RewardConfig as TRLRewardConfig

    tokenizer = load_tokenizer(cfg)
    train, held_out = preference_splits(cfg, tokenizer, rows)
    args = TRLRewardConfig(**trainer_arguments(cfg, held_out is not None),
                           center_rewards_coefficient=cfg.center_rewards or None)
    trainer = _trainer_class()(
        model=load_model(cfg, head="reward"), args=args, train_dataset=_prepare(train, cfg),
        eval_dataset=None if held_out is None else _prepare(held_out, cfg), processing_class=tokenizer,
        data_collator=_collator(tokenizer.pad_token_id), peft_config=lora_config(cfg, task_type="SEQ_CLS"),
    )
    kept = len(trainer.train_dataset)
    if kept == 0:
        raise InputError(f"every pair is longer than max_length={cfg.max_length} tokens; raise max_length",
                         path=cfg.data, field="max_length")
    if kept < len(train):
        log.warning("%d of %d pairs are longer than max_length=%d tokens and were left out",
                    len(train) - kept, len(train), cfg.max_length)
    return run_trainer(trainer, cfg, "reward model")
