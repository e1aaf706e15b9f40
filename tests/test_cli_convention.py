"""One command-line convention, checked on the command tree itself (so a new command cannot drift):
commands in flow order, help on every command and option, ``--model/-m`` for models, ``--out FILE`` /
``--out-dir DIR`` for outputs, and ``--groups`` always the number of opinion groups."""

from __future__ import annotations

import re
import typing

import pytest
import typer

FLOW = ["model", "generate", "elicit", "serve", "opinion", "aggregate", "constitution", "cai", "edits", "train",
        "gpo", "eval", "run", "demo", "trace"]
BANNED = {"--lm", "--output", "--output-dir", "--outdir", "--out-file", "--output-file", "-o", "--json-out"}


def command_tree():
    from pluralign.cli import app

    return typer.main.get_command(app)


def walk(command, path: tuple[str, ...] = ()):
    yield path, command
    if hasattr(command, "list_commands"):  # the top level loads its commands on demand
        for name in command.list_commands(None):
            yield from walk(command.get_command(None, name), path + (name,))


def test_help_lists_every_command_in_flow_order(capsys):
    from pluralign.cli import main

    try:
        main(["--help"])
    except SystemExit as ex:
        assert ex.code in (0, None)
    out = capsys.readouterr().out
    listed = [m.group(1) for m in re.finditer(r"^\W*([a-z][a-z-]*)\s{2,}\S", out, re.MULTILINE)]
    names = command_tree().list_commands(None)
    commands = [c for c in listed if c in names]
    assert commands == FLOW, commands
    assert sorted(names) == sorted(FLOW)


COMMANDS = {" ".join(p): c for p, c in walk(command_tree()) if p}


@pytest.mark.parametrize("name", FLOW)
def test_top_level_help_lists_each_command_by_its_own_help(name):
    """``pluralign --help`` lists commands from the table in cli.py, without importing them: each line must be
    the first paragraph of the command's own help, as typer would list it."""
    import inspect

    from pluralign.cli import STAGES

    command = COMMANDS[name]
    own = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0].replace("\n", " ").strip()
    listed = STAGES[name].listing
    assert listed == own, f"cli.py STAGES[{name!r}] lists it as {listed!r}; its help says {own!r}"


def test_top_level_help_imports_no_stage():
    import subprocess
    import sys

    code = ("import sys\nfrom pluralign.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.endswith('.cli') or m.split('.')[0] in ('torch', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['pluralign.cli']", out


@pytest.mark.parametrize("where", sorted(COMMANDS))
def test_command_follows_the_convention(where):
    command = COMMANDS[where]
    where = f"pluralign {where}"
    assert (command.help or command.short_help or "").strip(), f"{where}: no help"
    for param in command.params:
        names = set(param.opts) | set(param.secondary_opts)
        assert not names & BANNED, f"{where}: {sorted(names & BANNED)} (use --model/-m, --out FILE, --out-dir DIR)"
        if param.param_type_name == "option":
            assert (param.help or "").strip(), f"{where} {param.opts[0]}: no help"
            if "--model" in names and not param.is_flag:
                assert "-m" in names, f"{where}: --model needs its short form -m"
            if "--groups" in names:
                annotation = param.type_descriptor.annotation
                assert int in (annotation, *typing.get_args(annotation)), \
                    f"{where}: --groups is the number of opinion groups (an integer) everywhere"
        elif param.param_type_name == "argument":
            assert (getattr(param, "help", "") or "").strip(), f"{where} {param.name}: argument without help"


def test_a_command_imports_only_its_own_stage():
    """Start-up: running one command must not import every stage's CLI (nor torch, transformers, sklearn)."""
    import subprocess
    import sys

    code = ("import sys\nfrom pluralign.cli import main\ntry:\n    main(['aggregate', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.endswith('.cli') or m.split('.')[0] in "
            "('torch', 'transformers', 'sklearn', 'pandas', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['pluralign.aggregate.cli', 'pluralign.cli']", out


# Commands with a --model that run no generation or scoring of their own, and why.
NO_BATCH_SIZE = {
    "model info": "loads the model to describe it; runs nothing",
    "gpo predict": "--model is a GPO checkpoint; its embedder is fixed at training",
    "gpo label": "--model is a GPO checkpoint; its embedder is fixed at training",
    "train ditto": "its batch sizes are DittoConfig fields (--set sft_batch_size=..., batch_size=...)",
    "run": "the pipeline file sets each stage's options",
    "demo": "the shipped pipeline sets each stage's options",
}


@pytest.mark.parametrize("where", sorted(COMMANDS))
def test_every_command_that_runs_a_model_takes_a_batch_size(where):
    command = COMMANDS[where]
    names = {n for p in command.params for n in (*p.opts, *p.secondary_opts)}
    if "--model" not in names or where in NO_BATCH_SIZE or hasattr(command, "list_commands"):
        return
    assert "--batch-size" in names, f"pluralign {where}: runs a model but has no --batch-size"
