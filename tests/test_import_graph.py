"""The flow holds in the code: every import in src/pluralign goes leftwards in
participants -> elicit -> aggregate -> constitution -> feedback -> train -> evaluate, with records/io/lm (and the
other floor modules) importing no stage, and the command layer (cli modules, pipeline, demo) importing anything
while nothing below imports it. Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pluralign"
STAGES = ["participants", "elicit", "aggregate", "constitution", "feedback", "train", "evaluate"]
FLOOR = 0
COMMAND = len(STAGES) + 1


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """0 for the floor, 1.. for the stages in flow order, COMMAND for the command layer."""
    parts = module.split(".")[1:]
    if not parts:
        return COMMAND  # the package itself re-exports for users
    leaf = parts[-1]
    if leaf in ("cli", "cli_options", "__main__", "demo") or leaf.startswith("cli_") or parts[0] in ("pipeline", "demo"):
        return COMMAND
    if parts[0] in STAGES:
        return STAGES.index(parts[0]) + 1
    return FLOOR


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported pluralign module) for every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("pluralign")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base.startswith("pluralign"):
                # "from pluralign.x import y" may import the module pluralign.x.y
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.append((node.lineno, sub if _is_module(sub) else base))
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def lazy_homes(path: Path) -> list[str]:
    """Modules a package's lazy ``__getattr__`` table points at (strings, so ast sees no import)."""
    text = path.read_text(encoding="utf-8")
    if "lazy_getattr" not in text:
        return []
    tree = ast.parse(text)
    homes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_getattr" and len(node.args) == 2:
            table = node.args[1]
            if isinstance(table, ast.Dict):
                homes += [f"{module_name(path)}.{v.value}" for v in table.values if isinstance(v, ast.Constant)]
    return homes


def allowed(src: str, target: str) -> bool:
    """The command layer imports anything; the floor only the floor; a stage the floor and stages left of it."""
    a, b = layer(src), layer(target)
    if a == COMMAND:
        return True
    if b == COMMAND:
        return False
    return b == FLOOR or (a != FLOOR and b <= a)


def violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = module_name(path)
        targets = imports_of(path) + [(0, m) for m in lazy_homes(path)]
        for line, target in targets:
            if not allowed(src, target):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {src} imports {target}")
    return bad


def test_imports_follow_the_flow():
    bad = violations()
    assert not bad, "imports against the flow:\n" + "\n".join(bad)


@pytest.mark.parametrize("src,target,expected", [
    ("pluralign.train.dpo", "pluralign.feedback.choice", True),
    ("pluralign.feedback.choice", "pluralign.train.dpo", False),
    ("pluralign.lm.hf", "pluralign.records", True),
    ("pluralign.lm.hf", "pluralign.feedback.choice", False),
    ("pluralign.feedback.choice", "pluralign.cli_options", False),
    ("pluralign.feedback.cli", "pluralign.train.dpo", True),
    ("pluralign.evaluate.panel", "pluralign.aggregate.opinion.analysis", True),
])
def test_the_rule_itself(src, target, expected):
    assert allowed(src, target) == expected
