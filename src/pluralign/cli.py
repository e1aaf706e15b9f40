"""The ``pluralign`` command. Each stage contributes a typer sub-app; this file only wires them together.

Errors in user input (:class:`~pluralign.errors.InputError`) print one line and exit with status 2.
"""

from __future__ import annotations

import sys

import click
import typer

from pluralign.errors import InputError

app = typer.Typer(
    name="pluralign",
    help="Pluralistic alignment: from many people's input to an aligned model, with provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_stages() -> None:
    """Attach each stage's commands. Imports are cheap: stages import torch/transformers lazily."""
    from pluralign.lm.cli import demo, generate, model_app

    app.add_typer(model_app, name="model")
    app.command("generate")(generate)
    app.command("demo")(demo)
    # Stage commands (one line each, in flow order):
    from pluralign.elicit.cli import elicit_app, serve; app.add_typer(elicit_app, name="elicit"); app.command("serve")(serve)  # noqa: E702
    from pluralign.aggregate.opinion.cli import opinion_app; app.add_typer(opinion_app, name="opinion")  # noqa: E702
    from pluralign.aggregate.cli import aggregate; app.command("aggregate")(aggregate)  # noqa: E702
    from pluralign.constitution.cli import constitution_app; app.add_typer(constitution_app, name="constitution")  # noqa: E702
    from pluralign.feedback.cli import cai_app; app.add_typer(cai_app, name="cai")  # noqa: E702
    import pluralign.train.cli_rl  # noqa: F401  (adds ppo, rloo, grpo to the train group)
    from pluralign.train.cli import train_app; app.add_typer(train_app, name="train")  # noqa: E702


_register_stages()


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as ex:
        sys.exit(ex.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
