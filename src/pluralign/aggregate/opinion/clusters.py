"""Who is clustered, base clusters, and opinion groups chosen by silhouette (Polis's clusters.clj and
conversation.clj), with scikit-learn's k-means and silhouette.

1. Participant filter ("in-conv"): a participant is clustered when they voted on at least min(7, n_statements)
   statements (votes on moderated-out statements count); when fewer than 15 qualify, the most active of the
   rest top the set up to 15. ``keep`` adds participants regardless (a live Polis server never drops anyone it
   admitted earlier, so reproducing its output needs its earlier set).
2. Base clusters: k-means with k = min(100, #distinct positions) on the clustered participants' 2-D projections.
   They compress thousands of people into <= 100 weighted points.
3. Opinion groups: weighted k-means (weights = base cluster sizes) on the base-cluster centres for each
   k = 2 .. min(5, 2 + n_base // 12); the k with the highest silhouette over the base-cluster centres wins.

Starts: Polis numbers base clusters as they are created, which follows participants' arrival, and starts the
group k-means from the first k distinct base centres; it then warm-starts every later update from the previous
result and changes k only after a new k has won 4 updates running, so its output depends on the conversation's
history. Here the base clusters come from one seeded k-means++ run and are numbered by their earliest member
(arrival order, as row order), and the groups start from the first k distinct base centres (``init="polis"``, the
default). ``init="best"`` instead keeps the lowest-inertia of several k-means++ starts for the groups. To reproduce
a live server exactly, replay its vote log (:mod:`.replay`) or pass its history: the clustered set (``keep``),
its k (``n_groups``) and rows in the order its base clusters were created (see docs/opinion.md for the agreement
figures of each choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

MIN_VOTES = 7
GREEDY_N = 15
BASE_K = 100
MAX_GROUPS = 5


@dataclass
class Clustering:
    """in_conv: (n_in,) row indices of clustered participants; base_labels: (n_in,) base cluster of each;
    base_centers: (n_base, 2); base_sizes: (n_base,); group_of_base: (n_base,) group of each base cluster;
    groups: (n_participants,) group per participant, -1 when not clustered; silhouettes: {k: score}."""

    in_conv: np.ndarray
    base_labels: np.ndarray
    base_centers: np.ndarray
    base_sizes: np.ndarray
    group_of_base: np.ndarray
    groups: np.ndarray
    silhouettes: dict[int, float]

    @property
    def n_groups(self) -> int:
        return int(self.group_of_base.max()) + 1 if self.group_of_base.size else 0


def in_conversation(vote_counts: np.ndarray, n_statements: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted row indices of participants to cluster, from votes cast per participant (n_participants,)."""
    chosen = vote_counts >= min(MIN_VOTES, n_statements)
    if keep is not None:
        chosen[keep] = True
    missing = GREEDY_N - int(chosen.sum())
    if missing > 0:
        rest = np.flatnonzero(~chosen & (vote_counts > 0))
        top = rest[np.argsort(-vote_counts[rest], kind="stable")[:missing]]
        chosen[top] = True
    return np.flatnonzero(chosen)


def kmeans(points: np.ndarray, k: int, weights: np.ndarray | None = None, *, init: str = "best",
           n_init: int = 3, seed: int = 0, max_iter: int = 100):
    """(labels (n,), centres (k', 2)) of Lloyd's k-means; k' = min(k, #distinct points).

    init: "polis" starts from the first k distinct points (Polis's deterministic start); "best" keeps the
    lowest-inertia of ``n_init`` k-means++ starts (seeded).
    """
    _, first_row, inverse = np.unique(points, axis=0, return_index=True, return_inverse=True)
    if len(first_row) <= k:
        # Every distinct point is its own cluster, numbered in order of first appearance.
        order = np.argsort(first_row, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank[inverse.ravel()], points[first_row[order]]
    start = points[np.sort(first_row)[:k]] if init == "polis" else "k-means++"
    model = KMeans(n_clusters=k, init=start, n_init=1 if init == "polis" else n_init,
                   max_iter=max_iter, algorithm="lloyd", random_state=seed)
    model.fit(points, sample_weight=weights)
    return model.labels_, model.cluster_centers_


def base_clusters(positions: np.ndarray, k: int = BASE_K, *, seed: int = 0):
    """Base clustering of (n_in, 2) positions -> (labels (n_in,), centres (n_base, 2), sizes (n_base,)).

    One seeded k-means++ start (with 100 clusters in 2-D, starts differ little). Clusters left empty are dropped
    and the rest numbered by their earliest member (row order), as Polis numbers them in order of creation.
    """
    labels, centers = kmeans(positions, k, init="best", n_init=1, seed=seed)
    used, first_row = np.unique(labels, return_index=True)
    order = np.argsort(first_row, kind="stable")
    rank = np.empty(len(used), dtype=np.int64)
    rank[order] = np.arange(len(used))
    labels = rank[np.searchsorted(used, labels)]
    return labels, centers[used][order], np.bincount(labels)


def max_groups(n_base: int, cap: int = MAX_GROUPS) -> int:
    """Largest k tried for opinion groups: min(cap, 2 + n_base // 12)."""
    return min(cap, 2 + n_base // 12)


def group_clusters(centers: np.ndarray, sizes: np.ndarray, cap: int = MAX_GROUPS, *, n_groups: int | None = None,
                   init: str = "polis", seed: int = 0):
    """Opinion groups of base clusters -> (group of each base cluster (n_base,), {k: silhouette}).

    n_groups: force k (Polis's smoothed k) instead of choosing by silhouette.
    Silhouette needs 2 <= k <= n_base - 1 distinct clusters; with fewer than 3 distinct base centres there is
    one group (label 0 for all) and no silhouettes.
    """
    n_distinct = len(np.unique(centers, axis=0))
    scores, best = {}, None
    ks = [n_groups] if n_groups else range(2, max_groups(len(centers), cap) + 1)
    for k in ks:
        if k > n_distinct - 1:
            break
        labels, _ = kmeans(centers, k, weights=sizes.astype(np.float64), init=init, seed=seed)
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(centers, labels))
        if best is None or scores[k] > scores[best[0]]:
            best = (k, labels)
    if best is None:
        return np.zeros(len(centers), dtype=np.int64), scores
    return relabel_by_size(best[1], sizes), scores


def relabel_by_size(labels: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Renumber groups 0.. by decreasing number of participants (ties: first base cluster first)."""
    used, labels = np.unique(labels, return_inverse=True)
    people = np.bincount(labels, weights=sizes)
    order = np.lexsort((np.arange(len(used)), -people))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels]


def cluster(projections: np.ndarray, vote_counts: np.ndarray, n_statements: int, *,
            keep: np.ndarray | None = None, base_k: int = BASE_K, max_k: int = MAX_GROUPS,
            n_groups: int | None = None, init: str = "polis", seed: int = 0) -> Clustering:
    """Participant filter, base clusters and opinion groups from (n_participants, 2) projections."""
    in_conv = in_conversation(vote_counts, n_statements, keep)
    base_labels, centers, sizes = base_clusters(projections[in_conv], base_k, seed=seed)
    group_of_base, scores = group_clusters(centers, sizes, max_k, n_groups=n_groups, init=init, seed=seed)
    groups = np.full(len(projections), -1, dtype=np.int64)
    groups[in_conv] = group_of_base[base_labels]
    return Clustering(in_conv=in_conv, base_labels=base_labels, base_centers=centers, base_sizes=sizes,
                      group_of_base=group_of_base, groups=groups, silhouettes=scores)
