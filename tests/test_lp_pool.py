"""lp_pool1d / lp_pool2d and their backward against PyTorch (float64 autograd), on the kernels
of every tier and on the reference; NaN where PyTorch gives NaN; argument rules."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as R

CASES = [(2, 3, 2, True), (1, 2, None, False), (3.5, (2, 3), (1, 2), True), (4, 1, 1, False),
         (2.0, (3, 2), None, True), (6, 4, 3, True)]


def _tol(dt):
    return dict(rtol=64 * np.finfo(dt).eps, atol=64 * np.finfo(dt).eps)


@pytest.mark.parametrize("mod", ["kernels", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p, k, s, ceil", CASES)
@pytest.mark.parametrize("rank", [1, 2])
def test_lp_pool_matches_torch(isa, torch, mod, dtype, p, k, s, ceil, rank):
    F = torch.nn.functional
    M = fastconv if mod == "kernels" else R
    rng = np.random.default_rng(int(p * 10) + rank)
    if rank == 1:
        k = k[0] if isinstance(k, tuple) else k
        s = s[0] if isinstance(s, tuple) else s
    shape = (2, 3, 11) if rank == 1 else (2, 3, 9, 10)
    x = np.abs(rng.standard_normal(shape)) + 0.05     # positive: every power is defined
    fwd = (F.lp_pool1d, M.lp_pool1d, M.lp_pool1d_backward) if rank == 1 else \
        (F.lp_pool2d, M.lp_pool2d, M.lp_pool2d_backward)
    xt = torch.from_numpy(x).requires_grad_(True)
    ty = fwd[0](xt, p, k, s, ceil)
    gy = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.from_numpy(gy))
    xd, gyd = x.astype(dtype), gy.astype(dtype)
    y = fwd[1](xd, p, k, s, ceil)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), **_tol(dtype))
    np.testing.assert_allclose(fwd[2](gyd, xd, p, k, s, ceil), xt.grad.numpy(), **_tol(dtype))


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
def test_lp_pool_nan_where_torch_has_nan(M, torch):
    F = torch.nn.functional
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 6))   # signs mixed
    for p in (3, 1.5):
        want = F.lp_pool2d(torch.from_numpy(x), p, 2).numpy()
        got = M.lp_pool2d(x, p, 2)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("M", [fastconv, R], ids=["kernels", "reference"])
def test_lp_pool_arguments(M):
    x = np.ones((2, 3, 6, 6))
    # p = 1 on positive input: window sums (scaled by k / count only at a ceil-mode edge)
    np.testing.assert_array_equal(M.lp_pool2d(x, 1, 2), np.full((2, 3, 3, 3), 4.0))
    assert M.lp_pool2d(x[0], 2, 3).shape == (3, 2, 2)                  # unbatched
    assert M.lp_pool1d(x[:, :, 0], 2, 3, 2, True).shape == (2, 3, 3)
    for bad, err in ((0, ValueError), (-2, ValueError), (float("inf"), ValueError),
                     (float("nan"), ValueError), ("2", TypeError), (None, TypeError),
                     (True, TypeError)):
        with pytest.raises(err, match="norm_type"):
            M.lp_pool2d(x, bad, 2)
    with pytest.raises(ValueError, match="^lp_pool2d"):
        M.lp_pool2d(x, 2, 7)                                            # window > input
    with pytest.raises(ValueError, match="lp_pool1d"):
        M.lp_pool1d(x[:, :, 0], 2, 7)
    with pytest.raises(ValueError, match="grad_output"):
        M.lp_pool2d_backward(np.ones((2, 3, 2, 2)), x, 2, 2)
