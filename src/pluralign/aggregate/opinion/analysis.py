"""The whole opinion analysis in one call: :func:`analyze` a :class:`VoteMatrix` into an :class:`OpinionResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pluralign.aggregate.opinion import clusters as cl
from pluralign.aggregate.opinion import repness as rp
from pluralign.aggregate.opinion.mathversion import MATH
from pluralign.aggregate.opinion.matrix import VoteMatrix
from pluralign.aggregate.opinion.pca import Projection, project
from pluralign.aggregate.opinion.replay import ReplayConfig
from pluralign.aggregate.opinion.replay import replay as replay_history
from pluralign.errors import InputError


@dataclass
class OpinionResult:
    """Everything :func:`analyze` finds. Arrays are indexed like ``matrix.participants`` / ``matrix.statements``.

    groups: (n_participants,) opinion group, -1 for participants not clustered.
    group_counts: {"A", "D", "P", "S"} each (n_groups, n_statements), over each group's members.
    agree_rate: (n_groups, n_statements) (A + 1) / (S + 2) per group; gac: (n_statements,) their product.
    repness: per group, up to 5 entries {statement (column index), repful_for, p_success, ...}.
    consensus: {"agree": [...], "disagree": [...]}; priority: (n_statements,).
    note: a plain sentence when the result is degenerate (e.g. only one group possible), else "".
    """

    matrix: VoteMatrix
    projection: Projection
    clustering: cl.Clustering
    group_counts: dict[str, np.ndarray]
    agree_rate: np.ndarray
    gac: np.ndarray
    repness: list[list[dict]]
    consensus: dict[str, list[dict]]
    priority: np.ndarray
    note: str = ""
    options: dict = field(default_factory=dict)

    @property
    def groups(self) -> np.ndarray:
        return self.clustering.groups

    @property
    def n_groups(self) -> int:
        return self.clustering.n_groups

    def to_dict(self) -> dict:
        """A JSON-ready summary keyed by participant/statement ids."""
        m = self.matrix
        sid = lambda entries: [{**e, "statement": m.statements[e["statement"]]} for e in entries]  # noqa: E731
        return {
            "n_participants": m.shape[0], "n_statements": m.shape[1], "n_groups": self.n_groups,
            "note": self.note, "options": self.options,
            "in_conv": [m.participants[i] for i in self.clustering.in_conv],
            "groups": {m.participants[i]: int(g) for i, g in enumerate(self.groups) if g >= 0},
            "silhouettes": {str(k): v for k, v in self.clustering.silhouettes.items()},
            "pca": {"center": self.projection.center.tolist(), "comps": self.projection.comps.tolist()},
            "participant_projection": {p: self.projection.participants[i].tolist() for i, p in enumerate(m.participants)},
            "statement_projection": {s: self.projection.statements[j].tolist() for j, s in enumerate(m.statements)},
            "group_aware_consensus": dict(zip(m.statements, self.gac.tolist())),
            "group_agree_rate": {s: self.agree_rate[:, j].tolist() for j, s in enumerate(m.statements)},
            "repness": {str(g): sid(entries) for g, entries in enumerate(self.repness)},
            "consensus": {side: sid(entries) for side, entries in self.consensus.items()},
            "priority": dict(zip(m.statements, self.priority.tolist())),
            "mod_out": [m.statements[j] for j in m.mod_out],
        }


def group_counts(matrix: VoteMatrix, groups: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """{"A", "D", "P", "S"}: (n_groups, n_statements) vote counts of each group's members."""
    per_group = [matrix.counts(np.flatnonzero(groups == g)) for g in range(n_groups)]
    return {key: np.stack([c[key] for c in per_group]) for key in ("A", "D", "P", "S")}


def analyze(matrix: VoteMatrix, *, keep=None, n_groups: int | None = None, max_groups: int = cl.MAX_GROUPS,
            min_votes: int = cl.MIN_VOTES, math: str = "current", init: str = "polis", seed: int = 0,
            pick_max: int = rp.PICK_MAX, replay: ReplayConfig | None = None, progress=None) -> OpinionResult:
    """Polis's opinion analysis of a vote matrix (see the modules pca, clusters, repness for each formula).

    Analysed once, the result is what Polis computes when it loads all the votes at once (a new conversation's
    first update, or its export ``--at-time``, darwin/export.clj:624-632): no random draw, so no seed changes it
    (``seed`` only starts the randomized SVD of matrices above 1M votes, which converges to the same components).
    keep: participant ids always clustered; n_groups: force the number of groups; min_votes: the participant
    filter's threshold (Polis: 7); math: the Polis math version (:mod:`.mathversion`: imputation, filter and
    k-means iterations). init: "polis" (the only start; kept for callers that name it).
    replay: instead, replay the vote log update by update as a live Polis server did (:mod:`.replay`; needs the
    votes' times); ``progress(k)`` then counts updates.
    Raises InputError on an empty matrix; a conversation too small for two groups gives one group and a note.
    """
    n, m = matrix.shape
    if n == 0 or m == 0 or matrix.codes.nnz == 0:
        raise InputError("empty vote matrix: no participants, statements or votes")
    if init != "polis":
        raise InputError(f"init must be 'polis' (groups start from the first k base clusters, as Polis's), got {init!r}")
    if math not in MATH:
        raise InputError(f"math must be one of {', '.join(MATH)}, got {math!r}")
    if replay is not None and (keep is not None or n_groups is not None or min_votes != cl.MIN_VOTES):
        raise InputError("a replay follows the conversation's own history: it takes no keep, n_groups or min_votes")
    keep_rows = None
    if keep is not None:
        index = {p: i for i, p in enumerate(matrix.participants)}
        unknown = [p for p in map(str, keep) if p not in index]
        if unknown:
            raise InputError(f"keep names unknown participant {unknown[0]!r}")
        keep_rows = np.array([index[str(p)] for p in keep], dtype=np.int64)
    if replay is not None:
        projection, clustering = replay_history(matrix, replay, progress)
    else:
        version = MATH[math]
        projection = project(matrix, seed=seed, impute=version.impute)
        votes_cast = np.diff(matrix.codes.indptr)
        voted = np.bincount(matrix.codes.indices, minlength=m) > 0
        if version.count_zeroed:  # the zeroed moderated-out columns counted as votes (mathversion.py)
            votes_cast = np.where(votes_cast > 0, votes_cast + _unvoted_zeroed(matrix, voted), 0)
        clustering = cl.cluster(projection.participants, votes_cast, int(voted.sum()),
                                order=cl.polis_row_order(matrix.codes), ids=matrix.participants, keep=keep_rows,
                                min_votes=min_votes,
                                max_k=max_groups, n_groups=n_groups, base_iters=version.base_iters,
                                group_iters=version.group_iters)
    counts = group_counts(matrix, clustering.groups, clustering.n_groups)
    agree_rate = (counts["A"] + 1.0) / (counts["S"] + 2.0)
    stats = rp.group_stats(counts["A"], counts["D"], counts["S"])
    overall = matrix.counts()
    is_meta = np.zeros(m, dtype=bool)
    is_meta[matrix.meta] = True
    note = ""
    if clustering.n_groups < 2:
        note = (f"only one opinion group: {len(clustering.in_conv)} clustered participants at "
                f"{len(clustering.base_centers)} distinct positions are too few to split")
    return OpinionResult(
        matrix=matrix, projection=projection, clustering=clustering, group_counts=counts, agree_rate=agree_rate,
        gac=rp.group_aware_consensus(counts["A"], counts["S"]),
        repness=rp.representative(stats, matrix.mod_out, pick_max),
        consensus=rp.consensus(overall["A"], overall["D"], overall["S"], matrix.mod_out, pick_max),
        priority=rp.priority(counts["A"].sum(0), counts["P"].sum(0), counts["S"].sum(0), projection.extremity,
                             is_meta),
        note=note, options={"n_groups": n_groups, "max_groups": max_groups, "min_votes": min_votes,
                            "math": replay.math if replay is not None else math, "seed": seed,
                            **({"replay": replay.to_dict()} if replay is not None else {})},
    )


def _unvoted_zeroed(matrix: VoteMatrix, voted: np.ndarray) -> np.ndarray:
    """Per participant, the moderated-out statements (with a vote from anyone) they did not vote on: Polis's
    zeroed matrix holds a 0 there, which the 2017 filter counted."""
    zeroed = matrix.mod_out[voted[matrix.mod_out]]
    own = matrix.codes.count_in_columns(zeroed) if len(zeroed) else 0
    return len(zeroed) - own
