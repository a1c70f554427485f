"""unfold / fold (and their backward) against PyTorch in float64, the adjoint identity, and
the layers nn.Unfold / nn.Fold."""
import numpy as np
import pytest

import fastconv
import fastconv.nn as fnn
from fastconv import reference as R

GEOMS = [dict(kernel_size=3), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1)),
         dict(kernel_size=2, stride=2), dict(kernel_size=(1, 4), padding=(2, 0), stride=3),
         dict(kernel_size=5, dilation=2, padding=4)]


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", GEOMS)
def test_unfold_fold_match_torch(torch, M, dtype, kw):
    F = torch.nn.functional
    rng = np.random.default_rng(len(str(kw)))
    x = rng.standard_normal((2, 3, 9, 8))
    xt = torch.from_numpy(x).requires_grad_(True)
    tu = F.unfold(xt, **kw)
    g = rng.standard_normal(tuple(tu.shape))
    tu.backward(torch.from_numpy(g))
    u = M.unfold(x.astype(dtype), **kw)
    assert u.dtype == dtype
    np.testing.assert_array_equal(u, tu.detach().numpy().astype(dtype))   # a pure gather
    tol = dict(rtol=16 * np.finfo(dtype).eps, atol=16 * np.finfo(dtype).eps)
    np.testing.assert_allclose(M.unfold_backward(g.astype(dtype), x.shape, **kw),
                               xt.grad.numpy(), **tol)
    bt = torch.from_numpy(g).requires_grad_(True)
    tf = F.fold(bt, (9, 8), **kw)
    gy = rng.standard_normal(tuple(tf.shape))
    tf.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(M.fold(g.astype(dtype), (9, 8), **kw), tf.detach().numpy(),
                               **tol)
    np.testing.assert_array_equal(M.fold_backward(gy.astype(dtype), (9, 8), **kw),
                                  bt.grad.numpy().astype(dtype))


@pytest.mark.parametrize("kw", GEOMS)
def test_fold_is_the_adjoint_of_unfold(kw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    u = fastconv.unfold(x, **kw)
    y = rng.standard_normal(u.shape)
    lhs = float(np.sum(u * y))
    rhs = float(np.sum(x * fastconv.fold(y, (9, 8), **kw)))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)) * u.size


def test_unbatched_and_errors():
    x = np.arange(2 * 5 * 4, dtype=np.float64).reshape(2, 5, 4)        # (C, H, W)
    u = fastconv.unfold(x, 2)
    assert u.shape == (8, 12)
    np.testing.assert_array_equal(u, fastconv.unfold(x[None], 2)[0])
    assert fastconv.fold(u, (5, 4), 2).shape == (2, 5, 4)
    with pytest.raises(ValueError, match="divisible by the product of kernel_size"):
        fastconv.fold(np.zeros((2, 5, 12)), (5, 4), 2)
    with pytest.raises(ValueError, match="number of sliding blocks 4 \\* 3 = 12"):
        fastconv.fold(np.zeros((2, 8, 11)), (5, 4), 2)
    with pytest.raises(ValueError, match="must be at least one"):
        fastconv.unfold(x, 6)
    with pytest.raises(TypeError, match="dtype"):
        fastconv.unfold(x.astype(np.int64), 2)


def test_layers_match_torch(torch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8))
    for make, shape in ((lambda nn: nn.Unfold((3, 2), dilation=(1, 2), padding=1, stride=2),
                         (2, 3, 9, 8)),
                        (lambda nn: nn.Fold((9, 8), 3, padding=1), (2, 27, 72))):
        x = rng.standard_normal(shape)
        fl, tl = make(fnn), make(torch.nn)
        xt = torch.from_numpy(x).requires_grad_(True)
        tout = tl(xt)
        g = rng.standard_normal(tuple(tout.shape))
        tout.backward(torch.from_numpy(g))
        np.testing.assert_allclose(fl(x), tout.detach().numpy(), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(fl.backward(g), xt.grad.numpy(), rtol=1e-13, atol=1e-13)
        assert repr(fl).startswith(type(fl).__name__)
