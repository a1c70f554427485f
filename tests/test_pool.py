"""Pooling kernels (fastconv.pool) against PyTorch and fastconv.reference.

Max pooling selects elements, so values, indices and (same scatter order) gradients must
match exactly; average pooling is compared with a tolerance of a few roundings per summed
term.  Every test runs on every ISA path (``isa`` fixture).
"""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, assume, HealthCheck, strategies as st

import fastconv
from fastconv import pool as P

try:
    from fastconv import reference as R
except ImportError:   # the NumPy oracle lands separately; torch covers until then
    R = None

# The isa fixture is function-scoped on purpose (it restores the ISA after each test).
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = [np.float32, np.float64]


# ------------------------------------------------------------------------- helpers --

def layout(base, kind):
    """The same shape in another memory layout (inputs may come in any layout)."""
    if kind == "f":
        return np.asfortranarray(base)
    if kind == "strided":
        big = np.zeros(base.shape[:-1] + (2 * base.shape[-1],), base.dtype)
        big[..., ::2] = base
        return big[..., ::2]
    if kind == "negative":
        return np.ascontiguousarray(base[..., ::-1])[..., ::-1]
    if kind == "readonly":
        base = base.copy()
        base.setflags(write=False)
        return base
    return base


def make_input(seed, shape, dtype, values):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if values == "ties":       # few distinct values: the tie rule decides every index
        x = np.round(x)
    elif values == "nan":
        x[rng.random(shape) < 0.1] = np.nan
    elif values == "inf":
        x[rng.random(shape) < 0.1] = -np.inf
        x[rng.random(shape) < 0.05] = np.inf
    return x.astype(dtype)


def tt(torch, a):
    return torch.tensor(np.ascontiguousarray(a))


def torch_grad(torch, fn, x, gy):
    """d(sum(fn(x) * gy))/dx by autograd."""
    xt = tt(torch, x).requires_grad_(True)
    y = fn(xt)
    if isinstance(y, tuple):
        y = y[0]
    y.backward(tt(torch, gy))
    return xt.grad.numpy()


def avg_tol(dtype, terms, scale):
    """Absolute error bound of a sum of `terms` values of magnitude <= scale, then a divide."""
    return 4 * (terms + 1) * np.finfo(dtype).eps * max(scale, 1.0)


def check_same(got, want):
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


@st.composite
def window_case(draw, dilation):
    """Valid max/avg pooling arguments and an input for them."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    # PyTorch 2.13 allows padding up to half the kernel (fastconv: half the effective kernel).
    p = tuple(draw(st.integers(0, k[i] // 2)) for i in range(2))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    ceil_mode = draw(st.booleans())
    eff = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    H = draw(st.integers(max(1, eff[0] - 2 * p[0]), eff[0] - 2 * p[0] + 8))
    W = draw(st.integers(max(1, eff[1] - 2 * p[1]), eff[1] - 2 * p[1] + 8))
    C = draw(st.integers(1, 3))
    shape = (C, H, W) if draw(st.booleans()) else (draw(st.integers(0, 2)), C, H, W)
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(st.sampled_from(["normal", "ties", "nan", "inf"]))
    x = make_input(draw(st.integers(0, 2**32 - 1)), shape, dtype, values)
    x = layout(x, draw(st.sampled_from(["c", "f", "strided", "negative", "readonly"])))
    return x, k, stride, p, d, ceil_mode


# ---------------------------------------------------------------------- max_pool2d --

@fixture_ok
@given(case=window_case(dilation=True), seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_sweep(isa, torch, case, seed):
    x, k, s, p, d, ceil_mode = case
    x_before = x.copy()
    try:
        y, ind = P.max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
    except ValueError:
        # only the geometries whose windows hold nothing but padding are refused
        assume(False)
    y_only = P.max_pool2d(x, k, s, p, d, ceil_mode)
    F = torch.nn.functional
    ty, ti = F.max_pool2d(tt(torch, x), k, s, p, d, ceil_mode, return_indices=True)
    check_same(y, ty.numpy())
    check_same(y_only, ty.numpy())
    check_same(ind, ti.numpy())

    gy = make_input(seed, y.shape, x.dtype, "normal")
    gx_ind = P.max_pool2d_backward(gy, x, k, s, p, d, ceil_mode, indices=ind)
    gx_rec = P.max_pool2d_backward(gy, x, k, s, p, d, ceil_mode)
    want = torch_grad(torch, lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode), x, gy)
    # overlapping windows add in the same (window) order as PyTorch: bitwise equal
    check_same(gx_ind, want)
    check_same(gx_rec, want)
    np.testing.assert_array_equal(x, x_before)
    if R is not None:
        ry, ri = R.max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(y, ry)
        np.testing.assert_array_equal(ind, ri)


# ---------------------------------------------------------------------- avg_pool2d --

@fixture_ok
@given(case=window_case(dilation=False), cip=st.booleans(),
       div=st.one_of(st.none(), st.integers(-5, 12).filter(lambda v: v != 0)),
       seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_sweep(isa, torch, case, cip, div, seed):
    x, k, s, p, _, ceil_mode = case
    x_before = x.copy()
    y = P.avg_pool2d(x, k, s, p, ceil_mode, cip, div)
    F = torch.nn.functional
    fn = lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, cip, div)   # noqa: E731
    ty = fn(tt(torch, x)).numpy()
    assert y.shape == ty.shape and y.dtype == x.dtype and y.flags.c_contiguous
    finite = np.abs(np.nan_to_num(x, posinf=0, neginf=0)).max(initial=0)
    terms = k[0] * k[1]
    np.testing.assert_allclose(y, ty, rtol=0, atol=avg_tol(x.dtype, terms, finite))

    gy = make_input(seed, y.shape, x.dtype, "normal")
    gx = P.avg_pool2d_backward(gy, x.shape, k, s, p, ceil_mode, cip, div)
    want = torch_grad(torch, fn, x, gy)
    assert gx.shape == x.shape and gx.dtype == x.dtype and gx.flags.c_contiguous
    # each input element receives at most ceil(k/s) windows per axis
    sh, sw = s if s is not None else k
    overlap = -(-k[0] // sh) * -(-k[1] // sw)
    np.testing.assert_allclose(gx, want, rtol=0,
                               atol=avg_tol(x.dtype, overlap, np.abs(gy).max(initial=0)))
    np.testing.assert_array_equal(x, x_before)
    if R is not None:
        np.testing.assert_allclose(y, R.avg_pool2d(x, k, s, p, ceil_mode, cip, div), rtol=0,
                                   atol=avg_tol(x.dtype, terms, finite))


# ------------------------------------------------- vector paths on wide planes --

# (kernel, stride, padding, dilation, ceil_mode): the shapes of real networks, on planes
# wide enough for whole vector blocks plus tails and borders.
WIDE = [(2, 2, 0, 1, False), (2, 2, 0, 1, True), (3, 2, 1, 1, False), (3, 2, 1, 1, True),
        (3, 2, 0, 1, True), (2, 1, 0, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, False),
        ((3, 2), (1, 2), (1, 0), (1, 3), False), (5, 3, 2, 1, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", ["normal", "ties", "nan"])
@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (1, 2, 37, 45)])
def test_wide_planes(isa, torch, dtype, values, shape):
    F = torch.nn.functional
    x = make_input(7, shape, dtype, values)
    xt = tt(torch, x)
    for k, s, p, d, c in WIDE:
        y, ind = P.max_pool2d(x, k, s, p, d, c, return_indices=True)
        ty, ti = F.max_pool2d(xt, k, s, p, d, c, return_indices=True)
        check_same(y, ty.numpy())
        check_same(ind, ti.numpy())
        check_same(P.max_pool2d(x, k, s, p, d, c), ty.numpy())
        gy = make_input(8, y.shape, dtype, "normal")
        want = torch_grad(torch, lambda t: F.max_pool2d(t, k, s, p, d, c), x, gy)
        check_same(P.max_pool2d_backward(gy, x, k, s, p, d, c, indices=ind), want)
        check_same(P.max_pool2d_backward(gy, x, k, s, p, d, c), want)
        if d != 1:
            continue
        for cip in (True, False):
            fn = lambda t: F.avg_pool2d(t, k, s, p, c, cip)   # noqa: E731
            y = P.avg_pool2d(x, k, s, p, c, cip)
            np.testing.assert_allclose(y, fn(xt).numpy(), rtol=0,
                                       atol=avg_tol(dtype, 25, np.nanmax(np.abs(x))))
            gx = P.avg_pool2d_backward(gy, x.shape, k, s, p, c, cip)
            np.testing.assert_allclose(gx, torch_grad(torch, fn, x, gy), rtol=0,
                                       atol=avg_tol(dtype, 9, np.abs(gy).max()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_foreign_indices_scatter(isa, dtype):
    """Indices need not point into their own window: every gradient still lands there."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 32, 34)).astype(dtype)
    y, ind = P.max_pool2d(x, 2, return_indices=True)
    ind = ind.copy()
    ind[1, 2, 5, 7] = 0
    ind[0, 0, 0, 0] = 32 * 34 - 1
    gy = rng.standard_normal(y.shape).astype(dtype)
    want = np.zeros((6, 32 * 34), dtype)
    for plane, (g, i) in enumerate(zip(gy.reshape(6, -1), ind.reshape(6, -1))):
        np.add.at(want[plane], i, g)
    got = P.max_pool2d_backward(gy, x, 2, indices=ind)
    np.testing.assert_array_equal(got.reshape(6, -1), want)


# ------------------------------------------------------------------------ adaptive --

@st.composite
def adaptive_case(draw):
    H, W = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    size = st.one_of(st.none(), st.integers(0, 15))
    out = draw(st.one_of(st.tuples(size, size), st.integers(0, 15)))
    C = draw(st.integers(1, 3))
    shape = (C, H, W) if draw(st.booleans()) else (draw(st.integers(0, 2)), C, H, W)
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(st.sampled_from(["normal", "ties", "nan", "inf"]))
    x = make_input(draw(st.integers(0, 2**32 - 1)), shape, dtype, values)
    x = layout(x, draw(st.sampled_from(["c", "f", "strided", "negative", "readonly"])))
    return x, out


def _empty_out(out):
    return out == 0 or (isinstance(out, tuple) and 0 in out)


@fixture_ok
@given(case=adaptive_case(), seed=st.integers(0, 2**32 - 1))
def test_adaptive_max_pool2d_sweep(isa, torch, case, seed):
    x, out = case
    x_before = x.copy()
    F = torch.nn.functional
    y, ind = P.adaptive_max_pool2d(x, out, return_indices=True)
    ty, ti = F.adaptive_max_pool2d(tt(torch, x), out, return_indices=True)
    check_same(y, ty.numpy())
    check_same(ind, ti.numpy())
    check_same(P.adaptive_max_pool2d(x, out), ty.numpy())

    gy = make_input(seed, y.shape, x.dtype, "normal")
    gx_ind = P.adaptive_max_pool2d_backward(gy, x, out, indices=ind)
    gx_rec = P.adaptive_max_pool2d_backward(gy, x, out)
    if _empty_out(out):   # PyTorch refuses an empty grad_output; the gradient is zero
        want = np.zeros_like(x)
    else:
        want = torch_grad(torch, lambda t: F.adaptive_max_pool2d(t, out), x, gy)
    check_same(gx_ind, want)
    check_same(gx_rec, want)
    np.testing.assert_array_equal(x, x_before)


@fixture_ok
@given(case=adaptive_case(), seed=st.integers(0, 2**32 - 1))
def test_adaptive_avg_pool2d_sweep(isa, torch, case, seed):
    x, out = case
    x_before = x.copy()
    F = torch.nn.functional
    y = P.adaptive_avg_pool2d(x, out)
    ty = F.adaptive_avg_pool2d(tt(torch, x), out).numpy()
    assert y.shape == ty.shape and y.dtype == x.dtype and y.flags.c_contiguous
    H, W = x.shape[-2:]
    # a window spans at most ceil(In/Out) + 1 elements per axis
    terms = (H + 1) * (W + 1)
    finite = np.abs(np.nan_to_num(x, posinf=0, neginf=0)).max(initial=0)
    np.testing.assert_allclose(y, ty, rtol=0, atol=avg_tol(x.dtype, terms, finite))

    gy = make_input(seed, y.shape, x.dtype, "normal")
    gx = P.adaptive_avg_pool2d_backward(gy, x.shape)
    if _empty_out(out):
        want = np.zeros_like(x)
    else:
        want = torch_grad(torch, lambda t: F.adaptive_avg_pool2d(t, out), x, gy)
    assert gx.shape == x.shape and gx.dtype == x.dtype
    # an input element lies in at most 2 windows per axis when Out <= In, else in Out/In + 2
    oh, ow = y.shape[-2:]
    overlap = (oh // H + 2) * (ow // W + 2)
    np.testing.assert_allclose(gx, want, rtol=0,
                               atol=avg_tol(x.dtype, overlap, np.abs(gy).max(initial=0)))
    np.testing.assert_array_equal(x, x_before)


# ---------------------------------------------------------------- classic examples --

@pytest.mark.parametrize("dtype", DTYPES)
def test_ceil_mode_last_window_rule(isa, dtype):
    x = np.arange(25, dtype=dtype).reshape(1, 1, 5, 5)
    y, ind = P.max_pool2d(x, 2, 2, 1, ceil_mode=True, return_indices=True)
    # windows start at -1, 1, 3; one starting at 5 would lie in the padding: dropped
    assert y.shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(y[0, 0], [[0, 2, 4], [10, 12, 14], [20, 22, 24]])
    np.testing.assert_array_equal(ind[0, 0], [[0, 2, 4], [10, 12, 14], [20, 22, 24]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_ceil_count_include_pad_ones(isa, dtype):
    x = np.ones((2, 3, 5, 5), dtype)
    y = P.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=True)
    # the divisor counts padding but not the ceil-mode overhang: border windows give 1/4..1
    assert y.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(y[0, 0], [[0.25, 0.5, 0.5], [0.5, 1, 1], [0.5, 1, 1]])
    y = P.avg_pool2d(x, 3, 2, 0, ceil_mode=True, count_include_pad=True)
    np.testing.assert_array_equal(y, np.ones((2, 3, 2, 2), dtype))
    y = P.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_array_equal(y, np.ones((2, 3, 3, 3), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_2x2_stride1(isa, dtype):
    x = np.arange(9, dtype=dtype).reshape(1, 3, 3)
    y, ind = P.max_pool2d(x, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y, [[[4, 5], [7, 8]]])
    np.testing.assert_array_equal(ind, [[[4, 5], [7, 8]]])
    assert ind.dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES)
def test_tie_and_nan_rules(isa, dtype):
    x = np.array([[[1, 1, 2, 2], [1, 1, 2, 2]]], dtype)
    y, ind = P.max_pool2d(x, 2, 2, return_indices=True)
    np.testing.assert_array_equal(ind, [[[0, 2]]])   # first in scan order
    gx = P.max_pool2d_backward(np.ones_like(y), x, 2, 2)
    np.testing.assert_array_equal(gx, [[[1, 0, 1, 0], [0, 0, 0, 0]]])
    x = np.array([[[5, np.nan, np.nan, 9], [1, 1, 2, 2]]], dtype)
    y, ind = P.max_pool2d(x, 2, 2, return_indices=True)
    assert np.isnan(y[0, 0, 0]) and np.isnan(y[0, 0, 1])
    # a NaN wins over anything (PyTorch keeps the last NaN in scan order)
    np.testing.assert_array_equal(ind, [[[1, 2]]])
    y, ind = P.adaptive_max_pool2d(x, 1, return_indices=True)
    assert np.isnan(y[0, 0, 0]) and ind[0, 0, 0] == 2
    y = P.avg_pool2d(x, 2, 2)
    assert np.isnan(y).all()


def test_all_minus_inf_window_index(isa):
    x = np.full((1, 1, 4), -np.inf).astype(np.float32)
    y, ind = P.max_pool2d(x, (1, 2), padding=(0, 1), return_indices=True)
    np.testing.assert_array_equal(y, np.full((1, 1, 3), -np.inf))
    np.testing.assert_array_equal(ind, [[[0, 1, 3]]])   # first in-bounds tap


# ------------------------------------------------------------ indices validation --

@pytest.mark.parametrize("adaptive", [False, True])
def test_bad_indices_raise_without_writing(isa, adaptive):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    if adaptive:
        y, ind = P.adaptive_max_pool2d(x, 3, return_indices=True)
        back = lambda gy, idx: P.adaptive_max_pool2d_backward(gy, x, 3, indices=idx)  # noqa
    else:
        y, ind = P.max_pool2d(x, 2, return_indices=True)
        back = lambda gy, idx: P.max_pool2d_backward(gy, x, 2, indices=idx)  # noqa
    gy = np.ones_like(y)
    for bad in (36, -1, 2**40, -2**62):
        idx = ind.copy()
        idx[1, 2, 2, 2] = bad
        before = idx.copy()
        with pytest.raises(ValueError, match="indices"):
            back(gy, idx)
        np.testing.assert_array_equal(idx, before)
        np.testing.assert_array_equal(gy, np.ones_like(y))
    with pytest.raises(TypeError, match="int64"):
        back(gy, ind.astype(np.int32))
    with pytest.raises(ValueError, match="shape"):
        back(gy, ind[:, :, :2])
    np.testing.assert_array_equal(back(gy, ind), back(gy, None))


# -------------------------------------------------------------------- threads --

def test_thread_count_invariance(isa):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 8, 61, 65)).astype(np.float32)
    x[0, 0, 3, 3] = np.nan
    gy3 = rng.standard_normal((2, 8, 31, 33)).astype(np.float32)
    calls = [
        lambda: P.max_pool2d(x, 3, 2, 1, return_indices=True),
        lambda: P.max_pool2d(x, 2),
        lambda: P.max_pool2d_backward(gy3, x, 3, 2, 1, ceil_mode=True),
        lambda: P.avg_pool2d(x, 3, 1, 1),
        lambda: P.avg_pool2d_backward(gy3, x.shape, 3, 2, 1, ceil_mode=True),
        lambda: P.adaptive_avg_pool2d(x, (5, 7)),
        lambda: P.adaptive_avg_pool2d_backward(gy3, x.shape),
        lambda: P.adaptive_max_pool2d(x, (31, 33), return_indices=True),
        lambda: P.adaptive_max_pool2d_backward(gy3, x, (31, 33)),
    ]
    before = fastconv.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            results.append([c() for c in calls])
    finally:
        fastconv.set_num_threads(before)
    for r in results[1:]:
        for a, b in zip(results[0], r):
            for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
                np.testing.assert_array_equal(u, v)


def test_concurrent_python_threads(isa):
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((4, 16, 40, 40)) for _ in range(4)]
    want = [P.max_pool2d(x, 3, 2, 1) for x in xs]
    got = [None] * 4

    def work(i):
        got[i] = P.max_pool2d(xs[i], 3, 2, 1)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_bad_dtype_and_mismatch(isa):
    x = np.zeros((1, 1, 4, 4), np.int32)
    with pytest.raises(TypeError, match="float32"):
        P.max_pool2d(x, 2)
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError):
        P.max_pool2d_backward(np.zeros((1, 1, 2, 2), np.float64), x, 2)
    with pytest.raises(ValueError):
        P.avg_pool2d_backward(np.zeros((1, 1, 3, 2), np.float32), x.shape, 2)


# ------------------------------------------------ "same" at any stride, per-side padding --

@pytest.mark.parametrize("mod", ["kernels", "reference"])
def test_same_pooling_is_tensorflows_worked_by_hand(isa, mod):
    m = P if mod == "kernels" else R
    x = np.array([[[[1.0, 2.0, 3.0, 4.0, 5.0]]]])
    # k 3, s 2 over 5: padding (1, 1); the average counts only real elements, as TF
    np.testing.assert_array_equal(m.avg_pool2d(x, (1, 3), (1, 2), padding="same"),
                                  [[[[1.5, 3.0, 4.5]]]])
    # count_include_pad does not change that
    np.testing.assert_array_equal(m.avg_pool2d(x, (1, 3), (1, 2), padding="same",
                                               count_include_pad=True), [[[[1.5, 3.0, 4.5]]]])
    # k 2, s 2 over 5: padding (0, 1), the last window holds the last element alone
    v = np.array([[[[1.0, 5.0, 2.0, 4.0, 3.0]]]])
    y, i = m.max_pool2d(v, (1, 2), (1, 2), padding="same", return_indices=True)
    np.testing.assert_array_equal(y, [[[[5.0, 4.0, 3.0]]]])
    np.testing.assert_array_equal(i, [[[[1, 3, 4]]]])


def _pool_pad_cases():
    rng = np.random.default_rng(3)
    out = []
    for _ in range(24):
        k = tuple(int(v) for v in rng.integers(1, 5, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        if rng.random() < 0.3:
            pad = "same"
        else:
            pad = tuple(tuple(int(v) for v in rng.integers(0, k[i] // 2 + 1, 2))
                        for i in range(2))
        out.append((k, s, pad, bool(rng.random() < 0.4), int(rng.integers(0, 1 << 30))))
    return out


@pytest.mark.skipif(R is None, reason="needs the reference")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, s, pad, ceil, seed", _pool_pad_cases())
def test_per_side_and_same_pooling_match_reference(isa, dtype, k, s, pad, ceil, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, int(rng.integers(5, 14)), int(rng.integers(5, 14))))
    x = x.astype(dtype)
    kw = dict(kernel_size=k, stride=s, padding=pad, ceil_mode=ceil)
    y, i = P.max_pool2d(x, return_indices=True, **kw)
    ry, ri = R.max_pool2d(x.astype(np.float64), return_indices=True, **kw)
    np.testing.assert_array_equal(y, ry.astype(dtype))
    np.testing.assert_array_equal(i, ri)
    gy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(P.max_pool2d_backward(gy, x, indices=i, **kw),
                               R.max_pool2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                                     indices=ri, **kw),
                               rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)
    eps = np.finfo(dtype).eps
    for cip in (True, False):
        a = P.avg_pool2d(x, count_include_pad=cip, **kw)
        ra = R.avg_pool2d(x.astype(np.float64), count_include_pad=cip, **kw)
        np.testing.assert_allclose(a, ra, rtol=8 * eps, atol=8 * eps)
        g = P.avg_pool2d_backward(gy, x.shape, count_include_pad=cip, **kw)
        rg = R.avg_pool2d_backward(gy.astype(np.float64), x.shape, count_include_pad=cip, **kw)
        np.testing.assert_allclose(g, rg, rtol=16 * eps, atol=16 * eps)


def test_per_side_pooling_reference_is_explicit_padding():
    """The oracle itself, against padding by hand: -inf for max, zeros for the average with
    count_include_pad (no ceil overhang), and a count of real elements without it."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 7, 6))
    pads = ((0, 1), (1, 0))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads, constant_values=-np.inf)
    np.testing.assert_array_equal(R.max_pool2d(x, 2, 2, padding=pads), R.max_pool2d(xp, 2, 2))
    xz = np.pad(x, ((0, 0), (0, 0)) + pads)
    np.testing.assert_array_equal(R.avg_pool2d(x, 2, 2, padding=pads), R.avg_pool2d(xz, 2, 2))
    ones = np.pad(np.ones_like(x), ((0, 0), (0, 0)) + pads)
    want = R.avg_pool2d(xz, 2, 2, divisor_override=1) / R.avg_pool2d(ones, 2, 2,
                                                                       divisor_override=1)
    np.testing.assert_allclose(R.avg_pool2d(x, 2, 2, padding=pads, count_include_pad=False),
                               want, rtol=1e-15)
