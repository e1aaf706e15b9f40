"""A compressed-sparse-row matrix holding only what the opinion math asks of one, in numpy alone.

The layout is scipy's CSR (``data``, ``indices`` sorted within each row, ``indptr``), and :meth:`CSR.to_scipy`
hands the same arrays to ``scipy.sparse`` for the large-matrix paths (ARPACK, randomized SVD, the pre-2017
zero-imputed PCA). The default path of ``pluralign opinion analyze`` never needs those, and importing
``scipy.sparse`` costs a fresh process 0.2-0.3 s: more than reading and analysing a whole Polis conversation
(`benchmarks/bench_opinion.py`, docs/opinion.md).

    >>> m = CSR.from_triplets(np.array([0, 1, 1]), np.array([2, 0, 2]), np.array([1.0, 2.0, 3.0]), (2, 3))
    >>> m.toarray().tolist()
    [[0.0, 0.0, 1.0], [2.0, 0.0, 3.0]]
    >>> (m @ np.ones((3, 1))).ravel().tolist(), m[[1]].toarray().tolist()
    ([1.0, 5.0], [[2.0, 0.0, 3.0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CSR:
    """An (n, m) sparse matrix: row i's stored entries are ``data[indptr[i]:indptr[i + 1]]`` in the columns
    ``indices[indptr[i]:indptr[i + 1]]`` (ascending)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def from_triplets(cls, rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]) -> CSR:
        """Entries (rows[k], cols[k]) = data[k]; each cell at most once."""
        n, m = shape
        order = np.argsort(np.asarray(rows, np.int64) * m + np.asarray(cols, np.int64), kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return cls(np.asarray(data)[order], np.asarray(cols, np.int32)[order], indptr, (n, m))

    @property
    def nnz(self) -> int:
        return len(self.data)

    def row_ids(self) -> np.ndarray:
        """The row of each stored entry, (nnz,)."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def with_data(self, data: np.ndarray) -> CSR:
        """The same sparsity pattern holding ``data`` (nnz,)."""
        return CSR(data, self.indices, self.indptr, self.shape)

    def __getitem__(self, rows) -> CSR:
        """The rows ``rows`` (integer indices, in that order)."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        lengths = np.diff(self.indptr)[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        # Position of every kept entry: its row's start in the old arrays plus its offset within the row.
        take = np.repeat(self.indptr[:-1][rows] - indptr[:-1], lengths) + np.arange(indptr[-1])
        return CSR(self.data[take], self.indices[take], indptr, (len(rows), self.shape[1]))

    def count_in_columns(self, cols: np.ndarray) -> np.ndarray:
        """Stored entries per row that fall in the columns ``cols``, (n,)."""
        return np.bincount(self.row_ids()[np.isin(self.indices, cols)], minlength=self.shape[0])

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.data.dtype)
        out[self.row_ids(), self.indices] = self.data
        return out

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        """self @ dense for a dense (m, k) array: (n, k) float64."""
        dense = np.asarray(dense, dtype=np.float64)
        rows, picked = self.row_ids(), dense[self.indices] * self.data[:, None]
        return np.stack([np.bincount(rows, weights=picked[:, c], minlength=self.shape[0])
                         for c in range(dense.shape[1])], axis=1)

    def to_scipy(self):
        """The same matrix as a ``scipy.sparse.csr_array`` (imports scipy.sparse)."""
        from scipy import sparse

        return sparse.csr_array((self.data, self.indices, self.indptr), shape=self.shape)
