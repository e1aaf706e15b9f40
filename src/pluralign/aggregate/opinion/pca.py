"""Polis's PCA on a sparse vote matrix, and the sparsity-aware projection of participants and statements.

Polis (pca.clj, conversation.clj) computes, on the matrix X (participants x statements, agree = +1 here):
  1. moderated-out columns set to 0 for everyone;
  2. missing votes imputed by the column mean mu_j of the votes cast (passes count as 0);
  3. the first two principal components of the imputed matrix (power iteration there, a truncated SVD here);
  4. each participant projected using only the votes they cast:
         p_i = sqrt(n_statements / max(n_cast_i, 1)) * sum_{j cast} (x_ij - mu_j) * comps[:, j]
     (n_cast counts the zeroed moderated-out columns too, as Polis's zeroed matrix has a value there);
  5. each statement projected as a participant who agreed with it alone:
         q_j = sqrt(n_statements) * (1 - mu_j) * comps[:, j],   extremity_j = ||q_j||.

Polis's math before November 2017 imputed 0 instead (``impute="zero"``): the centred matrix is then dense, so its
components come from the (m, m) Gram matrix X0^T X0 - n mu mu^T instead, again without building the dense matrix.
``n_statements`` counts the statements with a vote (Polis's matrix has a column only for those).

Imputing by the column mean and then centring makes every missing cell exactly 0, so the centred imputed matrix
has the sparsity of the votes: the PCA runs on a sparse matrix and never builds the dense one. Its principal
components are the top right singular vectors of that centred sparse matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.aggregate.opinion.csr import CSR
from pluralign.aggregate.opinion.matrix import VoteMatrix

EXACT_UP_TO = 1_000_000  # votes; larger matrices use the randomized SVD
DENSE_UP_TO = 2_000_000  # cells (16 MB of float64); smaller matrices use the dense SVD


@dataclass
class Projection:
    """center: (n_statements,) column means mu; comps: (2, n_statements) unit components;
    participants: (n_participants, 2) projections; statements: (n_statements, 2); extremity: (n_statements,)."""

    center: np.ndarray
    comps: np.ndarray
    participants: np.ndarray
    statements: np.ndarray
    extremity: np.ndarray


def centred_votes(matrix: VoteMatrix) -> tuple[CSR, np.ndarray]:
    """(X - mu on cast votes, 0 elsewhere; moderated-out columns all 0), mu. Shapes (n, m) sparse, (m,)."""
    values = matrix.values()
    n_cast = np.bincount(values.indices, minlength=matrix.shape[1])
    sums = np.bincount(values.indices, weights=values.data, minlength=matrix.shape[1])
    center = np.divide(sums, n_cast, out=np.zeros_like(sums), where=n_cast > 0)
    center[matrix.mod_out] = 0.0
    data = values.data - center[values.indices]
    data[np.isin(values.indices, matrix.mod_out)] = 0.0
    return values.with_data(data), center


def principal_components(centred: CSR, n_components: int = 2, seed: int = 0,
                         exact_up_to: int = EXACT_UP_TO) -> np.ndarray:
    """Top ``n_components`` right singular vectors of the centred matrix, (n_components, m); rows with fewer
    dimensions than asked are zero. Signs are fixed so each component's largest entry is positive.

    Up to ``DENSE_UP_TO`` cells (n x m): numpy's dense SVD, exact, and it spares a command the
    scipy.sparse.linalg import, which costs more than the whole decomposition at Polis's usual sizes.
    Up to ``exact_up_to`` votes: ARPACK through scipy's ``svds`` (converged to machine precision; what
    scikit-learn's TruncatedSVD runs, without importing scikit-learn, which costs a command ~1 s). Above:
    scikit-learn's randomized SVD with 7 power iterations, because ARPACK needs hundreds of passes over the matrix
    when the second component is barely above noise (100k x 2k, 10M votes: 498 passes, 18 s).
    """
    n, m = centred.shape
    k = min(n_components, n - 1, m - 1)
    comps = np.zeros((n_components, m))
    if k >= 1 and centred.nnz:
        if n * m <= DENSE_UP_TO:
            _, values, vt = np.linalg.svd(centred.toarray(), full_matrices=False)
            comps[:k] = vt[:k]
        elif centred.nnz <= exact_up_to:
            from scipy.sparse.linalg import svds

            v0 = np.random.default_rng(seed).uniform(-1, 1, min(n, m))
            _, values, vt = svds(centred.to_scipy(), k=k, v0=v0, solver="arpack")
            comps[:k] = vt[np.argsort(-values)]
        else:
            from sklearn.utils.extmath import randomized_svd

            comps[:k] = randomized_svd(centred.to_scipy(), k, n_iter=7, random_state=seed)[2]
    elif min(n, m) >= 1 and centred.nnz:
        # One participant or one statement: the direction is the data itself (Polis's wrapped-pca does the same).
        row = centred.toarray()[0] if n == 1 else np.ones(m)
        comps[0] = row / (np.linalg.norm(row) or 1.0)
    flip = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    return comps * np.where(flip == 0, 1.0, flip)[:, None]


def zero_filled_components(matrix: VoteMatrix, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(comps (n_components, m), mu) of the matrix with missing votes as 0 (Polis before November 2017)."""
    values = matrix.values().to_scipy().tocsc()
    values.data[np.isin(values.indices, matrix.mod_out)] = 0.0
    n, m = values.shape
    center = np.asarray(values.sum(axis=0)).ravel() / max(n, 1)
    gram = (values.T @ values).toarray() - n * np.outer(center, center)
    from scipy.linalg import eigh

    k = min(n_components, m)
    _, vectors = eigh(gram, subset_by_index=[m - k, m - 1])
    comps = np.zeros((n_components, m))
    comps[:k] = vectors[:, ::-1].T
    flip = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    return comps * np.where(flip == 0, 1.0, flip)[:, None], center


def project(matrix: VoteMatrix, n_components: int = 2, seed: int = 0, impute: str = "mean") -> Projection:
    """The full Polis PCA step: centre, components, sparsity-aware projections, statement extremity.
    impute: "mean" (Polis since November 2017) or "zero" (before)."""
    if impute == "zero":
        comps, center = zero_filled_components(matrix, n_components)
        values = matrix.values()
        data = np.where(np.isin(values.indices, matrix.mod_out), 0.0, values.data)
        centred = values.with_data(data - center[values.indices])  # 0 where unseen, as in the zero-filled matrix
    else:
        centred, center = centred_votes(matrix)
        comps = principal_components(centred, n_components, seed)
    n_statements = int((np.bincount(matrix.codes.indices, minlength=matrix.shape[1]) > 0).sum())
    n_cast = _cast_per_participant(matrix)
    scale = np.sqrt(n_statements / np.maximum(n_cast, 1))
    participants = (centred @ comps.T) * scale[:, None]
    statements = (np.sqrt(n_statements) * (1.0 - center))[:, None] * comps.T
    return Projection(center=center, comps=comps, participants=participants, statements=statements,
                      extremity=np.linalg.norm(statements, axis=1))


def _cast_per_participant(matrix: VoteMatrix) -> np.ndarray:
    """Votes cast per participant on statements kept in, plus one per moderated-out statement with a vote
    (Polis's zeroed columns hold a 0 for everyone, which its projection counts as a vote, pca.clj:134-157)."""
    codes = matrix.codes
    rows = np.repeat(np.arange(codes.shape[0]), np.diff(codes.indptr))
    kept = ~np.isin(codes.indices, matrix.mod_out)
    voted = np.bincount(codes.indices, minlength=codes.shape[1]) > 0
    return np.bincount(rows[kept], minlength=codes.shape[0]) + int(voted[matrix.mod_out].sum())
