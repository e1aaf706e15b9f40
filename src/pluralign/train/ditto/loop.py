"""DITTO, Algorithm 1 of Shaikh et al. (ICLR 2025), as one readable loop.

1. **SFT** on the demonstrations (the project's :func:`pluralign.train.sft.train_sft`, LoRA merged); the SFT
   model is pi_ref, frozen (a copy of its adapter, see :mod:`.policy`).
2. For ``step`` in 0 .. steps-1:
   a. every ``resample_every`` (K) steps, sample M completions per demonstration prompt from the current policy
      (temperature 1, batched) and keep them under that step (:mod:`.sampler`);
   b. draw the step's comparisons -- expert > current samples, replay (expert > earlier samples) and
      inter-model (later > earlier samples) -- in the configured shares (:mod:`.schedule`);
   c. one DPO update on them (TRL's loss, beta, LoRA).

Run directory: ``config.json``, ``demos.jsonl`` (the clipped demonstrations trained on), ``sft/`` (SFT run and
``sft/model``), ``samples/step-N.jsonl``, ``pairs/step-N.jsonl`` (each step's comparisons as ``Preference``
records with provenance: demo id, author, the steps that drew chosen and rejected, kind), ``checkpoint-N.pt``,
``metrics.jsonl``, ``model/`` (the final policy, LoRA merged), ``preferences.jsonl`` (all pairs) and
``result.json``. Rerunning the same command resumes from the newest checkpoint; samples and pairs already on disk
are reused, never drawn twice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pluralign.io import atomic_path, read_records, write_records
from pluralign.records import Demonstration, Preference, Provenance
from pluralign.train.ditto.config import DittoConfig, check_resume
from pluralign.train.ditto.data import author_demonstrations, clip_to_tokens
from pluralign.train.ditto.policy import DittoPolicy, checkpoints, preference_row
from pluralign.train.ditto.sampler import SampleStore, prompt_of, sample_step
from pluralign.train.ditto.schedule import DittoPair, draw_batch, sampling_steps


def text_of(completion) -> str:
    """A completion as one text (a conversation's assistant turns joined)."""
    if isinstance(completion, str):
        return completion
    return "\n\n".join(m.content for m in completion if m.role == "assistant") or completion[-1].content


def prepare_demos(cfg: DittoConfig, run_dir: Path, demos: list[Demonstration], tokenizer) -> list[Demonstration]:
    """The author's demonstrations clipped to ``demo_tokens``, stored once in ``demos.jsonl``."""
    path = run_dir / "demos.jsonl"
    if path.is_file():
        return read_records(path, Demonstration)
    demos = [d.model_copy(update={"completion": clip_to_tokens(text_of(d.completion), tokenizer, cfg.demo_tokens)})
             for d in demos]
    write_records(path, demos)
    return demos


def run_sft(cfg: DittoConfig, run_dir: Path) -> str:
    """SFT on ``demos.jsonl`` (resumable; skipped when its model exists); returns the model to start DPO from."""
    if cfg.sft_steps == 0:
        return cfg.model
    from pluralign.train.config import SFTConfig
    from pluralign.train.sft import train_sft

    sft_dir = run_dir / "sft"
    if not (sft_dir / "model" / "config.json").is_file():
        sft = SFTConfig(model=cfg.model, data=str(run_dir / "demos.jsonl"), output_dir=str(sft_dir), lora=True,
                        lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lr=cfg.sft_lr, batch_size=cfg.sft_batch_size,
                        steps=cfg.sft_steps, seed=cfg.seed, max_length=cfg.max_length, save_every=cfg.sft_steps,
                        log_every=max(1, cfg.sft_steps // 5), bf16_autocast=cfg.bf16_autocast)
        sft.validate(str(run_dir / "config.json"))
        train_sft(sft)
    return str(sft_dir / "model")


def to_preference(pair: DittoPair, demo: Demonstration, step: int, index: int, cfg: DittoConfig) -> Preference:
    """A comparison as a ``Preference`` record: who demonstrated, which steps' samples, which kind of pair."""
    details = {"demo_id": pair.demo_id, "author": demo.author, "step": step, "kind": pair.kind,
               "chosen_step": pair.chosen_step, "rejected_step": pair.rejected_step,
               "chosen_sample": pair.chosen_index, "rejected_sample": pair.rejected_index}
    return Preference(id=f"ditto-{step}-{index}", prompt=demo.prompt, chosen=pair.chosen, rejected=pair.rejected,
                      provenance=Provenance(participants=[demo.author] if demo.author else [],
                                            rule=f"ditto/{pair.kind}", model=cfg.model, run=cfg.output_dir,
                                            source=cfg.demos, details=details))


def step_pairs(run_dir: Path, step: int, make) -> list[Preference]:
    """A step's comparisons: read back if this step was drawn before the run was interrupted, else drawn now."""
    path = run_dir / "pairs" / f"step-{step:06d}.jsonl"
    if path.is_file():
        return read_records(path, Preference)
    prefs = make()
    write_records(path, prefs)
    return prefs


def train_ditto(cfg: DittoConfig) -> dict[str, Any]:
    """Run (or resume) DITTO; returns a summary (steps, pairs by kind, times, where the model is)."""
    from pluralign.progress import progress_bar
    from pluralign.train.checkpoint import load_tokenizer
    from pluralign.train.ditto.policy import run_config
    from pluralign.train.monitors import MetricsLogger, from_trl_logs

    started = time.perf_counter()
    run_dir = Path(cfg.output_dir)
    given = author_demonstrations(cfg.demos, cfg.author)  # bad input stops here, before anything is written
    check_resume(cfg, run_dir)
    demos = prepare_demos(cfg, run_dir, given, load_tokenizer(run_config(cfg, cfg.model, run_dir)))
    start_model = run_sft(cfg, run_dir)
    sft_seconds = time.perf_counter() - started

    by_id = {d.id: d for d in demos}
    expert = {d.id: text_of(d.completion) for d in demos}
    example = [preference_row(prompt_of(demos[0]), DittoPair(demos[0].id, "expert", expert[demos[0].id],
                                                              expert[demos[0].id], None, 0, None, 0))]
    policy = DittoPolicy(cfg, start_model, run_dir, example)
    done = checkpoints(run_dir)
    first = policy.load(done[-1]) if done else 0
    store, logger = SampleStore(run_dir / "samples"), MetricsLogger(run_dir)
    samples = {s: v for s, v in store.load().items() if s < first}
    resamples = sampling_steps(cfg.steps, cfg.resample_every)
    timings = {"sample": 0.0, "update": 0.0}

    total = cfg.steps + len(resamples) * len(demos)
    with progress_bar("ditto", total=total) as advance:
        advance(first + sum(1 for s in resamples if s < first) * len(demos))
        for step in range(first, cfg.steps):
            if step in resamples:
                t0 = time.perf_counter()
                samples[step] = sample_step(policy.sampler(), demos, store, step, n=cfg.samples,
                                            temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens,
                                            sample_batch=cfg.sample_batch, seed=cfg.seed, progress=advance)
                timings["sample"] += time.perf_counter() - t0
                if cfg.update_ref and step > 0:
                    policy.update_reference()
            prefs = step_pairs(run_dir, step, lambda: [
                to_preference(p, by_id[p.demo_id], step, i, cfg)
                for i, p in enumerate(draw_batch(expert, samples, step, cfg.shares, cfg.batch_size, cfg.seed))])
            t0 = time.perf_counter()
            if prefs:
                metrics = policy.step([preference_row(prompt_of(by_id[p.provenance.details["demo_id"]]),
                                                      _as_pair(p)) for p in prefs])
                counts = {f"n_{k}": sum(p.provenance.details["kind"] == k for p in prefs)
                          for k in ("expert", "replay", "intermodel")}
                logger.log(step + 1, **from_trl_logs(metrics), **counts)
            timings["update"] += time.perf_counter() - t0
            advance(1)
            if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
                policy.save(run_dir, step + 1)
    logger.finish()
    return _finish(cfg, run_dir, policy, first, timings, sft_seconds, time.perf_counter() - started)


def _as_pair(pref: Preference) -> DittoPair:
    d = pref.provenance.details
    return DittoPair(d["demo_id"], d["kind"], pref.chosen, pref.rejected, d["chosen_step"], d["rejected_step"],
                     d["chosen_sample"], d["rejected_sample"])


def _finish(cfg: DittoConfig, run_dir: Path, policy: DittoPolicy, first: int, timings: dict, sft_seconds: float,
            seconds: float) -> dict[str, Any]:
    """Save the merged model, gather every step's pairs into ``preferences.jsonl``, write ``result.json``."""
    prefs = [p for step in range(cfg.steps) if (run_dir / "pairs" / f"step-{step:06d}.jsonl").is_file()
             for p in read_records(run_dir / "pairs" / f"step-{step:06d}.jsonl", Preference)]
    write_records(run_dir / "preferences.jsonl", prefs)
    policy.save_model(run_dir / "model")
    kinds = {k: sum(p.provenance.details["kind"] == k for p in prefs) for k in ("expert", "replay", "intermodel")}
    result = {"output_dir": str(run_dir), "model": str(run_dir / "model"), "steps": cfg.steps,
              "resumed_from_step": first, "pairs": kinds, "seconds": round(seconds, 1),
              "sft_seconds": round(sft_seconds, 1), "sample_seconds": round(timings["sample"], 1),
              "update_seconds": round(timings["update"], 1)}
    with atomic_path(run_dir / "result.json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
