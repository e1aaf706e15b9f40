"""Sampling M completions per demonstration prompt from the current policy, kept by step on disk.

``samples/step-000010.jsonl`` holds one line per demonstration, ``{"demo_id", "step", "samples": [M texts]}``.
Prompts are sampled in batches of ``sample_batch`` prompts (each with its M samples, so one ``generate`` call
decodes ``sample_batch x M`` sequences together); each batch's lines are written with one ``write`` and
``fsync``. A run killed mid-sampling loses at most the batch in flight: on resume, a torn last line is cut off
and only the demonstrations without a line are sampled, so no sample is ever duplicated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pluralign.lm.base import LanguageModel
from pluralign.records import Demonstration


class SampleStore:
    """The samples of a run, one JSONL file per sampling step."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path(self, step: int) -> Path:
        return self.directory / f"step-{step:06d}.jsonl"

    def read_step(self, step: int) -> dict[str, list[str]]:
        """demo id -> samples, for the complete lines of one step's file (a torn last line is cut off)."""
        path = self.path(step)
        if not path.is_file():
            return {}
        data = path.read_bytes()
        good = data[: data.rfind(b"\n") + 1]  # a line is complete only with its newline
        if len(good) != len(data):
            with open(path, "r+b") as fh:
                fh.truncate(len(good))
        out: dict[str, list[str]] = {}
        for line in good.decode("utf-8").splitlines():
            row = json.loads(line)
            out[row["demo_id"]] = row["samples"]
        return out

    def load(self) -> dict[int, dict[str, list[str]]]:
        """Every step on disk: step -> demo id -> samples."""
        if not self.directory.is_dir():
            return {}
        steps = sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("step-*.jsonl"))
        return {s: self.read_step(s) for s in steps}

    def append(self, step: int, rows: dict[str, list[str]]) -> None:
        """Add one batch of demonstrations' samples to a step's file, durably (one write, then fsync)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps({"demo_id": d, "step": step, "samples": s}, ensure_ascii=False) + "\n"
                       for d, s in rows.items())
        with open(self.path(step), "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def prompt_of(demo: Demonstration):
    """A demonstration's prompt as a chat conversation (the policy answers as the assistant)."""
    if isinstance(demo.prompt, str):
        return [{"role": "user", "content": demo.prompt}]
    return [m.model_dump() for m in demo.prompt]


def sample_step(lm: LanguageModel, demos: Sequence[Demonstration], store: SampleStore, step: int, *, n: int,
                temperature: float, max_new_tokens: int, sample_batch: int, seed: int,
                progress: Callable[[int], None] | None = None) -> dict[str, list[str]]:
    """The ``n`` samples of every demonstration at ``step``: those on disk, plus new ones for the rest.

    Batches are fixed by position in ``demos`` and each is seeded by (seed, step, batch), so a resumed step draws
    what the interrupted one would have for the batches it had not finished.
    """
    have = store.read_step(step)
    for start in range(0, len(demos), sample_batch):
        todo = [d for d in demos[start : start + sample_batch] if d.id not in have]
        if not todo:
            continue
        outs = lm.generate([prompt_of(d) for d in todo], n=n, temperature=temperature, top_p=1.0,
                           max_new_tokens=max_new_tokens, seed=seed * 1_000_003 + step * 1_009 + start)
        rows = {d.id: list(o) for d, o in zip(todo, outs)}
        store.append(step, rows)
        have.update(rows)
        if progress:
            progress(len(todo))
    return {d.id: have[d.id] for d in demos}
