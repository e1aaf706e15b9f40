"""DittoConfig: every setting of a DITTO run, validated at the boundary, stored in the run directory.

Defaults follow the reference implementation (SALT-NLP/demonstrated-feedback, ``configs/ditto-mistral-7b-
instruct.yaml``) where they fit a CPU, and are scaled down where they do not (lengths, M, batch); docs/ditto.md
justifies each. A run directory keeps ``config.json``; resuming it with a different config is refused, naming the
fields that differ, because samples and pairs already on disk were made under the old one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pluralign.errors import InputError

# Fields that do not change what a run computes, so a resumed run may differ in them (micro_batch_size splits the
# same mean loss into passes).
RESUMABLE_FIELDS = ("output_dir", "micro_batch_size")


class DittoConfig(BaseModel):
    """A DITTO run: SFT on the demonstrations, then DPO on demonstration-vs-sample comparisons (Algorithm 1)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = Field("default", description="starting model: transformers dir, .gguf, or 'default' (SmolLM2)")
    demos: str = Field(description="demonstrations: Demonstration records or DITTO benchmark JSONL")
    author: str | None = Field(None, description="keep only this author's demonstrations (required if several)")
    output_dir: str = Field("runs/ditto", description="run directory (SFT, samples, pairs, checkpoints, model)")
    seed: int = Field(0, ge=0, description="seed of initialisation, sampling and pair mixing")

    demo_tokens: int = Field(160, ge=8, le=4096, description="demonstrations clipped to this many tokens "
                             "(at a sentence end where one is near)")
    max_length: int = Field(256, ge=16, le=8192, description="prompt+completion tokens per training sequence")
    lora_r: int = Field(32, ge=1, le=512, description="LoRA rank (reference: 32)")
    lora_alpha: float = Field(64.0, gt=0, description="LoRA alpha (reference: 64)")
    bf16_autocast: bool = Field(False, description="bf16 matmuls over fp32 master weights")

    sft_steps: int = Field(30, ge=0, le=100_000, description="SFT updates before DITTO (reference: 30)")
    sft_lr: float = Field(2e-4, gt=0, le=1, description="SFT learning rate")
    sft_batch_size: int = Field(4, ge=1, description="SFT demonstrations per update (reference: 4)")

    steps: int = Field(20, ge=1, le=100_000, description="DPO updates of the DITTO phase (reference: 40)")
    lr: float = Field(5e-5, gt=0, le=1, description="DPO learning rate (constant after warm-up)")
    warmup_ratio: float = Field(0.25, ge=0, lt=1, description="share of steps of linear warm-up (reference: 0.25)")
    beta: float = Field(0.05, gt=0, le=10, description="DPO beta (reference: 0.05)")
    batch_size: int = Field(8, ge=1, le=4096, description="comparisons per DPO update (reference: 24)")
    micro_batch_size: int = Field(2, ge=1, le=4096, description="comparisons per forward pass: an update "
                                  "accumulates the gradients of ceil(batch_size / micro_batch_size) passes; "
                                  "peak memory grows with this, not with batch_size")
    resample_every: int = Field(5, ge=1, description="K: sample from the current policy every K steps "
                                "(reference: 10)")
    samples: int = Field(4, ge=1, le=256, description="M: completions sampled per demo prompt each time "
                         "(reference: 10)")
    share_expert: float = Field(0.7, ge=0, le=1, description="share of a batch: demo > current samples")
    share_replay: float = Field(0.2, ge=0, le=1, description="share of a batch: demo > earlier samples")
    share_intermodel: float = Field(0.1, ge=0, le=1, description="share of a batch: later > earlier samples")
    update_ref: bool = Field(False, description="ablation: pi_ref <- current policy at every resampling")
    temperature: float = Field(1.0, gt=0, le=10, description="sampling temperature (paper: 1)")
    max_new_tokens: int = Field(160, ge=1, le=8192, description="tokens per sampled completion")
    sample_batch: int = Field(4, ge=1, description="demo prompts per generate call (each with M samples)")
    save_every: int = Field(5, ge=1, description="checkpoint interval in DPO updates")

    @model_validator(mode="after")
    def _shares(self) -> "DittoConfig":
        total = self.share_expert + self.share_replay + self.share_intermodel
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"share_expert + share_replay + share_intermodel must be 1, got {total:g}")
        return self

    @property
    def shares(self) -> dict[str, float]:
        return {"expert": self.share_expert, "replay": self.share_replay, "intermodel": self.share_intermodel}


def build_config(values: dict[str, Any], source: str = "<flags>") -> DittoConfig:
    """Validate ``values`` into a :class:`DittoConfig`; the first error names ``source`` and the key."""
    try:
        return DittoConfig(**values)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown key (known: {', '.join(DittoConfig.model_fields)})"
        raise InputError(message, path=source, field=field) from None


def load_ditto_config(path: str | Path | None, overrides: dict[str, Any]) -> DittoConfig:
    """A TOML/YAML file (or none) plus flags (``None`` = not given); file paths resolve against the file's folder."""
    from pluralign.train.config import read_config_file

    values: dict[str, Any] = {}
    if path is not None:
        values = read_config_file(path)
        base = Path(path).resolve().parent
        for key in ("model", "demos", "output_dir"):
            value = values.get(key)
            if isinstance(value, str) and value != "default" and not Path(value).expanduser().is_absolute():
                values[key] = str(base / value)
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = build_config(values, str(path) if path is not None else "<flags>")
    updates = {key: str(Path(getattr(cfg, key)).expanduser().absolute()) for key in ("demos", "output_dir")}
    if cfg.model != "default":
        updates["model"] = str(Path(cfg.model).expanduser().absolute())
    return cfg.model_copy(update=updates)


def check_resume(cfg: DittoConfig, run_dir: Path) -> None:
    """Store ``cfg`` in a new run directory, or refuse to resume one made under a different config."""
    from pluralign.io import atomic_path

    stored_path = run_dir / "config.json"
    if stored_path.is_file():
        stored = json.loads(stored_path.read_text(encoding="utf-8"))
        current = cfg.model_dump(mode="json")
        differ = sorted(k for k in current.keys() | stored.keys()
                        if k not in RESUMABLE_FIELDS and current.get(k) != stored.get(k))
        if differ:
            detail = ", ".join(f"{k}: {stored.get(k)!r} -> {current.get(k)!r}" for k in differ)
            raise InputError(f"this run was started with another config ({detail}); use a new output_dir "
                             "or the same settings", path=str(stored_path))
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(stored_path) as tmp:
        Path(tmp).write_text(cfg.model_dump_json(indent=2) + "\n", encoding="utf-8")

