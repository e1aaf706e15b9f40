"""Rules that search over linear orders: Kemeny–Young and ranked pairs, exact, all prompts at once.

Both enumerate the n! orders of a prompt's candidates once (as arrays) and test every prompt against all of
them with array operations. Ties are exact: every optimal order (Kemeny) or every tie-breaking (ranked pairs)
counts; a candidate's tier follows its best position over all of them, so the winners are the candidates
that head at least one.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import permutations

import numpy as np

from pluralign.aggregate.voting.outcome import SocialRanking, outcome_from_scores
from pluralign.aggregate.voting.pairwise import margins, smith_offsets
from pluralign.errors import InputError

KEMENY_MAX_CANDIDATES = 9
"""9! = 362,880 orders; 10 would need 3.6 million orders x 45 pairs per prompt."""

_TIES = "none: every optimal order counts; tier = best position over them (winners head at least one)"


@lru_cache(maxsize=None)
def _orders(n: int) -> np.ndarray:
    """(n!, n) int: all orders of n candidates; row q lists candidates best first."""
    return np.array(list(permutations(range(n))), dtype=np.int64).reshape(-1, n)


@lru_cache(maxsize=None)
def _positions(n: int) -> np.ndarray:
    """(n!, n) int: position[q, c] = where order q puts candidate c."""
    orders = _orders(n)
    pos = np.empty_like(orders)
    np.put_along_axis(pos, orders, np.arange(n)[None, :].repeat(len(orders), 0), axis=1)
    return pos


@lru_cache(maxsize=None)
def _precedes(n: int, dtype: type) -> np.ndarray:
    """(n(n-1)/2, n!) 0/1: 1 where the order puts i before j, for the pairs i < j (row-major)."""
    pos = _positions(n)
    i, j = np.triu_indices(n, k=1)
    return (pos[:, i] < pos[:, j]).T.astype(dtype)


@lru_cache(maxsize=None)
def _position_onehot(n: int) -> np.ndarray:
    """(n!, n*n) float32 (counts stay exact below 2^24): 1 at [q, c*n + t] when order q puts c at position t."""
    pos = _positions(n)
    onehot = np.zeros((len(pos), n, n), np.float32)
    np.put_along_axis(onehot, pos[:, :, None], 1.0, axis=2)
    return onehot.reshape(len(pos), n * n)


def _absent_last(margin: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Margins where every present candidate beats every absent slot by more than all margins together."""
    big = 1.0 + np.abs(margin).sum(axis=(1, 2), keepdims=True)
    return margin + big * (present[:, :, None] & ~present[:, None, :]) - big * (~present[:, :, None] & present[:, None, :])


def _exact_dtype(margin: np.ndarray):
    """float32 when every margin is a small integer (sums and comparisons stay exact, twice as fast), else float64."""
    integral = np.all(margin == np.round(margin)) and np.abs(margin).sum(axis=(1, 2)).max(initial=0) < 2**23
    return np.float32 if integral else np.float64


def kemeny_young(support: np.ndarray, present: np.ndarray, chunk: int = 200) -> SocialRanking:
    """Kemeny–Young: the orders maximising the total support they agree with (= minimising Kendall tau
    distance to the ballots), exact, up to :data:`KEMENY_MAX_CANDIDATES` candidates.

    Order score = const + sum over i < j of [i before j] * margin(i, j): one (prompts x pairs) @ (pairs x n!)
    matrix product. Prompts with several optimal orders take a second product that counts, per candidate and
    position, the optimal orders putting it there. Score = -(best position in any optimal order).
    """
    P, C, _ = support.shape
    if C > KEMENY_MAX_CANDIDATES:
        raise InputError(f"exact Kemeny–Young stops at {KEMENY_MAX_CANDIDATES} candidates; got {C}")
    margin = _absent_last(margins(support), present)
    dtype = _exact_dtype(margin)
    upper_i, upper_j = np.triu_indices(C, k=1)
    pairs = margin[:, upper_i, upper_j].astype(dtype)  # (P, C(C-1)/2)
    precedes = _precedes(C, dtype)
    best = np.empty((P, C))
    chunk = max(1, min(chunk, 2**22 // precedes.shape[1]))  # order scores of one chunk stay <= 16-32 MB
    for start in range(0, P, chunk):
        order_scores = pairs[start:start + chunk] @ precedes
        top = order_scores.argmax(axis=1)
        high = order_scores[np.arange(len(top)), top][:, None]
        optimal = order_scores >= high - (0 if dtype is np.float32 else 1e-9 * np.maximum(1.0, np.abs(high)))
        best[start:start + chunk] = _positions(C)[top]
        several = np.flatnonzero(optimal.sum(axis=1) > 1)
        if len(several):
            at = (optimal[several].astype(np.float32) @ _position_onehot(C)).reshape(-1, C, C) > 0  # [p, c, t]
            best[start + several] = at.argmax(axis=2)
    return outcome_from_scores(-best, present, "kemeny_young", tie_breaking=_TIES)


def _stack_best_positions(margin: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(G, s) best position of each candidate over all stacks of G margin matrices (G, s, s).

    Zavist & Tideman (1989): an order L is a ranked-pairs outcome under some tie-breaking iff it is a stack:
    for all a before b in L there is a path a -> ... -> b going forward in L whose margins are all
    >= margin(b, a). Neighbours in a stack can only use the direct edge, so orders with a negative margin
    between neighbours are dropped first (most of them); the strongest forward paths of the rest come from
    Floyd–Warshall over the upper triangle.
    """
    G, s, _ = margin.shape
    orders, pos = _orders(s), _positions(s)
    forward = np.triu(np.ones((s, s), bool), k=1)
    best = np.full(G * s, s, dtype=np.int64)
    for start in range(0, G, chunk):
        m = margin[start:start + chunk].astype(_exact_dtype(margin))
        g, q = np.nonzero(np.all(m[:, orders[:, :-1], orders[:, 1:]] >= 0, axis=2))
        in_order = m[g[:, None, None], orders[q][:, :, None], orders[q][:, None, :]]  # (K, s, s) in order position
        paths = np.where(forward, in_order, -np.inf)
        for k in range(1, s - 1):
            paths = np.maximum(paths, np.minimum(paths[..., :, k, None], paths[..., None, k, :]))
        is_stack = np.all((paths >= np.swapaxes(in_order, -1, -2)) | ~forward, axis=(1, 2))
        g, q = g[is_stack] + start, q[is_stack]
        np.minimum.at(best, (g[:, None] * s + np.arange(s)).ravel(), pos[q].ravel())
    return best.reshape(G, s)


def ranked_pairs(support: np.ndarray, present: np.ndarray) -> SocialRanking:
    """Ranked pairs (Tideman), exact under all tie-breakings of equal margins.

    Lock pairs by decreasing margin, skipping any that would close a cycle; a candidate wins when it comes
    out on top under some order of the tied pairs (pref_voting's definition). Computed by enumerating stacks
    inside each Smith component: the weak-majority components form a chain whose order every stack keeps,
    so a prompt with components of sizes s1, s2, ... costs s1! + s2! + ... orders, not C!.
    Score = -(component offset + best position in any stack of its component).
    """
    margin = margins(support)
    offsets = smith_offsets(margin, present)
    same = (offsets[:, :, None] == offsets[:, None, :]) & present[:, :, None] & present[:, None, :]
    size = same.sum(axis=2)
    first_of = np.argmax(same, axis=2)  # the lowest index in the candidate's component
    best = np.zeros(offsets.shape)
    leaders = present & (size >= 2) & (first_of == np.arange(offsets.shape[1]))
    for s in np.unique(size[leaders]):
        p, c = np.nonzero(leaders & (size == s))
        members = np.argsort(~same[p, c], axis=1, kind="stable")[:, :s]  # (G, s) sorted member indices
        sub = margin[p[:, None, None], members[:, :, None], members[:, None, :]]
        best[p[:, None], members] = _stack_best_positions(sub)
    scores = -(offsets + best)
    return outcome_from_scores(scores, present, "ranked_pairs", tie_breaking=_TIES.replace("optimal order", "tie-breaking"))
