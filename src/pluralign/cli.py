"""The ``pluralign`` command. Each stage contributes a typer sub-app; this file only wires them together.

Errors in user input (:class:`~pluralign.errors.InputError`) print one line and exit with status 2.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from pluralign.errors import InputError

# Newer typer raises its own bundled copy of click's exceptions (and does not import click); a usage error must
# be one line either way.
try:
    from typer._click.exceptions import ClickException
    from typer.exceptions import Abort, Exit
except ImportError:  # typer that uses click itself
    from click.exceptions import Abort, ClickException, Exit

# Commands in flow order: name -> (modules to import, in order; the attribute of the last one). A command's module
# is imported only when that command runs (or help lists them all), so a command that loads no model starts
# without paying for every stage's imports. The train group gathers commands that other modules add to it.
STAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "model": (("pluralign.lm.cli",), "model_app"),
    "generate": (("pluralign.lm.cli",), "generate"),
    "elicit": (("pluralign.elicit.cli",), "elicit_app"),
    "serve": (("pluralign.elicit.cli",), "serve"),
    "opinion": (("pluralign.aggregate.opinion.cli",), "opinion_app"),
    "aggregate": (("pluralign.aggregate.cli",), "aggregate"),
    "constitution": (("pluralign.constitution.cli",), "constitution_app"),
    "cai": (("pluralign.feedback.cli",), "cai_app"),
    "edits": (("pluralign.feedback.cli_edits",), "edits_app"),
    "train": (("pluralign.train.cli_rl", "pluralign.train.cli_ditto", "pluralign.train.cli_gpo", "pluralign.train.cli"),
              "train_app"),
    "gpo": (("pluralign.train.cli_gpo",), "gpo_app"),
    "eval": (("pluralign.evaluate.cli",), "eval_app"),
    "run": (("pluralign.pipeline.cli",), "run"),
    "demo": (("pluralign.pipeline.cli",), "demo"),
    "trace": (("pluralign.pipeline.cli",), "trace"),
}
FLOW = list(STAGES)


def load_command(name: str):
    """The click command of a top-level name, importing its stage's CLI module now."""
    import importlib

    modules, attr = STAGES[name]
    loaded = [importlib.import_module(module) for module in modules]  # the earlier ones add to the last one's group
    target = getattr(loaded[-1], attr)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class FlowOrder(TyperGroup):
    """The top-level group: commands listed in flow order and loaded on first use."""

    def list_commands(self, ctx) -> list[str]:
        return FLOW

    def get_command(self, ctx, name: str):
        if name in STAGES and name not in self.commands:
            self.add_command(load_command(name), name)
        return super().get_command(ctx, name)


app = typer.Typer(
    name="pluralign",
    cls=FlowOrder,
    help="Pluralistic alignment: from many people's input to an aligned model, with provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """The top level: a callback makes typer build a group, whose commands FlowOrder loads."""


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exit as ex:
        sys.exit(ex.exit_code)
    except ClickException as err:
        err.show()
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
