"""Run configurations: one TOML or YAML file per training run, validated at the boundary; flags override.

A config file is a flat table of keys, e.g.::

    model = "default"              # a transformers directory, a .gguf file, or "default" (SmolLM2-135M-Instruct)
    data = "prefs.jsonl"           # pluralign records or a TRL-format dataset (JSONL / Parquet)
    output_dir = "runs/dpo"
    lora = true
    lr = 5e-5
    steps = 100
    beta = 0.1

Each run is a :class:`pluralign.config.Config` (pydantic): every key must be one of its fields (a typo never
passes silently), each value is checked against the field's type and the range declared beside it (NaN and
infinity are refused), and errors name the file and the key. Every field is also a flag of its
``pluralign train`` command, with the field's description as help. Relative paths in the file are resolved
against the file's folder, those from flags or defaults against the working directory, so a run records
absolute paths.

Methods subclass :class:`RunConfig` (``SFTConfig``, ``RewardConfig``, ``DPOConfig`` here; the RL methods in
:mod:`.ppo` and :mod:`.rl_trl`). A method lists the fields it does not use in ``unused``: setting one is an
error, and its command has no such flag. ``resumable`` lists the fields a rerun may change and still resume.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from pluralign.config import Config, FieldError, build, load_config, read_config_file, save_config

__all__ = ["RunConfig", "SFTConfig", "RewardConfig", "DPOConfig", "load_config", "read_config_file", "save_config"]

PATH = {"path": True}

# Fields that subclasses redeclare with another default keep their range and help text in one place.
Lr = Annotated[float, Field(gt=0.0, le=1.0, description="AdamW learning rate")]
Steps = Annotated[int, Field(ge=1, le=10**9, description="optimizer updates")]
EvalSplit = Annotated[float, Field(ge=0.0, lt=1.0, description="fraction of data's prompts held out for "
                                                              "evaluation when no eval_data is given (0 = none)")]
OutputDir = Annotated[str, Field(min_length=1, description="run directory: config, checkpoints, metrics.jsonl, "
                                                          "the final model/ and result.json",
                                 json_schema_extra={**PATH, "flags": ["--out-dir"]})]
SaveEvery = Annotated[int, Field(ge=1, le=10**9, description="checkpoint interval in updates (a rerun resumes "
                                                             "from the last one)")]
LogEvery = Annotated[int, Field(ge=1, le=10**9, description="metrics interval in updates")]
MaxLength = Annotated[int, Field(ge=8, le=2**20, description="tokens per sequence: SFT and DPO truncate longer "
                                                             "examples, the reward model leaves them out")]


class RunConfig(Config):
    """What every training run needs (TRL's ``TrainingArguments`` in our names; see :mod:`.checkpoint`)."""

    unused: ClassVar[frozenset[str]] = frozenset()
    resumable: ClassVar[frozenset[str]] = frozenset({"save_every", "log_every"})

    model: str = Field("default", min_length=1, description="transformers directory, .gguf file, or 'default' "
                       "(SmolLM2-135M-Instruct)", json_schema_extra={**PATH, "flags": ["--model", "-m"]})
    data: str = Field(min_length=1, description="training data: pluralign records or TRL-format JSONL/Parquet",
                      json_schema_extra=PATH)
    eval_data: str | None = Field(None, min_length=1, description="held-out data (else eval_split of data)",
                                  json_schema_extra=PATH)
    eval_split: EvalSplit = 0.0
    output_dir: OutputDir = "runs/train"
    lora: bool = Field(True, description="train LoRA adapters (rank lora_r) instead of all weights",
                       json_schema_extra={"flags": ["--lora/--full"]})
    lora_r: int = Field(16, ge=1, le=4096, description="LoRA rank")
    lora_alpha: float = Field(32.0, gt=0.0, le=1e6, description="LoRA scale numerator (scale = lora_alpha / lora_r)")
    lr: Lr = 5e-5
    batch_size: int = Field(4, ge=1, le=2**16, description="examples per device per micro-step")
    grad_accum: int = Field(1, ge=1, le=2**16, description="micro-steps per optimizer update")
    steps: Steps = 100
    warmup_steps: int = Field(0, ge=0, le=10**9, description="linear learning-rate warm-up, in updates")
    seed: int = Field(0, ge=0, lt=2**32, description="random seed (data order, initialisation, sampling)")
    max_length: MaxLength = 256
    save_every: SaveEvery = 50
    log_every: LogEvery = 10
    bf16_autocast: bool = Field(False, description="fp32 master weights with bf16 matmuls (never pure bf16 "
                                                    "weights: their updates round away)")

    @model_validator(mode="after")
    def _unused_fields(self):
        for name in sorted(self.unused & self.model_fields_set):
            raise FieldError(name, f"{type(self).__name__} does not use it; leave it out")
        return self

    @model_validator(mode="after")
    def _one_held_out_source(self):
        if self.eval_data is not None and self.eval_split != type(self).model_fields["eval_split"].default:
            raise FieldError("eval_split", "not used when eval_data is given; leave one of them out")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict().items() if k not in self.unused}

    def validate(self, source: str = "<config>", flagged=()) -> None:
        """Re-check the fields set on this config, naming ``source`` (or ``<flags>`` for a flagged key)."""
        build(type(self), self.model_dump(exclude_unset=True), source, flagged)


class SFTConfig(RunConfig):
    """Supervised fine-tuning on demonstrations or CAI revisions."""

    output_dir: OutputDir = "runs/sft"
    lr: Lr = 1e-4
    completion_only: bool = Field(True, description="loss on the completion tokens only (not on the prompt)")


class RewardConfig(RunConfig):
    """A Bradley–Terry reward model: loss −[p log σ(Δ − m) + (1 − p) log σ(m − Δ)], Δ = r(chosen) − r(rejected)."""

    output_dir: OutputDir = "runs/rm"
    lr: Lr = 1e-4
    margin: float = Field(0.0, ge=-1e6, le=1e6, description="margin m added to every pair (a pair's own margin "
                                                           "column, when present, is used instead)")
    soft_labels: bool = Field(True, description="train against a pair's probability p that chosen is better "
                                                "(Comparison p_a), else p = 1")
    center_rewards: float = Field(0.0, ge=0.0, le=1e6, description="coefficient c of c·mean((r+ + r−)²), which "
                                                                   "keeps rewards near zero (0 = off)")
    eval_split: EvalSplit = 0.1


class DPOConfig(RunConfig):
    """Direct preference optimisation against a frozen reference (the starting policy)."""

    output_dir: OutputDir = "runs/dpo"
    beta: float = Field(0.1, gt=0.0, le=1e6, description="strength of the implicit KL leash to the reference")
    loss_type: Literal["sigmoid", "ipo", "robust"] = Field("sigmoid", description="sigmoid (DPO), ipo or robust "
                                                                                "(DPO with flipped-label noise)")
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="for robust: the probability that a label is "
                                                                   "flipped")
    eval_split: EvalSplit = 0.1

    @model_validator(mode="after")
    def _smoothing_is_robust_only(self):
        if self.label_smoothing and self.loss_type != "robust":  # TRL's sigmoid and ipo losses ignore it
            raise FieldError("label_smoothing", f"only the robust loss uses it, not {self.loss_type!r}")
        return self
