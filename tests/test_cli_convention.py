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
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from walk(sub, path + (name,))


def test_help_lists_every_command_in_flow_order(capsys):
    from pluralign.cli import main

    try:
        main(["--help"])
    except SystemExit as ex:
        assert ex.code in (0, None)
    out = capsys.readouterr().out
    listed = [m.group(1) for m in re.finditer(r"^\W*([a-z][a-z-]*)\s{2,}\S", out, re.MULTILINE)]
    commands = [c for c in listed if c in command_tree().commands]
    assert commands == FLOW, commands
    assert sorted(command_tree().commands) == sorted(FLOW)


COMMANDS = {" ".join(p): c for p, c in walk(command_tree()) if p}


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
