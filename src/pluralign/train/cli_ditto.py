"""``pluralign train ditto --demos FILE [CONFIG] [flags]``: align a model to one author's demonstrations (DITTO).

Settings come from an optional TOML/YAML file, then flags (``--set key=value`` for any :class:`DittoConfig` key).
Rerunning the same command resumes the run in ``--out-dir``; a different config for an existing run is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pluralign.cli_options import OptionalModelOpt
from pluralign.train.cli import parse_sets, train_app


@train_app.command("ditto")
def ditto(
    config: Annotated[Optional[Path], typer.Argument(help="TOML or YAML run config; flags override its keys.",
                                                     show_default=False)] = None,
    demos: Annotated[Optional[Path], typer.Option(
        "--demos", help="Demonstration records or DITTO benchmark JSONL (author, prompt, demonstration).")] = None,
    author: Annotated[Optional[str], typer.Option(
        "--author", help="The author to align to (if the file has several).")] = None,
    model: OptionalModelOpt = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="run directory (resumed when rerun)")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="random seed")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="DPO updates after SFT.")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", help="M: samples per prompt each time.")] = None,
    resample_every: Annotated[Optional[int], typer.Option(
        "--resample-every", help="K: steps between samplings.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any config key: --set key=value.")] = None,
) -> None:
    """DITTO: SFT on the demonstrations, then DPO with demonstrations preferred over the model's own samples."""
    from pluralign.train.ditto.config import load_ditto_config
    from pluralign.train.ditto.loop import train_ditto

    flags = {"demos": None if demos is None else str(demos), "author": author, "model": model,
             "output_dir": None if out_dir is None else str(out_dir), "seed": seed, "steps": steps,
             "samples": samples, "resample_every": resample_every, **parse_sets(set_)}
    typer.echo(json.dumps(train_ditto(load_ditto_config(config, flags)), indent=2))
