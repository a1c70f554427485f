"""fastconv.reference against the brute-force loops of tests/brute.py, against central finite
differences, and on its array-handling promises and argument errors."""
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import brute
from fastconv import _args
from fastconv import reference as R

DTYPES = (np.float32, np.float64)
randn, assert_close = brute.randn, brute.assert_close


def _rng(case):
    """A generator seeded by the drawn case, so a failure replays identically."""
    return np.random.default_rng(zlib.crc32(repr(case).encode()))


# ----------------------------------------------------------------------------------------------
# Reference vs brute force
# ----------------------------------------------------------------------------------------------

@given(case=brute.conv_cases(), dtype=st.sampled_from(DTYPES))
def test_conv2d_matches_brute(case, dtype):
    rng = _rng(case)
    x, w = randn(rng, case["x_shape"], dtype), randn(rng, case["w_shape"], dtype)
    b = randn(rng, case["w_shape"][0], dtype) if case["bias"] else None
    y = R.conv2d(x, w, b, **case["kwargs"])
    assert y.dtype == dtype
    f64 = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    want = brute.conv2d(f64(x), f64(w), f64(b), **case["norm"])
    mag = brute.conv2d(np.abs(f64(x)), np.abs(f64(w)), None if b is None else np.abs(f64(b)),
                       **case["norm"])
    length = np.prod(case["w_shape"][1:]) + 1
    assert_close(y, want, length, mag, dtype, "conv2d")

    gy = randn(rng, y.shape, dtype)
    gx, gw, gb = R.conv2d_backward(gy, x, w, **case["kwargs"])
    wgx, wgw, wgb = brute.conv2d_backward(f64(gy), f64(x), f64(w), **case["norm"])
    mgx, mgw, mgb = brute.conv2d_backward(np.abs(f64(gy)), np.abs(f64(x)), np.abs(f64(w)),
                                          **case["norm"])
    n, co, ho, wo = y.shape
    k = case["w_shape"][2] * case["w_shape"][3]
    assert_close(gx, wgx, brute.fold_count(case) * (co // case["kwargs"]["groups"]) * k, mgx,
                 dtype, "grad_input")
    assert_close(gw, wgw, n * ho * wo, mgw, dtype, "grad_weight")
    assert_close(gb, wgb, n * ho * wo, mgb, dtype, "grad_bias")
    assert gx.dtype == gw.dtype == gb.dtype == dtype


@given(case=brute.conv_transpose_cases(), dtype=st.sampled_from(DTYPES))
def test_conv_transpose2d_matches_brute(case, dtype):
    rng = _rng(case)
    x, w = randn(rng, case["x_shape"], dtype), randn(rng, case["w_shape"], dtype)
    b = randn(rng, case["w_shape"][1] * case["kwargs"]["groups"], dtype) if case["bias"] else None
    y = R.conv_transpose2d(x, w, b, **case["kwargs"])
    assert y.dtype == dtype
    f64 = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    want = brute.conv_transpose2d(f64(x), f64(w), f64(b), **case["norm"])
    mag = brute.conv_transpose2d(np.abs(f64(x)), np.abs(f64(w)),
                                 None if b is None else np.abs(f64(b)), **case["norm"])
    cg_in = case["x_shape"][1] // case["kwargs"]["groups"]
    k = case["w_shape"][2] * case["w_shape"][3]
    assert_close(y, want, cg_in * k + 1, mag, dtype, "conv_transpose2d")

    gy = randn(rng, y.shape, dtype)
    gx, gw, gb = R.conv_transpose2d_backward(gy, x, w, **case["kwargs"])
    wgx, wgw, wgb = brute.conv_transpose2d_backward(f64(gy), f64(x), f64(w), **case["norm"])
    mgx, mgw, mgb = brute.conv_transpose2d_backward(np.abs(f64(gy)), np.abs(f64(x)),
                                                    np.abs(f64(w)), **case["norm"])
    n, _, h, wd = x.shape
    assert_close(gx, wgx, case["w_shape"][1] * k, mgx, dtype, "grad_input")
    assert_close(gw, wgw, n * h * wd, mgw, dtype, "grad_weight")
    assert_close(gb, wgb, np.prod(y.shape) // max(y.shape[1], 1), mgb, dtype, "grad_bias")


@given(case=brute.max_pool_cases(), dtype=st.sampled_from(DTYPES))
def test_max_pool2d_matches_brute(case, dtype):
    rng = _rng(case)
    x = brute.distinct_values(rng, case["x_shape"], dtype)
    y, idx = R.max_pool2d(x, **case["kwargs"], return_indices=True)
    want, want_idx = brute.max_pool2d(x.astype(np.float64), **case["norm"])
    assert y.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, want.astype(dtype))
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(R.max_pool2d(x, **case["kwargs"]), y)

    gy = randn(rng, y.shape, dtype)
    want_gx = brute.scatter_indices(gy.astype(np.float64), want_idx, x.shape)
    mag = brute.scatter_indices(np.abs(gy.astype(np.float64)), want_idx, x.shape)
    overlap = int(np.prod(case["norm"]["kernel"]))
    for given_idx in (None, idx):
        gx = R.max_pool2d_backward(gy, x, **case["kwargs"], indices=given_idx)
        assert gx.dtype == dtype
        assert_close(gx, want_gx, overlap, mag, dtype, "max_pool2d_backward")


def test_max_pool2d_ties_nan_and_infinities():
    x = np.array([[[[1.0, 1.0, 0.0],
                    [1.0, np.nan, 0.0],
                    [np.nan, 2.0, -np.inf]]]])
    y, idx = R.max_pool2d(x, 2, stride=1, return_indices=True)
    # (0,0): NaN wins.  (0,1): NaN wins.  (1,0): NaN at 4 then NaN at 6: the last NaN (PyTorch).
    # (1,1): NaN at 4.
    assert np.isnan(y).all()
    np.testing.assert_array_equal(idx, [[[[4, 4], [6, 4]]]])
    y, idx = R.max_pool2d(np.array([[[[1.0, 1.0], [1.0, 1.0]]]]), 2, return_indices=True)
    np.testing.assert_array_equal(idx, [[[[0]]]])          # ties: first in scan order
    y, idx = R.max_pool2d(np.full((1, 1, 2, 3), -np.inf), 2, stride=1, padding=1,
                          return_indices=True)
    assert np.all(y == -np.inf)
    # All -inf: the first input element of each window (the padding never wins).
    np.testing.assert_array_equal(idx, [[[[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5]]]])
    g = R.max_pool2d_backward(np.ones((1, 1, 3, 4)), np.full((1, 1, 2, 3), -np.inf), 2,
                              stride=1, padding=1)
    np.testing.assert_array_equal(g, [[[[4, 2, 2], [2, 1, 1]]]])


def test_max_pool2d_window_without_input_elements_is_rejected():
    # Dilation 3 steps from the left padding straight past a 2-wide input: window 0 reads
    # positions -1 and 2 only, so it has no maximum (PyTorch returns an out-of-range index).
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    for call in (lambda: R.max_pool2d(x, 2, stride=1, padding=1, dilation=3),
                 lambda: R.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2, stride=1,
                                               padding=1, dilation=3)):
        with pytest.raises(ValueError, match="holds only padding"):
            call()


@given(case=brute.avg_pool_cases(), dtype=st.sampled_from(DTYPES))
def test_avg_pool2d_matches_brute(case, dtype):
    rng = _rng(case)
    x = randn(rng, case["x_shape"], dtype)
    y = R.avg_pool2d(x, **case["kwargs"])
    assert y.dtype == dtype
    want = brute.avg_pool2d(x.astype(np.float64), **case["norm"])
    mag = brute.avg_pool2d(np.abs(x.astype(np.float64)), **case["norm"])
    length = int(np.prod(case["norm"]["kernel"])) + 1
    assert_close(y, want, length, np.abs(mag), dtype, "avg_pool2d")

    gy = randn(rng, y.shape, dtype)
    gx = R.avg_pool2d_backward(gy, x.shape, **case["kwargs"])
    assert gx.dtype == dtype and gx.shape == x.shape
    want = brute.avg_pool2d_backward(gy.astype(np.float64), x.shape, **case["norm"])
    mag = brute.avg_pool2d_backward(np.abs(gy.astype(np.float64)), x.shape, **case["norm"])
    assert_close(gx, want, length, np.abs(mag), dtype, "avg_pool2d_backward")


@given(case=brute.adaptive_cases(), dtype=st.sampled_from(DTYPES))
def test_adaptive_pools_match_brute(case, dtype):
    rng = _rng(case)
    x = brute.distinct_values(rng, case["x_shape"], dtype)
    x64 = x.astype(np.float64)
    h, w = case["x_shape"][2:]
    length = (h // max(case["out"][0], 1) + 2) * (w // case["out"][1] + 2)

    y = R.adaptive_avg_pool2d(x, case["output_size"])
    assert y.dtype == dtype
    assert_close(y, brute.adaptive_avg_pool2d(x64, case["out"]), length,
                 brute.adaptive_avg_pool2d(np.abs(x64), case["out"]), dtype, "adaptive avg")
    gy = randn(rng, y.shape, dtype)
    gx = R.adaptive_avg_pool2d_backward(gy, x.shape)
    assert gx.dtype == dtype
    g64 = gy.astype(np.float64)
    assert_close(gx, brute.adaptive_avg_pool2d_backward(g64, x.shape), length,
                 brute.adaptive_avg_pool2d_backward(np.abs(g64), x.shape), dtype,
                 "adaptive avg backward")

    y, idx = R.adaptive_max_pool2d(x, case["output_size"], return_indices=True)
    want, want_idx = brute.adaptive_max_pool2d(x64, case["out"])
    np.testing.assert_array_equal(y, want.astype(dtype))
    np.testing.assert_array_equal(idx, want_idx)
    for given_idx in (None, idx):
        gx = R.adaptive_max_pool2d_backward(gy, x, case["output_size"], indices=given_idx)
        assert_close(gx, brute.scatter_indices(g64, want_idx, x.shape), length,
                     brute.scatter_indices(np.abs(g64), want_idx, x.shape), dtype,
                     "adaptive max backward")


def test_adaptive_max_pool2d_nan_and_ties():
    x = np.array([[[[3.0, 3.0, np.nan, 1.0, np.nan]]]])
    y, idx = R.adaptive_max_pool2d(x, (1, 2), return_indices=True)
    # windows [0, 3) and [2, 5): first gives the NaN at 2; second the last NaN (4).
    assert np.isnan(y).all()
    np.testing.assert_array_equal(idx, [[[[2, 4]]]])
    y, idx = R.adaptive_max_pool2d(np.array([[[[3.0, 3.0, 1.0]]]]), (1, 1), return_indices=True)
    np.testing.assert_array_equal(idx, [[[[0]]]])


# ----------------------------------------------------------------------------------------------
# Backward passes against central finite differences (float64)
# ----------------------------------------------------------------------------------------------

def _directional_fd(f, args, i, direction, h=1e-6):
    """(f(args[i] + h v) - f(args[i] - h v)) / 2h for a scalar f."""
    plus, minus = list(args), list(args)
    plus[i] = args[i] + h * direction
    minus[i] = args[i] - h * direction
    return (f(*plus) - f(*minus)) / (2 * h)


def check_gradients(f_loss, args, grads, rng, rtol=1e-6):
    """Each analytic gradient against finite differences along 3 random directions."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        for _ in range(3):
            v = rng.standard_normal(args[i].shape)
            fd = _directional_fd(f_loss, args, i, v)
            an = float(np.sum(g * v))
            scale = float(np.sum(np.abs(g * v))) + 1e-12
            assert abs(fd - an) <= rtol * scale + 1e-7, (i, fd, an)


@given(case=brute.conv_cases(max_hw=5, max_c=2))
def test_conv2d_backward_finite_differences(case):
    rng = _rng(case)
    x, w = randn(rng, case["x_shape"]), randn(rng, case["w_shape"])
    b = randn(rng, case["w_shape"][0])
    kw = case["kwargs"]
    r = randn(rng, R.conv2d(x, w, b, **kw).shape)

    def loss(x_, w_, b_):
        return float(np.sum(R.conv2d(x_, w_, b_, **kw) * r))

    grads = R.conv2d_backward(r, x, w, **kw)
    check_gradients(loss, [x, w, b], grads, rng)


@given(case=brute.conv_transpose_cases(max_hw=4, max_c=2))
def test_conv_transpose2d_backward_finite_differences(case):
    rng = _rng(case)
    x, w = randn(rng, case["x_shape"]), randn(rng, case["w_shape"])
    b = randn(rng, case["w_shape"][1] * case["kwargs"]["groups"])
    kw = case["kwargs"]
    r = randn(rng, R.conv_transpose2d(x, w, b, **kw).shape)

    def loss(x_, w_, b_):
        return float(np.sum(R.conv_transpose2d(x_, w_, b_, **kw) * r))

    check_gradients(loss, [x, w, b], R.conv_transpose2d_backward(r, x, w, **kw), rng)


@given(case=brute.max_pool_cases())
def test_max_pool2d_backward_finite_differences(case):
    rng = _rng(case)
    x = brute.distinct_values(rng, case["x_shape"])
    kw = case["kwargs"]
    r = randn(rng, R.max_pool2d(x, **kw).shape)
    check_gradients(lambda x_: float(np.sum(R.max_pool2d(x_, **kw) * r)), [x],
                    [R.max_pool2d_backward(r, x, **kw)], rng)


@given(case=brute.avg_pool_cases())
def test_avg_pool2d_backward_finite_differences(case):
    rng = _rng(case)
    x = randn(rng, case["x_shape"])
    kw = case["kwargs"]
    r = randn(rng, R.avg_pool2d(x, **kw).shape)
    check_gradients(lambda x_: float(np.sum(R.avg_pool2d(x_, **kw) * r)), [x],
                    [R.avg_pool2d_backward(r, x.shape, **kw)], rng)


@given(case=brute.adaptive_cases())
def test_adaptive_pools_backward_finite_differences(case):
    rng = _rng(case)
    x = brute.distinct_values(rng, case["x_shape"])
    os_ = case["output_size"]
    r = randn(rng, R.adaptive_avg_pool2d(x, os_).shape)
    check_gradients(lambda x_: float(np.sum(R.adaptive_avg_pool2d(x_, os_) * r)), [x],
                    [R.adaptive_avg_pool2d_backward(r, x.shape)], rng)
    check_gradients(lambda x_: float(np.sum(R.adaptive_max_pool2d(x_, os_) * r)), [x],
                    [R.adaptive_max_pool2d_backward(r, x, os_)], rng)


# ----------------------------------------------------------------------------------------------
# Array handling: layouts, read-only inputs, unbatched, N = 0, output_mask
# ----------------------------------------------------------------------------------------------

def _all_calls(x, rng):
    """(name, thunk) for one call of every public function on input x (float, 4-D or 3-D)."""
    dt = x.dtype
    c = x.shape[-3]
    w = randn(rng, (4, c, 3, 2), dt)
    wt = randn(rng, (c, 2, 2, 3), dt)
    b4 = randn(rng, 4, dt)
    lead = x.shape[:-3]
    y = R.conv2d(x, w, b4, stride=(2, 1), padding=1)
    gy = randn(rng, y.shape, dt)
    yt = R.conv_transpose2d(x, wt, None, stride=2, padding=1, output_padding=1)
    gyt = randn(rng, yt.shape, dt)
    gpool = randn(rng, lead + (c, 3, 3), dt)
    gmp = randn(rng, R.max_pool2d(x, 3, 2, 1).shape, dt)
    return [
        ("conv2d", lambda: R.conv2d(x, w, b4, stride=(2, 1), padding=1)),
        ("conv2d reflect", lambda: R.conv2d(x, w, None, padding="same",
                                            padding_mode="reflect")),
        ("conv2d_backward", lambda: R.conv2d_backward(gy, x, w, stride=(2, 1), padding=1)),
        ("conv_transpose2d", lambda: R.conv_transpose2d(x, wt, None, stride=2, padding=1,
                                                        output_padding=1)),
        ("conv_transpose2d_backward", lambda: R.conv_transpose2d_backward(
            gyt, x, wt, stride=2, padding=1, output_padding=1)),
        ("max_pool2d", lambda: R.max_pool2d(x, 3, 2, 1, return_indices=True)),
        ("max_pool2d_backward", lambda: R.max_pool2d_backward(gmp, x, 3, 2, 1)),
        ("avg_pool2d", lambda: R.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
        ("avg_pool2d_backward", lambda: R.avg_pool2d_backward(
            gmp, x.shape, 3, 2, 1)),
        ("adaptive_avg_pool2d", lambda: R.adaptive_avg_pool2d(x, 3)),
        ("adaptive_avg_pool2d_backward", lambda: R.adaptive_avg_pool2d_backward(gpool,
                                                                                x.shape)),
        ("adaptive_max_pool2d", lambda: R.adaptive_max_pool2d(x, 3, return_indices=True)),
        ("adaptive_max_pool2d_backward", lambda: R.adaptive_max_pool2d_backward(gpool, x, 3)),
    ]


def _flat(result):
    return [r for r in (result if isinstance(result, tuple) else (result,)) if r is not None]


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_readonly_and_fresh_results(dtype):
    rng = np.random.default_rng(3)
    base = randn(rng, (2, 3, 7, 6), dtype)
    want = {name: _flat(f()) for name, f in _all_calls(base, np.random.default_rng(4))}
    big = randn(rng, (2, 3, 14, 12), dtype)
    big[:, :, ::2, ::-2] = base[:, :, :, ::-1]
    views = {
        "fortran": np.asfortranarray(base),
        "strided, negative strides": big[:, :, ::2, ::-2][:, :, :, ::-1],
        "read-only": base.copy(),
    }
    views["read-only"].flags.writeable = False
    for label, x in views.items():
        before = x.copy()
        for name, f in _all_calls(x, np.random.default_rng(4)):
            got = _flat(f())
            for g, wnt in zip(got, want[name]):
                assert g.flags.c_contiguous and g.flags.owndata, (label, name)
                assert g.dtype == wnt.dtype
                np.testing.assert_array_equal(g, wnt, err_msg=f"{label}: {name}")
        np.testing.assert_array_equal(x, before)


def test_arguments_never_modified_or_aliased():
    rng = np.random.default_rng(5)
    x = randn(rng, (2, 3, 6, 5))
    calls = _all_calls(x, np.random.default_rng(6))
    # Every array argument of every call, snapshotted through the closures' cells.
    args = [c.cell_contents for _, f in calls for c in (f.__closure__ or ())
            if isinstance(c.cell_contents, np.ndarray)]
    snaps = [a.copy() for a in args]
    for name, f in calls:
        for r in _flat(f()):
            assert not any(np.shares_memory(r, a) for a in args), name
            r[...] = 0     # writing a result must not reach any argument
    for a, s in zip(args, snaps):
        np.testing.assert_array_equal(a, s)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_equals_batch_of_one(dtype):
    x = randn(np.random.default_rng(7), (3, 7, 6), dtype)
    batched = _all_calls(x[None], np.random.default_rng(8))
    for (name, f3), (_, f4) in zip(_all_calls(x, np.random.default_rng(8)), batched):
        r3, r4 = _flat(f3()), _flat(f4())
        assert len(r3) == len(r4)
        for a, b in zip(r3, r4):
            if name.endswith("backward") and a.ndim == b.ndim:   # weight/bias gradients
                np.testing.assert_array_equal(a, b, err_msg=name)
            else:
                assert a.ndim == 3, name
                np.testing.assert_array_equal(a, b[0], err_msg=name)


def test_empty_batch():
    x = np.zeros((0, 3, 7, 6), np.float32)
    for name, f in _all_calls(x, np.random.default_rng(9)):
        results = _flat(f())
        assert results[0].shape[0] == 0, name      # output or grad_input: empty batch
        for r in results[1:]:
            assert r.dtype in (np.float32, np.int64)
            # indices are empty too; weight and bias gradients of an empty batch are zeros
            assert r.size == 0 or np.all(r == 0), name


def test_output_mask():
    rng = np.random.default_rng(10)
    x, w = randn(rng, (2, 4, 5, 5)), randn(rng, (6, 2, 3, 3))
    gy = randn(rng, (2, 6, 3, 3))
    full = R.conv2d_backward(gy, x, w, groups=2)
    for mask in [(True, False, False), (False, True, False), (False, False, True),
                 (False, False, False), (True, False, True)]:
        got = R.conv2d_backward(gy, x, w, groups=2, output_mask=mask)
        for m, g, f in zip(mask, got, full):
            if m:
                np.testing.assert_array_equal(g, f)
            else:
                assert g is None
    wt = randn(rng, (4, 3, 2, 2))
    gyt = randn(rng, R.conv_transpose2d(x, wt, groups=2, stride=2).shape)
    full = R.conv_transpose2d_backward(gyt, x, wt, stride=2, groups=2)
    got = R.conv_transpose2d_backward(gyt, x, wt, stride=2, groups=2,
                                      output_mask=(False, True, False))
    assert got[0] is None and got[2] is None
    np.testing.assert_array_equal(got[1], full[1])


def test_special_values_propagate():
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 3, 3] = np.inf
    y = R.conv2d(x, np.ones((1, 1, 2, 2)))
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 0, 1, 1])
    assert y[0, 0, 2, 2] == np.inf and y[0, 0, 0, 2] == 4
    # zero padding must not turn into NaN next to an inf (no 0 * inf anywhere)
    z = np.zeros((1, 1, 3, 3))
    z[0, 0, 0, 0] = np.inf
    y = R.conv2d(z, np.ones((1, 1, 3, 3)), padding=1, padding_mode="reflect")
    assert np.all(np.isinf(y[0, 0, :2, :2])) and not np.isnan(y).any()
    y = R.avg_pool2d(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 1, 1] == np.inf and y[0, 0, 0, 1] == 1


# ----------------------------------------------------------------------------------------------
# Argument errors (validation lives in fastconv._args; this checks the reference uses it)
# ----------------------------------------------------------------------------------------------

X = np.zeros((2, 4, 7, 7))
W = np.zeros((6, 4, 3, 3))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: R.conv2d(X.tolist(), W), TypeError, "input"),
    (lambda: R.conv2d(X.astype(np.int32), W), TypeError, "float32 or float64"),
    (lambda: R.conv2d(X.astype(np.float16), W), TypeError, "float32 or float64"),
    (lambda: R.conv2d(X, W.astype(np.float32)), TypeError, "weight"),
    (lambda: R.conv2d(X, W, np.zeros(6, np.float32)), TypeError, "bias"),
    (lambda: R.conv2d(X[0, 0], W), ValueError, "3-D .* or 4-D"),
    (lambda: R.conv2d(X[None], W), ValueError, "3-D .* or 4-D"),
    (lambda: R.conv2d(X, W[0]), ValueError, "4-D weight"),
    (lambda: R.conv2d(X, np.zeros((6, 3, 3, 3))), ValueError,
     r"expected input\[2, 4, 7, 7\] to have 3 channels, but got 4 channels instead"),
    (lambda: R.conv2d(X, np.zeros((6, 2, 3, 3)), groups=3), ValueError, "groups"),
    (lambda: R.conv2d(X, np.zeros((5, 2, 3, 3)), groups=2), ValueError, "groups"),
    (lambda: R.conv2d(X, W, groups=0), ValueError, "groups"),
    (lambda: R.conv2d(X, W, groups=1.0), TypeError, "groups"),
    (lambda: R.conv2d(X, W, np.zeros(5)), ValueError, "bias"),
    (lambda: R.conv2d(X, W, stride=0), ValueError, "stride"),
    (lambda: R.conv2d(X, W, stride=(1, 2, 3)), ValueError, "stride"),
    (lambda: R.conv2d(X, W, stride=1.5), TypeError, "stride"),
    (lambda: R.conv2d(X, W, padding=-1), ValueError, "padding"),
    (lambda: R.conv2d(X, W, padding="full"), ValueError, "padding"),
    (lambda: R.conv2d(X, W, padding=((1, 1), 1)), TypeError, "padding"),
    (lambda: R.conv2d(X, W, padding=((1, 1, 1), (1, 1))), ValueError, "padding"),
    (lambda: R.conv2d(X, W, padding=((1, -1), (1, 1))), ValueError, "padding"),
    (lambda: R.conv2d(X, W, dilation=0), ValueError, "dilation"),
    (lambda: R.conv2d(X, W, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: R.conv2d(X, W, padding=7, padding_mode="reflect"), ValueError, "reflect"),
    (lambda: R.conv2d(X, W, padding=8, padding_mode="circular"), ValueError, "circular"),
    (lambda: R.conv2d(X, np.zeros((6, 4, 9, 3))), ValueError, "Kernel size"),
    (lambda: R.conv2d(X, W, dilation=4), ValueError, "Kernel size"),
    (lambda: R.conv2d(np.zeros((2, 4, 0, 7)), W), ValueError, "non-zero"),
    (lambda: R.conv2d(X, np.zeros((0, 4, 3, 3))), ValueError, "weight"),
    (lambda: R.conv2d_backward(np.zeros((2, 6, 4, 5)), X, W), ValueError, "grad_output"),
    (lambda: R.conv2d_backward(np.zeros((2, 6, 5, 5), np.float32), X, W), TypeError,
     "grad_output"),
    (lambda: R.conv2d_backward(np.zeros((2, 6, 5, 5)), X, W, output_mask=(True,)),
     ValueError, "output_mask"),
    (lambda: R.conv2d_backward(np.zeros((2, 6, 5, 5)), X, W, output_mask=True),
     TypeError, "output_mask"),
])
def test_conv2d_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


WT = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: R.conv_transpose2d(X, np.zeros((3, 3, 3, 3))), ValueError, "channels"),
    (lambda: R.conv_transpose2d(X, WT, groups=3), ValueError, "groups"),
    (lambda: R.conv_transpose2d(X, WT, stride=2, output_padding=2), ValueError,
     "output padding must be smaller than either stride or dilation"),
    (lambda: R.conv_transpose2d(X, WT, output_padding=1), ValueError, "output padding"),
    (lambda: R.conv_transpose2d(X, WT, padding=5), ValueError, "too small"),
    (lambda: R.conv_transpose2d(X, WT, padding="same"), ValueError, "padding"),
    (lambda: R.conv_transpose2d(X, WT, np.zeros(4)), ValueError, "bias"),
    (lambda: R.conv_transpose2d(X, WT.astype(np.float32)), TypeError, "weight"),
    (lambda: R.conv_transpose2d_backward(np.zeros((2, 3, 8, 8)), X, WT), ValueError,
     "grad_output"),
])
def test_conv_transpose2d_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: R.max_pool2d(X, 0), ValueError, "kernel_size"),
    (lambda: R.max_pool2d(X, 2, stride=0), ValueError, "stride"),
    (lambda: R.max_pool2d(X, 2, padding=2), ValueError, "pad should be at most half"),
    (lambda: R.max_pool2d(X, 2, dilation=0), ValueError, "dilation"),
    (lambda: R.max_pool2d(X, 9), ValueError, "too small"),
    (lambda: R.max_pool2d(X.astype(np.int64), 2), TypeError, "float32 or float64"),
    (lambda: R.max_pool2d(X, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda: R.max_pool2d(np.zeros((2, 0, 7, 7)), 2), ValueError, "non-zero"),
    (lambda: R.max_pool2d_backward(np.zeros((2, 4, 3, 3)), X, 3), ValueError, "grad_output"),
    (lambda: R.max_pool2d_backward(np.zeros((2, 4, 3, 3)), X, 2,
                                   indices=np.zeros((2, 4, 3, 3), np.int32)),
     TypeError, "int64"),
    (lambda: R.max_pool2d_backward(np.zeros((2, 4, 3, 3)), X, 2,
                                   indices=np.full((2, 4, 3, 3), 49, np.int64)),
     ValueError, "indices"),
    (lambda: R.avg_pool2d(X, 2, padding=2), ValueError, "pad should be at most half"),
    (lambda: R.avg_pool2d(X, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: R.avg_pool2d(X, 2, count_include_pad=None), TypeError, "count_include_pad"),
    (lambda: R.avg_pool2d_backward(np.zeros((2, 4, 3, 3)), (2, 4, 7, 7), 3), ValueError,
     "grad_output"),
    (lambda: R.avg_pool2d_backward(np.zeros((2, 4, 3, 3)), (4, 7, 7), 2), ValueError,
     "grad_output"),
    (lambda: R.avg_pool2d_backward(np.zeros((2, 4, 3, 3)), 7, 2), TypeError, "input_shape"),
    (lambda: R.adaptive_avg_pool2d(X, -1), ValueError, "output_size"),
    (lambda: R.adaptive_avg_pool2d(X, (1, 2, 3)), ValueError, "output_size"),
    (lambda: R.adaptive_max_pool2d(X, 2.5), TypeError, "output_size"),
    (lambda: R.adaptive_avg_pool2d_backward(np.zeros((2, 4, 3)), (2, 4, 7, 7)), ValueError,
     "grad_output"),
    (lambda: R.adaptive_max_pool2d_backward(np.zeros((2, 4, 3, 3)), X, 2), ValueError,
     "grad_output"),
    (lambda: R.adaptive_max_pool2d_backward(np.zeros((2, 4, 2, 2)), X, 2,
                                            indices=np.full((2, 4, 2, 2), -1, np.int64)),
     ValueError, "indices"),
    (lambda: R.adaptive_max_pool2d_backward(np.zeros((2, 4, 2, 2)), X, 2,
                                            indices=np.zeros((2, 4, 2, 2))),
     TypeError, "int64"),
])
def test_pooling_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call", [
    lambda: R.conv2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), padding=2**40),
    lambda: R.conv_transpose2d(np.zeros((1, 1, 1, 2)), np.zeros((1, 1, 1, 1)), stride=2**40,
                               dilation=2**40, output_padding=2**39),
    lambda: R.adaptive_avg_pool2d(np.zeros((1, 1, 1, 1)), 2**31),
    lambda: R.avg_pool2d_backward(np.zeros((1, 1, 1, 1)), (1, 1, 2**31, 2**31), 2**31),
])
def test_outputs_too_large_are_refused_before_any_work(call):
    with pytest.raises((ValueError, MemoryError), match="too large"):
        call()


def test_float32_is_computed_in_float32():
    # Sums of hundreds of float32 terms rounded step by step differ somewhere from the float64
    # sum rounded once; identical results everywhere would mean a float64 computation.
    rng = np.random.default_rng(12)
    x, w = randn(rng, (2, 16, 12, 12), np.float32), randn(rng, (8, 16, 5, 5), np.float32)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    gy = randn(rng, (2, 8, 8, 8), np.float32)
    pairs = [
        (R.conv2d(x, w), R.conv2d(x64, w64)),
        (R.conv2d_backward(gy, x, w)[0], R.conv2d_backward(gy.astype(np.float64), x64, w64)[0]),
        (R.conv2d_backward(gy, x, w)[1], R.conv2d_backward(gy.astype(np.float64), x64, w64)[1]),
        (R.conv_transpose2d(gy, w), R.conv_transpose2d(gy.astype(np.float64), w64)),
        (R.avg_pool2d(x, 7, 1), R.avg_pool2d(x64, 7, 1)),
        (R.adaptive_avg_pool2d(x, 1), R.adaptive_avg_pool2d(x64, 1)),
    ]
    for i, (y32, y64) in enumerate(pairs):
        assert y32.dtype == np.float32
        assert np.any(y32 != y64.astype(np.float32)), i


@pytest.mark.parametrize("H, k, s, d, want", [
    (5, 3, 2, 1, (1, 1)), (6, 3, 2, 1, (0, 1)), (7, 4, 3, 1, (1, 2)), (4, 1, 2, 1, (0, 0)),
    (8, 3, 2, 2, (1, 2)), (1, 5, 3, 1, (2, 2)), (6, 4, 1, 1, (1, 2))])
def test_same_padding_is_tensorflows_at_any_stride(H, k, s, d, want):
    # worked by hand: out = ceil(H / s), total = max((out - 1)*s + d*(k - 1) + 1 - H, 0),
    # the odd unit after (stride 1: PyTorch's rule)
    assert _args.same_padding(H, k, s, d) == want
    rng = np.random.default_rng(H * 100 + k)
    x = rng.standard_normal((2, 3, H, H + 1))
    w = rng.standard_normal((4, 3, k, k))
    y = R.conv2d(x, w, padding="same", stride=s, dilation=d)
    assert y.shape[2] == -(-H // s)
    t, b = want
    l, r = _args.same_padding(H + 1, k, s, d)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    np.testing.assert_array_equal(y, R.conv2d(xp, w, stride=s, dilation=d))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_per_side_padding_is_explicit_padding(mode):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    pads = ((1, 2), (0, 3))
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]
    xp = np.pad(x, ((0, 0), (0, 0)) + pads, mode=np_mode)
    y = R.conv2d(x, w, padding=pads, padding_mode=mode, stride=(2, 1))
    np.testing.assert_array_equal(y, R.conv2d(xp, w, stride=(2, 1)))
    # one pair for both axes
    np.testing.assert_array_equal(R.conv2d(x, w, padding=((1, 2),)),
                                  R.conv2d(x, w, padding=((1, 2), (1, 2))))
    if mode == "zeros":     # the gradient is the explicit-padding gradient, cropped
        gy = rng.standard_normal(y.shape)
        gx, gw, _ = R.conv2d_backward(gy, x, w, padding=pads, stride=(2, 1))
        gxp, gwp, _ = R.conv2d_backward(gy, xp, w, stride=(2, 1))
        np.testing.assert_allclose(gx, gxp[:, :, 1:-2, 0:-3], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(gw, gwp, rtol=1e-13, atol=1e-13)
