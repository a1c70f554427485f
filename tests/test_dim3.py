"""The 3-D family: kernels (every tier, every algorithm) against fastconv.reference, the
reference against brute-force loops and PyTorch, backward passes against finite differences,
and PyTorch's documented shape examples."""
import itertools

import numpy as np
import pytest

import fastconv as fc
from fastconv import reference as R

# (x shape, weight shape, kwargs): padding modes, per-side and "same" padding, groups,
# depthwise, dilation, strides, kernels larger than the depth, unbatched, N = 0
CONV_CASES = [
    ((2, 3, 5, 6, 7), (4, 3, 3, 3, 3), dict()),
    ((1, 4, 6, 5, 5), (6, 2, 2, 3, 1), dict(stride=(2, 1, 2), padding=1, dilation=(2, 1, 1),
                                            groups=2)),
    ((2, 2, 4, 5, 6), (3, 2, 3, 1, 1), dict(padding=(1, 0, 0))),          # temporal (3,1,1)
    ((1, 3, 5, 5, 5), (3, 1, 3, 3, 3), dict(groups=3, padding=1)),        # depthwise
    ((1, 2, 4, 6, 5), (3, 2, 2, 2, 3), dict(padding="same")),
    ((1, 2, 7, 6, 5), (3, 2, 3, 3, 2), dict(padding="same", stride=2)),
    ((1, 2, 5, 6, 5), (3, 2, 2, 3, 3), dict(padding=((1, 0), (0, 2), (2, 1)))),
    ((2, 2, 4, 4, 5), (3, 2, 3, 2, 3), dict(padding=(2, 1, 1), padding_mode="reflect")),
    ((1, 2, 4, 4, 5), (3, 2, 3, 2, 3), dict(padding=1, padding_mode="replicate")),
    ((1, 2, 4, 4, 5), (3, 2, 3, 2, 3), dict(padding=(1, 2, 1), padding_mode="circular")),
    ((1, 3, 3, 5, 4), (2, 3, 3, 2, 2), dict()),                           # kD == D: no unfold
    ((2, 3, 1, 5, 4), (2, 3, 1, 2, 2), dict(stride=(3, 1, 1))),           # D = 1
    ((0, 2, 4, 4, 4), (3, 2, 2, 2, 2), dict()),
    ((2, 4, 4, 5), (4, 1, 2, 2, 3), dict(groups=2)),                      # unbatched
]


def _close(a, b, dtype, scale=1.0):
    tol = (1e-4 if dtype == np.float32 else 1e-11) * max(1.0, scale)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(b)))
                                                              if np.size(b) else 1.0))


def _arrays(rng, xs, ws, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    return x, w


@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
def test_conv3d_kernels_match_reference(isa, rng, xs, ws, kw, dtype, algorithm):
    x, w = _arrays(rng, xs, ws, dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    k = int(np.prod(ws[1:]))
    y = fc.conv3d(x, w, b, algorithm=algorithm, **kw)
    yr = R.conv3d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    assert y.dtype == dtype and y.flags.c_contiguous
    _close(y, yr, dtype, np.sqrt(k))
    gy = rng.standard_normal(y.shape).astype(dtype)
    got = fc.conv3d_backward(gy, x, w, algorithm=algorithm, **{
        k_: v for k_, v in kw.items()})
    want = R.conv3d_backward(gy.astype(np.float64), x.astype(np.float64),
                             w.astype(np.float64), **kw)
    for g, r in zip(got, want):
        assert g.dtype == dtype
        _close(g, r, dtype, np.sqrt(max(k, y.size // max(1, y.shape[-4]))))


TRANSPOSE_CASES = [
    ((2, 4, 3, 4, 3), (4, 3, 2, 3, 2), dict(stride=(2, 1, 2), padding=(1, 0, 1),
                                            output_padding=(1, 0, 0), groups=2)),
    ((1, 2, 3, 3, 3), (2, 3, 3, 3, 3), dict(stride=2, dilation=(1, 2, 1))),
    ((2, 3, 2, 3, 2), (3, 2, 2, 2, 2), dict(stride=2, output_size=(5, 7, 4))),
    ((3, 2, 3, 3), (3, 2, 2, 2, 2), dict()),                              # unbatched
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", TRANSPOSE_CASES)
def test_conv_transpose3d_kernels_match_reference(isa, rng, xs, ws, kw, dtype):
    x, w = _arrays(rng, xs, ws, dtype)
    groups = kw.get("groups", 1)
    b = rng.standard_normal(ws[1] * groups).astype(dtype)
    y = fc.conv_transpose3d(x, w, b, **kw)
    yr = R.conv_transpose3d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                            **kw)
    _close(y, yr, dtype, 8)
    gy = rng.standard_normal(y.shape).astype(dtype)
    got = fc.conv_transpose3d_backward(gy, x, w, **kw)
    want = R.conv_transpose3d_backward(gy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), **kw)
    for g, r in zip(got, want):
        _close(g, r, dtype, 30)


def test_conv3d_chunks_sum_in_a_fixed_order(rng):
    """A batch large enough for several depth-unfold chunks (64 MiB of buffers each): the
    weight gradient sums the chunks, and must still agree with the reference and not depend
    on the thread count."""
    x = rng.standard_normal((6, 8, 8, 64, 64)).astype(np.float32)   # ~13 MiB per image
    w = rng.standard_normal((4, 8, 3, 3, 3)).astype(np.float32)
    y = fc.conv3d(x, w, padding=1)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    n0 = fc.get_num_threads()
    try:
        fc.set_num_threads(1)
        one = fc.conv3d_backward(gy, x, w, padding=1)
        fc.set_num_threads(2)
        two = fc.conv3d_backward(gy, x, w, padding=1)
    finally:
        fc.set_num_threads(n0)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    gw = R.conv3d_backward(gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                           padding=1, output_mask=(False, True, False))[1]
    _close(one[1], gw, np.float32, 300)


# ------------------------------------------------------------------------- pooling --

POOL_CASES = [
    ((2, 3, 5, 6, 7), dict(kernel_size=2)),
    ((1, 2, 7, 6, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 7, 8), dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=(1, 1, 0))),
    ((2, 2, 5, 5, 6), dict(kernel_size=3, stride=1, padding="same")),
    ((1, 2, 6, 5, 7), dict(kernel_size=(3, 2, 2), stride=2, padding=((1, 0), (0, 1), (1, 1)))),
    ((0, 2, 4, 4, 4), dict(kernel_size=2)),
    ((3, 4, 5, 6), dict(kernel_size=2, stride=1)),                       # unbatched
    # rows of >= 8 outputs: the kernels' row-at-a-time paths
    ((1, 2, 5, 6, 20), dict(kernel_size=3, stride=(1, 2, 2), padding=1, ceil_mode=True)),
    ((2, 2, 4, 5, 17), dict(kernel_size=(2, 2, 3), stride=1, padding=(0, 1, 1))),
    ((1, 1, 3, 3, 40), dict(kernel_size=(1, 1, 9), stride=(1, 1, 3))),   # wide column taps
    # windows that tile the volume (kernel = stride): the backward's write-once path, with
    # depths, rows and columns left in no window (odd sizes), padding and ceil_mode
    ((2, 3, 5, 7, 9), dict(kernel_size=2, stride=2)),
    ((1, 2, 7, 5, 11), dict(kernel_size=(3, 2, 3), stride=(3, 2, 3), padding=(1, 1, 0))),
    ((1, 2, 5, 6, 7), dict(kernel_size=2, stride=2, padding=(0, 1, 1), ceil_mode=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", POOL_CASES)
def test_max_pool3d_kernels_match_reference(isa, rng, xs, kw, dtype):
    x = (np.round(rng.standard_normal(xs) * 2) / 2).astype(dtype)   # many ties
    # (depth dilation: the planes the values-only path reduces first are a plane apart)
    dil = [dict(dilation=(1, 2, 1)), dict(dilation=(2, 1, 1))] if "padding" not in kw else []
    for extra in [dict()] + dil:
        y, i = fc.max_pool3d(x, return_indices=True, **kw, **extra)
        yr, ir = R.max_pool3d(x, return_indices=True, **kw, **extra)
        np.testing.assert_array_equal(y, yr)
        np.testing.assert_array_equal(i, ir)
        np.testing.assert_array_equal(fc.max_pool3d(x, **kw, **extra), yr)   # values only
        gy = rng.standard_normal(y.shape).astype(dtype)
        want = R.max_pool3d_backward(gy, x, **kw, **extra)
        _close(fc.max_pool3d_backward(gy, x, **kw, **extra), want, dtype)
        _close(fc.max_pool3d_backward(gy, x, indices=i, **kw, **extra), want, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", POOL_CASES)
@pytest.mark.parametrize("cip,dov", [(True, None), (False, None), (True, 5)])
def test_avg_pool3d_kernels_match_reference(isa, rng, xs, kw, dtype, cip, dov):
    x = rng.standard_normal(xs).astype(dtype)
    args = dict(kw, count_include_pad=cip, divisor_override=dov)
    y = fc.avg_pool3d(x, **args)
    _close(y, R.avg_pool3d(x.astype(np.float64), **args), dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    _close(fc.avg_pool3d_backward(gy, x.shape, **args),
           R.avg_pool3d_backward(gy.astype(np.float64), x.shape, **args), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,osz", [((2, 3, 5, 6, 7), (2, 3, 4)), ((1, 2, 3, 2, 3), (7, 5, 4)),
                                    ((1, 2, 5, 5, 5), 1), ((2, 3, 4, 5, 6), (None, 2, None)),
                                    ((0, 2, 4, 4, 4), 2), ((3, 7, 5, 6), (3, 2, 4))])
def test_adaptive_pool3d_kernels_match_reference(isa, rng, xs, osz, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    y = fc.adaptive_avg_pool3d(x, osz)
    _close(y, R.adaptive_avg_pool3d(x.astype(np.float64), osz), dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    _close(fc.adaptive_avg_pool3d_backward(gy, x.shape),
           R.adaptive_avg_pool3d_backward(gy.astype(np.float64), x.shape), dtype)
    y, i = fc.adaptive_max_pool3d(x, osz, return_indices=True)
    yr, ir = R.adaptive_max_pool3d(x, osz, return_indices=True)
    np.testing.assert_array_equal(y, yr)
    np.testing.assert_array_equal(i, ir)
    want = R.adaptive_max_pool3d_backward(gy, x, osz)
    _close(fc.adaptive_max_pool3d_backward(gy, x, osz), want, dtype)
    _close(fc.adaptive_max_pool3d_backward(gy, x, osz, indices=i), want, dtype)


@pytest.mark.parametrize("fill", [np.nan, -np.inf])
def test_max_pool3d_nan_and_neginf(isa, rng, fill):
    """NaN wins (the last NaN's index), an all -inf window still points at a real element."""
    x = rng.standard_normal((1, 2, 4, 5, 4))
    x[0, 0, 1, 2, :] = fill
    x[0, 1] = fill
    for f, fr, kw in ((fc.max_pool3d, R.max_pool3d, dict(kernel_size=2, stride=1, padding=1)),
                      (fc.adaptive_max_pool3d, R.adaptive_max_pool3d, dict(output_size=3))):
        y, i = f(x, return_indices=True, **kw)
        yr, ir = fr(x, return_indices=True, **kw)
        np.testing.assert_array_equal(f(x, **kw), yr)
        np.testing.assert_array_equal(y, yr)
        np.testing.assert_array_equal(i, ir)
        assert (i >= 0).all()


def test_max_pool3d_backward_refuses_bad_indices(rng):
    x = rng.standard_normal((1, 2, 4, 4, 4))
    y, i = fc.max_pool3d(x, 2, return_indices=True)
    bad = i.copy()
    bad[0, 1, 0, 0, 0] = 64
    with pytest.raises(ValueError, match="indices"):
        fc.max_pool3d_backward(np.ones_like(y), x, 2, indices=bad)


def test_max_unpool3d_inverts_max_pool3d(rng):
    x = rng.standard_normal((2, 3, 4, 6, 5))
    y, i = fc.max_pool3d(x, 2, return_indices=True)
    u = fc.max_unpool3d(y, i, 2, output_size=x.shape[2:])
    np.testing.assert_array_equal(u, R.max_unpool3d(y, i, 2, output_size=x.shape[2:]))
    assert u.shape == x.shape
    np.testing.assert_array_equal(u.reshape(-1)[i.reshape(-1) + np.repeat(
        np.arange(6) * x[0, 0].size, y[0, 0].size)], y.reshape(-1))
    gu = rng.standard_normal(u.shape)
    np.testing.assert_array_equal(fc.max_unpool3d_backward(gu, i, 2, output_size=x.shape),
                                  R.max_unpool3d_backward(gu, i, 2, output_size=x.shape))


# -------------------------------------------------- reference against brute force --

def _brute_conv3d(x, w, b, stride, pad, dilation, groups):
    N, C, D, H, W = x.shape
    Co, Cg, kD, kH, kW = w.shape
    out = [(n + p0 + p1 - d * (k - 1) - 1) // s + 1 for n, k, s, (p0, p1), d in
           zip((D, H, W), (kD, kH, kW), stride, pad, dilation)]
    y = np.zeros((N, Co) + tuple(out))
    for n, o, i, j, l in itertools.product(range(N), range(Co), *(range(v) for v in out)):
        g = o // (Co // groups)
        acc = b[o]
        for c, a, e, f in itertools.product(range(Cg), range(kD), range(kH), range(kW)):
            dd = i * stride[0] - pad[0][0] + a * dilation[0]
            hh = j * stride[1] - pad[1][0] + e * dilation[1]
            ww = l * stride[2] - pad[2][0] + f * dilation[2]
            if 0 <= dd < D and 0 <= hh < H and 0 <= ww < W:
                acc += w[o, c, a, e, f] * x[n, g * Cg + c, dd, hh, ww]
        y[n, o, i, j, l] = acc
    return y


def _brute_pool3d(x, k, s, p, d, ceil_mode, kind):
    N, C = x.shape[:2]
    size = x.shape[2:]
    out = []
    for n, kk, ss, pp, dd in zip(size, k, s, p, d):
        o = (n + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= n + pp:
            o -= 1
        out.append(o)
    y = np.zeros((N, C) + tuple(out))
    for n, c, *o in itertools.product(range(N), range(C), *(range(v) for v in out)):
        vals, cnt = [], 0
        for t in itertools.product(*(range(v) for v in k)):
            pos = [oi * si - pi + ti * di for oi, si, pi, ti, di in zip(o, s, p, t, d)]
            if all(-pi <= q < nn + pi for q, nn, pi in zip(pos, size, p)):
                cnt += 1
            if all(0 <= q < nn for q, nn in zip(pos, size)):
                vals.append(x[(n, c) + tuple(pos)])
        y[(n, c) + tuple(o)] = max(vals) if kind == "max" else sum(vals) / cnt
    return y


def test_reference_conv3d_against_brute_force(rng):
    x = rng.standard_normal((2, 4, 4, 5, 4))
    w = rng.standard_normal((4, 2, 2, 3, 2))
    b = rng.standard_normal(4)
    got = R.conv3d(x, w, b, stride=(2, 1, 2), padding=((1, 0), (1, 1), (0, 2)),
                   dilation=(1, 2, 1), groups=2)
    want = _brute_conv3d(x, w, b, (2, 1, 2), ((1, 0), (1, 1), (0, 2)), (1, 2, 1), 2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_reference_pool3d_against_brute_force(rng, kind):
    x = rng.standard_normal((1, 2, 5, 6, 5))
    k, s, p = (3, 2, 3), (2, 2, 1), (1, 1, 1)
    want = _brute_pool3d(x, k, s, p, (1, 1, 1), True, kind)
    f = R.max_pool3d if kind == "max" else R.avg_pool3d
    np.testing.assert_allclose(f(x, k, s, p, ceil_mode=True), want, rtol=1e-12, atol=1e-12)


def test_backward_against_finite_differences(rng):
    """conv3d's and conv_transpose3d's gradients: <gy, f(x + e*v) - f(x - e*v)> / 2e."""
    x = rng.standard_normal((1, 2, 3, 4, 3))
    w = rng.standard_normal((3, 2, 2, 2, 2))
    kw = dict(stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1))
    gy = rng.standard_normal(fc.conv3d(x, w, **kw).shape)
    gx, gw, _ = fc.conv3d_backward(gy, x, w, **kw)
    eps = 1e-6
    for arr, grad, name in ((x, gx, "x"), (w, gw, "w")):
        v = rng.standard_normal(arr.shape)

        def f(t):
            return fc.conv3d(x + t * v, w, **kw) if name == "x" else fc.conv3d(x, w + t * v, **kw)
        fd = np.sum(gy * (f(eps) - f(-eps))) / (2 * eps)
        assert abs(fd - np.sum(grad * v)) < 1e-6 * max(1, abs(fd))
    wt = rng.standard_normal((2, 3, 2, 2, 2))
    tk = dict(stride=2, padding=(1, 0, 0), output_padding=(1, 0, 1))
    gy = rng.standard_normal(fc.conv_transpose3d(x, wt, **tk).shape)
    gx, gw, _ = fc.conv_transpose3d_backward(gy, x, wt, **tk)
    v = rng.standard_normal(x.shape)
    fd = np.sum(gy * (fc.conv_transpose3d(x + eps * v, wt, **tk)
                      - fc.conv_transpose3d(x - eps * v, wt, **tk))) / (2 * eps)
    assert abs(fd - np.sum(gx * v)) < 1e-6 * max(1, abs(fd))
    gyp = rng.standard_normal(fc.avg_pool3d(np.zeros((1, 2, 5, 6, 5)), 3, 2, 1,
                                            ceil_mode=True).shape)
    gp = fc.avg_pool3d_backward(gyp, (1, 2, 5, 6, 5), 3, 2, 1, ceil_mode=True)
    v = rng.standard_normal((1, 2, 5, 6, 5))
    fd = np.sum(gyp * fc.avg_pool3d(v, 3, 2, 1, ceil_mode=True))   # linear: exact
    assert abs(fd - np.sum(gp * v)) < 1e-9 * max(1, abs(fd))


# ------------------------------------------------------------------------- torch --

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv3d_family_matches_torch(torch, rng, dtype):
    F = torch.nn.functional
    t = torch.from_numpy
    x = rng.standard_normal((2, 4, 6, 7, 5)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 2, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    kw = dict(stride=(2, 1, 1), padding=(1, 1, 0), dilation=(1, 1, 2), groups=2)
    _close(fc.conv3d(x, w, b, **kw), F.conv3d(t(x), t(w), t(b), **kw).numpy(), dtype, 8)
    _close(R.conv3d(x, w, b, **kw), F.conv3d(t(x), t(w), t(b), **kw).numpy(), dtype, 8)
    wt = rng.standard_normal((4, 3, 2, 3, 2)).astype(dtype)
    tk = dict(stride=2, padding=(1, 0, 1), output_padding=(1, 0, 0), groups=2)
    _close(fc.conv_transpose3d(x, wt, None, **tk),
           F.conv_transpose3d(t(x), t(wt), None, **tk).numpy(), dtype, 8)
    y, i = fc.max_pool3d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    yt, it = F.max_pool3d(t(x), 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(i, it.numpy())
    for cip in (True, False):
        _close(fc.avg_pool3d(x, (2, 3, 3), 2, 1, ceil_mode=True, count_include_pad=cip),
               F.avg_pool3d(t(x), (2, 3, 3), 2, 1, ceil_mode=True,
                            count_include_pad=cip).numpy(), dtype)
    _close(fc.adaptive_avg_pool3d(x, (3, 4, 2)), F.adaptive_avg_pool3d(t(x), (3, 4, 2)).numpy(),
           dtype)
    y, i = fc.adaptive_max_pool3d(x, (3, 4, 2), return_indices=True)
    yt, it = F.adaptive_max_pool3d(t(x), (3, 4, 2), return_indices=True)
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(i, it.numpy())
    yp, ip = F.max_pool3d(t(x), 2, return_indices=True)
    np.testing.assert_array_equal(
        fc.max_unpool3d(yp.numpy(), ip.numpy(), 2, output_size=x.shape[2:]),
        F.max_unpool3d(yp, ip, 2, output_size=x.shape[2:]).numpy())


def test_torch_documented_shapes():
    """torch.nn.Conv3d's and MaxPool3d's documentation examples: input (20, 16, 10, 50, 100)."""
    x = np.zeros((20, 16, 10, 50, 100), np.float32)
    w = np.zeros((33, 16, 3, 3, 3), np.float32)
    assert fc.conv3d(x, w, stride=2).shape == (20, 33, 4, 24, 49)
    w2 = np.zeros((33, 16, 3, 5, 2), np.float32)
    assert fc.conv3d(x, w2, stride=(2, 1, 1), padding=(4, 2, 0)).shape == (20, 33, 8, 50, 99)
    x = np.zeros((20, 16, 50, 44, 31), np.float32)
    assert fc.max_pool3d(x, 3, stride=2).shape == (20, 16, 24, 21, 15)
    assert fc.max_pool3d(x, (3, 2, 2), stride=(2, 1, 2)).shape == (20, 16, 24, 43, 15)


# --------------------------------------------------------------- hypothesis sweeps --

from hypothesis import given, strategies as st  # noqa: E402


@st.composite
def _conv3d_call(draw):
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 3)) for _ in range(3))
    s = tuple(draw(st.integers(1, 3)) for _ in range(3))
    d = tuple(draw(st.integers(1, 2)) for _ in range(3))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(3))
    size = tuple(max(draw(st.integers(1, 6)), dd * (kk - 1) + 1 - a - b, max(a, b) + 1)
                 for kk, dd, (a, b) in zip(k, d, pads))
    padding = draw(st.sampled_from([pads, "same", tuple(p[0] for p in pads)]))
    if padding == "same" and mode != "zeros":
        mode = "zeros"
    n = draw(st.integers(0, 2))
    return (n, cin) + size, (cout, cin // groups) + k, dict(stride=s, dilation=d,
                                                             groups=groups, padding=padding,
                                                             padding_mode=mode)


@given(_conv3d_call(), st.sampled_from(["direct", "im2col"]), st.integers(0, 2 ** 31))
def test_conv3d_sweep(call, algorithm, seed):
    xs, ws, kw = call
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    try:
        want = R.conv3d(x, w, **kw)
    except ValueError as e:
        with pytest.raises(ValueError):
            fc.conv3d(x, w, algorithm=algorithm, **kw)
        return
    np.testing.assert_allclose(fc.conv3d(x, w, algorithm=algorithm, **kw), want,
                               rtol=1e-11, atol=1e-11)
    gy = rng.standard_normal(want.shape)
    for g, r in zip(fc.conv3d_backward(gy, x, w, algorithm=algorithm, **kw),
                    R.conv3d_backward(gy, x, w, **kw)):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10)


@given(st.tuples(st.integers(0, 2), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7),
                 st.integers(1, 12)),
       st.tuples(*(st.integers(1, 3) for _ in range(3))),
       st.tuples(*(st.integers(1, 3) for _ in range(3))),
       st.tuples(*(st.integers(0, 1) for _ in range(3))),
       st.booleans(), st.booleans(), st.integers(0, 2 ** 31))
def test_pool3d_sweep(shape, k, s, p, ceil_mode, cip, seed):
    x = np.round(np.random.default_rng(seed).standard_normal(shape) * 2) / 2
    p = tuple(min(pp, kk // 2) for pp, kk in zip(p, k))
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode)
    try:
        want, wi = R.max_pool3d(x, return_indices=True, **kw)
    except ValueError:
        with pytest.raises(ValueError):
            fc.max_pool3d(x, **kw)
        return
    y, i = fc.max_pool3d(x, return_indices=True, **kw)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(i, wi)
    np.testing.assert_allclose(fc.avg_pool3d(x, count_include_pad=cip, **kw),
                               R.avg_pool3d(x, count_include_pad=cip, **kw), rtol=1e-12,
                               atol=1e-12)
    gy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    np.testing.assert_allclose(fc.avg_pool3d_backward(gy, x.shape, count_include_pad=cip, **kw),
                               R.avg_pool3d_backward(gy, x.shape, count_include_pad=cip, **kw),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fc.max_pool3d_backward(gy, x, **kw),
                               R.max_pool3d_backward(gy, x, **kw), rtol=1e-12, atol=1e-12)


WINO_CASES = [
    ((2, 4, 5, 7, 6), (6, 4, 3, 3, 3), dict(padding=1)),
    ((1, 4, 6, 6, 5), (4, 2, 2, 3, 3), dict(stride=(2, 1, 1), dilation=(2, 1, 1), groups=2,
                                            padding=((1, 0), (0, 2), (1, 1)))),
    ((1, 3, 4, 5, 5), (3, 1, 1, 3, 3), dict(groups=3, padding=(0, 1, 1),
                                            padding_mode="reflect")),
]


@pytest.mark.parametrize("algorithm", ["winograd", "winograd_2x2", "winograd_4x4"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", WINO_CASES)
def test_conv3d_winograd_matches_reference(isa, rng, xs, ws, kw, dtype, algorithm):
    """Winograd over (H, W) with the depth taps as channels: every tier, both dtypes; the
    tolerance allows the transform's amplification (F(4x4): tests/data/winograd_error.json)."""
    x, w = _arrays(rng, xs, ws, dtype)
    scale = 160 if algorithm == "winograd_4x4" else 8
    k = int(np.prod(ws[1:]))
    y = fc.conv3d(x, w, algorithm=algorithm, **kw)
    _close(y, R.conv3d(x.astype(np.float64), w.astype(np.float64), **kw), dtype,
           scale * np.sqrt(k))
    gy = rng.standard_normal(y.shape).astype(dtype)
    for g, r in zip(fc.conv3d_backward(gy, x, w, algorithm=algorithm, **kw),
                    R.conv3d_backward(gy.astype(np.float64), x.astype(np.float64),
                                      w.astype(np.float64), **kw)):
        _close(g, r, dtype, scale * np.sqrt(max(k, y.size)))


def test_conv3d_winograd_refuses_what_it_does_not_serve(rng):
    x = rng.standard_normal((1, 2, 4, 6, 6))
    for ws, kw in (((2, 2, 3, 3, 2), {}), ((2, 2, 3, 3, 3), dict(stride=(1, 2, 1))),
                   ((2, 2, 3, 3, 3), dict(dilation=(1, 1, 2)))):
        w = rng.standard_normal(ws)
        with pytest.raises(ValueError, match="serves kernels"):
            fc.conv3d(x, w, algorithm="winograd", **kw)
        gy = np.zeros(fc.conv3d(x, w, **kw).shape)
        with pytest.raises(ValueError, match="serves kernels"):
            fc.conv3d_backward(gy, x, w, algorithm="winograd_2x2", **kw)
    # depth stride and dilation are the depth unfold's: served
    fc.conv3d(x, rng.standard_normal((2, 2, 2, 3, 3)), stride=(2, 1, 1), dilation=(2, 1, 1),
              algorithm="winograd")


def test_auto_picks_winograd_only_where_the_table_says(rng):
    """'auto' runs F(2x2) on the suite's wide 3-D layers (c3d_64, unet3d_32: in
    tests/data/winograd_error.json) and not where the 2-D rule says no (few channels)."""
    from fastconv import _args3, _kernels

    def pick(xs, ws):
        a = _args3.conv3d_args(np.zeros(xs, np.float32), np.zeros(ws, np.float32), None, 1, 1)
        return _kernels.choose_conv3d_algo(a.geom(), 0, 4)
    assert pick((1, 64, 16, 56, 56), (128, 64, 3, 3, 3)) == "winograd"
    assert pick((1, 3, 16, 112, 112), (64, 3, 3, 3, 3)) != "winograd"


@pytest.mark.parametrize("algo", ["auto", "winograd", "im2col"])
@pytest.mark.parametrize("where", ["x", "w", "gy"])
@pytest.mark.parametrize("fill", [np.inf, np.nan])
def test_conv3d_non_finite_reach_exactly_their_outputs(isa, rng, algo, where, fill):
    """A NaN or Inf makes exactly the outputs whose real (non-padding) taps meet it
    non-finite, whatever algorithm was asked for: Winograd mixes a tile's inputs and im2col
    multiplies the padding, so the 3-D driver, which checks the whole arrays once for all its
    chunks, must send such calls to direct.  Elsewhere: the convolution without that value."""
    x = rng.standard_normal((2, 8, 5, 6, 6))
    w = rng.standard_normal((8, 8, 3, 3, 3))
    gy = rng.standard_normal((2, 8, 5, 6, 6))
    arrays = {"x": x, "w": w, "gy": gy}
    at = {"x": (1, 2, 3, 1, 4), "w": (1, 2, 2, 1, 0), "gy": (1, 2, 0, 1, 5)}[where]
    clean = {k: v.copy() for k, v in arrays.items()}
    ind = {k: np.zeros_like(v) for k, v in arrays.items()}
    arrays[where][at] = fill
    ind[where][at] = 1
    ones = {k: np.ones_like(v) for k, v in arrays.items()}
    ey = R.conv3d(clean["x"], clean["w"], padding=1)
    egx, egw, _ = R.conv3d_backward(clean["gy"], clean["x"], clean["w"], padding=1)
    # touched: the op on the indicator of the bad value, ones elsewhere
    ty = R.conv3d(ind["x"] if where == "x" else ones["x"],
                  ind["w"] if where == "w" else ones["w"], padding=1) > 0
    tgx = R.conv3d_backward(ind["gy"] if where == "gy" else ones["gy"], ones["x"],
                            ind["w"] if where == "w" else ones["w"], padding=1)[0] > 0
    tgw = R.conv3d_backward(ind["gy"] if where == "gy" else ones["gy"],
                            ind["x"] if where == "x" else ones["x"], ones["w"], padding=1)[1] > 0
    if where == "x":
        tgx[:] = False
    if where == "w":
        tgw[:] = False
    if where == "gy":
        ty[:] = False
    for dt in (np.float32, np.float64):
        xd, wd, gyd = x.astype(dt), w.astype(dt), gy.astype(dt)
        got = (fc.conv3d(xd, wd, padding=1, algorithm=algo),) + \
            fc.conv3d_backward(gyd, xd, wd, padding=1, algorithm=algo)[:2]
        tol = dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)
        for what, g, e, t in zip(("output", "grad_input", "grad_weight"), got,
                                 (ey, egx, egw), (ty, tgx, tgw)):
            np.testing.assert_array_equal(~np.isfinite(g), t, err_msg=what)
            np.testing.assert_allclose(g[~t], e[~t], err_msg=what, **tol)
