"""Rules whose answer is a distribution or a strength, not just an order: maximal lotteries and Bradley–Terry."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from pluralign.aggregate.voting.outcome import outcome_from_scores
from pluralign.aggregate.voting.pairwise import margins


def _condorcet_winners(margin: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(P, C) bool: the candidate that beats every other present candidate by a positive margin."""
    others = present[:, None, :] & ~np.eye(margin.shape[-1], dtype=bool)
    return present & np.all((margin > 0) | ~others, axis=2)


def _lottery_block(margin: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Maximal lotteries of G prompts as ONE sparse LP (block-diagonal, solved by HiGHS).

    Find p >= 0 with sum(p) = 1 and sum_i p_i margin(i, j) >= 0 for every j: a lottery no candidate beats
    in expectation (a Nash equilibrium of the symmetric zero-sum margin game).
    """
    G, C = present.shape
    block = np.arange(G)[:, None, None] * C
    rows = np.broadcast_to(block + np.arange(C)[None, None, :], (G, C, C))  # constraint j of prompt g
    cols = np.broadcast_to(block + np.arange(C)[None, :, None], (G, C, C))  # variable i of prompt g
    A_ub = sparse.csr_matrix((-margin.ravel(), (rows.ravel(), cols.ravel())), shape=(G * C, G * C))
    A_eq = sparse.csr_matrix((np.ones(G * C), (np.repeat(np.arange(G), C), np.arange(G * C))), shape=(G, G * C))
    bounds = np.stack([np.zeros(G * C), np.where(present.ravel(), np.inf, 0.0)], axis=1)
    res = linprog(np.zeros(G * C), A_ub=A_ub, b_ub=np.zeros(G * C), A_eq=A_eq, b_eq=np.ones(G), bounds=bounds,
                  method="highs")
    if not res.success:  # cannot happen for a valid margin matrix (the game always has an equilibrium)
        raise RuntimeError(f"maximal lottery LP failed: {res.message}")
    p = np.clip(res.x.reshape(G, C), 0.0, None)
    return p / p.sum(axis=1, keepdims=True)


def maximal_lotteries(support: np.ndarray, present: np.ndarray, chunk: int = 2000):
    """Maximal lotteries (Fishburn 1984): the probability distribution over candidates that no candidate
    beats in expectation. Scores are the probabilities; tiers rank by probability.

    Prompts with a Condorcet winner get it with probability 1 without any LP; the others are solved together
    as one block-diagonal sparse LP per ``chunk`` prompts. With an odd total of strict ballots the lottery is
    unique; with tied margins the maximal lotteries form a polytope and the LP returns one vertex of it.
    """
    margin = margins(support)
    lottery = _condorcet_winners(margin, present).astype(np.float64)
    rest = np.flatnonzero(lottery.sum(axis=1) == 0)
    for start in range(0, len(rest), chunk):
        idx = rest[start:start + chunk]
        lottery[idx] = _lottery_block(margin[idx], present[idx])
    return outcome_from_scores(lottery, present, "maximal_lotteries", atol=1e-7, lottery=lottery,
                               tie_breaking="none: equal probabilities tie; a tied margin game returns one equilibrium")


def bradley_terry(support: np.ndarray, present: np.ndarray, prior: float = 0.1, max_iter: int = 2000,
                  tol: float = 1e-10):
    """Bradley–Terry maximum likelihood: P(i beats j) = s_i / (s_i + s_j), fitted to the pairwise support.

    Hunter's (2004) MM update s_i <- wins_i / sum_j n_ij / (s_i + s_j), every prompt in one array update per
    iteration. ``prior`` adds that much support both ways to every pair so the maximum exists even when a
    candidate never loses (with complete strict ballots it leaves the Borda order unchanged). Ties on a
    ballot add nothing. Scores are log-strengths with geometric mean 0.
    """
    C = present.shape[1]
    pair = present[:, :, None] & present[:, None, :] & ~np.eye(C, dtype=bool)
    won = np.where(pair, support + prior, 0.0)
    wins, games = won.sum(axis=2), won + np.swapaxes(won, 1, 2)
    n_present = present.sum(axis=1, keepdims=True)
    log_s = np.zeros(present.shape)
    for _ in range(max_iter):
        s = np.exp(log_s)
        denom = (games / (s[:, :, None] + s[:, None, :])).sum(axis=2)
        new = np.where(present, np.log(np.maximum(wins, 1e-300) / np.maximum(denom, 1e-300)), 0.0)
        new -= np.where(present, new, 0.0).sum(axis=1, keepdims=True) / n_present
        new = np.where(present, new, 0.0)
        done = np.abs(new - log_s).max() < tol
        log_s = new
        if done:
            break
    return outcome_from_scores(log_s, present, "bradley_terry", atol=1e-6)
