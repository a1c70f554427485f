"""fastconv.reference against torch.nn.functional (forward) and torch.autograd (backward),
both dtypes, over random valid argument sets.  Skipped when torch is not installed."""
import zlib

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import brute
from brute import assert_close, randn
from fastconv import reference as R

DTYPES = (np.float32, np.float64)


def _rng(case):
    return np.random.default_rng(zlib.crc32(repr(case).encode()))


def _t(torch, a, grad=False):
    return None if a is None else torch.tensor(a, requires_grad=grad)


def _grads(torch, y, inputs, gy):
    """torch.autograd gradients of <y, gy> for each tensor in inputs (None stays None)."""
    live = [t for t in inputs if t is not None]
    got = iter(torch.autograd.grad(y, live, torch.tensor(gy)))
    return [None if t is None else next(got).numpy() for t in inputs]


def _abs(a):
    return None if a is None else np.abs(a.astype(np.float64))


@given(case=brute.conv_cases(max_hw=9, max_c=4), dtype=st.sampled_from(DTYPES))
def test_conv2d_vs_torch(torch, case, dtype):
    F = torch.nn.functional
    rng = _rng(case)
    x, w = randn(rng, case["x_shape"], dtype), randn(rng, case["w_shape"], dtype)
    b = randn(rng, case["w_shape"][0], dtype) if case["bias"] else None
    kw, nm = case["kwargs"], case["norm"]
    xt, wt, bt = _t(torch, x, True), _t(torch, w, True), _t(torch, b, True)
    if nm["mode"] == "zeros":
        yt = F.conv2d(xt, wt, bt, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    else:   # torch.nn.functional.conv2d has no padding_mode: pad explicitly, as nn.Conv2d does
        t, bo, l, r = nm["pads"]
        yt = F.conv2d(F.pad(xt, (l, r, t, bo), mode=nm["mode"]), wt, bt, kw["stride"], 0,
                      kw["dilation"], kw["groups"])
    y = R.conv2d(x, w, b, **kw)
    mag = R.conv2d(_abs(x), _abs(w), _abs(b), **kw)
    cg, kh, kwd = case["w_shape"][1:]
    assert y.dtype == dtype
    assert_close(y, yt.detach().numpy(), cg * kh * kwd + 1, mag, dtype, "conv2d")

    gy = randn(rng, y.shape, dtype)
    want = _grads(torch, yt, [xt, wt, bt], gy)
    got = R.conv2d_backward(gy, x, w, **kw)
    mags = R.conv2d_backward(_abs(gy), _abs(x), _abs(w), **kw)
    n, co, ho, wo = y.shape
    lengths = (brute.fold_count(case) * (co // kw["groups"]) * kh * kwd, n * ho * wo,
               n * ho * wo)
    for name, g, wnt, m, length in zip(("grad_input", "grad_weight", "grad_bias"), got, want,
                                       mags, lengths):
        if wnt is not None:
            assert_close(g, wnt, length, m, dtype, name)


@given(case=brute.conv_transpose_cases(max_hw=7, max_c=4), dtype=st.sampled_from(DTYPES))
def test_conv_transpose2d_vs_torch(torch, case, dtype):
    F = torch.nn.functional
    rng = _rng(case)
    kw = case["kwargs"]
    x, w = randn(rng, case["x_shape"], dtype), randn(rng, case["w_shape"], dtype)
    b = randn(rng, case["w_shape"][1] * kw["groups"], dtype) if case["bias"] else None
    xt, wt, bt = _t(torch, x, True), _t(torch, w, True), _t(torch, b, True)
    yt = F.conv_transpose2d(xt, wt, bt, kw["stride"], kw["padding"], kw["output_padding"],
                            kw["groups"], kw["dilation"])
    y = R.conv_transpose2d(x, w, b, **kw)
    mag = R.conv_transpose2d(_abs(x), _abs(w), _abs(b), **kw)
    k = case["w_shape"][2] * case["w_shape"][3]
    cg_in = case["x_shape"][1] // kw["groups"]
    assert y.dtype == dtype
    assert_close(y, yt.detach().numpy(), cg_in * k + 1, mag, dtype, "conv_transpose2d")

    gy = randn(rng, y.shape, dtype)
    want = _grads(torch, yt, [xt, wt, bt], gy)
    got = R.conv_transpose2d_backward(gy, x, w, **kw)
    mags = R.conv_transpose2d_backward(_abs(gy), _abs(x), _abs(w), **kw)
    n, _, h, wd = x.shape
    lengths = (case["w_shape"][1] * k, n * h * wd, int(np.prod(y.shape)) // y.shape[1])
    for name, g, wnt, m, length in zip(("grad_input", "grad_weight", "grad_bias"), got, want,
                                       mags, lengths):
        if wnt is not None:
            assert_close(g, wnt, length, m, dtype, name)


@given(case=brute.max_pool_cases(max_hw=9), dtype=st.sampled_from(DTYPES),
       ties=st.booleans())
def test_max_pool2d_vs_torch(torch, case, dtype, ties):
    F = torch.nn.functional
    rng = _rng((case, ties))
    kw = case["kwargs"]
    # PyTorch allows padding up to half the kernel; the contract up to half the dilated
    # kernel (those cases are covered against the brute force in test_reference.py).
    assume(all(p <= k // 2 for p, k in zip(case["norm"]["padding"], case["norm"]["kernel"])))
    if ties:   # few distinct values, some NaN and -inf: exercises the tie and NaN rules
        x = rng.integers(0, 3, case["x_shape"]).astype(dtype)
        x[rng.random(x.shape) < 0.1] = np.nan
        x[rng.random(x.shape) < 0.1] = -np.inf
    else:
        x = brute.distinct_values(rng, case["x_shape"], dtype)
    xt = _t(torch, x, True)
    yt, it = F.max_pool2d(xt, kw["kernel_size"], kw["stride"], kw["padding"], kw["dilation"],
                          kw["ceil_mode"], return_indices=True)
    y, idx = R.max_pool2d(x, **kw, return_indices=True)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(idx, it.numpy())

    gy = randn(rng, y.shape, dtype)
    (want,) = _grads(torch, yt, [xt], gy)
    mag = R.max_pool2d_backward(np.abs(gy), x, **kw)
    overlap = int(np.prod(case["norm"]["kernel"]))
    for indices in (None, idx):
        got = R.max_pool2d_backward(gy, x, **kw, indices=indices)
        assert_close(got, want, overlap, mag, dtype, "max_pool2d_backward")


@given(case=brute.avg_pool_cases(max_hw=9), dtype=st.sampled_from(DTYPES))
def test_avg_pool2d_vs_torch(torch, case, dtype):
    F = torch.nn.functional
    rng = _rng(case)
    kw = case["kwargs"]
    x = randn(rng, case["x_shape"], dtype)
    xt = _t(torch, x, True)
    yt = F.avg_pool2d(xt, kw["kernel_size"], kw["stride"], kw["padding"], kw["ceil_mode"],
                      kw["count_include_pad"], kw["divisor_override"])
    y = R.avg_pool2d(x, **kw)
    length = int(np.prod(case["norm"]["kernel"])) + 1
    assert_close(y, yt.detach().numpy(), length, np.abs(R.avg_pool2d(_abs(x), **kw)), dtype,
                 "avg_pool2d")
    gy = randn(rng, y.shape, dtype)
    (want,) = _grads(torch, yt, [xt], gy)
    got = R.avg_pool2d_backward(gy, x.shape, **kw)
    mag = np.abs(R.avg_pool2d_backward(_abs(gy), x.shape, **kw))
    assert_close(got, want, length, mag, dtype, "avg_pool2d_backward")


@given(case=brute.adaptive_cases(max_hw=11), dtype=st.sampled_from(DTYPES), ties=st.booleans())
def test_adaptive_pools_vs_torch(torch, case, dtype, ties):
    F = torch.nn.functional
    rng = _rng((case, ties))
    os_ = case["output_size"]
    x = randn(rng, case["x_shape"], dtype)
    h, w = case["x_shape"][2:]
    length = (h // max(case["out"][0], 1) + 2) * (w // case["out"][1] + 2)

    xt = _t(torch, x, True)
    yt = F.adaptive_avg_pool2d(xt, os_)
    y = R.adaptive_avg_pool2d(x, os_)
    assert_close(y, yt.detach().numpy(), length, R.adaptive_avg_pool2d(_abs(x), os_), dtype,
                 "adaptive_avg_pool2d")
    gy = randn(rng, y.shape, dtype)
    # PyTorch's adaptive backward rejects an empty output plane (the reference gives zeros).
    torch_backward = y.shape[2] > 0 and y.shape[3] > 0
    if torch_backward:
        (want,) = _grads(torch, yt, [xt], gy)
        assert_close(R.adaptive_avg_pool2d_backward(gy, x.shape), want, length,
                     R.adaptive_avg_pool2d_backward(_abs(gy), x.shape), dtype,
                     "adaptive_avg_pool2d_backward")

    if ties:
        x = rng.integers(0, 3, case["x_shape"]).astype(dtype)
        x[rng.random(x.shape) < 0.1] = np.nan
        x[rng.random(x.shape) < 0.1] = -np.inf
    xt = _t(torch, x, True)
    yt, it = F.adaptive_max_pool2d(xt, os_, return_indices=True)
    y, idx = R.adaptive_max_pool2d(x, os_, return_indices=True)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(idx, it.numpy())
    if not torch_backward:
        return
    (want,) = _grads(torch, yt, [xt], gy)
    mag = R.adaptive_max_pool2d_backward(np.abs(gy), x, os_)
    for indices in (None, idx):
        assert_close(R.adaptive_max_pool2d_backward(gy, x, os_, indices=indices), want,
                     length, mag, dtype, "adaptive_max_pool2d_backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_vs_torch(torch, dtype):
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    x, w = randn(rng, (3, 8, 7), dtype), randn(rng, (4, 3, 3, 2), dtype)
    xt, wt = torch.tensor(x), torch.tensor(w)
    mag = R.conv2d(_abs(x), _abs(w), stride=2, padding=1)
    assert_close(R.conv2d(x, w, stride=2, padding=1),
                 F.conv2d(xt, wt, stride=2, padding=1).numpy(), 19, mag, dtype, "conv2d")
    np.testing.assert_array_equal(R.max_pool2d(x, 3, 2, 1), F.max_pool2d(xt, 3, 2, 1).numpy())
    wt_ = randn(rng, (3, 2, 2, 2), dtype)
    mag = R.conv_transpose2d(_abs(x), _abs(wt_), stride=2)
    assert_close(R.conv_transpose2d(x, wt_, stride=2),
                 F.conv_transpose2d(xt, torch.tensor(wt_), stride=2).numpy(), 13, mag, dtype,
                 "conv_transpose2d")


@pytest.mark.parametrize("pads", [((1, 2), (0, 3)), ((0, 1), (2, 0)), ((3, 0), (0, 0))])
def test_per_side_padding_vs_torch_pad_then_conv(pads, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(sum(map(sum, pads)))
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 4))
    (t, b), (l, r) = pads
    want = F.conv2d(F.pad(torch.from_numpy(x), (l, r, t, b)), torch.from_numpy(w), stride=2,
                    groups=2).numpy()
    got = R.conv2d(x, w, padding=pads, stride=2, groups=2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
