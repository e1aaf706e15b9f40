"""One way to declare and validate a configuration, for every stage (training runs, labelling, replay, build ...).

A config is a pydantic model subclassing :class:`Config`: each field carries its type (fixed choices as
``Literal``), its range next to it (``Field(gt=..., le=...)``, scikit-learn's declared parameter constraints)
and a ``description`` (the help text of its command-line flag, see :func:`pluralign.cli_options.config_command`)::

    class LabelConfig(Config):
        principles: Literal["sample", "all"] = Field("sample", description="one principle per pair, or all")
        fewshot: int = Field(0, ge=0, description="solved examples in front of each question")

Validation is strict (no "3" for an int, no 1 for a bool), NaN and infinity are refused in every float field,
unknown keys are refused, and assignments are checked too. A bad value raises
:class:`ConfigError` (an :class:`~pluralign.errors.InputError`, so a ``ValueError``) naming the field; :func:`build` and
:func:`load_config` also name the file (or ``<flags>``). Cross-field checks raise :class:`FieldError` from a
``model_validator`` so the error still names a field.

Files: a flat TOML (``.toml``) or YAML (``.yaml``/``.yml``) table of keys (:func:`read_config_file`). Fields
marked ``json_schema_extra={"path": True}`` hold file paths: relative ones are resolved against the config
file's folder when they come from the file, against the working directory otherwise, so a run records absolute
paths. :func:`config_diff` names the fields two configs disagree on (to refuse resuming a run under another).
This module is part of the floor: it imports no stage.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pluralign.errors import InputError

C = TypeVar("C", bound="Config")

NOT_PATHS = ("", "default")  # "default" names the default model; a value with ":" is a spec (count:e, m:f)


class FieldError(ValueError):
    """Raised by a cross-field check (``model_validator``) to blame one field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class ConfigError(InputError):
    """A bad config value. ``detail`` is the message without the place, so :meth:`at` can name the source."""

    def __init__(self, detail: str, *, path: str | None = None, field: str | None = None):
        super().__init__(detail, path=path, field=field)
        self.detail = detail

    def at(self, source: str | None, flagged: Collection[str] = ()) -> ConfigError:
        """The same error naming ``source`` (``<flags>`` when the field was given as a flag)."""
        return ConfigError(self.detail, path="<flags>" if self.field in flagged else source, field=self.field)


def config_error(err: ValidationError, cls: type[BaseModel], source: str | None = None,
                 flagged: Collection[str] = ()) -> ConfigError:
    """The first error of a pydantic ``ValidationError`` on ``cls`` as one line naming ``source`` and the field.

    A field in ``flagged`` was given as a command-line flag, so it is blamed on ``<flags>``.
    """
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        field = cause.field
    kind, message = first["type"], first["msg"].removeprefix("Value error, ")
    if isinstance(cause, ConfigError):  # raised by a Config's __init__ (pydantic calls it from model_validate)
        return cause.at(source, flagged)
    if kind == "extra_forbidden":
        known = set(cls.model_fields) - set(getattr(cls, "unused", ()))
        message = f"unknown key (known: {', '.join(sorted(known))})"
    elif kind == "missing":
        message = "missing: give it in the config file or as a flag"
    elif "input" in first and kind != "value_error" and first["loc"]:
        shown = repr(first["input"])
        message += f", got {shown if len(shown) <= 80 else shown[:77] + '...'}"
    return ConfigError(message, path="<flags>" if field in flagged else source, field=field)


class Config(BaseModel):
    """Base of every config: strict types, finite floats, no unknown keys, checked assignments.

    Constructing one with a bad value raises :class:`InputError` (one line, naming the field).
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_assignment=True,
                              validate_default=True)

    def __init__(self, /, **values: Any):
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise config_error(err, type(self)) from None

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON/TOML-ready values (``None`` kept)."""
        return self.model_dump(mode="json")


def build(cls: type[C], values: Mapping[str, Any], source: str = "<flags>", flagged: Collection[str] = ()) -> C:
    """Validate ``values`` into ``cls``; the first error names ``source`` (``<flags>`` for a flagged key)."""
    try:
        return cls(**values)
    except ConfigError as err:
        raise err.at(source, flagged) from None


def path_fields(cls: type[BaseModel]) -> list[str]:
    """The fields marked ``json_schema_extra={"path": True}``."""
    return [name for name, f in cls.model_fields.items()
            if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("path")]


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and value not in NOT_PATHS and ":" not in value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML (``.toml``) or YAML (``.yaml``/``.yml``) file -> a flat dict; errors name the file."""
    from pluralign.io import read_text

    path = Path(path)
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise InputError("config must be a .toml, .yaml or .yml file", path=str(path))
    text = read_text(path)  # unreadable or non-UTF-8: one line naming the file
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"invalid TOML: {err}", path=str(path)) from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", None)
            raise InputError("invalid YAML", path=str(path), line=None if line is None else line + 1) from None
    if not isinstance(data, dict):
        raise InputError("config must be a table of keys", path=str(path))
    return data


def load_config(path: str | Path | None, cls: type[C], overrides: Mapping[str, Any] | None = None) -> C:
    """A validated ``cls`` from a config file (or none) plus overrides (flags; ``None`` = not given; flags win).

    Raises :class:`InputError` for an unknown key, a wrong type or an out-of-range value, naming file and key.
    """
    source = str(path) if path is not None else "<flags>"
    values = read_config_file(path) if path is not None else {}
    paths = path_fields(cls)
    if path is not None:
        base = Path(path).resolve().parent
        for key in paths:
            value = values.get(key)
            if _is_path(value) and not Path(value).expanduser().is_absolute():
                values[key] = str(base / Path(value).expanduser())
    flagged = {key for key, value in (overrides or {}).items() if value is not None}
    values.update({key: (overrides or {})[key] for key in flagged})
    for key in paths:  # flags and defaults are relative to the working directory
        value = values.get(key, cls.model_fields[key].default)
        if _is_path(value):
            values[key] = str(Path(value).expanduser().absolute())
    return build(cls, values, source, flagged)


def save_config(config: Config, path: str | Path) -> None:
    """Write a config as flat TOML (``None`` values left out), written whole or not at all."""
    from pluralign.io import atomic_path

    lines = [f"{key} = {toml_value(value)}" for key, value in config.to_dict().items() if value is not None]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")


def toml_value(value: Any) -> str:
    """One value in TOML syntax (booleans, numbers, strings, arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def config_diff(stored: Mapping[str, Any], current: Mapping[str, Any], ignore: Collection[str] = ()) -> str:
    """``"lr: 0.0001 -> 0.0002, steps: 10 -> 20"`` for the keys whose values differ ("" when none do)."""
    keys = sorted(k for k in stored.keys() | current.keys() if k not in ignore and stored.get(k) != current.get(k))
    return ", ".join(f"{k}: {stored.get(k)!r} -> {current.get(k)!r}" for k in keys)
