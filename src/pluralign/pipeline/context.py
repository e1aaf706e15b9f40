"""What a stage adapter is handed: its settings, its directory, its inputs' directories, its model and seed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from pluralign.errors import InputError

_MODELS: dict[str, Any] = {}  # one load per model spec per process: stages that share a model share it


def load_lm(spec: str):
    if spec not in _MODELS:
        from pluralign.lm import load_model

        _MODELS.clear()  # keep one model in memory at a time
        _MODELS[spec] = load_model(spec)
    return _MODELS[spec]


@dataclass
class Context:
    name: str
    stage: Any  # a pluralign.pipeline.spec.Stage
    out: Path
    inputs: dict[str, Path]  # slot -> the upstream stage's directory
    model: str
    seed: int
    console: Console = field(default_factory=Console)
    figures: dict[str, Any] = field(default_factory=dict)  # what the stage reports; kept in its manifest

    def input(self, slot: str) -> Path:
        if slot not in self.inputs:
            raise InputError(f"stage {self.name!r} needs a {slot!r} stage before it", field=f"stages.{self.name}")
        return self.inputs[slot]

    def has(self, slot: str) -> bool:
        return slot in self.inputs

    def upstream_config(self, slot: str) -> dict:
        """The resolved settings an upstream stage ran with (from its manifest on disk)."""
        return json.loads((self.input(slot) / "manifest.json").read_text())["config"]

    def lm(self):
        return load_lm(self.model)

    def say(self, *parts) -> None:
        self.console.print(*parts)


def write_json(path: Path, data: Any) -> None:
    from pluralign.io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_candidates(stage_dir: Path) -> list[dict]:
    """A responses stage's rows: id, prompt (chat messages), candidates, styles."""
    return [json.loads(line) for line in (stage_dir / "candidates.jsonl").read_text().splitlines()]
