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
    # kind = "demonstration" ("write the answer you would want") lists items with a prompt each, and
    # kind = "edit" ("edit this response") items with a prompt and the response to edit, plus an optional
    # model = "..." (who wrote the responses): see tasks_demos.py and tasks_edits.py.
"""

from __future__ import annotations

import json
import tomllib
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

import typer

from pluralign.elicit.limits import ServerLimits
from pluralign.errors import InputError

elicit_app = typer.Typer(help="Create and export elicitation processes (statement conversations, comparisons, text tasks).",
                         no_args_is_help=True)

def _help(name: str) -> str:
    return ServerLimits.model_fields[name].description


def _default(name: str):
    return ServerLimits.model_fields[name].default


DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path or database URL (postgresql+psycopg://...)")]
SPEC_FIELDS = {"kind", "title", "instructions", "min_votes", "statements", "items", "slug", "model"}


def read_spec(path: Path) -> dict:
    """A process spec from a .toml or .json file; errors name the file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=str(path)) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})",
                         path=str(path)) from None
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
    if spec["kind"] in ("demonstration", "edit"):
        from pluralign.elicit.task_store import create_text_task

        return create_text_task(store, spec["kind"], spec["title"], spec.get("items"), model=spec.get("model"),
                                **fields)
    if "model" in spec:
        raise Rejected(422, "only edit tasks show a model's responses", field="model")
    if spec["kind"] == "comparison":
        return create_comparison(store, spec["title"], spec.get("items") or [], **fields)
    statements = spec.get("statements", [])
    if not isinstance(statements, list) or not all(isinstance(s, str) for s in statements):
        raise Rejected(422, "'statements' must be a list of texts", field="statements")
    if spec["kind"] != "conversation":
        raise Rejected(422, f"kind must be 'conversation', 'comparison', 'demonstration' or 'edit', got "
                            f"{spec['kind']!r}", field="kind")
    return store.create_conversation(spec["title"], statements, min_votes=spec.get("min_votes", 40), **fields)


def _announce(process, token: str) -> None:
    typer.echo(f"created {process.kind} {process.slug!r}: participants open {process.path}")
    typer.echo(f"organiser page: /admin/{process.slug}?token={token}")
    typer.echo(f"organiser token (shown once): {token}")


@contextmanager
def new_content(db: str):
    """The store at ``db``, for a command that adds to it: if the command fails and the SQLite file did not
    exist before, the file is removed again, so a failed command leaves nothing behind."""
    from sqlalchemy.engine import make_url

    from pluralign.elicit.engine import database_url
    from pluralign.elicit.store import Store

    url = make_url(database_url(db))
    local = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    fresh = local and not Path(url.database).exists()
    store = None
    try:
        store = Store(db)
        yield store
    except BaseException:
        if fresh:
            if store is not None:
                store.engine.dispose()
            for suffix in ("", "-wal", "-shm", "-journal"):
                with suppress(OSError):
                    Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        raise


@elicit_app.command("create")
def create(spec: Annotated[Path, typer.Argument(help="process spec (.toml or .json)")], db: DbOpt = "elicit.db",
           slug: Annotated[str | None, typer.Option(help="short name in URLs (default: random)")] = None) -> None:
    """Create a statement conversation, a comparison, demonstration or edit task; prints its organiser token."""
    parsed = read_spec(spec)
    with new_content(db) as store:
        process, token = create_from_spec(store, parsed, slug=slug)
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
                     db: DbOpt = "elicit.db",
                     slug: Annotated[str | None, typer.Option(help="short name in URLs (default: random)")] = None
                     ) -> None:
    """Import a Polis export as a new conversation (votes, history, moderation, authors, groups)."""
    from pluralign.elicit.polis import import_polis

    if not folder.is_dir():
        raise InputError("not a folder", path=str(folder))
    with new_content(db) as store:
        process, token = import_polis(store, folder, slug=slug)
    _announce(process, token)


@elicit_app.command("export")
def export(slug: Annotated[str, typer.Argument(help="the process")],
           out: Annotated[Path, typer.Option("--out-dir", help="folder to write into")], db: DbOpt = "elicit.db",
           polis: Annotated[bool, typer.Option("--polis/--no-polis", help="Polis CSVs (conversations)")] = True,
           records: Annotated[bool, typer.Option("--records/--no-records", help="pluralign records (JSONL)")] = True,
           ) -> None:
    """Export a process as Polis CSVs and/or pluralign records (comparisons: Comparison, Ranking, Preference;
    demonstration tasks: Demonstration; edit tasks: Edit)."""
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
          rate: Annotated[float, typer.Option(help=_help("rate"))] = _default("rate"),
          burst: Annotated[int, typer.Option(help=_help("burst"))] = _default("burst"),
          address_rate: Annotated[float, typer.Option(help=_help("address_rate"))] = _default("address_rate"),
          address_burst: Annotated[int, typer.Option(help=_help("address_burst"))] = _default("address_burst"),
          max_body: Annotated[int, typer.Option(help=_help("max_body"))] = _default("max_body"),
          queue_page: Annotated[int, typer.Option(help=_help("queue_page"))] = _default("queue_page"),
          origin: Annotated[list[str] | None, typer.Option(help=_help("origins") + " (repeatable)")] = None,
          log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info") -> None:
    """Serve the elicitation web app (creates or migrates the database schema on start).

    Behind a reverse proxy on this machine, the client address and https come from its X-Forwarded-For and
    X-Forwarded-Proto headers (uvicorn trusts them from 127.0.0.1; set FORWARDED_ALLOW_IPS for another proxy).
    """
    import uvicorn
    from pydantic import ValidationError

    from pluralign.elicit.app import create_app
    from pluralign.elicit.store import Store

    try:
        limits = ServerLimits(rate=rate, burst=burst, address_rate=address_rate, address_burst=address_burst,
                              max_body=max_body, queue_page=queue_page, origins=tuple(origin or ()))
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(first["msg"], field="--" + str(first["loc"][0]).replace("_", "-")) from None
    app = create_app(Store(db), limits)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
