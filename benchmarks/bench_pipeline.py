"""What the pipeline machinery adds per stage, against running the same stages by hand.

Anchor ("by hand"): each stage's adapter called directly, in one process, in order, into a fresh directory: the
least a user running the stages one after another would wait (the stage commands as separate processes would
add an interpreter and imports per stage on top). Pipeline: ``pluralign run``'s runner on the same file, which
adds input/output hashing, model identity, the skip check and the manifest per stage. Both sides must write the
same records (the deterministic stages' files are compared byte for byte) before a ratio is printed. Then the
no-change rerun (every stage skipped) and the report are timed on their own.

    python benchmarks/bench_pipeline.py                   # tiny random model, the demo's shape, 3 repeats
    python benchmarks/bench_pipeline.py --model default   # SmolLM2-135M (minutes per repeat)

Target: < 2 s of machinery per stage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from rich.console import Console  # noqa: E402

from pluralign.pipeline.cli import DEMO_PIPELINE  # noqa: E402
from pluralign.pipeline import context  # noqa: E402
from pluralign.pipeline.context import Context  # noqa: E402
from pluralign.pipeline.report import write_report  # noqa: E402
from pluralign.pipeline.runner import resolve_inputs, run_pipeline  # noqa: E402
from pluralign.pipeline.spec import load  # noqa: E402
from pluralign.pipeline.stages import REGISTRY  # noqa: E402

DETERMINISTIC = ("panel", "opinion", "constitution", "rankings", "social_choice")


def by_hand(pipeline, out: Path, quiet: Console) -> dict[str, float]:
    """Each stage's adapter in order, no manifests: seconds per stage."""
    times = {}
    for name, stage in pipeline.stages.items():
        inputs = {slot: out / src for slot, src in resolve_inputs(pipeline, name).items()}
        (out / name).mkdir(parents=True)
        if stage.uses == "constitution":  # the adapter reads the opinion stage's settings from its manifest
            (out / "opinion" / "manifest.json").write_text(
                '{"config": %s, "seed": %d}' % (pipeline.stages["opinion"].model_dump_json(),
                                                 pipeline.stage_seed("opinion")))
        start = time.perf_counter()
        REGISTRY[stage.uses].run(Context(name, stage, out / name, inputs, pipeline.stage_model(name),
                                         pipeline.stage_seed(name), quiet))
        times[name] = time.perf_counter() - start
    return times


def same_records(a: Path, b: Path) -> bool:
    """Byte-equal files once each side's own directory (named in provenance ``source``) is blanked out."""
    for stage in DETERMINISTIC:
        for f in sorted((a / stage).glob("*.json*")):
            if f.name == "manifest.json":
                continue
            if f.read_bytes().replace(str(a).encode(), b"RUN") != (b / stage / f.name).read_bytes().replace(
                    str(b).encode(), b"RUN"):
                print(f"differs: {stage}/{f.name}")
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model spec (default: a tiny random model)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    model = args.model
    if model is None:
        from pluralign.lm.tiny import save_tiny_model

        model = str(save_tiny_model(tmp / "tiny"))
    pipeline = load(DEMO_PIPELINE, model=model)
    quiet = Console(quiet=True)
    hand, piped, overhead, rerun, report = [], [], [], [], []
    for r in range(args.repeats):
        hand_dir, run_dir = tmp / f"hand{r}", tmp / f"run{r}"
        context._MODELS.clear()  # both sides load their model
        hand.append(sum(by_hand(pipeline, hand_dir, quiet).values()))
        context._MODELS.clear()
        start = time.perf_counter()
        runs = run_pipeline(pipeline, run_dir, console=quiet)
        piped.append(time.perf_counter() - start)
        overhead.append(max(x.overhead_s for x in runs))
        if not same_records(hand_dir, run_dir):
            raise SystemExit("the pipeline and the stages by hand wrote different records: no ratio")
        start = time.perf_counter()
        again = run_pipeline(pipeline, run_dir, console=quiet)
        rerun.append(time.perf_counter() - start)
        assert {x.status for x in again} == {"skipped"}
        start = time.perf_counter()
        write_report(run_dir, pipeline)
        report.append(time.perf_counter() - start)
    n = len(pipeline.stages)
    per_stage = [(p - h) / n for p, h in zip(piped, hand)]
    print(f"model {model}; {n} stages; {args.repeats} repeats (median, min-max)")
    print(f"by hand (stage functions directly): {statistics.median(hand):.1f} s ({min(hand):.1f}-{max(hand):.1f})")
    print(f"pipeline run:                       {statistics.median(piped):.1f} s ({min(piped):.1f}-{max(piped):.1f})")
    print(f"ratio pipeline / by hand:           {statistics.median(piped) / statistics.median(hand):.3f}")
    print(f"machinery per stage (run - hand)/n: {statistics.median(per_stage):+.2f} s "
          f"({min(per_stage):+.2f} to {max(per_stage):+.2f}); largest single stage's bookkeeping "
          f"{max(overhead):.2f} s; target < 2 s")
    print(f"rerun with nothing changed (all {n} skipped): {statistics.median(rerun):.2f} s")
    print(f"report.html: {statistics.median(report):.2f} s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
