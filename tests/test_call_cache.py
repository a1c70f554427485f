"""conv2d's memo of validated geometries (fastconv/conv.py: _FWD_GEOMS): a call that
validation passed once skips it when repeated, so the memo must never let through what
validation refuses, nor serve a geometry to a call that differs in anything it depends on."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import conv as _conv, reference as ref


@pytest.fixture
def arrays(rng):
    x = rng.standard_normal((2, 4, 9, 11)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    return x, w, b


def _ref(x, w, b, **kw):
    return ref.conv2d(x.astype(np.float64), w.astype(np.float64),
                      None if b is None else b.astype(np.float64), **kw)


def test_repeated_call_is_memoised_and_agrees(arrays):
    x, w, b = arrays
    _conv._FWD_GEOMS.clear()
    first = fc.conv2d(x, w, b, stride=2, padding=1)
    assert len(_conv._FWD_GEOMS) == 1
    again = fc.conv2d(x, w, b, stride=2, padding=1)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(again, _ref(x, w, b, stride=2, padding=1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad, err", [
    (dict(stride=2.0), TypeError),           # equal to 2 and hashes like it
    (dict(stride=True), TypeError),          # True == 1
    (dict(groups=1.0), TypeError),
    (dict(padding=(1.0, 1.0)), TypeError),
    (dict(algorithm="winograd"), ValueError),   # stride 2 is not Winograd's
])
def test_memo_does_not_pass_what_validation_refuses(arrays, bad, err):
    x, w, b = arrays
    kw = dict(stride=2, padding=(1, 1), groups=1)
    fc.conv2d(x, w, b, **kw)
    fc.conv2d(x, w, b, **kw)
    with pytest.raises(err):
        fc.conv2d(x, w, b, **{**kw, **bad})


def test_memo_keys_every_array_property(arrays, rng):
    x, w, b = arrays
    fc.conv2d(x, w, b, padding=1)
    with pytest.raises(ValueError):            # bias of the wrong length
        fc.conv2d(x, w, b[:5], padding=1)
    with pytest.raises(TypeError):             # bias of another dtype
        fc.conv2d(x, w, b.astype(np.float64), padding=1)
    with pytest.raises(TypeError):             # weight of another dtype
        fc.conv2d(x, w.astype(np.float64), b, padding=1)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    y64 = fc.conv2d(x64, w64, b64, padding=1)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, _ref(x, w, b, padding=1), rtol=1e-10, atol=1e-10)
    # the same shapes without bias, then a wider image: each gets its own geometry
    np.testing.assert_allclose(fc.conv2d(x, w, padding=1), _ref(x, w, None, padding=1),
                               rtol=1e-4, atol=1e-4)
    xw = rng.standard_normal((2, 4, 9, 14)).astype(np.float32)
    np.testing.assert_allclose(fc.conv2d(xw, w, b, padding=1), _ref(xw, w, b, padding=1),
                               rtol=1e-4, atol=1e-4)


def test_memoised_call_takes_strided_and_unbatched_inputs(arrays):
    x, w, b = arrays
    fc.conv2d(x, w, b, padding=1)
    xs = np.ascontiguousarray(np.concatenate([x, x], axis=3))[:, :, :, ::2]
    assert xs.shape == x.shape and not xs.flags.c_contiguous
    np.testing.assert_allclose(fc.conv2d(xs, w, b, padding=1), _ref(xs, w, b, padding=1),
                               rtol=1e-4, atol=1e-4)
    y1 = fc.conv2d(x[0], w, b, padding=1)      # 3-D: validated every time, shape restored
    assert y1.shape == (6, 9, 11)
    np.testing.assert_allclose(y1, _ref(x[:1], w, b, padding=1)[0], rtol=1e-4, atol=1e-4)


def test_memo_is_bounded(rng):
    w = rng.standard_normal((1, 1, 1, 1)).astype(np.float32)
    for n in range(_conv._FWD_GEOMS_MAX + 10):
        fc.conv2d(np.ones((1, 1, 1, n + 1), np.float32), w)
    assert len(_conv._FWD_GEOMS) <= _conv._FWD_GEOMS_MAX
