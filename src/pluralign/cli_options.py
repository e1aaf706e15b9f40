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
