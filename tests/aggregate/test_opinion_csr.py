"""The numpy CSR of the vote matrix against scipy.sparse, and the default analysis without scipy."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from pluralign.aggregate.opinion.csr import CSR


def random_csr(seed: int, n: int = 40, m: int = 15, density: float = 0.3):
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, m)) < density, rng.normal(size=(n, m)), 0.0)
    dense[rng.integers(0, n, 3)] = 0.0  # empty rows
    rows, cols = np.nonzero(dense)
    shuffle = rng.permutation(len(rows))
    return CSR.from_triplets(rows[shuffle], cols[shuffle], dense[rows, cols][shuffle], (n, m)), dense


@pytest.mark.parametrize("seed", range(5))
def test_csr_matches_scipy(seed):
    ours, dense = random_csr(seed)
    theirs = sparse.csr_array(dense)
    np.testing.assert_array_equal(ours.toarray(), dense)
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)  # sorted within rows, as scipy's
    assert ours.nnz == theirs.nnz
    rows = np.random.default_rng(seed).integers(0, dense.shape[0], 25)
    np.testing.assert_array_equal(ours[rows].toarray(), dense[rows])
    np.testing.assert_array_equal(ours[[]].toarray(), dense[[]])
    right = np.random.default_rng(seed + 9).normal(size=(dense.shape[1], 2))
    np.testing.assert_allclose(ours @ right, dense @ right, atol=1e-12)
    cols = np.array([0, 3, 7])
    np.testing.assert_array_equal(ours.count_in_columns(cols), (dense[:, cols] != 0).sum(1))
    np.testing.assert_array_equal(ours.to_scipy().toarray(), dense)


def test_explicit_zeros_are_kept():
    # A pass is a stored 0: "seen" and "unseen" must stay apart.
    m = CSR.from_triplets(np.array([0, 0]), np.array([1, 0]), np.array([0.0, 1.0]), (1, 3))
    assert m.nnz == 2 and m.indices.tolist() == [0, 1] and m.data.tolist() == [1.0, 0.0]


POLIS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "polis" / "vtaiwan.uberx"


@pytest.mark.skipif(not POLIS.is_dir(), reason="needs ../shared/data/polis (shared data absent)")
def test_opinion_analyze_imports_no_scipy(tmp_path):
    """The default analysis of a Polis export runs without importing scipy (start-up; docs/opinion.md)."""
    code = ("import sys\nfrom pluralign.cli import main\ntry:\n"
            f"    main(['opinion', 'analyze', '--votes', {str(POLIS)!r}, '--out', {str(tmp_path / 'o.json')!r}])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'sklearn', 'torch', 'pandas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out
    assert (tmp_path / "o.json").stat().st_size > 0
