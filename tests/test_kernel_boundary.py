"""The Cython boundary refuses arrays the C kernels cannot read safely (an internal guard:
the public functions always hand it C-contiguous, aligned, native arrays)."""
import numpy as np
import pytest

import fastconv
from fastconv import _kernels

GEOM = (1, 1, 4, 4, 1, 1, 1, 4, 4, 1, 1, 0, 0, 1, 1, 1)


def _misaligned(shape, dtype):
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(int(np.prod(shape)) * itemsize + 1, np.uint8)[1:]
    a = raw.view(dtype).reshape(shape)
    assert not a.flags.aligned
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_array_is_refused_by_the_kernel_wrapper(dtype):
    x = _misaligned((1, 1, 4, 4), dtype)
    with pytest.raises(ValueError, match="aligned"):
        _kernels.conv2d_forward(x, np.ones((1, 1, 1, 1), dtype), None, GEOM, "auto")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_public_functions_accept_misaligned_input(dtype):
    x = _misaligned((1, 1, 4, 4), dtype)
    x[...] = np.arange(16).reshape(1, 1, 4, 4)
    y = fastconv.conv2d(x, np.full((1, 1, 1, 1), 2, dtype))
    np.testing.assert_array_equal(y, 2 * np.arange(16).reshape(1, 1, 4, 4))
    p = fastconv.max_pool2d(x, 2)
    np.testing.assert_array_equal(p, [[[[5, 7], [13, 15]]]])


def test_wrong_size_or_layout_is_refused():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.conv2d_forward(np.asfortranarray(np.zeros((1, 1, 4, 5))[..., :4]),
                                np.ones((1, 1, 1, 1)), None, GEOM, "auto")
    with pytest.raises(ValueError, match="size 16"):
        _kernels.conv2d_forward(np.zeros((1, 1, 4, 3)), np.ones((1, 1, 1, 1)), None, GEOM,
                                "auto")
    with pytest.raises(ValueError, match="internal: .* must be a C-contiguous"):
        _kernels.conv2d_forward(x.astype(">f8"), np.ones((1, 1, 1, 1)), None, GEOM, "auto")
