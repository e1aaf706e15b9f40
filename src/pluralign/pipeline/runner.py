"""Run a pipeline: each stage in order, into ``RUN/<stage>/``, with a manifest; skip what has not changed.

A stage's **key** is the SHA-256 of everything that decides its output: its kind and resolved settings, the
content hashes of its inputs (the upstream stages' outputs, as their manifests list them, and any file outside
the run it reads), its model's identity, its seed and pluralign's version. A stage whose manifest holds the same
key is skipped; so a changed setting reruns that stage and, where its outputs change, the stages that read them.
A stage writes ``started.json`` first and ``manifest.json`` (atomically) last, so a killed run resumes at the
first stage without a manifest (a training stage killed with the same key resumes from its checkpoints).
``force`` reruns the named stages even when unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pluralign.errors import InputError
from pluralign.pipeline.context import Context, read_json, write_json
from pluralign.pipeline.spec import Pipeline
from pluralign.pipeline.stages import REGISTRY

SKIP_NAMES = {"manifest.json", "started.json"}
PACKAGES = ("pluralign", "numpy", "scipy", "scikit-learn", "torch", "transformers", "trl", "peft", "accelerate",
            "datasets", "pydantic")


@dataclass
class StageRun:
    name: str
    uses: str
    status: str  # "ran" | "skipped"
    wall_s: float  # the stage's own work
    overhead_s: float  # hashing, manifests, bookkeeping around it


BIG = 64 << 20  # files past this (model weights) are identified by samples, size and modification time


def file_hash(path: Path) -> str:
    """SHA-256 of the content; for files over 64 MiB, of the first and last 8 MiB with the size and the
    modification time (hashing half a gigabyte of weights would cost more than some stages): a rewritten file
    always gets a new key, so a change is never missed, at worst a rerun is not skipped."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size <= BIG:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
            return digest.hexdigest()
        digest.update(f.read(8 << 20))
        f.seek(-(8 << 20), 2)
        digest.update(f.read())
    digest.update(f"{size}:{path.stat().st_mtime_ns}".encode())
    return "sampled:" + digest.hexdigest()


def output_hashes(directory: Path) -> dict[str, str]:
    """Every file a stage wrote (checkpoints left out: they are how a run resumes, not what it made)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and rel.name not in SKIP_NAMES and not any(p.startswith("checkpoint") for p in rel.parts):
            out[rel.as_posix()] = file_hash(path)
    return out


def external_hashes(paths: list[str]) -> dict[str, str | dict]:
    out: dict[str, str | dict] = {}
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out[p] = output_hashes(path)
        elif path.is_file():
            out[p] = file_hash(path)
        else:
            raise InputError("file not found", path=p)
    return out


def model_identity(spec: str) -> dict:
    """What names a model's weights without loading them: a server's URL and model name, or a local directory's
    config hash and its weight files' sizes and modification times."""
    if spec.startswith(("openai:", "llamacpp:")):
        return {"spec": spec}
    from pluralign.lm.cache import resolve_model_path

    path, name = resolve_model_path(spec.removeprefix("hf:"))
    weights = {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in sorted(path.iterdir())
               if f.suffix in (".safetensors", ".bin", ".gguf", ".pt")}
    return {"spec": spec, "name": name, "path": str(path), "config_sha256": file_hash(path / "config.json"),
            "weights": weights}


_VERSIONS: dict[str, str] = {}


def versions() -> dict[str, str]:
    if not _VERSIONS:
        _VERSIONS["python"] = sys.version.split()[0]
        for name in PACKAGES:
            try:
                _VERSIONS[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return dict(_VERSIONS)


def resolve_inputs(pipeline: Pipeline, name: str) -> dict[str, str]:
    """slot -> upstream stage name: the one the file names, else the nearest earlier stage of that kind."""
    stage = pipeline.stages[name]
    definition = REGISTRY[stage.uses]
    earlier = list(pipeline.stages)[: list(pipeline.stages).index(name)]
    resolved = {}
    for slot in (*definition.needs, *definition.optional):
        if slot in stage.inputs:
            resolved[slot] = stage.inputs[slot]
            continue
        match = next((n for n in reversed(earlier) if pipeline.stages[n].uses == slot), None)
        if match is not None:
            resolved[slot] = match
        elif slot in definition.needs:
            raise InputError(f"needs an earlier {slot!r} stage (or inputs = {{{slot} = \"NAME\"}})",
                             path=pipeline.path, field=f"stages.{name}.inputs.{slot}")
    unknown = sorted(set(stage.inputs) - set(resolved))
    if unknown:
        raise InputError(f"not an input of a {stage.uses!r} stage (its inputs: "
                         f"{', '.join((*definition.needs, *definition.optional)) or 'none'})",
                         path=pipeline.path, field=f"stages.{name}.inputs.{unknown[0]}")
    return resolved


def stage_key(pipeline: Pipeline, name: str, inputs: dict[str, str], run_dir: Path) -> tuple[str, dict]:
    stage = pipeline.stages[name]
    definition = REGISTRY[stage.uses]
    upstream = {slot: {"stage": src, "outputs": read_json(run_dir / src / "manifest.json")["outputs"]}
                for slot, src in inputs.items()}
    material = {
        "uses": stage.uses, "config": stage.model_dump(mode="json"), "inputs": upstream,
        "external": external_hashes(definition.external(stage)), "seed": pipeline.stage_seed(name),
        "model": model_identity(pipeline.stage_model(name)) if definition.model else None,
        "pluralign": versions().get("pluralign"),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest(), material


def run_pipeline(pipeline: Pipeline, run_dir: str | Path, force: tuple[str, ...] = (),
                 console: Console | None = None) -> list[StageRun]:
    console = console or Console()
    run_dir = Path(run_dir)
    unknown = [f for f in force if f not in pipeline.stages]
    if unknown:
        raise InputError(f"--force names no stage of this pipeline (stages: {', '.join(pipeline.stages)})",
                         path=pipeline.path, field=unknown[0])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "pipeline.toml").write_text(Path(pipeline.path).read_text(encoding="utf-8"), encoding="utf-8")
    runs = []
    for number, (name, stage) in enumerate(pipeline.stages.items(), 1):
        start = time.perf_counter()
        inputs = resolve_inputs(pipeline, name)
        key, material = stage_key(pipeline, name, inputs, run_dir)
        out = run_dir / name
        manifest_path = out / "manifest.json"
        old = read_json(manifest_path) if manifest_path.is_file() else None
        if old is not None and old.get("key") == key and name not in force:
            console.print(f"[dim]{number}. {name} ({stage.uses}): unchanged, skipped[/]")
            runs.append(StageRun(name, stage.uses, "skipped", 0.0, time.perf_counter() - start))
            continue
        console.rule(f"[bold]{number}. {name}[/] ({stage.uses})")
        started = out / "started.json"
        if old is not None or not (started.is_file() and read_json(started).get("key") == key):
            shutil.rmtree(out, ignore_errors=True)  # a different key: nothing in there is valid any more
        out.mkdir(parents=True, exist_ok=True)
        write_json(started, {"key": key, "started": _now()})
        ctx = Context(name, stage, out, {slot: run_dir / src for slot, src in inputs.items()},
                      pipeline.stage_model(name), pipeline.stage_seed(name), console)
        before = time.perf_counter()
        REGISTRY[stage.uses].run(ctx)
        wall = time.perf_counter() - before
        manifest = {"stage": name, "uses": stage.uses, "key": key, "config": material["config"],
                    "inputs": {slot: {"stage": src, "outputs": material["inputs"][slot]["outputs"]}
                               for slot, src in inputs.items()},
                    "external": material["external"], "model": material["model"], "seed": material["seed"],
                    "versions": versions(), "wall_s": round(wall, 3), "finished": _now(),
                    "figures": ctx.figures, "outputs": output_hashes(out)}
        write_json(manifest_path, manifest)
        started.unlink()
        runs.append(StageRun(name, stage.uses, "ran", wall, time.perf_counter() - start - wall))
    return runs


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def timing_table(runs: list[StageRun]) -> Table:
    table = Table("stage", "kind", "status", "stage time (s)", "pipeline overhead (s)", title="per-stage times")
    for r in runs:
        table.add_row(r.name, r.uses, r.status, f"{r.wall_s:.1f}", f"{r.overhead_s:.2f}")
    table.add_row("total", "", "", f"{sum(r.wall_s for r in runs):.1f}", f"{sum(r.overhead_s for r in runs):.2f}")
    return table
