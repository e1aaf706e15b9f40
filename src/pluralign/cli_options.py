"""Command-line pieces every stage's commands share, so one flag means one thing everywhere.

The convention: ``--model/-m`` names a model (any backend spec :func:`pluralign.lm.load_model` takes);
``--out FILE`` names one output file and ``--out-dir DIR`` a directory of outputs; ``--seed`` seeds everything a
command samples. This module is part of the command layer: stage code (anything but a ``cli`` module) never
imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MODEL_HELP = "default | PATH (transformers dir or .gguf) | openai:URL[#model] | llamacpp:GGUF"

ModelOpt = Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)]
OptionalModelOpt = Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP)]
OutFile = Annotated[Path, typer.Option("--out", help="output file (written whole, or not at all)")]
OutDir = Annotated[Path, typer.Option("--out-dir", help="output directory")]
SeedOpt = Annotated[int, typer.Option("--seed", help="random seed")]


# ---- options generated from a pydantic config (pluralign.config.Config) ----------------------------------------

def _range_text(field) -> str:
    import annotated_types as at

    parts = []
    for meta in field.metadata:
        for cls, sign in ((at.Gt, ">"), (at.Ge, ">="), (at.Lt, "<"), (at.Le, "<=")):
            bound = getattr(meta, cls.__name__.lower(), None) if isinstance(meta, cls) else None
            if bound is not None and not (sign.startswith("<") and bound >= 1e6):  # sanity caps: checked, not shown
                parts.append(f"{sign} {bound:g}")
    return ", ".join(parts)


def _option_type(annotation):
    """(type, choices) of a scalar field's flag: ``Literal`` choices are listed in the help and checked by the
    config (one-line error); TypeError for a field a flag cannot carry."""
    import types
    import typing

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return str, [str(c) for c in typing.get_args(annotation)]
    if annotation in (str, int, float, bool):
        return annotation, None
    raise TypeError(f"no command-line flag for a field of type {annotation!r}")


def config_parameters(config_cls, skip=()) -> list:
    """One ``inspect.Parameter`` (a typer option, default None = not given) per field of ``config_cls``.

    The flag is ``--field-name`` (booleans ``--name/--no-name``; a field's ``json_schema_extra={"flags": [...]}``
    overrides), the help is the field's description plus its declared range and default, fixed choices
    (``Literal``) are listed in the help and checked by the config. Options are grouped by the class that declares
    the field.
    """
    import inspect
    from typing import Optional

    from pydantic_core import PydanticUndefined

    params = []
    for name, field in config_cls.model_fields.items():
        if name in skip:
            continue
        kind, choices = _option_type(field.annotation)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        dashed = name.replace("_", "-")
        flags = extra.get("flags") or ([f"--{dashed}/--no-{dashed}"] if kind is bool else [f"--{dashed}"])
        notes = [_range_text(field)]
        if field.default is PydanticUndefined:
            notes.append("required")
        elif field.default is not None:
            notes.append(f"default: {flags[0].split('/')[0 if field.default is not False else 1]}" if kind is bool
                         else f"default: {field.default}")
        help_text = f"{field.description or name} ({'; '.join(n for n in notes if n)})"
        owner = next(c for c in reversed(config_cls.__mro__) if name in getattr(c, "__annotations__", {}))
        option = typer.Option(None, *flags, help=help_text, show_default=False,
                              metavar="|".join(choices) if choices else None,
                              rich_help_panel=f"{owner.__name__} options")
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=Optional[kind]))
    return params


def config_command(config_cls, run, *, skip=(), extra=(), config_help="TOML or YAML config; flags override its keys"):
    """A typer command function ``[CONFIG] --field ...`` calling ``run(config_path, overrides, **extras)``.

    ``overrides`` holds the fields given as flags (merge them over the file with
    :func:`pluralign.config.load_config`: flags win); ``extra`` are further ``inspect.Parameter`` s (typer
    options) passed to ``run`` by name. Register it with ``app.command(name)(config_command(...))``.
    """
    import inspect
    from typing import Optional

    fields = config_parameters(config_cls, skip)
    extra = list(extra)
    config_param = inspect.Parameter(
        "config", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[Path],
        default=typer.Argument(None, help=config_help, show_default=False))
    names = {p.name for p in fields}

    def command(config=None, **values):
        overrides = {k: v for k, v in values.items() if k in names and v is not None}
        return run(config, overrides, **{k: v for k, v in values.items() if k not in names})

    command.__signature__ = inspect.Signature([config_param, *fields, *extra])
    command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}
    return command


BatchSizeOpt = Annotated[int | None, typer.Option(
    "--batch-size", min=1, help="rows per forward pass when generating or scoring (default: sized per batch "
                                "from the rows' lengths, up to 32 on a CPU)")]
