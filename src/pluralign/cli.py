"""The ``pluralign`` command. Each stage contributes a typer sub-app; this file only wires them together.

Errors in user input (:class:`~pluralign.errors.InputError`) print one line and exit with status 2.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from pluralign.errors import InputError

# Newer typer raises its own bundled copy of click's exceptions (and does not import click); a usage error must
# be one line either way.
try:
    from typer._click.exceptions import ClickException
    from typer.exceptions import Abort, Exit
except ImportError:  # typer that uses click itself
    from click.exceptions import Abort, ClickException, Exit


class Stage(NamedTuple):
    modules: tuple[str, ...]  # imported in order: the earlier ones add commands to the last one's group
    attr: str  # the typer app or command function in the last module
    listing: str  # the line `pluralign --help` lists it with


# Commands in flow order. A command's module is imported only when that command runs, so a command that
# loads no model starts without paying for every stage's imports, and the top-level help imports none of them
# (a test checks each line against the command's own help). The train group gathers commands other modules add.
STAGES: dict[str, Stage] = {name: Stage(*entry) for name, entry in {
    "model": (("pluralign.lm.cli",), "model_app", "Inspect and serve models (info, serve)."),
    "generate": (("pluralign.lm.cli",), "generate", "Sample responses for every prompt in a file."),
    "elicit": (("pluralign.elicit.cli",), "elicit_app",
               "Create and export elicitation processes (statement conversations, comparisons, text tasks)."),
    "serve": (("pluralign.elicit.cli",), "serve",
              "Serve the elicitation web app (creates or migrates the database schema on start)."),
    "opinion": (("pluralign.aggregate.opinion.cli",), "opinion_app",
                "Opinion groups, representative statements and consensus (Polis math)."),
    "aggregate": (("pluralign.aggregate.cli",), "aggregate",
                  "Aggregate many annotators' rankings of each prompt with a voting rule; write preference pairs."),
    "constitution": (("pluralign.constitution.cli",), "constitution_app",
                     "Constitutions: build one from people's votes, or show one."),
    "cai": (("pluralign.feedback.cli",), "cai_app",
            "Constitutional AI: critique/revision data and AI preference labels."),
    "edits": (("pluralign.feedback.cli_edits",), "edits_app",
              "Learn a user's latent preference from their edits (PRELUDE / CIPHER)."),
    "train": (("pluralign.train.cli_rl", "pluralign.train.cli_ditto", "pluralign.train.cli_gpo", "pluralign.train.cli"),
              "train_app", "Train: SFT, reward model, DPO (and RL methods)."),
    "gpo": (("pluralign.train.cli_gpo",), "gpo_app",
            "Group Preference Optimization: a group's preferences from a few of its answers."),
    "eval": (("pluralign.evaluate.cli",), "eval_app",
             "Evaluate: distributional, steerable and Overton pluralism, the run's own panel, bias, safety, capability, "
             "and an HTML report."),
    "run": (("pluralign.pipeline.cli",), "run",
            "Run a pipeline file; stages whose inputs and settings are unchanged are skipped, a killed run resumes."),
    "demo": (("pluralign.pipeline.cli",), "demo",
             "The whole flow offline: people vote, opinion groups, a constitution, rankings, majority vs proportional "
             "social choice, AI feedback with its reliability, a few DPO steps, held-out check, report and "
             "provenance. It is `pluralign run` on the package's demo.toml."),
    "trace": (("pluralign.pipeline.cli",), "trace",
              "Walk a trained preference back to its rule, principle, statement, opinion groups and participants."),
}.items()}
FLOW = list(STAGES)


def load_command(name: str):
    """The click command of a top-level name, importing its stage's CLI module now."""
    import importlib

    stage = STAGES[name]
    loaded = [importlib.import_module(module) for module in stage.modules]
    target = getattr(loaded[-1], stage.attr)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class FlowOrder(TyperGroup):
    """The top-level group: commands listed in flow order and loaded on first use; its help lists them from
    :data:`STAGES` without loading any."""

    listing = False

    def list_commands(self, ctx) -> list[str]:
        return FLOW

    def format_help(self, ctx, formatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False

    def get_command(self, ctx, name: str):
        if self.listing and name in STAGES and name not in self.commands:
            return TyperCommand(name=name, short_help=STAGES[name].listing)
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
