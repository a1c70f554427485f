"""Worked examples (from the PyTorch documentation and by hand) on fastconv.reference."""
import numpy as np
import pytest

from fastconv import reference as R

X9 = np.arange(9.0).reshape(1, 1, 3, 3)     # [[0,1,2],[3,4,5],[6,7,8]]
K4 = np.arange(4.0).reshape(1, 1, 2, 2)     # [[0,1],[2,3]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_by_hand(dtype):
    # y[0,0] = 0*0 + 1*1 + 3*2 + 4*3 = 19, and so on.
    y = R.conv2d(X9.astype(dtype), K4.astype(dtype))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, [[[[19, 25], [37, 43]]]])
    y = R.conv2d(X9[0].astype(dtype), K4.astype(dtype), np.array([1.0], dtype))
    np.testing.assert_array_equal(y, [[[20, 26], [38, 44]]])


def test_conv2d_backward_by_hand():
    gx, gw, gb = R.conv2d_backward(np.ones((1, 1, 2, 2)), X9, K4)
    # Each input element collects the taps that read it; each tap sums the 2x2 it reads.
    np.testing.assert_array_equal(gx, [[[[0, 1, 1], [2, 6, 4], [2, 5, 3]]]])
    np.testing.assert_array_equal(gw, [[[[8, 12], [20, 24]]]])
    np.testing.assert_array_equal(gb, [4])


def test_conv_transpose2d_by_hand():
    # Every input element stamps the kernel scaled by itself: the adjoint of conv2d.
    y = R.conv_transpose2d(np.array([[[[1.0, 2.0]]]]), K4)
    np.testing.assert_array_equal(y, [[[[0, 1, 2], [2, 7, 6]]]])
    y = R.conv_transpose2d(np.array([[[[1.0, 2.0]]]]), K4, stride=2)
    np.testing.assert_array_equal(y, [[[[0, 1, 0, 2], [2, 3, 4, 6]]]])


def test_max_pool2d_by_hand():
    y, idx = R.max_pool2d(X9, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(y, [[[[4, 5], [7, 8]]]])
    np.testing.assert_array_equal(idx, [[[[4, 5], [7, 8]]]])
    g = R.max_pool2d_backward(np.ones((1, 1, 2, 2)), X9, 2, stride=1)
    np.testing.assert_array_equal(g, [[[[0, 0, 0], [0, 1, 1], [0, 1, 1]]]])


def test_avg_pool2d_by_hand():
    np.testing.assert_array_equal(R.avg_pool2d(X9, 2, stride=1), [[[[2, 3], [5, 6]]]])
    # padding 1, stride 2: corner windows hold 1 element of 4 padded positions.
    np.testing.assert_array_equal(R.avg_pool2d(X9, 2, padding=1),
                                  [[[[0 / 4, 3 / 4], [9 / 4, 24 / 4]]]])
    np.testing.assert_array_equal(R.avg_pool2d(X9, 2, padding=1, count_include_pad=False),
                                  [[[[0, 1.5], [4.5, 6]]]])
    np.testing.assert_array_equal(R.avg_pool2d(X9, 2, padding=1, divisor_override=2),
                                  [[[[0, 1.5], [4.5, 12]]]])


def test_adaptive_pools_by_hand():
    # 3 -> 2: windows [0, 2) and [1, 3), overlapping in the middle.
    np.testing.assert_array_equal(R.adaptive_avg_pool2d(X9, 2), [[[[2, 3], [5, 6]]]])
    np.testing.assert_array_equal(R.adaptive_max_pool2d(X9, (2, None)),
                                  [[[[3, 4, 5], [6, 7, 8]]]])
    np.testing.assert_array_equal(R.adaptive_avg_pool2d(X9, 1), [[[[4]]]])


# Shapes from the PyTorch documentation (zeros where only the shape matters; fewer input
# channels / a smaller batch than the docs keep these fast, the spatial sizes are the docs').

def test_conv2d_doc_shapes():
    x = np.zeros((2, 16, 50, 100), np.float32)
    assert R.conv2d(x, np.zeros((33, 16, 3, 3), np.float32), stride=2).shape == (2, 33, 24, 49)
    w35 = np.zeros((33, 16, 3, 5), np.float32)
    assert R.conv2d(x, w35, stride=(2, 1), padding=(4, 2)).shape == (2, 33, 28, 100)
    assert R.conv2d(x, w35, stride=(2, 1), padding=(4, 2),
                    dilation=(3, 1)).shape == (2, 33, 26, 100)


def test_conv2d_doc_shapes_full_batch():
    # The documented batch of 20, all zeros: only the shape matters.
    x = np.zeros((20, 16, 50, 100), np.float32)
    assert R.conv2d(x, np.zeros((33, 16, 3, 3), np.float32), stride=2).shape == (20, 33, 24, 49)


def test_max_pool2d_doc_shapes():
    x = np.zeros((20, 16, 50, 32), np.float32)
    assert R.max_pool2d(x, 3, stride=2, padding=1).shape == (20, 16, 25, 16)
    # ceil_mode: H=5, k=2, s=2, p=1 -> ceil((5+2-2)/2)+1 = 4, but window 3 would start at
    # 6-1 = 5 >= H (in the bottom padding), so it is dropped: 3.
    x = np.zeros((1, 1, 5, 5))
    assert R.max_pool2d(x, 2, stride=2, padding=1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert R.max_pool2d(x, 2, stride=2, padding=1).shape == (1, 1, 3, 3)
    assert R.max_pool2d(np.zeros((1, 1, 6, 6)), 2, stride=2, padding=1,
                        ceil_mode=True).shape == (1, 1, 4, 4)
    assert R.avg_pool2d(np.zeros((1, 1, 5, 5)), 2, stride=2, padding=1,
                        ceil_mode=True).shape == (1, 1, 3, 3)


def test_conv_transpose2d_doc_shape():
    # ConvTranspose2d(16, 33, 3, stride=2) with output_padding recovering the conv's input.
    x = np.zeros((1, 16, 12, 12), np.float32)
    w = np.zeros((16, 33, 3, 3), np.float32)
    assert R.conv_transpose2d(x, w, stride=2, padding=1).shape == (1, 33, 23, 23)
    assert R.conv_transpose2d(x, w, stride=2, padding=1,
                              output_padding=1).shape == (1, 33, 24, 24)
