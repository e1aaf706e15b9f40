"""Replay a conversation's vote log through Polis's incremental math, as a live Polis server computed it.

A live server never analyses the final votes once. It polls for new votes (every second) and, for each batch,
updates the analysis starting from its previous state (polismath conversation.clj, clusters.clj, pca.clj):

- PCA by power iteration from the previous components;
- the participant filter only grows (once clustered, always clustered);
- base clusters (k = 100) and each group clustering (k = 2..5) restart from the previous clusters: old clusters
  are re-centred on their members' new positions, then the farthest points found new clusters until there are
  min(k, #distinct points), then Lloyd iterations (empty clusters are dropped) until no centre moves 0.01;
- the number of groups changes only after a new k has had the best silhouette 4 updates running.
A restart of the server forgets the group clusterings and the k smoother (they were not saved; the base clusters
and PCA were), so the next update starts the groups from the first k base-cluster centres.

Polis's math also changed over time (:mod:`.mathversion`: imputation, participant filter, iteration counts); the
replay runs the version it is given. The k-means and silhouette are Polis's (:mod:`.kmeans`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from pluralign.aggregate.opinion import clusters as cl
from pluralign.aggregate.opinion.kmeans import distinct_first, kmeans, silhouette
from pluralign.aggregate.opinion.mathversion import MATH
from pluralign.aggregate.opinion.matrix import VoteMatrix
from pluralign.aggregate.opinion.pca import Projection
from pluralign.config import Config
from pluralign.errors import InputError


MAX_CELLS = 20_000_000  # participants x statements a replay will hold dense (160 MB of float64)


class ReplayConfig(Config):
    """How the live server that computed a conversation's math is replayed."""

    model_config = ConfigDict(frozen=True)

    math: Literal[tuple(MATH)] = Field("current", description="a version name of mathversion.MATH (current, "
                                       "2018, 2017, ...)")
    poll_seconds: float = Field(1.0, ge=0.0, le=1e9, description="votes less than this apart join one update")
    restart_hours: float | None = Field(24.0, gt=0.0, le=1e9, description="how often the server restarted "
                                        "(None: never)")
    fresh_load: bool = Field(False, description="end with one more update on a server that has just loaded the "
                             "saved state (group clusterings and k smoother start afresh), as when the math was "
                             "computed after the conversation had gone quiet")
    seed: int = Field(0, ge=0, lt=2**32, description="the first PCA's random start")

    @field_validator("math", mode="before")
    @classmethod
    def _known_math(cls, value):
        if value not in MATH:
            raise ValueError(f"math must be one of {', '.join(MATH)}, got {value!r}")
        return value


def update_starts(times: np.ndarray, poll_seconds: float) -> np.ndarray:
    """Index of the first vote of each update: a new one starts after a pause longer than ``poll_seconds``."""
    return np.flatnonzero(np.r_[True, np.diff(times) > poll_seconds])


def count_updates(matrix: VoteMatrix, config: ReplayConfig) -> int:
    """How many updates :func:`replay` runs (for a progress bar)."""
    if matrix.log is None:
        return 0
    return len(update_starts(matrix.log.times, config.poll_seconds)) + int(config.fresh_load)


# ---- PCA -------------------------------------------------------------------------------------------------------
def power_iteration(data: np.ndarray, iters: int, start: np.ndarray) -> np.ndarray:
    """Polis's power iteration on data (n, m): at most ``iters`` + 1 products with data^T data, unit result."""
    v, last = start, 0.0
    while True:
        pv = data.T @ (data @ v)
        eig = float(np.linalg.norm(pv))
        normed = pv / eig if eig > 0 else pv
        if iters == 0 or eig == last:
            return normed
        v, last, iters = normed, eig, iters - 1


def warm_pca(mat: np.ndarray, previous: np.ndarray | None, iters: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(centre (m,), comps (2, m)) of the imputed (n, m) matrix, each component started from the previous one
    (new columns start at 1) or, the first time, at random; deflation between components."""
    n, m = mat.shape
    comps = np.zeros((2, m))
    if n == 1:
        norm = np.linalg.norm(mat[0])
        comps[0] = mat[0] / norm if norm > 0 else 0.0
        return np.zeros(m), comps
    center = mat.mean(axis=0)
    data = mat - center
    for c in range(min(2, n, m) if m > 1 else 0):
        start = None
        if previous is not None and np.any(previous[c] != 0):
            start = np.concatenate([previous[c], np.ones(m - previous.shape[1])])
        comps[c] = power_iteration(data, iters, rng.random(m) if start is None else start)
        if comps[c] @ comps[c] > 0:
            data = data - np.outer(data @ comps[c], comps[c]) / (comps[c] @ comps[c])
    return center, comps


# ---- the replay ------------------------------------------------------------------------------------------------
def replay(matrix: VoteMatrix, config: ReplayConfig | None = None,
           progress: Callable[[int], None] | None = None) -> tuple[Projection, cl.Clustering]:
    """Run every update a live Polis server would have run on ``matrix.log``; the final projection and
    clustering, indexed like ``matrix.participants`` / ``matrix.statements``. ``progress(k)``: k updates done."""
    config = config or ReplayConfig()
    version = MATH[config.math]
    log = matrix.log
    if log is None or len(log.times) == 0:
        raise InputError("replaying needs the votes' times (a Polis votes.csv / votes.json, or timestamped Votes)")
    n, m = matrix.shape
    if n * m > MAX_CELLS:
        raise InputError(f"a replay keeps the {n:,} x {m:,} vote matrix dense (over {MAX_CELLS:,} cells) and redoes "
                         "the analysis per update; analyse this conversation once instead")
    zeroed = np.zeros(m, dtype=bool)
    zeroed[matrix.mod_out] = True
    starts = update_starts(log.times, config.poll_seconds)
    ends = np.r_[starts[1:], len(log.times)]
    restart = config.restart_hours * 3600.0 if config.restart_hours else None
    rng = np.random.default_rng(config.seed)

    votes = np.full((n, m), np.nan)
    seen_rows, seen_cols = np.zeros(n, dtype=bool), np.zeros(m, dtype=bool)
    row_order, col_order = [], []  # Polis adds rows and columns as they first appear
    comps = None
    in_conv = np.zeros(n, dtype=bool)
    base_of = np.full(n, -1)
    base_ids = np.zeros(0, dtype=np.int64)
    groupings: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # k -> (base ids, their group, ids)
    smoother = {"last": None, "count": 0, "k": None}
    updates = [(start, end, bool(restart) and start > 0 and log.times[start - 1] // restart != log.times[end - 1]
                // restart) for start, end in zip(starts, ends)]
    if config.fresh_load:  # one more update with no new votes, on a server that has just loaded the saved state
        updates.append((len(log.times), len(log.times), True))
    for start, end, restarted in updates:
        if restarted:
            groupings, smoother = {}, {"last": None, "count": 0, "k": None}
            if row_order:  # a loaded server rebuilds its matrix from all votes in (statement, participant) order
                row_order, col_order = _load_order(votes, row_order, col_order)  # (conv_man.clj:200-203)
        # Polis reads each batch ordered by (statement, participant, time): the order new rows and columns join.
        batch = start + np.lexsort((log.times[start:end], log.rows[start:end], log.cols[start:end]))
        r, c = log.rows[batch], log.cols[batch]
        votes[r, c] = log.values[batch]
        for new, seen, order in ((r, seen_rows, row_order), (c, seen_cols, col_order)):
            for i in new[~seen[new]]:
                if not seen[i]:
                    seen[i] = True
                    order.append(int(i))
        rows, cols = np.array(row_order), np.array(col_order)
        rating = votes[np.ix_(rows, cols)]
        real_votes = (~np.isnan(rating)).sum(1)
        rating[:, zeroed[cols]] = 0.0
        cast = ~np.isnan(rating)
        if version.impute == "zero":
            filled = np.where(cast, rating, 0.0)
        else:
            col_mean = np.nanmean(np.where(cast.any(0), rating, 0.0), axis=0)
            filled = np.where(cast, rating, col_mean)
        center, comps = warm_pca(filled, comps, version.pca_iters, rng)
        scale = np.sqrt(len(cols) / np.maximum(cast.sum(1), 1))
        proj = (np.where(cast, rating - center, 0.0) @ comps.T) * scale[:, None]

        counted = cast.sum(1) if version.count_zeroed else real_votes
        chosen = in_conv[rows] | (counted >= min(cl.MIN_VOTES, len(cols)))
        if chosen.sum() < cl.GREEDY_N:
            rest = np.flatnonzero(~chosen)  # ties in the order Polis's vote-count map iterates (clusters.py)
            ties = cl.clojure_map_rank([matrix.participants[i] for i in rows])[rest]
            chosen[rest[np.lexsort((ties, -counted[rest]))[: cl.GREEDY_N - chosen.sum()]]] = True
        in_conv[rows[chosen]] = True
        members = np.flatnonzero(chosen)  # positions in ``rows``
        points = proj[members]
        previous = None if len(base_ids) == 0 else (base_of[rows[members]], base_ids)
        base_ids, base_centres, labels = kmeans(points, np.ones(len(points)), cl.BASE_K, previous,
                                                     version.base_iters)
        base_of[rows[members]] = labels
        sizes = np.bincount(np.searchsorted(base_ids, labels), minlength=len(base_ids)).astype(np.float64)

        found = {}
        dist = np.sqrt(((base_centres[:, None, :] - base_centres[None]) ** 2).sum(-1))  # bucket-dists, once
        first = distinct_first(base_centres)  # the same points for every k
        for k in range(2, cl.max_groups(len(base_ids)) + 1):
            last = groupings.get(k)
            prev = None if last is None else (_carried(last[0], last[1], base_ids), last[2])
            g_ids, _, g_labels = kmeans(base_centres, sizes, k, prev, version.group_iters, first)
            found[k] = (g_labels, silhouette(base_centres, g_labels, dist))
            groupings[k] = (base_ids, g_labels, g_ids)
        if found:
            best = max(s for _, s in found.values())
            this_k = max(k for k, (_, s) in found.items() if s == best)  # max-key keeps the last of ties
            count = smoother["count"] + 1 if smoother["last"] == this_k else 1
            k_now = this_k if count >= 4 or smoother["k"] is None else smoother["k"]
            smoother = {"last": this_k, "count": count, "k": k_now}
        if progress:
            progress(1)

    return _final(matrix, rows, cols, center, comps, proj, in_conv, base_of, base_ids, base_centres, sizes,
                  found, smoother["k"])


def _carried(old_base: np.ndarray, old_group: np.ndarray, base_ids: np.ndarray) -> np.ndarray:
    """The group each base cluster had at the last update (-1 for a new base cluster); base ids ascend."""
    at = np.minimum(np.searchsorted(old_base, base_ids), len(old_base) - 1)
    return np.where(old_base[at] == base_ids, old_group[at], -1)


def _load_order(votes: np.ndarray, row_order: list[int], col_order: list[int]) -> tuple[list[int], list[int]]:
    """Rows and columns as a freshly loaded server orders them: columns by statement, rows by their lowest voted
    statement, then by participant (matrix indices follow ids). The saved PCA components keep their positions, as
    Polis reloads them without column names."""
    cols = sorted(col_order)
    rows = np.array(sorted(row_order))
    first = np.argmax(~np.isnan(votes[np.ix_(rows, cols)]), axis=1)
    return rows[np.lexsort((rows, first))].tolist(), cols


def _final(matrix, rows, cols, center, comps, proj, in_conv, base_of, base_ids, base_centres, sizes, found, k):
    """The last update's state in the matrix's own row/column order."""
    n, m = matrix.shape
    full_center, full_comps = np.zeros(m), np.zeros((2, m))
    full_center[cols], full_comps[:, cols] = center, comps
    participants = np.zeros((n, 2))
    participants[rows] = proj
    statements = (np.sqrt(len(cols)) * (1.0 - full_center))[:, None] * full_comps.T
    projection = Projection(center=full_center, comps=full_comps, participants=participants, statements=statements,
                            extremity=np.linalg.norm(statements, axis=1))
    clustered = np.flatnonzero(in_conv)
    slot = {int(b): i for i, b in enumerate(base_ids)}
    base_labels = np.array([slot[int(b)] for b in base_of[clustered]], dtype=np.int64)
    silhouettes = {kk: s for kk, (_, s) in found.items() if np.isfinite(s)}
    if not silhouettes:  # too few distinct base clusters for two groups: one group, as the analysed-once path says
        k = None
    elif k not in found:  # the smoothed k is no longer tried (fewer base clusters than before)
        k = max(silhouettes)
    group_of_base = np.zeros(len(base_ids), dtype=np.int64) if k is None else \
        cl.relabel_by_size(found[k][0], sizes)
    groups = np.full(n, -1, dtype=np.int64)
    groups[clustered] = group_of_base[base_labels]
    return projection, cl.Clustering(in_conv=clustered, base_labels=base_labels, base_centers=base_centres,
                                      base_sizes=sizes.astype(np.int64), group_of_base=group_of_base, groups=groups,
                                      silhouettes=silhouettes)
