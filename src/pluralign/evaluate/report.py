"""The evaluation report: every measure for a model and its baseline, timed, in one JSON-ready dict.

:func:`run_report` runs the measures the data are there for, each on a seeded subsample whose size
:class:`ReportConfig` sets (defaults sized so SmolLM2 and its baseline are measured in about ten minutes on
two CPU cores), records the seconds each took, and :func:`pluralign.evaluate.report_html.render` turns the
result into one self-contained HTML page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pluralign.evaluate.ask import AskConfig
from pluralign.lm.base import LanguageModel


@dataclass
class ReportConfig:
    """Where the data are and how much of each to use.

    data_dir: a folder laid out like the shared data (``pluralism/``, ``opinionqa/`` unused, ``bbq/``); parts
        whose files are missing are left out of the report with a note.
    votes / statements: the run's own conversation (Vote JSONL + Statement JSONL, or a Polis directory) for the
        panel section; prompts: red-team prompts (default: the package's); judge: the safety labeller's model.
    distributional, steerable, kaleidoscope, overton, bbq (per category and condition), panel, safety,
        capability: how many items each section draws (seeded).
    """

    data_dir: str = "../shared/data"
    votes: str | None = None
    statements: str | None = None
    prompts: str | None = None
    judge: str = "default"
    seed: int = 0
    distributional: int = 30
    steerable: int = 30
    kaleidoscope: int = 40
    overton: int = 8
    bbq: int = 6
    panel: int = 20
    safety: int = 12
    capability: int = 8
    ask: AskConfig = field(default_factory=AskConfig)

    def __post_init__(self):
        for name in ("distributional", "steerable", "kaleidoscope", "overton", "bbq", "panel", "safety", "capability"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def provenance(lm: LanguageModel, spec: str) -> dict:
    """What is known of where a model came from: its spec and name, and the training run's result and the run
    directory's artifacts when it is a trained run's ``model/`` folder."""
    out = {"spec": spec, "name": lm.name}
    path = getattr(lm, "path", None)
    if path and Path(path).is_dir():
        path = Path(path).resolve()
        out["path"] = str(path)
        result = path.parent / "result.json"
        if result.is_file():
            try:
                out["training"] = json.loads(result.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                out["training"] = "unreadable result.json"
        # The run directory: the nearest folder above holding the pipeline file or the panel's artifacts.
        run = next((d for d in list(path.parents)[1:4]
                    if any((d / name).exists() for name in ("pipeline.toml", "constitution.json", "votes.jsonl"))), None)
        if run is not None:
            out["run"] = str(run)
            out["run_artifacts"] = sorted(str(p.relative_to(run)) for p in run.glob("**/*")
                                          if p.suffix in (".jsonl", ".json", ".toml") and len(p.relative_to(run).parts) <= 2)
    return out


def _timed(timings: dict, name: str, fn: Callable):
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def run_report(lm: LanguageModel, baseline: LanguageModel | None, config: ReportConfig | None = None, *,
               model_spec: str = "", baseline_spec: str = "") -> dict:
    """Every section the data allow, for the model and the baseline; ``timings`` holds seconds per section."""
    from pluralign.evaluate import bias, capability, distributional, overton, safety, steerable
    from pluralign.evaluate import data as D
    from pluralign.evaluate.metrics import bootstrap_mean

    cfg = config or ReportConfig()
    lms = [lm] + ([baseline] if baseline is not None else [])
    root, seed, timings, notes = Path(cfg.data_dir), cfg.seed, {}, []
    out: dict = {"models": [lm.name for lm in lms], "config": {k: v for k, v in asdict(cfg).items() if k != "ask"},
                 "ask": cfg.ask.label, "provenance": [provenance(m, s) for m, s in zip(lms, [model_spec, baseline_spec])],
                 "timings": timings, "notes": notes}
    plural = root / "pluralism"

    def have(path: Path, section: str) -> bool:
        if not path.exists():
            notes.append(f"{section}: left out, {path} not found")
        return path.exists()

    if have(plural / "distributional_globalopinionqa.jsonl", "whose opinions"):
        qs = D.subsample(D.read_questions(plural / "distributional_globalopinionqa.jsonl"), cfg.distributional, seed,
                         key=D.question_key)
        out["distributional"] = [_timed(timings, "distributional", lambda m=m: distributional.evaluate_distributional(
            m, qs, cfg.ask, seed=seed).to_dict()) for m in lms]
    if have(plural / "steerable_opinionqa.jsonl", "steerability"):
        qs = D.subsample(D.read_questions(plural / "steerable_opinionqa.jsonl"), cfg.steerable, seed,
                         key=lambda q: (q.id, q.group))
        out["steerable"] = [_timed(timings, "steerable", lambda m=m: steerable.evaluate_steering(
            m, qs, cfg.ask, seed=seed).to_dict()) for m in lms]
    if have(plural / "steerable_valuekaleidoscope.jsonl", "Value Kaleidoscope"):
        items = D.subsample(D.read_value_kaleidoscope(plural / "steerable_valuekaleidoscope.jsonl"), cfg.kaleidoscope,
                            seed, key=lambda it: it["id"])
        vk = [_timed(timings, "kaleidoscope", lambda m=m: steerable.evaluate_kaleidoscope(m, items, cfg.ask, seed))
              for m in lms]
        out["kaleidoscope"] = [{"accuracy": r["accuracy"].to_dict(), "macro_f1": r["macro_f1"].to_dict(),
                                "predicted_share": r["predicted_share"]} for r in vk]
    if have(plural / "overton_valuekaleidoscope.jsonl", "Overton"):
        situations = D.read_overton(plural / "overton_valuekaleidoscope.jsonl")
        items = D.subsample(situations, cfg.overton, seed, key=lambda it: it["id"])
        judge = overton.EmbeddingJudge()
        controls = _timed(timings, "overton", lambda: overton.judge_controls(items, judge, seed))
        out["overton"] = [_timed(timings, "overton", lambda m=m: overton.evaluate_overton(
            m, items, judge, seed=seed, controls=controls).to_dict()) for m in lms]
        refs = capability.reference_pairs(D.subsample(situations, cfg.capability, seed + 1, key=lambda it: it["id"]))
        lls = [_timed(timings, "capability", lambda m=m: capability.token_loglik(m, *refs)) for m in lms]
        out["capability"] = [{"loglik_per_token": bootstrap_mean(ll, seed=seed).to_dict()} for ll in lls]
        if len(lls) == 2:
            out["capability"][0]["loglik_difference"] = capability.paired_difference(*lls, seed=seed).to_dict()
    if have(root / "bbq", "BBQ"):
        items = D.read_bbq(root / "bbq")
        items = [it for cell in dict.fromkeys((i.category, i.ambiguous) for i in items)
                 for it in D.subsample([i for i in items if (i.category, i.ambiguous) == cell], cfg.bbq, seed,
                                       key=lambda i: i.id)]
        out["bias"] = [_timed(timings, "bias", lambda m=m: bias.evaluate_bias(m, items, cfg.ask, seed).to_dict())
                       for m in lms]
        for cap, b in zip(out.get("capability", [{} for _ in lms]), out["bias"]):
            cap["bbq_accuracy_disambiguated"] = b["all"]["accuracy_disambiguated"]
        out.setdefault("capability", [{"bbq_accuracy_disambiguated": b["all"]["accuracy_disambiguated"]}
                                      for b in out["bias"]])
    if cfg.votes:
        from pluralign.evaluate import panel

        votes = _timed(timings, "panel", lambda: panel.subset(panel.panel_votes(cfg.votes, cfg.statements, seed=seed),
                                                               cfg.panel, seed))
        out["panel"] = [_timed(timings, "panel", lambda m=m: panel.evaluate_panel(m, votes, cfg.ask, seed).to_dict())
                        for m in lms]
    else:
        notes.append("panel: left out, no --votes given (e.g. runs/demo/votes.jsonl)")
    out["safety"] = _timed(timings, "safety", lambda: _safety(lms, cfg))
    return out


def _safety(lms, cfg: ReportConfig) -> dict:
    from pluralign.evaluate import safety
    from pluralign.evaluate.data import read_prompts, subsample
    from pluralign.lm import load_model

    prompts = subsample(read_prompts(cfg.prompts or safety.package_file("redteam_prompts.jsonl")), cfg.safety,
                        cfg.seed, key=lambda r: r["id"])
    judge_lm = next((m for m in lms if getattr(m, "name", None) == cfg.judge), None) or load_model(cfg.judge)
    judge = safety.make_judge(judge_lm, seed=cfg.seed)
    answers = [safety.respond(m, prompts, seed=cfg.seed) for m in lms]
    out = {"judge": judge.describe(), "judge_accuracy": judge.accuracy, "judge_at_chance": judge.at_chance,
           "judge_model": judge_lm.name,
           "results": [safety.evaluate_safety(a, prompts, judge, cfg.seed).to_dict() for a in answers]}
    if len(lms) == 2:
        out["win_rate"] = safety.win_rate(*answers, prompts, judge, cfg.seed).to_dict()
    return out
