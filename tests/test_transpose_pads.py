"""Per-side padding of the transposed convolutions (ONNX ConvTranspose ``pads``): the output
is the full scatter buffer with ``before`` cropped at the start and ``after`` at the end of
each axis.  Checked against torch's unpadded transposed convolution, cropped, and the kernels
against the reference on every tier."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import reference as R
import fastconv.nn as fnn

CASES = [  # (dims, x shape, weight shape, kwargs, per-side padding)
    (1, (2, 4, 7), (4, 3, 3), dict(stride=2, groups=2), ((2, 1),)),
    (2, (2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, groups=2, output_padding=1),
     ((1, 2), (0, 3))),
    (2, (1, 2, 4, 4), (2, 3, 3, 2), dict(dilation=(2, 1)), ((0, 4), (1, 0))),
    (3, (1, 4, 3, 4, 3), (4, 2, 2, 3, 2), dict(stride=2, groups=2), ((1, 0), (0, 2), (1, 1))),
]


def _crop(full, pads):
    return full[(Ellipsis,) + tuple(slice(b, n - a) for (b, a), n in
                                    zip(pads, full.shape[2:]))]


@pytest.mark.parametrize("nd,xs,ws,kw,pads", CASES)
def test_per_side_matches_cropped_torch(torch, rng, nd, xs, ws, kw, pads):
    F = torch.nn.functional
    ft = getattr(F, f"conv_transpose{nd}d")
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    full = ft(xt, wt, torch.tensor(b), **kw)
    want = _crop(full.detach().numpy(), pads)
    gy = rng.standard_normal(want.shape)
    g_full = np.zeros(full.shape)
    g_full[(Ellipsis,) + tuple(slice(p, p + n) for (p, _), n in zip(pads, gy.shape[2:]))] = gy
    full.backward(torch.tensor(g_full))
    for mod in (fc, R):
        f = getattr(mod, f"conv_transpose{nd}d")
        fb = getattr(mod, f"conv_transpose{nd}d_backward")
        y = f(x, w, b, padding=pads, **kw)
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
        gx, gw, gb = fb(gy, x, w, padding=pads, **kw)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gb, gy.sum(axis=(0,) + tuple(range(2, 2 + nd))), rtol=1e-12)


@pytest.mark.parametrize("nd,xs,ws,kw,pads", CASES)
def test_per_side_kernels_match_reference(isa, rng, nd, xs, ws, kw, pads):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    f = getattr(fc, f"conv_transpose{nd}d")
    want = getattr(R, f"conv_transpose{nd}d")(x.astype(np.float64), w.astype(np.float64),
                                                padding=pads, **kw)
    np.testing.assert_allclose(f(x, w, padding=pads, **kw), want, rtol=1e-4, atol=1e-4)


def test_per_side_output_size_and_layer(rng):
    """output_size picks output_padding with the per-side crop, in the function and layer."""
    x = rng.standard_normal((1, 2, 4, 4))
    w = rng.standard_normal((2, 3, 3, 3))
    pads = ((1, 2), (0, 1))
    y = fc.conv_transpose2d(x, w, stride=3, padding=pads, output_size=(10, 12))
    assert y.shape == (1, 3, 10, 12)
    np.testing.assert_allclose(y, R.conv_transpose2d(x, w, stride=3, padding=pads,
                                                     output_padding=(1, 1)))
    with pytest.raises(ValueError, match="valid sizes"):
        fc.conv_transpose2d(x, w, stride=3, padding=pads, output_size=(13, 12))
    layer = fnn.ConvTranspose2d(2, 3, 3, stride=3, padding=pads, bias=False, dtype=np.float64)
    layer.weight.data[...] = w
    np.testing.assert_allclose(layer(x, output_size=(10, 12)), y)
    with pytest.raises(ValueError, match="padding"):
        fc.conv_transpose2d(x, w, padding="same")
