"""max_unpool1d / max_unpool2d and their backward against PyTorch (float64 autograd), kernels
and reference; the later of duplicate indices wins; argument rules; nn.MaxUnpool1d/2d."""
import numpy as np
import pytest

import fastconv
import fastconv.nn as fnn
from fastconv import reference as R

CASES2 = [((2, 3, 8, 8), dict(kernel_size=2), [None, (9, 8), (2, 3, 8, 9)]),
          ((2, 3, 8, 7), dict(kernel_size=3, stride=2, padding=1), [(8, 7)]),
          ((1, 2, 9, 9), dict(kernel_size=(3, 2), stride=(3, 1)), [None])]


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kw, sizes", CASES2)
def test_max_unpool2d_matches_torch(torch, M, dtype, shape, kw, sizes):
    F = torch.nn.functional
    rng = np.random.default_rng(len(shape) + len(kw))
    x = rng.standard_normal(shape)
    ty, ti = F.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
    for osz in sizes:
        yt = ty.clone().requires_grad_(True)
        out = F.max_unpool2d(yt, ti, output_size=osz, **kw)
        g = rng.standard_normal(tuple(out.shape))
        out.backward(torch.from_numpy(g))
        got = M.max_unpool2d(ty.numpy().astype(dtype), ti.numpy(), output_size=osz, **kw)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, out.detach().numpy().astype(dtype))
        np.testing.assert_array_equal(
            M.max_unpool2d_backward(g.astype(dtype), ti.numpy(), output_size=osz, **kw),
            yt.grad.numpy().astype(dtype))


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
def test_max_unpool1d_matches_torch(torch, M):
    F = torch.nn.functional
    x = np.random.default_rng(3).standard_normal((2, 3, 11))
    ty, ti = F.max_pool1d(torch.from_numpy(x), 3, 2, 1, return_indices=True)
    for osz in (None, (11,), [2, 3, 11]):
        yt = ty.clone().requires_grad_(True)
        out = F.max_unpool1d(yt, ti, 3, 2, 1, output_size=osz)
        g = np.random.default_rng(4).standard_normal(tuple(out.shape))
        out.backward(torch.from_numpy(g))
        np.testing.assert_array_equal(M.max_unpool1d(ty.numpy(), ti.numpy(), 3, 2, 1, osz),
                                      out.detach().numpy())
        np.testing.assert_array_equal(M.max_unpool1d_backward(g, ti.numpy(), 3, 2, 1, osz),
                                      yt.grad.numpy())


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
def test_unpool_rules(M):
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    # duplicates: the later element wins (PyTorch's scan order)
    y = M.max_unpool2d(x, np.array([[[[0, 0], [5, 5]]]]), 2)
    np.testing.assert_array_equal(y[0, 0].reshape(-1)[[0, 5]], [2.0, 4.0])
    assert M.max_unpool2d(x[0], np.zeros((1, 2, 2), np.int64), 2).shape == (1, 4, 4)
    with pytest.raises(ValueError, match="indices hold an invalid max index 16"):
        M.max_unpool2d(x, np.full((1, 1, 2, 2), 16, np.int64), 2)
    with pytest.raises(ValueError, match="indices hold an invalid max index -1"):
        M.max_unpool2d(x, np.full((1, 1, 2, 2), -1, np.int64), 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        M.max_unpool2d(x, np.zeros((1, 1, 2, 2), np.int64), 2, output_size=(6, 6))
    with pytest.raises(TypeError, match="int64"):
        M.max_unpool2d(x, np.zeros((1, 1, 2, 2), np.int32), 2)
    with pytest.raises(ValueError, match="indices of the input's shape"):
        M.max_unpool2d(x, np.zeros((1, 1, 2, 3), np.int64), 2)
    with pytest.raises(ValueError, match="grad_output"):
        M.max_unpool2d_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2), np.int64), 2)


def test_unpool_layers_match_torch(torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 8, 9))
    tp = torch.nn.MaxPool2d(2, return_indices=True)
    ty, ti = tp(torch.from_numpy(x))
    fl, tl = fnn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    yt = ty.clone().requires_grad_(True)
    out = tl(yt, ti, output_size=(8, 9))
    g = rng.standard_normal(tuple(out.shape))
    out.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(fl(ty.numpy(), ti.numpy(), output_size=(8, 9)),
                                  out.detach().numpy())
    np.testing.assert_array_equal(fl.backward(g), yt.grad.numpy())
    x1 = rng.standard_normal((2, 3, 10))
    ty, ti = torch.nn.functional.max_pool1d(torch.from_numpy(x1), 2, return_indices=True)
    np.testing.assert_array_equal(fnn.MaxUnpool1d(2)(ty.numpy(), ti.numpy()),
                                  torch.nn.MaxUnpool1d(2)(ty, ti).numpy())
    assert "kernel_size=2" in repr(fl)
