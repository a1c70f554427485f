"""The strided forward entry (fc_conv2d_forward_strided_*, _kernels.conv2d_forward_into): x
read from and y written into blocks of larger arrays, as fastconv.dask.store does.

On every tier and algorithm: the result equals the contiguous call's bits, agrees with the
float64 reference, and nothing outside the destination block is written (NaN sentinels).
The direct algorithm works in place; the others, and non-finite weights, go through dense
copies inside the C entry."""
import numpy as np
import pytest

import fastconv
from fastconv import _kernels, reference

CASES = [  # (N, C_in, H, W, C_out, k, stride, pad, dilation, groups)
    (2, 3, 23, 31, 8, (5, 5), (1, 1), (2, 2), (1, 1), 1),
    (1, 4, 17, 40, 6, (3, 3), (1, 1), (1, 1), (1, 1), 2),
    (3, 5, 19, 21, 7, (3, 2), (2, 3), (1, 0), (1, 1), 1),
    (2, 6, 20, 20, 6, (3, 3), (1, 1), (2, 2), (2, 2), 6),    # depthwise, dilated
    (1, 2, 9, 70, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1),     # 1x1
    (2, 32, 12, 14, 32, (3, 3), (1, 1), (1, 1), (1, 1), 1),  # Winograd's shape
]


def _views(rng, case, dtype):
    N, C, H, W, Co, k, s, p, d, g = case
    Ho = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    Wo = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    X = rng.standard_normal((N + 1, C + 2, H + 3, W + 7)).astype(dtype)
    x = X[1:, 1:C + 1, 2:H + 2, 3:W + 3]
    Y = np.full((N + 2, Co + 3, Ho + 4, Wo + 6), np.nan, dtype)
    region = (slice(1, N + 1), slice(2, Co + 2), slice(3, Ho + 3), slice(1, Wo + 1))
    geom = (N, C, H, W, Co, k[0], k[1], Ho, Wo, s[0], s[1], p[0], p[1], d[0], d[1], g)
    w = rng.standard_normal((Co, C // g) + k).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    return x, Y, region, geom, w, b


def _winograd_serves(case):
    return case[5] == (3, 3) and case[6] == (1, 1) and case[8] == (1, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case,algo", [(c, a) for c in CASES
                                       for a in ["auto", "direct", "im2col", "winograd"]
                                       if a != "winograd" or _winograd_serves(c)])
def test_strided_forward_matches_the_dense_call(isa, case, algo, dtype):
    rng = np.random.default_rng(CASES.index(case))
    x, Y, region, geom, w, b = _views(rng, case, dtype)
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, g = geom
    dense = _kernels.conv2d_forward(np.ascontiguousarray(x), w, b, geom, algo)
    y = Y[region]
    _kernels.conv2d_forward_into(x, w, b, geom, algo, y)
    np.testing.assert_array_equal(y, dense)
    outside = np.ones(Y.shape, bool)
    outside[region] = False
    assert np.isnan(Y[outside]).all(), "wrote outside the destination block"
    want = reference.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                            stride=(sH, sW), padding=(pH, pW), dilation=(dH, dW), groups=g)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol * np.abs(want).max())


def test_strided_forward_with_non_finite_weights_matches_the_dense_call(isa):
    rng = np.random.default_rng(3)
    x, Y, region, geom, w, b = _views(rng, CASES[0], np.float32)
    w[1, 2, 0, 0] = np.inf
    w[4, 0, 3, 1] = np.nan
    dense = _kernels.conv2d_forward(np.ascontiguousarray(x), w, b, geom, "direct")
    y = Y[region]
    _kernels.conv2d_forward_into(x, w, b, geom, "direct", y)
    np.testing.assert_array_equal(y, dense)    # NaN in the same places
    outside = np.ones(Y.shape, bool)
    outside[region] = False
    assert np.isnan(Y[outside]).all()


def test_strided_forward_refuses_what_it_cannot_index():
    rng = np.random.default_rng(4)
    x, Y, region, geom, w, b = _views(rng, CASES[0], np.float32)
    y = Y[region]
    with pytest.raises(ValueError, match="contiguous last axis"):
        _kernels.conv2d_forward_into(x, w, b, geom, "direct",
                                     np.asfortranarray(np.zeros(y.shape, np.float32)))
    with pytest.raises(ValueError, match="overlap"):
        _kernels.conv2d_forward_into(x, w, b, geom, "direct",
                                     np.lib.stride_tricks.as_strided(y, strides=(0,) +
                                                                     y.strides[1:]))
    with pytest.raises(ValueError, match="overlap the input"):
        X = np.zeros((2, 8, 23, 31), np.float32)
        _kernels.conv2d_forward_into(X[:, :3], w, b, geom, "direct", X)
    ro = np.zeros(y.shape, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _kernels.conv2d_forward_into(x, w, b, geom, "direct", ro)
    with pytest.raises(ValueError, match="shape"):
        _kernels.conv2d_forward_into(x, w, b, geom, "direct", y[:, :, 1:])
