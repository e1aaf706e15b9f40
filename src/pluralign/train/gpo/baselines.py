"""What GPO is compared with, each predicting a group's distribution over a target question's options.

- :func:`uniform`; :func:`population` (the whole population's distribution: OpinionQA's ``NONE``; elsewhere the
  mean over training groups)
- :func:`nearest_groups`: the training groups' answers to the target question, weighted by how closely each
  answered the group's m context questions (a kernel-weighted nearest-neighbour rule, as in collaborative
  filtering); the information GPO's ``reference_groups`` columns carry, read by a fixed rule
- :func:`logistic_per_group`: a logistic regression fitted on one group's m context questions alone, on the
  same option embeddings GPO reads (each option a sample, its share as the weight of "chosen"), its logits
  soft-maxed over each target question's options
- LM baselines read the model's distribution over the option letters through ``option_logprobs``:
  :func:`zero_shot_prompt` (the question alone), :func:`steered_prompt` (answer as the group would, by name),
  :func:`in_context_prompt` (the group's answers to the m context questions, then the question) — as in the
  paper's baselines (Zhao et al. 2024, sec. 4.1; reference ``baselines/eval_basemodel*.py``).
"""

from __future__ import annotations

import string

import numpy as np

from pluralign.train.gpo.data import Question, Survey

LETTERS = string.ascii_uppercase
_ATTRIBUTES = {"CREGION": "region of the country", "AGE": "age", "SEX": "sex", "EDUCATION": "education",
               "INCOME": "income", "POLPARTY": "political party", "POLIDEOLOGY": "political ideology",
               "RACE": "race", "RELIG": "religion"}


def uniform(question: Question) -> np.ndarray:
    return np.full(len(question.options), 1.0 / len(question.options))


def population(survey: Survey, qid: str, train_groups: list[str]) -> np.ndarray:
    if qid in survey.population:
        return survey.population[qid]
    seen = [survey.answers[g][qid] for g in train_groups if qid in survey.answers[g]]
    return np.mean(seen, axis=0) if seen else uniform(survey.questions[qid])


def nearest_groups(survey: Survey, group: str, context: list[str], targets: list[str], train_groups: list[str],
                   temperature: float = 0.05, population_groups: list[str] | None = None) -> list[np.ndarray]:
    """Weights softmax(−d_h / temperature) over training groups h, d_h = the mean total-variation distance
    between h's and the group's answers on the context questions both answered; a training group that
    did not answer a target question counts as the population there (the mean over ``population_groups``,
    default ``train_groups``, where the source gives no population)."""
    pop_groups = train_groups if population_groups is None else population_groups
    distance = []
    for h in train_groups:
        common = [q for q in context if q in survey.answers[h]]
        distance.append(np.mean([0.5 * np.abs(survey.answers[h][q] - survey.answers[group][q]).sum()
                                 for q in common]) if common else np.inf)
    distance = np.asarray(distance)
    if not np.isfinite(distance).any():
        return [population(survey, q, pop_groups) for q in targets]
    w = np.exp(-(distance - distance.min()) / temperature)
    w /= w.sum()
    out = []
    for q in targets:
        fallback = population(survey, q, pop_groups)  # once per question, not once per group
        out.append(sum(wi * survey.answers[h].get(q, fallback) for wi, h in zip(w, train_groups)))
    return out


def logistic_per_group(context, targets, c: float = 1.0) -> list[np.ndarray]:
    """context: list of (x (k, d), y (k,)); targets: list of x (k, d)."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([cx for cx, _ in context])
    y = np.concatenate([cy for _, cy in context])
    features = np.concatenate([x, x])
    labels = np.r_[np.ones(len(x)), np.zeros(len(x))]
    weights = np.r_[y, 1.0 - y]
    model = LogisticRegression(C=c, max_iter=1000).fit(features, labels, sample_weight=weights)
    out = []
    for tx in targets:
        logits = model.decision_function(tx)
        p = np.exp(logits - logits.max())
        out.append(p / p.sum())
    return out


def describe_group(survey_name: str, group: str) -> str:
    """Words for a group, for the steered prompt: "an American whose political party is Republican"."""
    if survey_name == "opinionqa" and ":" in group:
        attribute, value = group.split(":", 1)
        return f"an American whose {_ATTRIBUTES.get(attribute, attribute.lower())} is {value}"
    if survey_name == "globalopinionqa":
        return f"a person from {group}"
    return f"a member of the group '{group}'"


def _choices(question: Question) -> str:
    return "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(question.options))


def multiple_choice(question: Question) -> str:
    return f"Question: {question.text}\nOptions:\n{_choices(question)}\nAnswer with the letter of one option."


def zero_shot_prompt(question: Question) -> list[dict]:
    return [{"role": "user", "content": multiple_choice(question)}]


def steered_prompt(question: Question, who: str) -> list[dict]:
    return [{"role": "user", "content": f"Answer the following question as {who} would.\n\n"
                                        f"{multiple_choice(question)}"}]


def in_context_prompt(question: Question, context: list[tuple[Question, np.ndarray]]) -> list[dict]:
    shown = "\n\n".join(
        f"Question: {q.text}\n" + "\n".join(f"{LETTERS[i]}. {o} ({100 * p:.0f}%)"
                                           for i, (o, p) in enumerate(zip(q.options, dist)))
        for q, dist in context)
    return [{"role": "user", "content": "Here is how one group of people answered some survey questions (the "
                                        f"share choosing each option):\n\n{shown}\n\nHow would the same group "
                                        f"answer this question?\n\n{multiple_choice(question)}"}]


def lm_distributions(lm, prompts: list, questions: list[Question], progress=None) -> list[np.ndarray]:
    """Each prompt's distribution over its question's option letters (``option_logprobs``, normalised).
    Prompts are batched by their number of options, as one call takes one list of options."""
    from pluralign.lm.base import option_distribution

    out: list[np.ndarray | None] = [None] * len(prompts)
    by_k: dict[int, list[int]] = {}
    for i, q in enumerate(questions):
        by_k.setdefault(len(q.options), []).append(i)
    for k, idx in sorted(by_k.items()):
        logprobs = lm.option_logprobs([prompts[i] for i in idx], list(LETTERS[:k]), progress=progress)
        for i, row in zip(idx, option_distribution(logprobs)):
            out[i] = row
    return out
