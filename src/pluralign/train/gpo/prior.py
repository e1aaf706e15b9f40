"""The population prior GPO can start from: ``GpoConfig(prior="population")``, an extension beyond the paper.

Zhao et al. (2024, sec. 3) predict a group's shares from the embeddings and the context alone, so the model
must first learn what the population answers to every question and only then how a group departs from it.
The population's distribution of each question is known (it is itself a baseline), so with this prior every
point also reads the population's share p_pop of its option, and the model's logit is a residual on it:
logit = log p_pop + delta (:mod:`.model`). delta = 0 is the population baseline exactly; what GPO learns from
the context is how this group departs from the population.

Where p_pop comes from — never from the group's own answer to that question:

- the source's own population distribution (OpinionQA's ``NONE`` file: the whole surveyed population);
- otherwise the mean over a pool of groups. For GlobalOpinionQA the pool is the training countries, and every
  country, training or held out, reads the same mean over all of them (the population baseline). Not a
  leave-one-out mean for the training countries: from it and the per-question sum it can memorise, a model
  recovers a training country's own answer (mean·(n−1) = sum − answer), learns to rely on that, and fails on
  held-out countries, whose prior hides nothing (measured: docs/gpo.md). For Polis the pool is every
  participant of the conversation and each one reads the others' vote shares (leave-one-out: the
  statement-majority baseline's information), the same rule for training and held-out participants.

With ``reference_groups`` (OpinionQA and GlobalOpinionQA), a point also reads how each training group's share
of its option departs from the population's (a column per training group; 0 where that group did not answer
the question, and 0 in the group's own column when a training group is the one being predicted). The
context then tells GPO which training groups this group answers like, and the targets' columns say how those
groups departed from the population on the target question: the information a nearest-training-groups
predictor uses (``benchmarks/bench_gpo.py``'s ``nearest_groups`` baseline), read by the transformer instead of
a fixed rule. These are training data, as the population's mean over training groups is.

The shares are mixed with a little of the uniform distribution (``SMOOTHING``) so that log p_pop is finite
where no one in the pool chose an option (frequent for Polis's "pass").
"""

from __future__ import annotations

import numpy as np

from pluralign.train.gpo.data import Survey

SMOOTHING = 1e-3


def smooth(p) -> np.ndarray:
    """A distribution mixed with ``SMOOTHING`` of the uniform one (so its log is finite)."""
    p = np.asarray(p, float)
    return (1.0 - SMOOTHING) * p / p.sum() + SMOOTHING / len(p)


def prior_pool(survey: Survey, train_groups: list[str]) -> list[str]:
    """The groups whose mean is the population where the source gives none (see the module docstring)."""
    return survey.groups if survey.name == "polis" else list(train_groups)


def leave_one_out(survey: Survey) -> bool:
    """Whether a group of the pool reads the mean of the others (Polis) or of all (see the module docstring)."""
    return survey.name == "polis"


def prior_for(config, survey: Survey, train_groups: list[str]) -> "PopulationPrior | None":
    """The prior a run of ``config`` (a :class:`~.meta.GpoConfig`) trained on ``train_groups`` reads; None
    for ``prior="none"``."""
    if config.prior == "none":
        return None
    return PopulationPrior(survey, prior_pool(survey, train_groups),
                           train_groups if config.reference_groups else None,
                           train_groups if config.prior == "nearest_groups" else None)


class PopulationPrior:
    """``prior(group, qid)``: the population's distribution over ``qid``'s options, as ``group`` may see it;
    with ``reference`` groups, a (k, 1 + len(reference)) array: that distribution, then each reference group's
    share minus it."""

    def __init__(self, survey: Survey, pool: list[str], reference: list[str] | None = None,
                 neighbours: list[str] | None = None):
        self.survey = survey
        self.reference = list(reference or [])
        self.neighbours = list(neighbours or [])
        self.fixed = survey.population
        self.answers = survey.answers
        self.questions = survey.questions
        self.pool = set(pool)
        self.leave_one_out = leave_one_out(survey)
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}
        for g in self.pool:
            for q, y in survey.answers[g].items():
                self.sums[q] = self.sums.get(q, 0.0) + y
                self.counts[q] = self.counts.get(q, 0) + 1

    def episode(self, group: str, context: list[str], targets: list[str]) -> list[np.ndarray]:
        """The prior of each context question, then of each target, for one episode of ``group``. With
        ``neighbours``, column 0 is the nearest-groups prediction from the group's answers to ``context``
        (:func:`~.baselines.nearest_groups` over the neighbours other than the group; where one did not
        answer, the same population every group reads) instead of the population's."""
        out = [self(group, q) for q in context + targets]
        if not self.neighbours:
            return out
        from pluralign.train.gpo.baselines import nearest_groups

        others = [h for h in self.neighbours if h != group]
        for row, p in zip(out, nearest_groups(self.survey, group, context, context + targets, others,
                                              population_groups=sorted(self.pool))):
            row.reshape(len(p), -1)[:, 0] = smooth(p)
        return out

    def __call__(self, group: str, qid: str) -> np.ndarray:
        p = self.population(group, qid)
        if not self.reference:
            return p
        refs = [self.answers[h][qid] - p if h != group and qid in self.answers[h] else np.zeros_like(p)
                for h in self.reference]
        return np.column_stack([p] + refs)

    def population(self, group: str, qid: str) -> np.ndarray:
        k = len(self.questions[qid].options)
        if qid in self.fixed:
            p = self.fixed[qid]
        else:
            total, n = self.sums.get(qid, np.zeros(k)), self.counts.get(qid, 0)
            if self.leave_one_out and group in self.pool and qid in self.answers.get(group, {}):
                total, n = total - self.answers[group][qid], n - 1
            p = np.clip(total / n, 0.0, None) if n > 0 else np.full(k, 1.0 / k)
        return smooth(p)
