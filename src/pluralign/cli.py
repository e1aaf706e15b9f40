"""The ``pluralign`` command. Each stage contributes a typer sub-app; this file only wires them together.

Errors in user input (:class:`~pluralign.errors.InputError`) print one line and exit with status 2.
"""

from __future__ import annotations

import sys

import click
import typer
from typer.core import TyperGroup

from pluralign.errors import InputError

# Newer typer raises its own bundled copy of click's exceptions; a usage error must be one line either way.
try:
    from typer._click.exceptions import ClickException as _TyperClickException
    from typer.exceptions import Abort as _TyperAbort, Exit as _TyperExit
except ImportError:  # typer that uses click itself
    _TyperClickException, _TyperAbort, _TyperExit = click.ClickException, click.exceptions.Abort, click.exceptions.Exit
ABORT = (click.exceptions.Abort, _TyperAbort)
EXIT = (click.exceptions.Exit, _TyperExit)
USAGE = (click.ClickException, _TyperClickException)

# Commands in flow order (typer would list plain commands before command groups).
FLOW = ["model", "generate", "elicit", "serve", "opinion", "aggregate", "constitution", "cai", "edits", "train",
        "gpo", "eval", "run", "demo", "trace"]


class FlowOrder(TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        return sorted(self.commands, key=lambda name: FLOW.index(name) if name in FLOW else len(FLOW))


app = typer.Typer(
    name="pluralign",
    cls=FlowOrder,
    help="Pluralistic alignment: from many people's input to an aligned model, with provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_stages() -> None:
    """Attach each stage's commands, in flow order. Stage CLI modules import heavy libraries lazily."""
    from pluralign.aggregate.cli import aggregate
    from pluralign.aggregate.opinion.cli import opinion_app
    from pluralign.constitution.cli import constitution_app
    from pluralign.elicit.cli import elicit_app, serve
    from pluralign.evaluate.cli import eval_app
    from pluralign.feedback.cli import cai_app
    from pluralign.feedback.cli_edits import edits_app
    from pluralign.lm.cli import generate, model_app
    from pluralign.pipeline.cli import demo, run, trace
    from pluralign.train import cli_rl  # noqa: F401  (adds ppo, rloo, grpo to the train group)
    from pluralign.train import cli_ditto  # noqa: F401  (adds ditto to the train group)
    from pluralign.train.cli_gpo import gpo_app  # also adds gpo to the train group
    from pluralign.train.cli import train_app

    app.add_typer(model_app, name="model")
    app.command("generate")(generate)
    app.add_typer(elicit_app, name="elicit")
    app.command("serve")(serve)
    app.add_typer(opinion_app, name="opinion")
    app.command("aggregate")(aggregate)
    app.add_typer(constitution_app, name="constitution")
    app.add_typer(cai_app, name="cai")
    app.add_typer(edits_app, name="edits")
    app.add_typer(train_app, name="train")
    app.add_typer(gpo_app, name="gpo")
    app.add_typer(eval_app, name="eval")
    app.command("run")(run)
    app.command("demo")(demo)
    app.command("trace")(trace)


_register_stages()


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ABORT:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except EXIT as ex:
        sys.exit(ex.exit_code)
    except USAGE as err:
        err.show()
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
