"""Which Polis math computed an export: the versions of polismath that changed its groups, and how to tell
from the export itself which one last ran on it.

Dated by the commits of compdemocracy/polis that changed the math (math/src/polismath/math/conversation.clj;
before April 2020 the same file lived at src/polismath/math/conversation.clj of the polisMath repository):

- 90b5b9e6 (2017-10-21): missing votes filled with the column mean instead of 0 (the ``:mat`` step, today
  conversation.clj:355-377);
- 30355e11 + acd818c9 (2017-10-31): the participant filter counts votes in the raw matrix, no longer the one
  whose moderated-out columns hold a 0 for everyone (``:user-vote-counts``, conversation.clj:217-225);
- e07aec5a (2017-12-08): the base k-means reads its iteration limit (10; before it was passed as
  ``:cluster-iters``, which ``kmeans`` ignores, so it ran its default 20, clusters.clj:303); the group k-means
  still passes ``:cluster-iters`` (conversation.clj:440), so it runs 20 to this day;
- a2efd9ba (2022-06-29): PCA and base k-means iterations 10 -> 100 (conversation.clj:142-147).
Fields of the math output date it too: ``group-aware-consensus`` since 3bd581fb (2017-11-30),
``comment-priorities`` since 8e8e6318 (2018-01-20).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from pluralign.aggregate.opinion.clusters import GREEDY_N, MIN_VOTES


@dataclass(frozen=True)
class MathVersion:
    """name; since: first day (UTC) of the commit; impute: "zero" or "mean" for missing votes; count_zeroed: the
    participant filter counts the zeroed moderated-out columns as votes; pca_iters / base_iters / group_iters:
    power iterations and k-means iteration limits."""

    name: str
    since: str
    commit: str
    impute: str
    count_zeroed: bool
    pca_iters: int
    base_iters: int
    group_iters: int = 20


HISTORY = [
    MathVersion("2017", "0000-00-00", "before 90b5b9e6", "zero", True, 10, 20),
    MathVersion("2017-10", "2017-10-21", "90b5b9e6", "mean", True, 10, 20),
    MathVersion("2017-11", "2017-10-31", "30355e11", "mean", False, 10, 20),
    MathVersion("2018", "2017-12-08", "e07aec5a", "mean", False, 10, 10),
    MathVersion("current", "2022-06-29", "a2efd9ba", "mean", False, 100, 100),
]
MATH = {v.name: v for v in HISTORY}
FIELD_SINCE = {"comment-priorities": "2018-01-20", "group-aware-consensus": "2017-11-30"}


def day_of(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d")


def version_on(day: str) -> MathVersion:
    """The math in force on ``day`` (YYYY-MM-DD)."""
    return [v for v in HISTORY if v.since <= day][-1]


def needs_zeroed_filter(vote_counts: np.ndarray, clustered: np.ndarray, n_statements: int) -> bool:
    """True when more participants are clustered below the vote threshold than the top-up to 15 admits: only the
    filter that counted zeroed columns as votes clustered them wholesale. vote_counts: real votes per row;
    clustered: row indices the export clusters."""
    return int(np.sum(vote_counts[clustered] < min(MIN_VOTES, n_statements))) > GREEDY_N


def detect(last_vote: float | None, *, math_output: dict | None = None, vote_counts: np.ndarray | None = None,
           clustered: np.ndarray | None = None, n_statements: int = 0) -> tuple[str, str]:
    """(version name, the evidence in words) for an export.

    The math ran after the last vote (seconds) and, in an API dump, after the output's ``lastVoteTimestamp`` /
    ``lastModTimestamp`` and the fields it carries; the version in force on the latest of those days is the
    earliest that can have computed it. A conversation last active before December 2017 may have been recomputed
    later: its clustered set (``vote_counts``, ``clustered``) says whether the zeroed-column filter ran.
    """
    days, said = [], []
    if last_vote is not None:
        days.append(day_of(last_vote))
        said.append(f"last vote {days[-1]}")
    for key in ("lastVoteTimestamp", "lastModTimestamp"):
        if math_output and isinstance(math_output.get(key), (int, float)) and math_output[key] > 0:
            days.append(day_of(math_output[key] / 1000))
            said.append(f"{key} {days[-1]}")
    for key, since in FIELD_SINCE.items():
        if math_output and key in math_output:
            days.append(since)
            said.append(f"math output has {key} (since {since})")
            break
    if not days:
        return "current", "no dates in the export: today's math"
    version = version_on(max(days))
    if not version.count_zeroed or vote_counts is None or clustered is None:
        return version.name, "; ".join(said)
    if needs_zeroed_filter(vote_counts, clustered, n_statements):
        return version.name, "; ".join(said + ["its groups cluster participants only the 2017 filter admits"])
    return "current", "; ".join(said + ["its clustered set fits today's filter, so it was recomputed later"])


def detect_export(matrix, polis_groups: dict[str, int] | None = None, math_output: dict | None = None):
    """:func:`detect` for a :class:`~.matrix.VoteMatrix` (its vote log's last time), the export's groups
    (participant id -> Polis group) and, for an API dump, its ``math-pca2.json``."""
    last = float(matrix.log.times.max()) if matrix.log is not None and len(matrix.log.times) else None
    clustered = None
    if polis_groups:
        index = {p: i for i, p in enumerate(matrix.participants)}
        clustered = np.array([index[p] for p in polis_groups if p in index], dtype=np.int64)
    elif math_output and "in-conv" in math_output:
        index = {p: i for i, p in enumerate(matrix.participants)}
        clustered = np.array([index[str(p)] for p in math_output["in-conv"] if str(p) in index], dtype=np.int64)
    voted = int((np.bincount(matrix.codes.indices, minlength=matrix.shape[1]) > 0).sum())
    return detect(last, math_output=math_output, vote_counts=np.diff(matrix.codes.indptr), clustered=clustered,
                  n_statements=voted)
