"""Training: SFT, a Bradley–Terry reward model and DPO on TRL's trainers (with peft LoRA and accelerate),
configured by one TOML/YAML file per run, resumable from checkpoints, and runnable on several processes.

Entry points: :func:`pluralign.train.sft.train_sft`, :func:`pluralign.train.reward.train_reward_model`,
:func:`pluralign.train.dpo.train_dpo`, and the ``pluralign train`` command (:mod:`pluralign.train.cli`).
Heavy libraries (torch, transformers, TRL) are imported inside those modules, not here.
"""
