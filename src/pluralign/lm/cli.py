"""CLI for the model floor: ``pluralign model info``, ``pluralign model serve``, ``pluralign generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli_options import BatchSizeOpt, ModelOpt, SeedOpt
from pluralign.errors import InputError

model_app = typer.Typer(help="Inspect and serve models (info, serve).", no_args_is_help=True)



@model_app.command("info")
def info(model: ModelOpt = "default") -> None:
    """Which model, where it is cached, how many parameters."""
    from pluralign.lm import load_model
    from pluralign.lm.cache import cache_root

    lm = load_model(model)
    typer.echo(f"model:      {lm.name}")
    typer.echo(f"backend:    {type(lm).__name__}")
    if getattr(lm, "path", None):
        typer.echo(f"path:       {lm.path}")
    typer.echo(f"cache root: {cache_root()}")
    if hasattr(lm, "num_parameters"):
        typer.echo(f"parameters: {lm.num_parameters():,}")


@model_app.command("serve")
def serve(
    model: ModelOpt = "default",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    served_name: Annotated[str | None, typer.Option(help="model id clients ask for (default: the model's name)")] = None,
    batch_size: BatchSizeOpt = None,
) -> None:
    """Serve a local model over an OpenAI-compatible HTTP API (completions with echo+logprobs, chat)."""
    import uvicorn

    from pluralign.lm.hf import HFBackend
    from pluralign.lm.server import create_app

    lm = HFBackend(model, batch_size=batch_size)
    uvicorn.run(create_app(lm, served_name), host=host, port=port, log_level="warning")


def read_prompts(path: Path) -> list[dict]:
    """Rows with a ``prompt`` (text or list of {role, content}); ``id`` optional. Errors name the line."""
    from pluralign.io import iter_jsonl
    from pluralign.lm.base import as_messages

    rows = []
    for lineno, row in iter_jsonl(path):
        if not isinstance(row, dict) or "prompt" not in row:
            raise InputError("missing", path=str(path), line=lineno, field="prompt")
        prompt = row["prompt"]
        if not isinstance(prompt, (str, list)) or (isinstance(prompt, str) and not prompt.strip()):
            raise InputError("must be non-empty text or a list of messages", path=str(path), line=lineno, field="prompt")
        if isinstance(prompt, list):
            try:
                as_messages(prompt)
            except ValueError as err:
                raise InputError(str(err), path=str(path), line=lineno, field="prompt") from None
        rows.append({"id": str(row.get("id", lineno)), "prompt": prompt})
    if not rows:
        raise InputError("no prompts", path=str(path))
    return rows


def generate(
    prompts: Annotated[Path, typer.Option(help="JSONL with a 'prompt' per line (text or chat messages)")],
    out: Annotated[Path, typer.Option(help="JSONL to write: id, prompt, responses, model, seed")],
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = None,
    n: Annotated[int, typer.Option(min=1, help="samples per prompt")] = 1,
    temperature: Annotated[float, typer.Option(min=0.0, help="sampling temperature (0: greedy)")] = 0.7,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0, help="nucleus sampling: keep this much probability")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="most tokens per generated text")] = 128,
    seed: SeedOpt = 0,
) -> None:
    """Sample responses for every prompt in a file."""
    from pluralign.io import write_jsonl
    from pluralign.lm import load_model
    from pluralign.progress import progress_bar

    rows = read_prompts(prompts)
    lm = load_model(model, batch_size=batch_size)
    with progress_bar("generating", len(rows)) as advance:
        outputs = lm.generate([r["prompt"] for r in rows], n=n, temperature=temperature, top_p=top_p,
                              max_new_tokens=max_new_tokens, seed=seed, progress=advance)
    write_jsonl(out, ({**r, "responses": o, "model": lm.name, "seed": seed} for r, o in zip(rows, outputs)))
    typer.echo(f"wrote {len(rows)} rows to {out}")
