"""RLOO and GRPO from TRL, with the same reward interface as our PPO (a scorer ``f(prompts, responses)``).

Both sample ``num_generations`` responses per prompt and use the group as the baseline instead of a value head:
RLOO (Ahmadian et al., 2024) subtracts the mean reward of the *other* samples, GRPO (Shao et al., 2024) the
group mean (scaled by its std). The KL leash to the frozen reference is TRL's per-token ``beta`` penalty.

The scorer is passed to TRL as a reward function named ``proxy``; a gold scorer, when given, is a second reward
function named ``gold`` with weight 0, so TRL computes and logs it on the same samples (``rewards/gold/mean``)
without optimising it, and the monitors compare the two. Checkpoints, resume, metrics and the final model go
through :func:`pluralign.train.checkpoint.run_trainer` like every other TRL-backed run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from pluralign.train.config import OutputDir
from pluralign.train.ppo import RLConfig


class GroupRLConfig(RLConfig):
    """A TRL group-baseline RL run. ``batch_size`` counts prompts per device per micro-step; beta is TRL's
    per-token KL coefficient. TRL's RLOO/GRPO do not truncate prompts, so ``max_length`` is not used."""

    unused: ClassVar[frozenset[str]] = RLConfig.unused | {"max_length"}

    output_dir: OutputDir = "runs/rl"
    num_generations: int = Field(4, ge=2, le=1024, description="samples per prompt (the group)")


class RLOOConfig(GroupRLConfig):
    output_dir: OutputDir = "runs/rloo"


class GRPOConfig(GroupRLConfig):
    output_dir: OutputDir = "runs/grpo"


def reward_functions(cfg: GroupRLConfig, scorer=None, gold_scorer=None) -> tuple[list, list[float]]:
    """(TRL reward functions, their weights): the proxy with weight 1, the gold (if any) with weight 0."""
    from pluralign.train.scorers import as_trl_reward, load_scorer

    funcs = [as_trl_reward(scorer or load_scorer(cfg.reward, field="reward"), "proxy")]
    gold_scorer = gold_scorer or (load_scorer(cfg.gold, field="gold") if cfg.gold else None)
    if gold_scorer is not None:
        funcs.append(as_trl_reward(gold_scorer, "gold"))
    return funcs, [1.0] + [0.0] * (len(funcs) - 1)


def trl_arguments(cfg: GroupRLConfig, weights: list[float]) -> dict[str, Any]:
    """Our config as keyword arguments shared by TRL's ``RLOOConfig`` and ``GRPOConfig``."""
    from pluralign.train.checkpoint import trainer_arguments

    args = {k: v for k, v in trainer_arguments(cfg, has_eval=False).items() if k != "max_length"}
    # TRL's batch counts completions; ours counts prompts, each sampled num_generations times.
    args["per_device_train_batch_size"] = cfg.batch_size * cfg.num_generations
    return dict(args, num_generations=cfg.num_generations, max_completion_length=cfg.max_new_tokens,
                temperature=cfg.temperature, beta=cfg.beta, epsilon=cfg.cliprange, reward_weights=weights,
                log_completions=False)


def train_group_rl(cfg: GroupRLConfig, method: str, *, scorer=None, gold_scorer=None) -> dict[str, Any]:
    """Run TRL's RLOO (``method="rloo"``) or GRPO (``"grpo"``); returns :func:`run_trainer`'s summary."""
    import trl
    from datasets import Dataset

    from pluralign.train.checkpoint import check_run_dir, load_model, load_tokenizer, lora_config, run_trainer
    from pluralign.train.data import load_prompts

    trainer_cls, config_cls = {"rloo": (trl.RLOOTrainer, trl.RLOOConfig),
                               "grpo": (trl.GRPOTrainer, trl.GRPOConfig)}[method]
    check_run_dir(cfg)
    prompts = Dataset.from_dict({"prompt": load_prompts(cfg.data)})  # checked before a reward model loads
    funcs, weights = reward_functions(cfg, scorer, gold_scorer)
    tokenizer = load_tokenizer(cfg)
    trainer = trainer_cls(model=load_model(cfg), reward_funcs=funcs, args=config_cls(**trl_arguments(cfg, weights)),
                          train_dataset=prompts, processing_class=tokenizer, peft_config=lora_config(cfg))
    return run_trainer(trainer, cfg, method)


def train_rloo(cfg: RLOOConfig, **kwargs) -> dict[str, Any]:
    """RLOO: REINFORCE with a leave-one-out baseline over ``num_generations`` samples per prompt."""
    return train_group_rl(cfg, "rloo", **kwargs)


def train_grpo(cfg: GRPOConfig, **kwargs) -> dict[str, Any]:
    """GRPO: group-normalised advantages over ``num_generations`` samples per prompt."""
    return train_group_rl(cfg, "grpo", **kwargs)
