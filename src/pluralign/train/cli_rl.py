"""``pluralign train ppo|rloo|grpo CONFIG [flags]``: RL commands on the ``train`` group (same flags as sft/dpo).

PPO is ours (:mod:`pluralign.train.ppo`); RLOO and GRPO are TRL's (:mod:`pluralign.train.rl_trl`). All three
take a scorer spec as ``reward`` (and optionally ``gold``): ``--set reward=runs/rm/model`` or
``--set reward=count:aeiou`` or ``--set reward=mypackage.rewards:helpfulness``.
"""

from __future__ import annotations

from pluralign.train.cli import add_train_command
from pluralign.train.ppo import PPOConfig
from pluralign.train.rl_trl import GRPOConfig, RLOOConfig

add_train_command("ppo", PPOConfig, "pluralign.train.ppo:train_ppo",
                  "PPO with a value head, GAE and a KL penalty to the frozen reference (fixed or adaptive beta).")
add_train_command("rloo", RLOOConfig, "pluralign.train.rl_trl:train_rloo",
                  "TRL's RLOO: REINFORCE with a leave-one-out baseline over several samples per prompt.")
add_train_command("grpo", GRPOConfig, "pluralign.train.rl_trl:train_grpo",
                  "TRL's GRPO: group-normalised advantages over several samples per prompt.")
