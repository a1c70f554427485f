"""Pooling code paths chosen by size, each against an independent oracle.

The kernels pick a path per call: max backward scatters small planes in a private copy
(then writes the plane out, with streaming stores once gx passes 16 MiB) and large planes
in place; 2x2/stride-2 windows take their taps straight from the indices; average
backward spreads columns as a window sum for stride 1, as a copy for disjoint windows,
and through the inverse table otherwise; global average pooling sums planes in blocks.
The sizes below put each path to work on every ISA (``isa`` fixture).
"""
import numpy as np
import pytest

from fastconv import pool as P
from fastconv import reference as R

DTYPES = [np.float32, np.float64]

# Plane sizes around the private-copy limit (256 KiB) and a gx over the streaming limit.
PLANE_SCRATCH_BYTES = 256 * 1024
STREAM_BYTES = 16 * 1024 * 1024


def scatter_oracle(gy, ind, plane_shape):
    """gx by np.add.at, in scan order, in float64 then cast (exact for one term per
    element; several terms add in the same order as the kernels)."""
    P_ = int(np.prod(gy.shape[:-2]))
    H, W = plane_shape
    out = np.zeros((P_, H * W), gy.dtype)
    for p, (g, i) in enumerate(zip(gy.reshape(P_, -1), ind.reshape(P_, -1))):
        np.add.at(out[p], i, g)
    return out.reshape(gy.shape[:-2] + (H, W))


def plane_side(dtype, above):
    """A square plane side just above (or just below) the private-copy limit."""
    side = int(np.sqrt(PLANE_SCRATCH_BYTES / np.dtype(dtype).itemsize))
    return side + 2 if above else side - 2


CASES = [  # (name, N, C, side or None for plane_side, k, s, p)
    ("scratch 3x3/s2", 2, 3, 40, 3, 2, 1),
    ("scratch 2x2", 2, 3, 41, 2, 2, 0),
    ("scratch 3x3/s1", 1, 2, 23, 3, 1, 1),
    ("in-place 3x3/s2", 1, 2, "above", 3, 2, 1),
    ("scratch, just below the limit", 1, 2, "below", 3, 2, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_max_backward_paths(isa, dtype, case):
    _, N, C, side, k, s, p = case
    if isinstance(side, str):
        side = plane_side(dtype, side == "above")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, C, side, side + 1)).astype(dtype)
    x[0, 0, :4, :4] = 1.0                     # ties: the first tap in scan order wins
    _, ind = R.max_pool2d(x, k, s, p, return_indices=True)
    gy = rng.standard_normal(ind.shape).astype(dtype)
    want = scatter_oracle(gy, ind, x.shape[-2:])
    np.testing.assert_array_equal(P.max_pool2d_backward(gy, x, k, s, p, indices=ind), want)
    np.testing.assert_array_equal(P.max_pool2d_backward(gy, x, k, s, p), want)
    # indices anywhere in the plane (not only in their window) are legal
    foreign = rng.integers(0, x.shape[-2] * x.shape[-1], ind.shape)
    np.testing.assert_array_equal(P.max_pool2d_backward(gy, x, k, s, p, indices=foreign),
                                  scatter_oracle(gy, foreign, x.shape[-2:]))


@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (2, 2, 0)])
def test_max_backward_streaming(isa, k, s, p):
    """gx above the streaming limit, planes small enough for the private copy."""
    side = 120
    C = STREAM_BYTES // (4 * side * side) + 2
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, C, side, side)).astype(np.float32)
    assert x.nbytes > STREAM_BYTES
    _, ind = R.max_pool2d(x, k, s, p, return_indices=True)
    gy = rng.standard_normal(ind.shape).astype(np.float32)
    want = scatter_oracle(gy, ind, x.shape[-2:])
    np.testing.assert_array_equal(P.max_pool2d_backward(gy, x, k, s, p, indices=ind), want)
    # a plane whose indices leave their windows falls back to the scatter, still streamed
    ind2 = ind.copy()
    ind2[0, C // 2] = ind2[0, C // 2][::-1, ::-1]
    np.testing.assert_array_equal(P.max_pool2d_backward(gy, x, k, s, p, indices=ind2),
                                  scatter_oracle(gy, ind2, x.shape[-2:]))


@pytest.mark.parametrize("where", ["first plane", "last plane"])
@pytest.mark.parametrize("path", ["scratch 3x3/s2", "scratch 2x2", "in-place 3x3/s2"])
@pytest.mark.parametrize("bad", [-1, "size", 2**40])
def test_bad_index_on_every_path(isa, path, where, bad):
    case = {c[0]: c for c in CASES}[path]
    _, N, C, side, k, s, p = case
    if isinstance(side, str):
        side = plane_side(np.float32, side == "above")
    rng = np.random.default_rng(13)
    # W = side + 1: an odd output count, so the last index sits in a vector tail
    x = rng.standard_normal((N, C, side, side + 1)).astype(np.float32)
    _, ind = R.max_pool2d(x, k, s, p, return_indices=True)
    size = side * (side + 1)
    bad = size if bad == "size" else bad
    ind = ind.copy()
    loc = (0, 0, 1, 1) if where == "first plane" else (N - 1, C - 1, -1, -1)
    ind[loc] = bad
    before = ind.copy()
    gy = np.ones(ind.shape, np.float32)
    with pytest.raises(ValueError, match=rf"indices must lie in \[0, {size}\).*"
                                         rf"found {bad}"):
        P.max_pool2d_backward(gy, x, k, s, p, indices=ind)
    np.testing.assert_array_equal(ind, before)
    # the same call with the index repaired works (no state left behind)
    ind[loc] = 0
    np.testing.assert_array_equal(P.max_pool2d_backward(gy, x, k, s, p, indices=ind),
                                  scatter_oracle(gy, ind, x.shape[-2:]))


def avg_tol(dtype, terms, scale):
    return 4 * (terms + 1) * np.finfo(dtype).eps * max(scale, 1.0)


# (k, s, p): stride 1 (window-sum spread), disjoint windows (s >= k), overlapping s > 1
AVG_GEOMS = [(1, 1, 0), (2, 1, 1), (3, 1, 1), (5, 1, 2), (4, 1, 0),
             (2, 2, 0), (2, 3, 0), (3, 3, 1), (1, 2, 0), (2, 2, 1),
             (3, 2, 1), (4, 3, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, s, p", AVG_GEOMS)
def test_avg_backward_column_paths(isa, dtype, k, s, p):
    rng = np.random.default_rng(14)
    shape = (2, 3, 13, 29)                    # W odd and past one vector of either dtype
    for ceil_mode in (False, True):
        for cip in (True, False):
            for div in (None, 3):
                y = R.avg_pool2d(np.zeros(shape), k, s, p, ceil_mode, cip, div)
                gy = rng.standard_normal(y.shape).astype(dtype)
                got = P.avg_pool2d_backward(gy, shape, k, s, p, ceil_mode, cip, div)
                want = R.avg_pool2d_backward(gy.astype(np.float64), shape, k, s, p,
                                             ceil_mode, cip, div)
                assert got.dtype == dtype
                np.testing.assert_allclose(got, want, rtol=0,
                                           atol=avg_tol(dtype, k * k, np.abs(gy).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw", [(1, 1), (1, 7), (2, 4), (3, 5), (7, 7), (8, 8), (9, 9),
                                (4, 16)])
def test_global_average_blocks(isa, dtype, hw):
    """Global average over plane counts around the 8-plane (4 for float64) blocks."""
    rng = np.random.default_rng(15)
    for planes in (1, 3, 4, 7, 8, 9, 17, 300):
        x = (rng.standard_normal((1, planes) + hw) + 3.0).astype(dtype)
        want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
        tol = avg_tol(dtype, hw[0] * hw[1], np.abs(x).max())
        np.testing.assert_allclose(P.adaptive_avg_pool2d(x, 1), want, rtol=0, atol=tol)
        np.testing.assert_allclose(P.avg_pool2d(x, hw), want, rtol=0, atol=tol)
        np.testing.assert_allclose(P.avg_pool2d(x, hw, divisor_override=2),
                                   want * (hw[0] * hw[1] / 2), rtol=0,
                                   atol=tol * hw[0] * hw[1])


@pytest.mark.parametrize("k", [11, 30, 2**32 + 1])
def test_kernel_larger_than_input(isa, k):
    """With ceil_mode a window may be far larger than the input (found by the fuzzer: the
    oracle sized its padded buffer by the kernel).  One window covers the whole plane."""
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 2, 10, 9))
    for mod in (P, R):
        y = mod.avg_pool2d(x, k, k, 0, True, True)
        np.testing.assert_allclose(y[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-12)
        m, idx = mod.max_pool2d(x, k, k, 0, 1, True, return_indices=True)
        np.testing.assert_array_equal(m[..., 0, 0], x.max(axis=(2, 3)))
        np.testing.assert_array_equal(idx[..., 0, 0], x.reshape(2, 2, -1).argmax(axis=2))
        gy = np.ones(y.shape)
        np.testing.assert_allclose(mod.avg_pool2d_backward(gy, x.shape, k, k, 0, True, True),
                                   np.full(x.shape, 1 / 90), rtol=1e-12)
