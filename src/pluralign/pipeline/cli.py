"""``pluralign run FILE --out-dir RUN``, ``pluralign demo`` (the package's own pipeline file) and
``pluralign trace RUN PREFERENCE_ID``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli_options import OptionalModelOpt

DEMO_PIPELINE = Path(__file__).with_name("demo.toml")

ForceOpt = Annotated[list[str] | None, typer.Option("--force", help="rerun this stage even if unchanged "
                                                                    "(repeatable)")]
OptionalSeed = Annotated[int | None, typer.Option("--seed", help="random seed (overrides the file's run.seed)")]


def run_file(pipeline_file: Path, out_dir: Path, model: str | None = None, seed: int | None = None,
             force: list[str] | None = None) -> list:
    """Load, run, write RUN/report.html, print the per-stage times; returns the stage runs."""
    from rich.console import Console

    from pluralign.pipeline.report import write_report
    from pluralign.pipeline.runner import run_pipeline, timing_table
    from pluralign.pipeline.spec import load

    pipeline = load(pipeline_file, model=model, seed=seed)
    console = Console()
    console.print(f"[bold]{pipeline.run.name}[/] — model [cyan]{pipeline.run.model}[/], artifacts in {out_dir}")
    runs = run_pipeline(pipeline, out_dir, tuple(force or ()), console)
    report = write_report(out_dir, pipeline)
    console.print(timing_table(runs))
    console.print(f"report: {report}")
    return runs


def run(
    pipeline_file: Annotated[Path, typer.Argument(help="pipeline TOML file")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="run directory: one folder per stage, a manifest "
                                                            "each, report.html")] = Path("runs/run"),
    model: OptionalModelOpt = None,
    seed: OptionalSeed = None,
    force: ForceOpt = None,
) -> None:
    """Run a pipeline file; stages whose inputs and settings are unchanged are skipped, a killed run resumes."""
    run_file(pipeline_file, out_dir, model, seed, force)


def demo(
    model: OptionalModelOpt = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="run directory")] = Path("runs/demo"),
    seed: OptionalSeed = None,
    force: ForceOpt = None,
) -> None:
    """The whole flow offline: people vote, opinion groups, a constitution, rankings, majority vs proportional
    social choice, AI feedback with its reliability, a few DPO steps, held-out check, report and provenance.
    It is `pluralign run` on the package's demo.toml."""
    from pluralign.pipeline.trace import first_traceable, print_trace

    run_file(DEMO_PIPELINE, out_dir, model, seed, force)
    for kind in ("human", "ai"):
        pref_id = first_traceable(out_dir, kind)
        if pref_id:
            print_trace(out_dir, pref_id)


def trace(
    run_dir: Annotated[Path, typer.Argument(help="run directory of `pluralign run`")],
    preference_id: Annotated[str, typer.Argument(help="id of a trained preference (see RUN/train/data.jsonl)")],
) -> None:
    """Walk a trained preference back to its rule, principle, statement, opinion groups and participants."""
    from pluralign.pipeline.trace import print_trace

    print_trace(run_dir, preference_id)
