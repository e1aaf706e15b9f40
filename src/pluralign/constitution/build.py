"""Building a constitution from the statements people chose (Collective Constitutional AI's input transformation).

Steps, each a small function:
  1. :func:`select` — keep statements by group-informed consensus: ``top_k`` highest, and/or consensus
     >= ``min_consensus``, and/or every opinion group agreeing more than ``min_group_agree`` (the fraction
     A_g / S_g of each group's voters who agreed; CCAI kept statements with > 50% agreement in every group).
  2. :func:`merge_near_duplicates` — statements whose all-MiniLM-L6-v2 embeddings have cosine >= ``merge_threshold``
     are merged (single linkage); the highest-consensus one speaks for the merged set, and every member is listed.
  3. order by group-informed consensus, highest first (a principle's priority is how broadly it is supported);
  4. :func:`to_principles` — each statement becomes a Principle through the templates, or through an LM rewrite
     into a short rule first (``lm``), keeping provenance: statement ids, consensus figures, group agree rates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pydantic import Field

from pluralign.aggregate.opinion import OpinionResult
from pluralign.config import Config
from pluralign.constitution.templates import PrincipleTemplates
from pluralign.errors import InputError
from pluralign.records import Constitution, Principle, Provenance

# Few-shot and completed after "The AI should" as raw text: with the 135M default model this keeps the rule's form
# far better than a chat instruction, which it answered with free prose.
REWRITE_PROMPT = """Turn each statement from a public consultation into one rule for an AI assistant. Keep its meaning.

Statement: Public transport should be free for students.
Rule: The AI should support making public transport free for students.

Statement: People deserve to know how decisions about them are made.
Rule: The AI should explain how decisions that affect people are made.

Statement: {statement}
Rule: The AI should"""


class BuildConfig(Config):
    """How statements are chosen and turned into principles (defaults follow CCAI's spirit, on a small scale)."""

    top_k: int | None = Field(10, ge=1, le=10**6, description="keep at most this many statements (None: all)")
    min_consensus: float | None = Field(None, ge=0.0, le=1.0, description="group-informed consensus threshold")
    min_group_agree: float | None = Field(0.5, ge=0.0, lt=1.0, description="every group's agree share more "
                                          "than this (CCAI: more than 50%)")
    merge_threshold: float | None = Field(0.8, ge=-1.0, le=1.0, description="embedding cosine at which statements "
                                          "merge (None: no merging)")
    templates: PrincipleTemplates = Field(default_factory=PrincipleTemplates, description="the {principle} "
                                          "templates of critique, revision and choice prompts")


@dataclass
class Candidate:
    """A selected statement (or a merged set): its id, text, consensus, groups' agree fractions, merged ids."""

    statement: str
    text: str
    consensus: float
    group_agree: list[float]
    merged: list[str] = field(default_factory=list)


def group_agree_fraction(result: OpinionResult) -> np.ndarray:
    """(n_groups, n_statements) A_g / S_g: the share of each group's voters who agreed (0 where none voted)."""
    agree, seen = result.group_counts["A"], result.group_counts["S"]
    return np.divide(agree, seen, out=np.zeros_like(agree), where=seen > 0)


def select(result: OpinionResult, texts: dict[str, str], config: BuildConfig) -> list[Candidate]:
    """Statements passing every given criterion, best consensus first; moderated-out ones never qualify."""
    m = result.matrix
    ok = np.ones(m.shape[1], dtype=bool)
    ok[m.mod_out] = False
    ok &= np.array([bool(texts.get(s, "").strip()) for s in m.statements])
    fractions = group_agree_fraction(result)
    if config.min_consensus is not None:
        ok &= result.gac >= config.min_consensus
    if config.min_group_agree is not None:
        ok &= (fractions > config.min_group_agree).all(axis=0)  # strictly more, as CCAI's '> 50%'
    chosen = np.flatnonzero(ok)
    chosen = chosen[np.argsort(-result.gac[chosen], kind="stable")]
    if config.top_k is not None:
        chosen = chosen[:config.top_k]
    return [Candidate(statement=m.statements[j], text=texts[m.statements[j]].strip(), consensus=float(result.gac[j]),
                      group_agree=fractions[:, j].round(4).tolist(), merged=[m.statements[j]]) for j in chosen]


def merge_near_duplicates(candidates: list[Candidate], threshold: float, embeddings: np.ndarray | None = None):
    """Merge candidates whose embedding cosine >= threshold (single linkage). Input is best-first, so each merged
    set keeps its best member's text. Returns (kept candidates, [(kept id, [merged ids], max cosine)])."""
    if len(candidates) < 2:
        return candidates, []
    if embeddings is None:
        from pluralign.embed import embed

        embeddings = embed([c.text for c in candidates])
    from scipy.sparse.csgraph import connected_components

    cosine = embeddings @ embeddings.T
    _, component = connected_components(cosine >= threshold, directed=False)
    kept, merges = [], []
    for comp in dict.fromkeys(component):  # in order of each set's best member
        members = np.flatnonzero(component == comp)
        head = candidates[members[0]]
        head.merged = [candidates[i].statement for i in members]
        kept.append(head)
        if len(members) > 1:
            pair = cosine[np.ix_(members, members)] - np.eye(len(members))
            merges.append((head.statement, head.merged, float(pair.max())))
    return kept, merges


def rewrite_with_lm(texts: list[str], lm, max_new_tokens: int = 40) -> list[str]:
    """Ask a language model to restate each statement as "The AI should ..."; keep the statement itself when the
    model returns fewer than 3 words."""
    prompts = [REWRITE_PROMPT.format(statement=" ".join(t.split())) for t in texts]
    outputs = lm.generate(prompts, n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=0,
                          repetition_penalty=1.1)
    rules = []
    for text, out in zip(texts, outputs):
        words = (out[0] if out else "").strip().split("\n")[0].split()
        rules.append("The AI should " + " ".join(words) if len(words) >= 3 else text)
    return rules


def to_principles(candidates: list[Candidate], config: BuildConfig, lm=None, source: str | None = None) -> list[Principle]:
    """Candidates -> Principles (templates, or an LM rewrite first), each with its provenance."""
    texts = [c.text for c in candidates]
    rules = rewrite_with_lm(texts, lm) if lm is not None else texts
    principles = []
    for i, (cand, rule) in enumerate(zip(candidates, rules), 1):
        details = {k: v for k, v in asdict(cand).items() if k != "text"}
        details["statement_text"] = cand.text
        principles.append(Principle(
            # Polis ids are bare numbers ("12" -> "p1-s12"); other ids are used as they are.
            id=f"p{i}-s{cand.statement}" if cand.statement.isdigit() else f"p{i}-{cand.statement}", text=rule, **config.templates.fill(rule),
            provenance=Provenance(rule="group-informed-consensus", source=source, details=details,
                                  model=getattr(lm, "name", None) if lm is not None else None),
        ))
    return principles


def build(result: OpinionResult, texts: dict[str, str], config: BuildConfig | None = None, *, lm=None,
          name: str = "people's constitution", source: str | None = None, embeddings_fn=None):
    """Opinion analysis + statement texts -> (Constitution, report dict listing selected and merged statements).

    embeddings_fn: texts -> unit vectors (default :func:`pluralign.embed.embed`).
    Raises InputError when no statement meets the criteria.
    """
    config = config or BuildConfig()
    candidates = select(result, texts, config)
    if not candidates:
        raise InputError("no statement meets the selection criteria (lower --min-group-agree or --min-consensus)")
    kept, merges = candidates, []
    if config.merge_threshold is not None:
        vectors = embeddings_fn([c.text for c in candidates]) if embeddings_fn and len(candidates) > 1 else None
        kept, merges = merge_near_duplicates(candidates, config.merge_threshold, vectors)
    principles = to_principles(kept, config, lm=lm, source=source)
    participants = [result.matrix.participants[i] for i in result.clustering.in_conv]
    constitution = Constitution(name=name, principles=principles, provenance=Provenance(
        participants=participants, rule="group-informed-consensus", source=source,
        model=getattr(lm, "name", None) if lm is not None else None,
        details={"n_groups": result.n_groups, "top_k": config.top_k, "min_consensus": config.min_consensus,
                 "min_group_agree": config.min_group_agree, "merge_threshold": config.merge_threshold},
    ))
    report = {"selected": [asdict(c) for c in candidates],
              "merged": [{"kept": k, "members": m, "max_cosine": round(c, 4)} for k, m, c in merges]}
    return constitution, report
