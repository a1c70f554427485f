"""The 1-D family (conv1d, conv_transpose1d, max/avg/adaptive pool1d, each with _backward)
against PyTorch in float64 (forward and autograd gradients), on the kernels of every tier and
on the reference; PyTorch's documented Conv1d shape example; the 1-D argument rules."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as R

DTYPES = [np.float32, np.float64]


def _tol(dt):
    return dict(rtol=64 * np.finfo(dt).eps, atol=64 * np.finfo(dt).eps)


def _torch_grads(torch, fn, arrays, gy):
    ts = [None if a is None else torch.tensor(a, dtype=torch.float64, requires_grad=True)
          for a in arrays]
    y = fn(*ts)
    y.backward(torch.tensor(gy, dtype=torch.float64))
    return y.detach().numpy(), [None if t is None else t.grad.numpy() for t in ts]


def _conv_cases():
    rng = np.random.default_rng(1)
    out = []
    for i in range(30):
        g = int(rng.choice([1, 2]))
        k = int(rng.integers(1, 6))
        s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        pad = ["same", "valid", int(rng.integers(0, 4)), (int(rng.integers(0, 3)),)][i % 4]
        if pad == "same":
            s = 1      # torch refuses 'same' at stride > 1 (the 2-D tests check that rule)
        mode = ["zeros", "zeros", "reflect", "replicate", "circular"][i % 5]
        L = int(rng.integers(d * (k - 1) + 4, 30))
        out.append((g, k, s, d, pad, mode, L, int(rng.integers(0, 1 << 30))))
    return out


@pytest.mark.parametrize("mod", ["kernels", "reference"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("g, k, s, d, pad, mode, L, seed", _conv_cases())
def test_conv1d_matches_torch(isa, torch, mod, dtype, g, k, s, d, pad, mode, L, seed):
    F = torch.nn.functional
    M = fastconv if mod == "kernels" else R
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 2 * g, L))
    w = rng.standard_normal((3 * g, 2, k))
    b = rng.standard_normal(3 * g)
    kw = dict(stride=s, padding=pad, dilation=d, groups=g)
    tpad = pad[0] if isinstance(pad, tuple) else pad

    def tfn(x_, w_, b_):
        if mode != "zeros" and tpad not in ("same", "valid", 0):
            return F.conv1d(F.pad(x_, (tpad, tpad), mode={"replicate": "replicate",
                                                          "reflect": "reflect",
                                                          "circular": "circular"}[mode]),
                            w_, b_, stride=s, dilation=d, groups=g)
        return F.conv1d(x_, w_, b_, stride=s, padding=tpad, dilation=d, groups=g)

    if mode != "zeros" and pad == "same":
        mode = "zeros"
    ty = tfn(*[torch.from_numpy(a) for a in (x, w, b)]).numpy()
    gy = rng.standard_normal(ty.shape)
    _, (tgx, tgw, tgb) = _torch_grads(torch, tfn, (x, w, b), gy)
    xd, wd, bd, gyd = (a.astype(dtype) for a in (x, w, b, gy))
    y = M.conv1d(xd, wd, bd, padding_mode=mode, **kw)
    gx, gw, gb = M.conv1d_backward(gyd, xd, wd, padding_mode=mode, **kw)
    assert y.dtype == dtype and y.shape == ty.shape
    for got, want in ((y, ty), (gx, tgx), (gw, tgw), (gb, tgb)):
        np.testing.assert_allclose(got, want, **_tol(dtype))


@pytest.mark.parametrize("mod", ["kernels", "reference"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s, p, op, d, g", [(1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 2, 0, 2, 1),
                                            (2, 0, 1, 3, 1)])
def test_conv_transpose1d_matches_torch(isa, torch, mod, dtype, s, p, op, d, g):
    F = torch.nn.functional
    M = fastconv if mod == "kernels" else R
    rng = np.random.default_rng(s * 7 + p)
    x = rng.standard_normal((2, 2 * g, 9))
    w = rng.standard_normal((2 * g, 3, 4))
    b = rng.standard_normal(3 * g)
    kw = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    fn = lambda x_, w_, b_: F.conv_transpose1d(x_, w_, b_, **kw)   # noqa: E731
    ty = fn(*[torch.from_numpy(a) for a in (x, w, b)]).numpy()
    gy = rng.standard_normal(ty.shape)
    _, (tgx, tgw, tgb) = _torch_grads(torch, fn, (x, w, b), gy)
    xd, wd, bd, gyd = (a.astype(dtype) for a in (x, w, b, gy))
    np.testing.assert_allclose(M.conv_transpose1d(xd, wd, bd, **kw), ty, **_tol(dtype))
    gx, gw, gb = M.conv_transpose1d_backward(gyd, xd, wd, **kw)
    for got, want in ((gx, tgx), (gw, tgw), (gb, tgb)):
        np.testing.assert_allclose(got, want, **_tol(dtype))
    # output_size picks output_padding as torch.nn.ConvTranspose1d does
    L = ty.shape[-1]
    np.testing.assert_allclose(M.conv_transpose1d(xd, wd, bd, stride=s, padding=p, groups=g,
                                                  dilation=d, output_size=(L,)), ty,
                               **_tol(dtype))


@pytest.mark.parametrize("mod", ["kernels", "reference"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, s, p, d, ceil", [(2, None, 0, 1, False), (3, 2, 1, 1, True),
                                              (3, 1, 1, 2, False), (4, 3, 2, 1, True),
                                              (5, 2, 2, 1, False)])
def test_pool1d_matches_torch(isa, torch, mod, dtype, k, s, p, d, ceil):
    F = torch.nn.functional
    M = fastconv if mod == "kernels" else R
    rng = np.random.default_rng(k * 11 + p)
    x = rng.standard_normal((2, 3, 19))
    x[0, 0, 3:6] = 1.5                          # ties
    xt = torch.from_numpy(x)
    ty, ti = F.max_pool1d(xt, k, s, p, d, ceil_mode=ceil, return_indices=True)
    y, i = M.max_pool1d(x.astype(dtype), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy().astype(dtype))
    np.testing.assert_array_equal(i, ti.numpy())
    gy = rng.standard_normal(ty.shape)
    _, (tg,) = _torch_grads(torch, lambda a: F.max_pool1d(a, k, s, p, d, ceil_mode=ceil),
                            (x,), gy)
    for ind in (None, i):
        np.testing.assert_allclose(M.max_pool1d_backward(gy.astype(dtype), x.astype(dtype), k,
                                                         s, p, d, ceil, indices=ind),
                                   tg, **_tol(dtype))
    for cip in (True, False):
        fn = lambda a: F.avg_pool1d(a, k, s, p, ceil_mode=ceil,   # noqa: E731
                                    count_include_pad=cip)
        ty = fn(xt).numpy()
        np.testing.assert_allclose(M.avg_pool1d(x.astype(dtype), k, s, p, ceil, cip), ty,
                                   **_tol(dtype))
        gy = rng.standard_normal(ty.shape)
        _, (tg,) = _torch_grads(torch, fn, (x,), gy)
        np.testing.assert_allclose(M.avg_pool1d_backward(gy.astype(dtype), x.shape, k, s, p,
                                                         ceil, cip), tg, **_tol(dtype))


@pytest.mark.parametrize("mod", ["kernels", "reference"])
@pytest.mark.parametrize("out", [1, 4, 7, 19, (5,), None])
def test_adaptive_pool1d_matches_torch(isa, torch, mod, out):
    F = torch.nn.functional
    M = fastconv if mod == "kernels" else R
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 19))
    tout = 19 if out is None else out
    ty = F.adaptive_avg_pool1d(torch.from_numpy(x), tout).numpy()
    np.testing.assert_allclose(M.adaptive_avg_pool1d(x, out), ty, rtol=1e-13, atol=1e-13)
    gy = rng.standard_normal(ty.shape)
    _, (tg,) = _torch_grads(torch, lambda a: F.adaptive_avg_pool1d(a, tout), (x,), gy)
    np.testing.assert_allclose(M.adaptive_avg_pool1d_backward(gy, x.shape), tg,
                               rtol=1e-13, atol=1e-13)
    ty, ti = F.adaptive_max_pool1d(torch.from_numpy(x), tout, return_indices=True)
    y, i = M.adaptive_max_pool1d(x, out, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    _, (tg,) = _torch_grads(torch, lambda a: F.adaptive_max_pool1d(a, tout), (x,), gy)
    np.testing.assert_array_equal(M.adaptive_max_pool1d_backward(gy, x, out, indices=i), tg)
    np.testing.assert_array_equal(M.adaptive_max_pool1d_backward(gy, x, out), tg)


def test_conv1d_pytorch_documentation_shapes():
    # torch.nn.Conv1d's example: Conv1d(16, 33, 3, stride=2) on (20, 16, 50) -> (20, 33, 24)
    x = np.zeros((20, 16, 50), np.float32)
    assert fastconv.conv1d(x, np.zeros((33, 16, 3), np.float32), stride=2).shape == (20, 33, 24)
    # MaxPool1d(3, stride=2) on (20, 16, 50) -> (20, 16, 24)
    assert fastconv.max_pool1d(x, 3, stride=2).shape == (20, 16, 24)


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
def test_rank1_unbatched_empty_and_per_side(M):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 12))
    w = rng.standard_normal((2, 3, 3))
    np.testing.assert_array_equal(M.conv1d(x, w), M.conv1d(x[None], w)[0])
    assert M.conv1d(np.zeros((0, 3, 12)), w).shape == (0, 2, 10)
    # per side: ((before, after),) is explicit padding
    np.testing.assert_allclose(M.conv1d(x, w, padding=((2, 0),)),
                               M.conv1d(np.pad(x, ((0, 0), (2, 0))), w), rtol=1e-14)
    # "same" at stride 2: ceil(L / 2) outputs
    assert M.conv1d(x, w, padding="same", stride=2).shape == (2, 6)
    assert M.max_pool1d(x, 2, padding="same").shape == (3, 6)


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
def test_rank1_argument_errors_speak_1d(M):
    x = np.zeros((2, 4, 10))
    w = np.zeros((6, 3, 3))
    with pytest.raises(ValueError, match=r"expected input\[2, 4, 10\] to have 3 channels"):
        M.conv1d(x, w)
    with pytest.raises(ValueError, match="2-D .C, L. or 3-D .N, C, L."):
        M.conv1d(np.zeros((2, 4, 1, 10)), w)
    with pytest.raises(ValueError, match="weight to be 3-D"):
        M.conv1d(x, np.zeros((6, 4, 1, 3)))
    with pytest.raises(ValueError, match="one-entry tuple"):
        M.conv1d(x, np.zeros((6, 4, 3)), stride=(1, 2))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        M.conv1d(x, np.zeros((6, 4, 3)), stride=0)
    with pytest.raises(TypeError, match="expected weight to have the input's dtype"):
        M.conv1d(x, np.zeros((6, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"^max_pool1d: pad should be at most half"):
        M.max_pool1d(x, 3, 1, 2)
    with pytest.raises(ValueError, match="conv1d: calculated padded input size"):
        M.conv1d(x[:, :, :2], np.zeros((6, 4, 3)))
    if M is R:
        with pytest.raises(TypeError, match="algorithm"):
            M.conv1d(x, np.zeros((6, 4, 3)), algorithm="direct")
    else:
        np.testing.assert_array_equal(M.conv1d(x, np.zeros((6, 4, 3)), algorithm="im2col"),
                                      np.zeros((2, 6, 8)))
