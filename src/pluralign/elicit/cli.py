"""CLI: ``pluralign elicit create|list|import-polis|export`` and ``pluralign serve``.

A process spec (TOML or JSON) for ``create``::

    kind = "conversation"            # or "comparison"
    title = "Help us pick rules for our AI chatbot!"
    instructions = "Vote on rules, or add your own."
    min_votes = 40
    statements = ["The AI should not be racist or sexist.", "..."]
    # comparison tasks instead list items, each a prompt with 2+ responses:
    # [[items]]
    # prompt = "How do I bake bread?"
    # responses = ["...", "..."]
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated

import typer

from pluralign.errors import InputError

elicit_app = typer.Typer(help="Create and export elicitation processes (statement conversations, comparisons).",
                         no_args_is_help=True)

DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path or database URL (postgresql+psycopg://...)")]
SPEC_FIELDS = {"kind", "title", "instructions", "min_votes", "statements", "items", "slug"}


def read_spec(path: Path) -> dict:
    """A process spec from a .toml or .json file; errors name the file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=str(path)) from None
    try:
        spec = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"not valid {path.suffix[1:] or 'JSON'}: {err}", path=str(path)) from None
    if not isinstance(spec, dict):
        raise InputError("expected a table/object of fields", path=str(path))
    unknown = sorted(set(spec) - SPEC_FIELDS)
    if unknown:
        raise InputError(f"unknown fields {unknown}; known: {sorted(SPEC_FIELDS)}", path=str(path))
    for name in ("kind", "title"):
        if not isinstance(spec.get(name), str):
            raise InputError("required text field", path=str(path), field=name)
    return spec


def create_from_spec(store, spec: dict, *, slug: str | None = None):
    """Create the process a spec describes; returns (process, organiser token)."""
    from pluralign.elicit.comparisons import create_comparison
    from pluralign.elicit.store import Rejected

    fields = dict(instructions=spec.get("instructions", ""), slug=slug or spec.get("slug"))
    if spec["kind"] == "comparison":
        return create_comparison(store, spec["title"], spec.get("items") or [], **fields)
    statements = spec.get("statements", [])
    if not isinstance(statements, list) or not all(isinstance(s, str) for s in statements):
        raise Rejected(422, "'statements' must be a list of texts", field="statements")
    if spec["kind"] != "conversation":
        raise Rejected(422, f"kind must be 'conversation' or 'comparison', got {spec['kind']!r}", field="kind")
    return store.create_conversation(spec["title"], statements, min_votes=int(spec.get("min_votes", 40)), **fields)


def _announce(process, token: str) -> None:
    path = "c" if process.kind == "conversation" else "t"
    typer.echo(f"created {process.kind} {process.slug!r}: participants open /{path}/{process.slug}")
    typer.echo(f"organiser page: /admin/{process.slug}?token={token}")
    typer.echo(f"organiser token (shown once): {token}")


@elicit_app.command("create")
def create(spec: Annotated[Path, typer.Argument(help="process spec (.toml or .json)")], db: DbOpt = "elicit.db",
           slug: Annotated[str | None, typer.Option(help="short name in URLs (default: random)")] = None) -> None:
    """Create a statement conversation or a comparison task; prints its organiser token."""
    from pluralign.elicit.store import Store

    process, token = create_from_spec(Store(db), read_spec(spec), slug=slug)
    _announce(process, token)


@elicit_app.command("list")
def list_processes(db: DbOpt = "elicit.db") -> None:
    """List processes with their counts."""
    from pluralign.elicit.store import Store

    store = Store(db)
    for p in store.processes():
        counts = ", ".join(f"{k} {v}" for k, v in store.counts(p).items() if v)
        typer.echo(f"{p.slug}\t{p.kind}\t{p.title}\t{counts}")


@elicit_app.command("import-polis")
def import_polis_cmd(folder: Annotated[Path, typer.Argument(help="folder with Polis CSVs (comments.csv, votes.csv, ...)")],
                     db: DbOpt = "elicit.db", slug: Annotated[str | None, typer.Option()] = None) -> None:
    """Import a Polis export as a new conversation (votes, history, moderation, authors, groups)."""
    from pluralign.elicit.polis import import_polis
    from pluralign.elicit.store import Store

    if not folder.is_dir():
        raise InputError("not a folder", path=str(folder))
    process, token = import_polis(Store(db), folder, slug=slug)
    _announce(process, token)


@elicit_app.command("export")
def export(slug: Annotated[str, typer.Argument(help="the process")],
           out: Annotated[Path, typer.Argument(help="folder to write into")], db: DbOpt = "elicit.db",
           polis: Annotated[bool, typer.Option("--polis/--no-polis", help="Polis CSVs (conversations)")] = True,
           records: Annotated[bool, typer.Option("--records/--no-records", help="pluralign records (JSONL)")] = True,
           ) -> None:
    """Export a process as Polis CSVs and/or pluralign records (comparisons: Comparison, Ranking, Preference)."""
    from pluralign.elicit.exports import export_records
    from pluralign.elicit.polis import export_polis
    from pluralign.elicit.store import Store

    store = Store(db)
    process = store.process(slug)
    written = {}
    if polis and process.kind == "conversation":
        written.update(export_polis(store, process, out))
    if records:
        written.update(export_records(store, process, out))
    for name, n in written.items():
        typer.echo(f"{out / name}\t{n} rows")


def serve(db: DbOpt = "elicit.db",
          host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port")] = 8000,
          rate: Annotated[float, typer.Option(help="writes per second per participant (0: no limit)")] = 2.0,
          burst: Annotated[int, typer.Option(help="burst size of the per-participant rate limit")] = 20,
          log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info") -> None:
    """Serve the elicitation web app (creates or migrates the database schema on start)."""
    import uvicorn

    from pluralign.elicit.app import create_app
    from pluralign.elicit.store import Store

    app = create_app(Store(db), rate=rate, burst=burst)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
