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

Polis's math also changed over time. Before late October 2017 missing votes were filled with 0 rather than the
column mean, the zeroed moderated-out columns counted as votes in the participant filter (so everyone who voted
was clustered), PCA ran 10 power iterations per update and k-means 20. An export keeps the groups of the code that
last ran on it: :func:`math_version_of_export` tells the two apart from the export itself.

The k-means here is ours because Polis's warm start (clusters born at the farthest point, dropped when empty,
numbered by birth) has no counterpart in scikit-learn; so is the silhouette, which equals scikit-learn's (tested)
without its per-call overhead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pluralign.aggregate.opinion import clusters as cl
from pluralign.aggregate.opinion.matrix import VoteMatrix
from pluralign.aggregate.opinion.pca import Projection
from pluralign.errors import InputError


@dataclass(frozen=True)
class MathVersion:
    """impute: "zero" or "mean" for missing votes; count_zeroed: zeroed (moderated-out) columns count as votes in
    the participant filter; pca_iters / base_iters / group_iters: power iterations and k-means iterations."""

    impute: str
    count_zeroed: bool
    pca_iters: int
    base_iters: int
    group_iters: int = 20  # Polis passed its 100 under a name its k-means never read


MAX_CELLS = 20_000_000  # participants x statements a replay will hold dense (160 MB of float64)

MATH = {"2017": MathVersion(impute="zero", count_zeroed=True, pca_iters=10, base_iters=20),
        "current": MathVersion(impute="mean", count_zeroed=False, pca_iters=100, base_iters=100)}


@dataclass(frozen=True)
class ReplayConfig:
    """math: "current" or "2017" (see :data:`MATH`); poll_seconds: votes less than this apart join one update;
    restart_hours: how often the server restarted (None: never); fresh_load: end with one more update on a server
    that has just loaded the saved state (group clusterings and k smoother start afresh), as when the math was
    computed after the conversation had gone quiet; seed: the first PCA's random start."""

    math: str = "current"
    poll_seconds: float = 1.0
    restart_hours: float | None = 24.0
    fresh_load: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.math not in MATH:
            raise InputError(f"math must be one of {sorted(MATH)}, got {self.math!r}")
        if self.poll_seconds < 0 or (self.restart_hours is not None and self.restart_hours <= 0):
            raise InputError("poll_seconds must be >= 0 and restart_hours > 0")


def math_version_of_export(matrix: VoteMatrix, polis_groups: dict[str, int]) -> str:
    """"2017" when the export clusters more participants with fewer real votes than the current filter needs
    than its top-up could have admitted (15; only the pre-November-2017 filter, which counted zeroed columns as
    votes, clustered them wholesale), else "current". ``polis_groups``: participant id -> Polis group."""
    index = {p: i for i, p in enumerate(matrix.participants)}
    real = np.diff(matrix.codes.indptr)
    clustered = [index[p] for p in polis_groups if p in index]
    below = int(np.sum(real[clustered] < min(cl.MIN_VOTES, matrix.shape[1])))
    return "2017" if below > cl.GREEDY_N else "current"


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


# ---- k-means with Polis's warm start ---------------------------------------------------------------------------
def _centres(points: np.ndarray, weights: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Weighted mean position of each cluster in ``ids`` (each must have members); points without one are skipped."""
    slot = np.full(int(max(ids.max(), labels.max())) + 1, -1)
    slot[ids] = np.arange(len(ids))
    pos = np.where(labels >= 0, slot[np.maximum(labels, 0)], -1)
    ok = pos >= 0
    mass = np.bincount(pos[ok], weights=weights[ok], minlength=len(ids))
    sums = np.zeros((len(ids), points.shape[1]))
    np.add.at(sums, pos[ok], weights[ok, None] * points[ok])
    return sums / mass[:, None]


def _clean_start(points, weights, labels, ids, k):
    """Polis's clean-start-clusters: keep old clusters that still have members (re-centred), merge identical
    centres, then add a cluster at the point farthest from every centre until min(k, #distinct points)."""
    labels = labels.copy()
    alive = np.asarray(ids, dtype=np.int64)[np.isin(ids, labels)]
    if len(alive) == 0:  # nobody left in any old cluster: one cluster of everyone, with a new id
        alive = np.array([int(np.max(ids, initial=-1)) + 1])
        labels[:] = alive[0]
    ids = alive
    centres = _centres(points, weights, labels, ids)
    _, first, inverse = np.unique(centres, axis=0, return_index=True, return_inverse=True)
    if len(first) < len(ids):  # identical centres: the larger cluster's id survives
        for group in range(len(first)):
            same = ids[inverse.ravel() == group]
            sizes = np.array([np.sum(labels == c) for c in same])
            keep = same[len(sizes) - 1 - int(np.argmax(sizes[::-1]))]
            labels[np.isin(labels, same)] = keep
        ids = ids[np.isin(ids, labels)]
    possible = min(k, len(np.unique(points, axis=0)))
    while True:
        centres = _centres(points, weights, labels, ids)
        if len(ids) >= possible:
            return ids, centres
        nearest = np.sqrt(((points[:, None, :] - centres[None]) ** 2).sum(-1)).min(axis=1)
        far = len(nearest) - 1 - int(np.argmax(nearest[::-1]))  # Clojure's max-key keeps the last of ties
        if nearest[far] <= 0:
            return ids, centres
        labels[far] = ids.max() + 1
        ids = np.append(ids, ids.max() + 1)


def warm_kmeans(points: np.ndarray, weights: np.ndarray, k: int, previous: tuple | None, max_iters: int):
    """Polis's k-means -> (ids (k',), centres (k', 2), label of each point). previous: (label of each point,
    -1 for new points; ids) from the last update, or None for the first k distinct points as starts."""
    if previous is None:
        _, first = np.unique(points, axis=0, return_index=True)
        first = np.sort(first)[:k]
        ids, centres = np.arange(len(first)), points[first]
    else:
        ids, centres = _clean_start(points, weights, previous[0], previous[1], k)
    for _ in range(max_iters + 1):
        nearest = ((points[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
        used = np.unique(nearest)  # empty clusters are dropped
        new_ids, labels = ids[used], ids[nearest]
        new_centres = _centres(points, weights, labels, new_ids)
        done = _same_centres(centres, new_centres)
        ids, centres = new_ids, new_centres
        if done:
            break
    return ids, centres, labels


def _same_centres(a: np.ndarray, b: np.ndarray, tol: float = 0.01) -> bool:
    a, b = a[np.lexsort(a.T[::-1])], b[np.lexsort(b.T[::-1])]
    n = min(len(a), len(b))
    return bool(np.all(np.linalg.norm(a[:n] - b[:n], axis=1) < tol))


def silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of (n, 2) points (0 for members of singleton clusters), as scikit-learn's
    ``silhouette_score``; -inf with fewer than 2 clusters or as many clusters as points. A replay computes
    thousands of these on <= 100 points, where scikit-learn's input checks cost 50x the arithmetic."""
    groups, label = np.unique(labels, return_inverse=True)
    if not 2 <= len(groups) <= len(points) - 1:
        return -np.inf
    dist = np.sqrt(((points[:, None, :] - points[None]) ** 2).sum(-1))
    member = np.eye(len(groups))[label]  # (n, g) one-hot
    size = member.sum(0)
    total = dist @ member  # (n, g): summed distance to each cluster
    own = size[label] - 1
    a = np.divide(total[np.arange(len(label)), label], own, out=np.zeros(len(label)), where=own > 0)
    other = total / size
    other[np.arange(len(label)), label] = np.inf
    b = other.min(axis=1)
    scale = np.maximum(a, b)
    s = np.divide(b - a, scale, out=np.zeros(len(label)), where=(own > 0) & (scale > 0))
    return float(s.mean())


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
    groupings: dict[int, tuple[dict, np.ndarray]] = {}
    smoother = {"last": None, "count": 0, "k": None}
    updates = [(start, end, bool(restart) and start > 0 and log.times[start - 1] // restart != log.times[end - 1]
                // restart) for start, end in zip(starts, ends)]
    if config.fresh_load:  # one more update with no new votes, on a server that has just loaded the saved state
        updates.append((len(log.times), len(log.times), True))
    for start, end, restarted in updates:
        if restarted:
            groupings, smoother = {}, {"last": None, "count": 0, "k": None}
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
            rest = np.flatnonzero(~chosen)
            chosen[rest[np.argsort(-counted[rest], kind="stable")[: cl.GREEDY_N - chosen.sum()]]] = True
        in_conv[rows[chosen]] = True
        members = np.flatnonzero(chosen)  # positions in ``rows``
        points = proj[members]
        previous = None if len(base_ids) == 0 else (base_of[rows[members]], base_ids)
        base_ids, base_centres, labels = warm_kmeans(points, np.ones(len(points)), cl.BASE_K, previous,
                                                     version.base_iters)
        base_of[rows[members]] = labels
        sizes = np.bincount(np.searchsorted(base_ids, labels), minlength=len(base_ids)).astype(np.float64)

        found = {}
        for k in range(2, cl.max_groups(len(base_ids)) + 1):
            last = groupings.get(k)
            prev = None if last is None else (np.array([last[0].get(int(b), -1) for b in base_ids]), last[1])
            g_ids, _, g_labels = warm_kmeans(base_centres, sizes, k, prev, version.group_iters)
            found[k] = (g_labels, silhouette(base_centres, g_labels))
            groupings[k] = (dict(zip(base_ids.tolist(), g_labels.tolist())), g_ids)
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
