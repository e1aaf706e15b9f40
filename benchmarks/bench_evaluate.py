"""Speed of the evaluation stage on the default model (SmolLM2-135M-Instruct), CPU.

1. Option distribution: the answer distribution over a question's lettered options from one
   ``option_logprobs`` call per rotation batch (a backend computes each question's shared prefix once and reads
   every letter on top of it), against the anchor: each (question, letter) scored as a separate continuation
   with ``score`` (:func:`pluralign.lm.base.option_logprobs_by_scoring`). Same prompts, every cyclic rotation,
   GlobalOpinionQA questions from ../shared; both sides must agree to 1e-4 before a ratio is printed
   (target >= 3x).
2. ``--report``: the default ``pluralign eval report`` (SmolLM2 as the model and as the baseline, the shared dev
   data subsampled as the defaults choose): total time and the per-section split (target <= 10 minutes).

Usage: python benchmarks/bench_evaluate.py [--questions N] [--report] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


class ByScoring:
    """The anchor: the same model, option_logprobs through one score() call per (prompt, option) pair."""

    def __init__(self, lm):
        self.lm, self.name = lm, lm.name + " (scored per option)"

    def option_logprobs(self, prompts, options, progress=None):
        from pluralign.lm.base import option_logprobs_by_scoring

        return option_logprobs_by_scoring(self.lm, prompts, options, progress=progress)


def bench_options(lm, n: int) -> None:
    import numpy as np

    from pluralign.evaluate.data import question_key, read_questions, subsample
    from pluralign.lm.multiple_choice import Format, choice_distributions

    qs = subsample(read_questions(SHARED / "pluralism" / "distributional_globalopinionqa.jsonl"), n, 0,
                   key=question_key)
    distinct = list(dict.fromkeys((q.header, tuple(q.options)) for q in qs))
    headers, options = [h for h, _ in distinct], [list(o) for _, o in distinct]
    choice_distributions(lm, headers[:2], options[:2], Format())  # warm-up
    times, dists = {}, {}
    for name, model in (("one pass per rotation batch", lm), ("each option scored (anchor)", ByScoring(lm))):
        start = time.perf_counter()
        dists[name] = choice_distributions(model, headers, options, Format())
        times[name] = time.perf_counter() - start
    fast, slow = times.values()
    diff = max(float(np.abs(a - b).max()) for a, b in zip(*dists.values()))
    k = np.mean([len(o) for o in options])
    print(f"{len(headers)} questions, {k:.1f} options on average, all {k:.1f} rotations each")
    for name, t in times.items():
        print(f"  {name:32s} {t:7.1f} s  {len(headers) / t:6.2f} questions/s")
    if diff > 1e-4:
        print(f"  the two sides disagree (max |Δp| = {diff:.2e}): no ratio")
        return
    print(f"  agree to {diff:.1e}; speed-up {slow / fast:.2f}x (target >= 3x)")


def bench_report() -> None:
    from pluralign.evaluate.report import ReportConfig, run_report
    from pluralign.lm import load_model

    start = time.perf_counter()
    model, baseline = load_model("default"), load_model("default")
    loaded = time.perf_counter() - start
    result = run_report(model, baseline, ReportConfig(data_dir=str(SHARED)))
    total = time.perf_counter() - start
    print(f"default report, SmolLM2 vs SmolLM2: {total / 60:.1f} min (target <= 10 min); loading {loaded:.0f} s")
    for name, seconds in result["timings"].items():
        print(f"  {name:16s} {seconds:7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--report", action="store_true", help="also time the default report")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from pluralign.lm import load_model

    if not SHARED.is_dir():
        raise SystemExit(f"needs the shared data at {SHARED}")
    bench_options(load_model("default"), args.questions)
    if args.report:
        bench_report()


if __name__ == "__main__":
    main()
