"""Who is clustered, base clusters, and opinion groups chosen by silhouette, as Polis computes them when it
loads a conversation's votes at once (polismath math/conversation.clj; k-means in :mod:`.kmeans`).

1. Participant filter ("in-conv", conversation.clj:240-266): a participant is clustered when they voted on at
   least min(7, n_statements) statements (``n_statements``: statements with a vote, the columns of Polis's
   matrix; votes on moderated-out statements count, :217-225); when fewer than 15 qualify, the most active of
   the rest top the set up to 15, ties in the order Polis's vote-count map iterates (:256-265,
   :func:`clojure_map_rank`). ``keep`` adds participants regardless (a live server never drops anyone it admitted
   earlier, :244-246).
2. Base clusters (:400-407): Polis's k-means with k = 100 on the clustered participants' projections, started
   from the first 100 distinct positions in the order rows joined Polis's matrix: the votes load ordered by
   (statement, participant, time) (components/postgres.clj:137-148, conv_man.clj:200-203), so a participant's
   row comes with their vote on the lowest statement id (:func:`polis_row_order`).
3. Opinion groups (:430-447): weighted k-means (weights = base cluster sizes, :417-423) on the base-cluster
   centres, started from the first k of them, for each k = 2 .. min(5, 2 + n_base // 12) (``max-k-fn``,
   :271-276); the k with the highest silhouette over the base-cluster centres wins, the larger k on a tie
   (``max-key``, :458).

No step draws a random number, so one analysis gives one answer (Polis's only random draw is its PCA's start,
pca.clj:79-98, which a converged PCA forgets). A live server's groups also depend on the conversation's history
(warm starts, a k smoother, restarts): :mod:`.replay` runs that history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.aggregate.opinion.csr import CSR
from pluralign.aggregate.opinion.kmeans import kmeans, silhouette

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


def in_conversation(vote_counts: np.ndarray, n_statements: int, keep: np.ndarray | None = None,
                    min_votes: int = MIN_VOTES, tie_rank: np.ndarray | None = None) -> np.ndarray:
    """Sorted row indices of participants to cluster, from votes cast per participant (n_participants,).
    tie_rank: (n_participants,) order among equal counts for the top-up (default: row order)."""
    chosen = vote_counts >= min(min_votes, n_statements)
    if keep is not None:
        chosen[keep] = True
    missing = GREEDY_N - int(chosen.sum())
    if missing > 0:
        rest = np.flatnonzero(~chosen & (vote_counts > 0))
        ties = np.zeros(len(rest)) if tie_rank is None else tie_rank[rest]
        top = rest[np.lexsort((ties, -vote_counts[rest]))[:missing]]
        chosen[top] = True
    return np.flatnonzero(chosen)


def _murmur3_long(values: np.ndarray) -> np.ndarray:
    """Clojure's ``hash`` of Long keys (Murmur3.hashLong, seed 0), as uint32."""
    m32 = np.uint64(0xFFFFFFFF)
    rotl = lambda x, r: ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & m32  # noqa: E731
    mix_k = lambda k: (rotl((k * np.uint64(0xCC9E2D51)) & m32, 15) * np.uint64(0x1B873593)) & m32  # noqa: E731
    mix_h = lambda h, k: (rotl(h ^ k, 13) * np.uint64(5) + np.uint64(0xE6546B64)) & m32  # noqa: E731
    x = values.astype(np.int64).view(np.uint64)
    h = mix_h(mix_h(np.zeros_like(x), mix_k(x & m32)), mix_k(x >> np.uint64(32))) ^ np.uint64(8)
    for shift, factor in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = ((h ^ (h >> np.uint64(shift))) * np.uint64(factor)) & m32
    return np.where(x == 0, np.uint64(0), h ^ (h >> np.uint64(16)))


def clojure_map_rank(ids: list[str]) -> np.ndarray:
    """Each id's position when a Clojure map built from ``ids`` (in this insertion order) is iterated, as Polis's
    ``user-vote-counts`` (``into {}``, conversation.clj:217-225) is: insertion order up to 8 keys (an array map),
    else a hash map's trie order, by the 5-bit chunks of the key's hash from the lowest. Ids that are not integers
    keep insertion order."""
    n = len(ids)
    if n <= 8 or not all(i.isascii() and i.isdigit() and len(i) < 19 for i in ids):
        return np.arange(n)
    h = _murmur3_long(np.array([int(i) for i in ids], dtype=np.int64))
    key = np.zeros(n, dtype=np.uint64)
    for level in range(7):  # trie levels use bits 0-4, 5-9, ...; the lowest chunk sorts first
        key = (key << np.uint64(5)) | ((h >> np.uint64(5 * level)) & np.uint64(31))
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(n)
    return rank


def polis_row_order(codes: CSR) -> np.ndarray:
    """Row indices in the order Polis's matrix adds them when all votes load at once ordered by (statement,
    participant, time): by each participant's lowest voted column, then by row. Columns and rows must be in
    id order (numeric ids are). Participants without votes come last."""
    has = np.diff(codes.indptr) > 0
    first = np.full(codes.shape[0], codes.shape[1], dtype=np.int64)
    first[has] = codes.indices[codes.indptr[:-1][has]]  # indices are sorted within each row
    return np.lexsort((np.arange(codes.shape[0]), first))


def base_clusters(positions: np.ndarray, k: int = BASE_K, iters: int = 100):
    """Base clusters of (n_in, 2) positions in Polis row order -> (labels (n_in,), centres (n_base, 2),
    sizes (n_base,)), numbered in Polis's id order (order of creation)."""
    ids, centres, labels = kmeans(positions, np.ones(len(positions)), k, None, iters)
    slot = np.searchsorted(ids, labels)
    return slot, centres, np.bincount(slot, minlength=len(ids))


def max_groups(n_base: int, cap: int = MAX_GROUPS) -> int:
    """Largest k tried for opinion groups: min(cap, 2 + n_base // 12)."""
    return min(cap, 2 + n_base // 12)


def group_clusters(centers: np.ndarray, sizes: np.ndarray, cap: int = MAX_GROUPS, *, n_groups: int | None = None,
                   iters: int = 20):
    """Opinion groups of base clusters -> (group of each base cluster (n_base,), {k: silhouette}).

    n_groups: force k instead of choosing by silhouette. With fewer than 3 distinct base centres (silhouette
    needs 2 <= k <= n - 1) there is one group (label 0 for all) and no silhouettes.
    """
    n_distinct = len(np.unique(centers, axis=0))
    scores, best = {}, None
    dist = np.sqrt(((centers[:, None, :] - centers[None]) ** 2).sum(-1))
    for k in [n_groups] if n_groups else range(2, max_groups(len(centers), cap) + 1):
        if k > n_distinct - 1:
            break
        _, _, labels = kmeans(centers, sizes.astype(np.float64), k, None, iters)
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = silhouette(centers, labels, dist)
        if best is None or scores[k] >= scores[best[0]]:
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


def cluster(projections: np.ndarray, vote_counts: np.ndarray, n_statements: int, *, order: np.ndarray | None = None,
            ids: list[str] | None = None, keep: np.ndarray | None = None, min_votes: int = MIN_VOTES,
            base_k: int = BASE_K, max_k: int = MAX_GROUPS, n_groups: int | None = None, base_iters: int = 100,
            group_iters: int = 20) -> Clustering:
    """Participant filter, base clusters and opinion groups from (n_participants, 2) projections.
    order: rows in Polis's row order (:func:`polis_row_order`; default row order); ids: participant ids, for the
    top-up's ties in Polis's map order."""
    order = np.arange(len(projections)) if order is None else np.asarray(order)
    tie_rank = None
    if ids is not None:
        voted = order[vote_counts[order] > 0]  # Polis's matrix has rows only for participants with votes
        tie_rank = np.zeros(len(projections), dtype=np.int64)
        tie_rank[voted] = clojure_map_rank([ids[i] for i in voted])
    in_conv = in_conversation(vote_counts, n_statements, keep, min_votes, tie_rank)
    joined = order[np.isin(order, in_conv)]
    labels, centers, sizes = base_clusters(projections[joined], base_k, base_iters)
    base_labels = np.empty(len(projections), dtype=np.int64)
    base_labels[joined] = labels
    group_of_base, scores = group_clusters(centers, sizes, max_k, n_groups=n_groups, iters=group_iters)
    groups = np.full(len(projections), -1, dtype=np.int64)
    groups[in_conv] = group_of_base[base_labels[in_conv]]
    return Clustering(in_conv=in_conv, base_labels=base_labels[in_conv], base_centers=centers, base_sizes=sizes,
                      group_of_base=group_of_base, groups=groups, silhouettes=scores)
