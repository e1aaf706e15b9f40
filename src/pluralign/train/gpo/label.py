"""Label response pairs for one group with a trained GPO: which response would the group pick?

Each pair becomes one target question whose two options are the responses (x = the embedding of "prompt +
response", as for survey options); the group's context is m of its answered survey questions. GPO's predicted
share for response A is the soft label ``p_a`` of a :class:`~pluralign.records.Comparison`, whose provenance
names the group, the checkpoint, the embedder and the context questions, so a DPO run on these labels targets
that one group and can say so. The labels mean something only where the pairs look like the questions GPO was
meta-trained on: a prompt that asks for a stance and responses that take one (see docs/gpo.md). A model
meta-trained with ``prior="population"`` also reads each pair's ``population``: the shares of the whole
population that would pick A and B (``[0.5, 0.5]`` where they are unknown: then GPO's context alone decides).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.errors import InputError
from pluralign.records import Comparison, Provenance
from pluralign.train.gpo.data import Question, Survey
from pluralign.train.gpo.embeddings import EmbeddingCache, option_text
from pluralign.train.gpo.predict import GpoPredictor


def read_pairs(path: str | Path) -> list[dict]:
    """JSONL rows ``{prompt, response_a, response_b}`` (text) and optionally ``population`` (two shares), one
    pair each; extra fields are kept as ``id``. Each row's ``line`` is its line number."""
    from pluralign.io import iter_jsonl

    rows = []
    for line, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=str(path), line=line)
        for name in ("prompt", "response_a", "response_b"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise InputError("missing or not text", path=str(path), line=line, field=name)
        if row["response_a"] == row["response_b"]:
            raise InputError("the two responses are the same", path=str(path), line=line, field="response_b")
        if "population" in row:
            share = row["population"]
            if not isinstance(share, list) or len(share) != 2 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in share) \
                    or not 0.99 <= sum(share) <= 1.01:
                raise InputError(f"expected two shares in [0, 1] summing to 1, got {share!r}"[:200], path=str(path),
                                 line=line, field="population")
        rows.append(dict(row, line=line))
    if not rows:
        raise InputError("no pairs", path=str(path))
    return rows


def group_context(survey: Survey, group: str, emb: dict[str, np.ndarray], m: int, seed: int):
    """m of the group's answered questions (seeded), as GPO context; and their ids."""
    if group not in survey.answers:
        near = ", ".join(survey.groups[:8])
        raise InputError(f"unknown group {group!r} (groups include: {near} ...)", field="group")
    answered = sorted(survey.answers[group])
    ids = [answered[i] for i in np.random.default_rng(seed).permutation(len(answered))[:m]]
    return [(emb[q], survey.answers[group][q]) for q in ids], ids


def label_pairs(predictor: GpoPredictor, cache: EmbeddingCache, context, context_ids: list[str], group: str,
                pairs: list[dict], context_prior=None, source: str | Path = "") -> list[Comparison]:
    """context_prior: the population's distribution of each context question (a model with the prior)."""
    target_prior = None
    if predictor.needs_prior:
        from pluralign.train.gpo.prior import smooth

        for pair in pairs:
            if "population" not in pair:
                raise InputError("this GPO model starts from the population's shares: give the pair's population "
                                 "[share for a, share for b] ([0.5, 0.5] where unknown)", path=str(source),
                                 line=pair.get("line"), field="population")
        # the training groups' departures on a new pair are unknown: 0, as where a group did not answer
        target_prior = [np.column_stack([smooth(p["population"])] + [np.zeros(2)] * predictor.model.n_reference)
                        for p in pairs]
    texts = [option_text(Question("", p["prompt"], []), p[k]) for p in pairs for k in ("response_a", "response_b")]
    x = cache.embed(texts)
    if x.shape[1] != predictor.dim_x:
        raise InputError(f"embeddings have {x.shape[1]} dimensions but the GPO model reads {predictor.dim_x}; "
                         "use the embedder it was trained with", field="embedder")
    preds = predictor.predict(context, [x[2 * i:2 * i + 2] for i in range(len(pairs))], context_prior, target_prior)
    out = []
    for pair, p in zip(pairs, preds):
        p_a = float(np.clip(p[0], 0.0, 1.0))
        out.append(Comparison(
            prompt=pair["prompt"], response_a=pair["response_a"], response_b=pair["response_b"],
            label="a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie", p_a=p_a, annotator=f"gpo:{group}",
            provenance=Provenance(rule="gpo-label", model=predictor.source, source=pair.get("id"),
                                  details={"group": group, "embedder": cache.identity,
                                           "context_questions": context_ids})))
    return out
