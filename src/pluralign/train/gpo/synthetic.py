"""A task with a known answer: each group prefers options by a hidden linear rule on their embeddings.

Group g's weight vector is a random mix of two hidden directions, w_g = a_g u + b_g v, and its distribution over
a question's options is softmax(sharpness · x_o · w_g). The population's distribution (the groups' mean) cannot
tell groups apart; a few answers reveal (a_g, b_g), so a model that reads its context must beat it.
"""

from __future__ import annotations

import numpy as np

from pluralign.train.gpo.data import Question, Survey


def hidden_rule_survey(n_groups: int = 60, n_questions: int = 60, n_options: int = 3, dim: int = 8,
                       sharpness: float = 3.0, seed: int = 0) -> tuple[Survey, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(2, dim))
    emb = {f"q{i}": rng.normal(size=(n_options, dim)).astype(np.float32) / np.sqrt(dim)
           for i in range(n_questions)}
    questions = {q: Question(q, q, [f"o{j}" for j in range(n_options)]) for q in emb}
    answers = {}
    for g in range(n_groups):
        a, b = rng.normal(size=2)
        w = a * u + b * v
        answers[f"g{g}"] = {}
        for q, x in emb.items():
            logits = sharpness * x @ w
            p = np.exp(logits - logits.max())
            answers[f"g{g}"][q] = p / p.sum()
    population = {q: np.mean([answers[g][q] for g in answers], axis=0) for q in emb}
    return Survey("synthetic", questions, answers, population), emb
