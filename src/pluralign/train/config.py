"""Run configurations: one TOML or YAML file per training run, validated at the boundary; CLI flags override.

A config file is a flat table of keys, e.g.::

    model = "default"              # a transformers directory, a .gguf file, or "default" (SmolLM2-135M-Instruct)
    data = "prefs.jsonl"           # pluralign records or a TRL-format dataset (JSONL / Parquet)
    output_dir = "runs/dpo"
    lora = true
    lr = 5e-5
    steps = 100
    beta = 0.1

Every key must be a field of the run's dataclass (unknown keys are rejected, so a typo never passes silently);
each value is checked against the field's type and range, and errors name the file and the key.
Relative paths in the file are resolved against the file's folder, those from flags or defaults against the
working directory, so a run records absolute paths.

Methods subclass :class:`RunConfig` (``SFTConfig``, ``RewardConfig``, ``DPOConfig`` here; PPO elsewhere) and
declare ranges in field metadata: ``field(default=..., metadata={"min": 0, "max": 1, "exclusive_max": True})``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pluralign.errors import InputError

C = TypeVar("C", bound="RunConfig")

# Fields holding file paths: resolved against the config file's folder when relative ("default" is a model name).
PATH_FIELDS = ("model", "data", "eval_data", "output_dir")
NOT_PATHS = ("", "default")


def _range(lo: float | None = None, hi: float | None = None, *, open_hi: bool = False, open_lo: bool = False):
    meta: dict[str, Any] = {}
    if lo is not None:
        meta["min"], meta["exclusive_min"] = lo, open_lo
    if hi is not None:
        meta["max"], meta["exclusive_max"] = hi, open_hi
    return meta


@dataclass
class RunConfig:
    """What every training run needs.

    model: transformers directory, ``.gguf`` file, or "default"; data / eval_data: training and held-out inputs;
    eval_split: fraction of ``data`` held out when no ``eval_data`` is given (0 = none);
    lora: train LoRA adapters (rank ``lora_r``, scale ``lora_alpha / lora_r``) instead of all weights;
    lr: AdamW learning rate; batch_size: examples per device per micro-step; grad_accum: micro-steps per update;
    steps: optimizer updates; max_length: tokens per sequence (SFT and DPO truncate longer examples, the
    reward model leaves them out);
    save_every: checkpoint interval in updates (a rerun resumes from the last one); log_every: metric interval;
    bf16_autocast: fp32 master weights with bf16 matmuls (never pure bf16 weights: their updates round away).
    """

    model: str = "default"
    data: str | None = None
    eval_data: str | None = None
    eval_split: float = field(default=0.0, metadata=_range(0.0, 1.0, open_hi=True))
    output_dir: str = "runs/train"
    lora: bool = True
    lora_r: int = field(default=16, metadata=_range(1))
    lora_alpha: float = field(default=32.0, metadata=_range(0.0, open_lo=True))
    lr: float = field(default=5e-5, metadata=_range(0.0, 1.0, open_lo=True))
    batch_size: int = field(default=4, metadata=_range(1))
    grad_accum: int = field(default=1, metadata=_range(1))
    steps: int = field(default=100, metadata=_range(1))
    warmup_steps: int = field(default=0, metadata=_range(0))
    seed: int = field(default=0, metadata=_range(0))
    max_length: int = field(default=256, metadata=_range(8))
    save_every: int = field(default=50, metadata=_range(1))
    log_every: int = field(default=10, metadata=_range(1))
    bf16_autocast: bool = False

    def validate(self, source: str = "<config>", flagged: typing.Collection[str] = ()) -> None:
        """Check every field's type and range; raise :class:`InputError` naming ``source`` (or ``<flags>`` for
        keys given as flags) and the key."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            where = "<flags>" if f.name in flagged else source
            value = _coerce(getattr(self, f.name), hints[f.name], where, f.name)
            _check_range(value, f.metadata, where, f.name)
            setattr(self, f.name, value)
        if self.data is None:
            raise InputError("missing: give 'data' in the config or --data", path=source, field="data")


@dataclass
class SFTConfig(RunConfig):
    """Supervised fine-tuning on demonstrations or CAI revisions.

    completion_only: compute the loss on the completion tokens only (not on the prompt).
    """

    output_dir: str = "runs/sft"
    lr: float = field(default=1e-4, metadata=_range(0.0, 1.0, open_lo=True))
    completion_only: bool = True


@dataclass
class RewardConfig(RunConfig):
    """A Bradley–Terry reward model: loss −[p log σ(Δ − m) + (1 − p) log σ(m − Δ)], Δ = r(chosen) − r(rejected).

    margin: m added to every pair (a pair's own ``margin`` column, when present, is used instead);
    soft_labels: train against a pair's probability p that chosen is better (Comparison ``p_a``), else p = 1;
    center_rewards: coefficient of the penalty c·mean((r+ + r−)²) that keeps rewards near zero (0 = off).
    """

    output_dir: str = "runs/rm"
    lr: float = field(default=1e-4, metadata=_range(0.0, 1.0, open_lo=True))
    margin: float = 0.0
    soft_labels: bool = True
    center_rewards: float = field(default=0.0, metadata=_range(0.0))
    eval_split: float = field(default=0.1, metadata=_range(0.0, 1.0, open_hi=True))


@dataclass
class DPOConfig(RunConfig):
    """Direct preference optimisation against a frozen reference (the starting policy).

    beta: strength of the implicit KL leash; loss_type: "sigmoid" (DPO), "ipo" or "robust";
    label_smoothing: for "robust", the probability that a label is flipped, in [0, 0.5).
    """

    output_dir: str = "runs/dpo"
    beta: float = field(default=0.1, metadata=_range(0.0, open_lo=True))
    loss_type: Literal["sigmoid", "ipo", "robust"] = "sigmoid"
    label_smoothing: float = field(default=0.0, metadata=_range(0.0, 0.5, open_hi=True))
    eval_split: float = field(default=0.1, metadata=_range(0.0, 1.0, open_hi=True))


# ---- loading -----------------------------------------------------------------------------------------------

def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML (``.toml``) or YAML (``.yaml``/``.yml``) file -> a flat dict; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read config: {err.strerror}", path=str(path)) from None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"invalid TOML: {err}", path=str(path)) from None
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", None)
            raise InputError("invalid YAML", path=str(path), line=None if line is None else line + 1) from None
    else:
        raise InputError("config must be a .toml, .yaml or .yml file", path=str(path))
    if not isinstance(data, dict):
        raise InputError("config must be a table of keys", path=str(path))
    return data


def load_config(path: str | Path | None, cls: type[C], overrides: dict[str, Any] | None = None) -> C:
    """Build a validated ``cls`` from a config file (or none) plus overrides (CLI flags; ``None`` = not given).

    Raises :class:`InputError` for an unknown key, a wrong type or an out-of-range value, naming file and key.
    """
    source = str(path) if path is not None else "<flags>"
    values = read_config_file(path) if path is not None else {}
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown key (known: {', '.join(sorted(known))})", path=source, field=unknown[0])
    if path is not None:
        base = Path(path).resolve().parent
        for key in PATH_FIELDS:
            value = values.get(key)
            if isinstance(value, str) and value not in NOT_PATHS and not Path(value).expanduser().is_absolute():
                values[key] = str(base / value)
    flagged: set[str] = set()
    for key, value in (overrides or {}).items():
        if key not in known:
            raise InputError("unknown option", path="<flags>", field=key)
        if value is not None:
            values[key] = value
            flagged.add(key)
    for key in PATH_FIELDS:  # flags and defaults are relative to the working directory
        value = values.get(key, getattr(cls, key, None))
        if isinstance(value, str) and value not in NOT_PATHS:
            values[key] = str(Path(value).expanduser().absolute())
    config = cls(**values)
    config.validate(source, flagged=flagged)
    return config


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write a config as TOML (flat keys; ``None`` values left out), so a run records what it ran with."""
    from pluralign.io import atomic_path

    lines = [f"{key} = {_toml_value(value)}" for key, value in dataclasses.asdict(config).items() if value is not None]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


# ---- type and range checks ---------------------------------------------------------------------------------

def _coerce(value: Any, hint: Any, source: str, key: str) -> Any:
    """Check ``value`` against a field's type hint, widening int -> float; return the value to store."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option, source, key)
            except InputError as err:
                errors.append(err)
        raise errors[0]
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise InputError(f"must be one of {', '.join(map(repr, choices))}, got {value!r}", path=source, field=key)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(f"must be true or false, got {value!r}", path=source, field=key)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"must be an integer, got {value!r}", path=source, field=key)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"must be a number, got {value!r}", path=source, field=key)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InputError(f"must be a string, got {value!r}", path=source, field=key)
        return value
    raise TypeError(f"unsupported config type {hint!r} for {key}")


def _check_range(value: Any, meta: typing.Mapping[str, Any], source: str, key: str) -> None:
    if value is None or isinstance(value, (str, bool)):
        return
    if "min" in meta:
        lo, open_lo = meta["min"], meta.get("exclusive_min", False)
        if value < lo or (open_lo and value == lo):
            raise InputError(f"must be {'>' if open_lo else '>='} {lo}, got {value!r}", path=source, field=key)
    if "max" in meta:
        hi, open_hi = meta["max"], meta.get("exclusive_max", False)
        if value > hi or (open_hi and value == hi):
            raise InputError(f"must be {'<' if open_hi else '<='} {hi}, got {value!r}", path=source, field=key)
