"""GPO's model and meta-training: the attention mask, learning a hidden linear rule, checkpoint and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pluralign.errors import InputError
from pluralign.train.gpo.baselines import nearest_groups
from pluralign.train.gpo.meta import GpoConfig, meta_train
from pluralign.train.gpo.model import GPO
from pluralign.train.gpo.predict import GpoPredictor
from pluralign.train.gpo.prior import prior_for, smooth
from pluralign.train.gpo.synthetic import hidden_rule_survey

TINY = dict(d_model=16, layers=2, heads=2, dim_feedforward=32, emb_depth=2)


def _episode(rng, n_ctx=4, n_tgt=3, k=3, dim=6):
    """(context, targets, context priors, target priors) with random embeddings, answers and priors."""
    context = [(rng.normal(size=(k, dim)).astype(np.float32), rng.dirichlet(np.ones(k))) for _ in range(n_ctx)]
    targets = [rng.normal(size=(k, dim)).astype(np.float32) for _ in range(n_tgt)]
    return context, targets, [rng.dirichlet(np.ones(k)) for _ in context], [rng.dirichlet(np.ones(k)) for _ in targets]


def _predictor(dim=6, seed=0, prior="none", trained_delta=True):
    """A tiny untrained model; ``trained_delta``: the delta head drawn at random, as after training (it starts
    at zero under the population prior, where the output would not depend on the context)."""
    torch.manual_seed(seed)
    config = GpoConfig(**TINY, prior=prior)
    model = GPO(dim, **config.model_kwargs())
    if trained_delta:
        model.predictor[-1].reset_parameters()
    return GpoPredictor(model, dim, config)


PRIORS = pytest.mark.parametrize("prior", ["none", "population"])


@PRIORS
def test_a_target_input_changes_only_its_own_prediction(prior):
    rng = np.random.default_rng(0)
    model = _predictor(prior=prior)
    context, targets, cp, tp = _episode(rng)
    before = model.predict(context, targets, cp, tp)
    changed = [targets[0] + 1.0] + targets[1:]
    after = model.predict(context, changed, cp, tp)
    assert not np.allclose(before[0], after[0], atol=1e-4)  # the changed target itself moves
    for b, a in zip(before[1:], after[1:]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert all(abs(p.sum() - 1) < 1e-5 for p in after)  # each question's options sum to one
    if prior == "population":  # a target's prior moves only its own prediction, too
        moved = model.predict(context, targets, cp, [tp[1]] + tp[1:])
        assert not np.allclose(before[0], moved[0], atol=1e-4)
        for b, a in zip(before[1:], moved[1:]):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@PRIORS
def test_context_answers_matter_and_target_answers_are_never_read(prior):
    rng = np.random.default_rng(1)
    model = _predictor(prior=prior)
    context, targets, cp, tp = _episode(rng)
    base = model.predict(context, targets, cp, tp)
    flipped = [(x, y[::-1].copy()) for x, y in context]
    assert not np.allclose(base[0], model.predict(flipped, targets, cp, tp)[0], atol=1e-4)
    with_answers = model.predict(context, [(t, np.full(len(t), 0.9)) for t in targets], cp, tp)
    for b, a in zip(base, with_answers):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_chunked_prediction_equals_all_at_once():
    rng = np.random.default_rng(2)
    model = _predictor(prior="population")
    context, targets, cp, tp = _episode(rng, n_tgt=7)
    whole = model.predict(context, targets, cp, tp, chunk=100)
    parts = model.predict(context, targets, cp, tp, chunk=2)
    for a, b in zip(whole, parts):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_an_untrained_residual_model_is_the_population_and_needs_the_prior():
    rng = np.random.default_rng(3)
    model = _predictor(prior="population", trained_delta=False)
    context, targets, cp, tp = _episode(rng)
    for p, q in zip(model.predict(context, targets, cp, tp), tp):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-6)  # delta = 0: exactly the prior
    with pytest.raises(InputError, match="prior='population'"):
        model.predict(context, targets)


def _cross_entropy(p, y):
    return float(-(y * np.log(np.clip(p, 1e-12, 1))).sum())


@pytest.mark.parametrize("prior, reference_groups", [("none", False), ("population", False), ("population", True),
                                                     ("nearest_groups", False)])
def test_learns_a_hidden_linear_rule_and_beats_the_population(tmp_path, prior, reference_groups):
    survey, emb = hidden_rule_survey(n_groups=60, n_questions=60, seed=0)
    cfg = GpoConfig(output_dir=str(tmp_path), steps=300, lr=1e-3, batch_groups=16, min_context=5, max_context=10,
                    min_target=5, max_target=10, min_questions=10, save_every=100, prior=prior,
                    reference_groups=reference_groups, **TINY)
    meta_train(cfg, survey, emb, progress=False)
    state = torch.load(tmp_path / "gpo.pt", weights_only=False)
    curve = state["curve"]
    if prior != "nearest_groups":  # (that prior starts near the answer: its curve has little to fall)
        assert np.mean(curve[-30:]) < np.mean(curve[:30]) - 0.2
    model = GpoPredictor.load(tmp_path)
    prior_of = prior_for(cfg, survey, state["train_groups"])

    def predict(g, context, targets):
        priors = prior_of.episode(g, context, targets) if prior_of else None
        return model.predict([(emb[q], survey.answers[g][q]) for q in context], [emb[q] for q in targets],
                             *((priors[:len(context)], priors[len(context):]) if priors else (None, None)))

    gpo, pop = [], []
    for g in state["heldout_groups"]:
        ids = sorted(survey.answers[g])
        gpo += [_cross_entropy(p, survey.answers[g][q]) for p, q in zip(predict(g, ids[:10], ids[10:]), ids[10:])]
        pop += [_cross_entropy(survey.population[q], survey.answers[g][q]) for q in ids[10:]]
    assert np.mean(gpo) < np.mean(pop) - 0.1, (np.mean(gpo), np.mean(pop))
    if prior != "none":  # the same trained model with its delta forced to zero is the prior's baseline
        head = model.model.predictor[-1]
        with torch.no_grad():
            head.weight[0].zero_()
            head.bias[0].zero_()
        g = state["heldout_groups"][0]
        ids = sorted(survey.answers[g])
        baseline = [survey.population[q] for q in ids[10:]] if prior == "population" else \
            nearest_groups(survey, g, ids[:10], ids[10:], state["train_groups"])
        for p, b in zip(predict(g, ids[:10], ids[10:]), baseline):
            np.testing.assert_allclose(p, b, rtol=0, atol=2e-3)


RESUME = dict(steps=150, save_every=10, batch_groups=8, min_context=3, max_context=8, min_target=3, max_target=6,
              min_questions=10, lr=1e-3, **TINY)

SCRIPT = textwrap.dedent("""
    import sys
    from pluralign.train.gpo.meta import GpoConfig, meta_train
    from pluralign.train.gpo.synthetic import hidden_rule_survey
    survey, emb = hidden_rule_survey(n_groups=30, n_questions=30, seed=3)
    meta_train(GpoConfig(output_dir=sys.argv[1], **{config}), survey, emb, progress=False)
""")


def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_curve(tmp_path):
    survey, emb = hidden_rule_survey(n_groups=30, n_questions=30, seed=3)
    whole = meta_train(GpoConfig(output_dir=str(tmp_path / "whole"), **RESUME), survey, emb, progress=False)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(config=repr(RESUME)))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed)], env={**os.environ})
    deadline = time.time() + 300  # generous: a loaded machine can take long to import torch
    while not (killed / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (killed / "checkpoint.pt").exists() and not (killed / "gpo.pt").exists(), "not killed mid-run"
    interrupted_at = torch.load(killed / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < interrupted_at < RESUME["steps"]
    resumed = meta_train(GpoConfig(output_dir=str(killed), **RESUME), survey, emb, progress=False)
    assert resumed["steps"] == whole["steps"]
    a = torch.load(tmp_path / "whole" / "gpo.pt", weights_only=False)["curve"]
    b = torch.load(killed / "gpo.pt", weights_only=False)["curve"]
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


def test_resume_refuses_a_different_config_naming_the_fields(tmp_path):
    survey, emb = hidden_rule_survey(n_groups=20, n_questions=20, seed=4)
    small = dict(RESUME, steps=4, save_every=2)
    meta_train(GpoConfig(output_dir=str(tmp_path), **dict(small, steps=20)), survey, emb, progress=False,
               stop_after=2)
    with pytest.raises(InputError, match=r"fields: lr, steps"):
        meta_train(GpoConfig(output_dir=str(tmp_path), **dict(small, lr=5e-4)), survey, emb, progress=False)


def test_config_ranges_are_declared():
    with pytest.raises(ValueError, match="min_context"):
        GpoConfig(min_context=30, max_context=5)
    with pytest.raises(ValueError):
        GpoConfig(train_fraction=1.5)
    with pytest.raises(ValueError):
        GpoConfig(loss="mse")
    assert "share of groups" in GpoConfig.model_fields["train_fraction"].description


def test_loading_something_else_is_one_clear_error(tmp_path):
    (tmp_path / "gpo.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a GPO checkpoint"):
        GpoPredictor.load(tmp_path)
    with pytest.raises(InputError, match="no GPO model"):
        GpoPredictor.load(Path(tmp_path) / "missing")


def test_the_prior_is_the_training_groups_mean_or_the_other_participants():
    from pluralign.train.gpo.data import Question, Survey
    from pluralign.train.gpo.prior import PopulationPrior, prior_pool

    q = {"q": Question("q", "q", ["a", "b"])}
    answers = {"A": {"q": np.array([1.0, 0.0])}, "B": {"q": np.array([0.0, 1.0])}, "C": {"q": np.array([0.5, 0.5])},
               "H": {"q": np.array([0.9, 0.1])}}
    survey = Survey("globalopinionqa", q, answers)
    prior = PopulationPrior(survey, prior_pool(survey, ["A", "B", "C"]))
    np.testing.assert_allclose(prior("H", "q"), smooth([0.5, 0.5]))  # held out: the training groups' mean
    np.testing.assert_allclose(prior("A", "q"), smooth([0.5, 0.5]))  # a training group reads the same mean
    assert prior("H", "q").min() > 0 and prior("B", "q").sum() == pytest.approx(1.0)
    fixed = PopulationPrior(Survey("opinionqa", q, answers, {"q": np.array([0.0, 1.0])}), ["A"])
    np.testing.assert_allclose(fixed("A", "q"), smooth([0.0, 1.0]))  # the source's own population wins
    polis = Survey("polis", q, answers)
    assert set(prior_pool(polis, ["A"])) == {"A", "B", "C", "H"}  # Polis: every other participant
    np.testing.assert_allclose(PopulationPrior(polis, prior_pool(polis, []))("A", "q"), smooth([1.4 / 3, 1.6 / 3]))
    refs = PopulationPrior(survey, ["A", "B", "C"], reference=["A", "B"])
    mean = smooth([0.5, 0.5])
    np.testing.assert_allclose(refs("A", "q"), np.column_stack([mean, [0, 0], [0 - mean[0], 1 - mean[1]]]))
    assert refs("H", "q").shape == (2, 3) and np.abs(refs("A", "q")[:, 1]).max() == 0  # its own column: 0
    with pytest.raises(ValueError, match="reference_groups"):
        GpoConfig(data="polis", reference_groups=True)
