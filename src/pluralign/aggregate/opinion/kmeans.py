"""Polis's k-means and silhouette (polismath math/clusters.clj), used for base clusters and opinion groups alike.

Polis's k-means is deterministic given its input order, and differs from scikit-learn's in its starts:
- a first clustering starts from the first k distinct points in row order (``init-clusters``, clusters.clj:55-65);
- a later one starts from the previous clusters (``clean-start-clusters``, clusters.clj:230-277): old clusters are
  re-centred on their members' new positions and dropped when they have none (``safe-recenter-clusters``,
  :171-191), identical centres merge into the larger cluster's id (``uniqify-clusters`` / ``merge-clusters``,
  :194-227), then the point farthest from every centre founds a new cluster until there are min(k, #distinct
  points) (``most-distal``, :202-217);
- Lloyd steps (``cluster-step``, :142-158: nearest centre, empty clusters dropped, weighted means) run until no
  centre moves 0.01 (``same-clustering?``, :68-76) or ``max_iters`` + 1 steps (``kmeans``, :301-312).
Cluster ids are kept across steps; new ones are max id + 1. The silhouette (``silhouette``, :339-375) is the
plain mean over points of (b - a) / max(a, b), 0 for members of singleton clusters, as scikit-learn's
``silhouette_score``; it is ours because a replay computes thousands of them on <= 100 points, where
scikit-learn's input checks cost 50x the arithmetic.
"""

from __future__ import annotations

import numpy as np


def _sq_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n, k) squared distances, built one coordinate at a time (2-D points: no (n, k, 2) temporary)."""
    out = np.zeros((len(points), len(centres)))
    for d in range(points.shape[1]):
        out += (points[:, d, None] - centres[None, :, d]) ** 2
    return out


def distinct_first(points: np.ndarray) -> np.ndarray:
    """Sorted row index of each distinct point's first occurrence: ``np.unique(points, axis=0,
    return_index=True)[1]`` sorted, by one lexsort (np.unique's axis path costs ~10x on the small arrays a replay
    passes thousands of times)."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(points.T[::-1])  # stable: equal points keep row order, so each run starts at its first
    ordered = points[order]
    starts = np.r_[True, np.any(ordered[1:] != ordered[:-1], axis=1)]
    return np.sort(order[starts])


def _centres(points: np.ndarray, weights: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Weighted mean position of each cluster in ``ids`` (each must have members); points without one are skipped."""
    slot = np.full(int(max(ids.max(), labels.max())) + 1, -1)
    slot[ids] = np.arange(len(ids))
    pos = np.where(labels >= 0, slot[np.maximum(labels, 0)], -1)
    ok = pos >= 0
    pos, w = pos[ok], weights[ok]
    mass = np.bincount(pos, weights=w, minlength=len(ids))
    sums = np.empty((len(ids), points.shape[1]))
    for d in range(points.shape[1]):
        sums[:, d] = np.bincount(pos, weights=w * points[ok, d], minlength=len(ids))
    return sums / mass[:, None]


def _clean_start(points, weights, labels, ids, k, n_distinct):
    """Polis's clean-start-clusters: keep old clusters that still have members (re-centred), merge identical
    centres, then add a cluster at the point farthest from every centre until min(k, #distinct points)."""
    labels = labels.copy()
    alive = np.asarray(ids, dtype=np.int64)[np.isin(ids, labels)]
    if len(alive) == 0:  # nobody left in any old cluster: one cluster of everyone, with a new id
        alive = np.array([int(np.max(ids, initial=-1)) + 1])
        labels[:] = alive[0]
    ids = alive
    centres = _centres(points, weights, labels, ids)
    if len(distinct_first(centres)) < len(ids):  # identical centres: the larger cluster's id survives
        _, inverse = np.unique(centres, axis=0, return_inverse=True)
        for group in range(inverse.max() + 1):
            same = ids[inverse.ravel() == group]
            sizes = np.array([np.sum(labels == c) for c in same])
            keep = same[len(sizes) - 1 - int(np.argmax(sizes[::-1]))]
            labels[np.isin(labels, same)] = keep
        ids = ids[np.isin(ids, labels)]
    possible = min(k, n_distinct)
    while True:
        centres = _centres(points, weights, labels, ids)
        if len(ids) >= possible:
            return ids, centres
        nearest = np.sqrt(_sq_distances(points, centres).min(axis=1))
        far = len(nearest) - 1 - int(np.argmax(nearest[::-1]))  # Clojure's max-key keeps the last of ties
        if nearest[far] <= 0:
            return ids, centres
        labels[far] = ids.max() + 1
        ids = np.append(ids, ids.max() + 1)


def kmeans(points: np.ndarray, weights: np.ndarray, k: int, previous: tuple | None, max_iters: int,
           first: np.ndarray | None = None):
    """Polis's k-means -> (ids (k',), centres (k', 2), label of each point). previous: (label of each point,
    -1 for new points; ids) from the last update, or None for the first k distinct points as starts.
    first: :func:`distinct_first` of ``points``, when the caller clusters the same points for several k."""
    first = distinct_first(points) if first is None else first
    if previous is None:
        ids, centres = np.arange(min(k, len(first))), points[first[:k]]
    else:
        ids, centres = _clean_start(points, weights, previous[0], previous[1], k, len(first))
    for _ in range(max_iters + 1):
        nearest = _sq_distances(points, centres).argmin(axis=1)
        used = np.flatnonzero(np.bincount(nearest, minlength=len(ids)))  # empty clusters are dropped
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


def silhouette(points: np.ndarray, labels: np.ndarray, dist: np.ndarray | None = None) -> float:
    """Mean silhouette of (n, 2) points (0 for members of singleton clusters), as scikit-learn's
    ``silhouette_score``; -inf with fewer than 2 clusters or as many clusters as points. A replay computes
    thousands of these on <= 100 points, where scikit-learn's input checks cost 50x the arithmetic.
    dist: the (n, n) distances, when several clusterings of the same points are scored (Polis's bucket-dists)."""
    groups, label = np.unique(labels, return_inverse=True)
    if not 2 <= len(groups) <= len(points) - 1:
        return -np.inf
    dist = np.sqrt(_sq_distances(points, points)) if dist is None else dist
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

