"""The blocked GEMM and its micro-kernels against float64 NumPy, on every ISA path."""
import numpy as np
import pytest

from fastconv import _kernels

DTYPES = [np.float32, np.float64]


def _tol(a, b, dt):
    """Elementwise bound for a length-k dot product: k * eps * sum_p |a_ip| |b_pj|."""
    k = a.shape[1]
    bound = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    return (k + 1) * np.finfo(dt).eps * bound + np.finfo(dt).tiny


def _check(c, a, b, dt, c0=None):
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = _tol(a, b, dt)
    if c0 is not None:
        ref += c0
        tol += np.finfo(dt).eps * np.abs(c0)
    assert c.dtype == dt
    err = np.abs(c - ref)
    assert np.all(err <= tol), f"max err {err.max()} vs tol {tol[err > tol].min()}"


def _shapes(dt):
    _, mr, nr, mc, kc, nc = _kernels.gemm_info(dt)
    return [(1, 1, 1), (mr - 1, nr - 1, 1), (mr, nr, 1), (mr + 1, nr + 1, 2),
            (1, 3 * nr + 5, 7), (2 * mr + 3, 1, 9), (mc + mr + 1, nc + nr + 3, kc + 5),
            (37, 53, 2 * kc + 1), (3, 4, 0)]


@pytest.mark.parametrize("dt", DTYPES)
def test_blocking_is_whole_micro_tiles(isa, dt):
    """The drivers step rows by MC and columns by NC over packed panels of MR / NR: a block
    that is not a whole number of them misaddresses the panels (an MC of 128 with MR = 12
    broke im2col's backward-data past row 128)."""
    _, mr, nr, mc, kc, nc = _kernels.gemm_info(dt)
    assert mc % mr == 0 and nc % nr == 0 and kc >= 1


@pytest.mark.parametrize("dt", DTYPES)
def test_gemm_matches_numpy(isa, dt, rng):
    for m, n, k in _shapes(dt):
        a = rng.standard_normal((m, k)).astype(dt)
        b = rng.standard_normal((k, n)).astype(dt)
        _check(_kernels.gemm(a, b), a, b, dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_gemm_random_sizes_and_layouts(isa, dt, rng):
    _, mr, nr, _, kc, _ = _kernels.gemm_info(dt)
    for _ in range(12):
        m, n = rng.integers(1, 4 * mr + 1), rng.integers(1, 4 * nr + 1)
        k = int(rng.choice([1, 2, int(rng.integers(1, kc + 40))]))
        a = rng.standard_normal((2 * m, k + 3)).astype(dt)
        b = rng.standard_normal((k, n + 2)).astype(dt)
        # strided, transposed, reversed and Fortran-ordered views
        views = [(a[::2, :k], b[:, :n]), (np.asfortranarray(a[:m, :k]), b[::-1, 1:n + 1]),
                 (a[:m, :k][:, ::-1], np.asfortranarray(b[:, :n]))]
        for av, bv in views:
            _check(_kernels.gemm(av, bv), av, bv, dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_gemm_accumulate_and_k0(isa, dt, rng):
    a = rng.standard_normal((13, 300)).astype(dt)
    b = rng.standard_normal((300, 35)).astype(dt)
    c0 = rng.standard_normal((13, 35)).astype(dt)
    c = c0.copy()
    _kernels.gemm(a, b, c, accumulate=True)
    _check(c, a, b, dt, c0=c0.astype(np.float64))
    # k == 0: overwrite gives zeros (even over NaN), accumulate leaves C alone
    c = np.full((4, 5), np.nan, dtype=dt)
    _kernels.gemm(np.empty((4, 0), dt), np.empty((0, 5), dt), c)
    assert np.all(c == 0)
    c = c0[:4, :5].copy()
    _kernels.gemm(np.empty((4, 0), dt), np.empty((0, 5), dt), c, accumulate=True)
    assert np.array_equal(c, c0[:4, :5])


def test_gemm_rejects_bad_arguments():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError):
        _kernels.gemm(a, np.ones((5, 2), np.float32))
    with pytest.raises(TypeError):
        _kernels.gemm(a, np.ones((4, 2), np.float64))
    with pytest.raises(TypeError):
        _kernels.gemm(a.astype(np.int32), np.ones((4, 2), np.int32))
    with pytest.raises(ValueError):
        _kernels.gemm(a, np.ones((4, 2), np.float32), np.ones((2, 3), np.float32))
    with pytest.raises(ValueError):
        _kernels.gemm_ukernel(a.ravel(), a.ravel(), np.ones((8, 32), np.float32), 1000, 1, 1)


@pytest.mark.parametrize("dt", DTYPES)
def test_ukernel_every_edge_tile(isa, dt, rng):
    """m < MR, n < NR, k in {0, 1, 5}, both modes: the m x n corner is right and nothing
    else in C moves; with acc == 0 C is not read (NaN there does not leak)."""
    _, mr, nr, _, _, _ = _kernels.gemm_info(dt)
    sentinel = dt(12345.0)
    for k in (0, 1, 5):
        ap = rng.standard_normal(mr * k).astype(dt)
        bp = rng.standard_normal(nr * k).astype(dt)
        a = ap.reshape(k, mr).T      # (MR, k)
        b = bp.reshape(k, nr)        # (k, NR)
        for m in range(1, mr + 1):
            for n in range(1, nr + 1):
                for acc in (False, True):
                    c = np.full((mr + 1, nr + 3), sentinel, dtype=dt)
                    c0 = rng.standard_normal((m, n)).astype(dt)
                    c[:m, :n] = c0 if acc else np.nan
                    _kernels.gemm_ukernel(ap, bp, c, k, m, n, accumulate=acc)
                    _check(c[:m, :n], a[:m], b[:, :n], dt,
                           c0=c0.astype(np.float64) if acc else None)
                    outside = np.ones(c.shape, bool)
                    outside[:m, :n] = False
                    assert np.all(c[outside] == sentinel)


@pytest.mark.parametrize("dt", DTYPES)
def test_packt_transposes_any_rows(isa, dt, rng):
    """packt(rows)[p, j] == rows[j, p], for lengths around the vector blocks and rows at
    unaligned offsets / with gaps between them."""
    nr = _kernels.gemm_info(dt)[2]
    for kc in (0, 1, 3, 4, 7, 8, 9, 17, 64):
        big = rng.standard_normal((2 * nr + 1, kc + 3)).astype(dt)
        for rows in (big[:nr, :kc], big[1::2, 1:kc + 1], big[::-2][:nr, 2:kc + 2]):
            assert np.array_equal(_kernels.gemm_packt(rows), rows.T)
