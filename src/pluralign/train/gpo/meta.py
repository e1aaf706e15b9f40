"""Meta-training GPO across groups: L(θ) = E_{g,m}[ Σ_{i>m} -log p_θ(y_i^g | x_{1:n}^g, y_{1:m}^g) ].

Each step samples ``batch_groups`` training groups, one context size m in [min_context, max_context] and a
number of targets (as the reference's collate function, reference ``data/llm_data.py:163-208``), and for each
group m context questions and the targets among the questions it answered. Adam with a cosine schedule
(reference ``train_gpo.py:191-193``). Step k draws from ``default_rng([seed, k])`` and reseeds torch with
(seed, k), so a run resumed from a checkpoint replays exactly the steps an uninterrupted run takes.

A run directory holds ``checkpoint.pt`` (every ``save_every`` steps: model, optimizer, scheduler, step, the loss
curve, the config) and, at the end, ``gpo.pt`` (the same, final) and ``result.json``. Rerunning with the same
config resumes; a different config is refused, naming the fields that differ.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pluralign.errors import InputError
from pluralign.train.gpo.data import Survey
from pluralign.train.gpo.model import GPO, gpo_loss
from pluralign.train.gpo.prior import prior_for

# Fields that do not change what is computed: a resumed run may differ in them.
RUN_ONLY_FIELDS = ("output_dir", "log_every", "threads")


class GpoConfig(BaseModel):
    """One GPO meta-training run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Literal["opinionqa", "globalopinionqa", "polis"] = Field(
        "opinionqa", description="which reader: OpinionQA waves, GlobalOpinionQA JSONL, or Polis exports")
    data_path: str = Field("", description="folder (opinionqa, polis) or JSONL file (globalopinionqa)")
    embedder: str = Field("minilm", description="'minilm' or a model spec whose embed() gives x (any backend)")
    cache_dir: str = Field("", description="embedding cache folder ('' = $PLURALIGN_HOME/gpo-embeddings)")
    output_dir: str = Field("runs/gpo", description="run directory (checkpoints, final model, result)")
    seed: int = Field(0, ge=0, description="seeds the group split, every step's sampling and the model init")
    train_fraction: float = Field(0.4, gt=0, lt=1, description="share of groups meta-trained on (reference 0.4)")
    holdout_conversations: list[str] = Field(
        default_factory=list, description="polis: hold out every participant of these conversations instead of a "
        "random share of groups")
    min_questions: int = Field(25, ge=2, le=100000, description="groups that answered fewer questions are left out")
    steps: int = Field(1500, ge=1, le=10_000_000, description="optimizer updates")
    batch_groups: int = Field(16, ge=1, le=4096, description="groups (episodes) per step")
    min_context: int = Field(5, ge=1, le=1000, description="smallest context size m sampled per step")
    max_context: int = Field(20, ge=1, le=1000, description="largest context size m sampled per step")
    min_target: int = Field(10, ge=1, le=1000, description="fewest target questions per episode")
    max_target: int = Field(20, ge=1, le=1000, description="most target questions per episode")
    lr: float = Field(3e-4, gt=0, le=1.0, description="Adam learning rate (reference 3e-4), cosine-annealed")
    d_model: int = Field(128, ge=4, le=4096, description="transformer width (reference 128)")
    layers: int = Field(6, ge=1, le=48, description="encoder layers (reference 6)")
    heads: int = Field(4, ge=1, le=64, description="attention heads (reference 4)")
    dim_feedforward: int = Field(128, ge=4, le=16384, description="feed-forward width (reference 128)")
    emb_depth: int = Field(4, ge=2, le=16, description="layers of the point-embedding MLP (reference 4)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout in the encoder (reference 0)")
    loss: Literal["gaussian", "cross_entropy"] = Field(
        "cross_entropy", description="cross_entropy: -Σ y log p over each target question's options (the "
        "likelihood of the group's distribution); gaussian: the reference's Normal likelihood of each option's share")
    prior: Literal["none", "population", "nearest_groups"] = Field(
        "population", description="population: each point also reads the population's share of its option and "
        "the logits are a residual on its log (an untrained model is the population baseline; docs/gpo.md); "
        "nearest_groups: the same on the training groups' answers weighted by how closely each answered the "
        "context (not for polis); none: the paper's model, from the embeddings and the context alone")
    reference_groups: bool = Field(
        False, description="with the population prior: each point also reads every training group's departure "
        "from the population on its option, so the context can tell which training groups this group answers like "
        "(not for polis, whose groups are single participants)")
    save_every: int = Field(100, ge=1, description="steps between checkpoints")
    log_every: int = Field(50, ge=1, description="steps between logged losses (the curve keeps every step)")
    threads: int = Field(1, ge=0, le=1024, description="torch CPU threads (0 = torch's default); one is fastest "
                         "for this small model on a shared CPU")

    @model_validator(mode="after")
    def _ranges(self):
        if self.min_context > self.max_context:
            raise ValueError(f"min_context {self.min_context} > max_context {self.max_context}")
        if self.min_target > self.max_target:
            raise ValueError(f"min_target {self.min_target} > max_target {self.max_target}")
        if self.reference_groups and (self.prior == "none" or self.data == "polis"):
            raise ValueError("reference_groups needs a prior and survey data (not polis)")
        if self.prior == "nearest_groups" and self.data == "polis":
            raise ValueError("prior='nearest_groups' is for survey data (polis groups are single participants)")
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be a multiple of heads {self.heads}")
        return self

    def model_kwargs(self) -> dict:
        return dict(d_model=self.d_model, layers=self.layers, heads=self.heads,
                    dim_feedforward=self.dim_feedforward, emb_depth=self.emb_depth, dropout=self.dropout,
                    prior=self.prior)


def config_differences(saved: dict, config: GpoConfig) -> list[str]:
    now = config.model_dump()
    return sorted(k for k in set(saved) | set(now) if k not in RUN_ONLY_FIELDS and saved.get(k) != now.get(k))


def pack(episodes, dim_x: int) -> dict[str, torch.Tensor]:
    """Episodes -> padded tensors. An episode is (context, targets) or (context, targets, priors): context a
    list of (x (k, dim_x), y (k,)), targets a list of x (k, dim_x) or of (x, y) pairs, priors the population's
    distribution over each context question's options and then each target's, (k,) or (k, F) with the
    reference columns (:class:`~.prior.PopulationPrior`; uniform where not given). Context points come first."""
    rows = []
    for episode in episodes:
        context, targets = episode[:2]
        pts = [(x, y, False, q) for q, (x, y) in enumerate(context)]
        for q, t in enumerate(targets, start=len(context)):
            x, y = t if isinstance(t, tuple) else (t, np.zeros(len(t)))
            pts.append((x, y, True, q))
        priors = episode[2] if len(episode) > 2 else [np.full(len(p[0]), 1.0 / len(p[0])) for p in pts]
        rows.append([p + (prior,) for p, prior in zip(pts, priors, strict=True)])
    length = max(sum(len(p[0]) for p in pts) for pts in rows)
    batch = len(rows)
    x = np.zeros((batch, length, dim_x), np.float32)
    y = np.zeros((batch, length), np.float32)
    target = np.zeros((batch, length), bool)
    question = np.zeros((batch, length), np.int64)
    pad = np.ones((batch, length), bool)
    width = max((np.asarray(p[4]).reshape(len(p[0]), -1).shape[1] for pts in rows for p in pts), default=1)
    prior = np.zeros((batch, length, width), np.float32)
    prior[..., 0] = 1.0
    for b, pts in enumerate(rows):
        i = 0
        for px, py, is_t, q, pp in pts:
            k = len(px)
            x[b, i:i + k], y[b, i:i + k], target[b, i:i + k], question[b, i:i + k], pad[b, i:i + k] = \
                px, py, is_t, q, False
            prior[b, i:i + k] = np.asarray(pp).reshape(k, -1)
            i += k
        question[b, i:] = len(pts)  # padding: a segment of its own
    return {k: torch.from_numpy(v) for k, v in
            dict(x=x, y=y, is_target=target, question=question, pad=pad, prior=prior).items()}


def eligible_groups(survey: Survey, min_questions: int) -> list[str]:
    return [g for g in survey.groups if len(survey.answers[g]) >= min_questions]


def sample_batch(survey: Survey, emb: dict[str, np.ndarray], groups: list[str], config: GpoConfig, step: int,
                 prior=None):
    """The episodes of one step, drawn from ``default_rng([seed, step])``; with the priors of a
    :class:`~.prior.PopulationPrior` where ``prior`` is not None."""
    rng = np.random.default_rng([config.seed, step])
    chosen = rng.choice(len(groups), size=config.batch_groups, replace=len(groups) < config.batch_groups)
    m = int(rng.integers(config.min_context, config.max_context + 1))
    t = int(rng.integers(config.min_target, config.max_target + 1))
    episodes = []
    for gi in chosen:
        answered = sorted(survey.answers[groups[gi]])
        order = rng.permutation(len(answered))
        m_g = min(m, len(answered) - 1)
        ids = [answered[i] for i in order[:m_g + t]]
        pair = lambda q: (emb[q], survey.answers[groups[gi]][q])  # noqa: E731
        episode = ([pair(q) for q in ids[:m_g]], [pair(q) for q in ids[m_g:]])
        episodes.append(episode + (prior.episode(groups[gi], ids[:m_g], ids[m_g:]),) if prior is not None else episode)
    return episodes


def split(survey: Survey, config: GpoConfig) -> tuple[list[str], list[str]]:
    from pluralign.train.gpo.data import split_groups

    groups = eligible_groups(survey, config.min_questions)
    if config.holdout_conversations:
        held = [g for g in groups if survey.meta.get(g, {}).get("conversation") in config.holdout_conversations]
        train = [g for g in groups if g not in set(held)]
    else:
        train, held = split_groups(groups, config.train_fraction, config.seed)
    if not train:
        raise InputError(f"no training groups with at least {config.min_questions} answered questions",
                         field="min_questions")
    return train, held


def resume_state(config: GpoConfig) -> dict | None:
    """The checkpoint in ``config.output_dir`` (None if there is none); refuses one from a different config."""
    path = Path(config.output_dir) / "checkpoint.pt"
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    differ = config_differences(state["config"], config)
    if differ:
        raise InputError(f"the run in {config.output_dir} was started with a different config (fields: "
                         f"{', '.join(differ)}); use another output_dir or the same settings", path=str(path))
    return state


def _save(path: Path, state: dict) -> None:
    from pluralign.io import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def meta_train(config: GpoConfig, survey: Survey, emb: dict[str, np.ndarray], *, embedder_id: str = "",
               progress: bool = True, stop_after: int | None = None) -> dict:
    """Meta-train (or resume) in ``config.output_dir``; returns the result (also written to result.json).

    stop_after: return after this many steps (counting from 0), leaving the checkpoint — for tests of resume.
    """
    from pluralign.progress import progress_bar

    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_groups, held_groups = split(survey, config)
    dim_x = next(iter(emb.values())).shape[1]
    prior = prior_for(config, survey, train_groups)
    torch.manual_seed(config.seed)
    n_reference = len(prior.reference) if prior else 0
    model = GPO(dim_x, **config.model_kwargs(), n_reference=n_reference)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
    step, curve = 0, []
    ckpt_path = out / "checkpoint.pt"
    state = resume_state(config)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, curve = state["step"], list(state["curve"])

    def state_dict() -> dict:
        return dict(config=config.model_dump(), model=model.state_dict(), optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(), step=step, curve=curve, dim_x=dim_x, embedder=embedder_id,
                    n_reference=n_reference,
                    train_groups=train_groups, heldout_groups=held_groups, data=survey.name)

    start, cpu_start = time.perf_counter(), time.process_time()
    model.train()
    total = config.steps if stop_after is None else min(config.steps, stop_after)
    bar = progress_bar("gpo meta-training", config.steps) if progress else nullcontext(lambda k=1: None)
    with bar as advance:
        advance(step)
        while step < total:
            torch.manual_seed(config.seed * 1_000_003 + step)  # dropout draws, reproducible on resume
            batch = pack(sample_batch(survey, emb, train_groups, config, step, prior), dim_x)
            probs, log_std = model(batch["x"], batch["y"], batch["is_target"], batch["question"], batch["pad"],
                                   batch["prior"])
            loss = gpo_loss(probs, log_std, batch["y"], batch["is_target"], batch["pad"], batch["question"],
                            config.loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            curve.append(loss.item())
            step += 1
            advance(1)
            if step % config.save_every == 0 or step == config.steps:
                _save(ckpt_path, state_dict())
    result = dict(steps=step, final_loss=float(np.mean(curve[-config.log_every:])) if curve else None,
                  train_groups=len(train_groups), heldout_groups=len(held_groups),
                  seconds=round(time.perf_counter() - start, 1),  # wall, this invocation (a resume: its part)
                  cpu_seconds=round(time.process_time() - cpu_start, 1),  # what an idle machine would take
                  output_dir=str(out))
    if step == config.steps:
        _save(out / "gpo.pt", state_dict())
        from pluralign.io import atomic_path, write_jsonl

        write_jsonl(out / "metrics.jsonl", [{"step": i + 1, "loss": v} for i, v in enumerate(curve)
                                            if (i + 1) % config.log_every == 0 or i + 1 == len(curve)])
        with atomic_path(out / "result.json") as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def train_gpo(config: GpoConfig) -> dict:
    """Read ``config.data``, embed it (cached), meta-train: the runner behind ``pluralign train gpo``."""
    from pluralign.progress import progress_bar
    from pluralign.train.gpo.data import read_survey
    from pluralign.train.gpo.embeddings import cache_for, embed_survey

    if not config.data_path:
        raise InputError("data_path is required (an OpinionQA folder, a GlobalOpinionQA JSONL, Polis exports)",
                         field="data_path")
    resume_state(config)  # a clashing run fails before anything is read or embedded
    survey = read_survey(config.data, config.data_path)
    cache = cache_for(config.embedder, config.cache_dir)
    n_texts = sum(len(q.options) for q in survey.questions.values())
    with progress_bar("embedding options", n_texts) as advance:
        emb = embed_survey(survey, cache, progress=advance)
    return meta_train(config, survey, emb, embedder_id=cache.identity)
