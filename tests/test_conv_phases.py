"""Dilated conv2d by phases (csrc/conv/conv_phases.c): 'auto' runs a stride-1 dilated layer
whose dilation divides its padding and sizes as the undilated Winograd convolution of its
phase images.  Against the float64 reference on every tier, both dtypes, every pass; the
rule that picks it; non-finite data; thread-count independence."""
import numpy as np
import pytest

import fastconv
from fastconv import _kernels, reference

# N, C_in, C_out, H, W, padding, dilation, groups, padding_mode: each splits into phases
PHASED = [
    (2, 32, 32, 16, 16, 2, 2, 1, "zeros"),
    (2, 32, 40, 24, 18, 3, 3, 1, "zeros"),
    (2, 64, 64, 12, 20, (2, 4), (2, 4), 2, "zeros"),
    (2, 32, 32, 16, 16, 2, 2, 1, "reflect"),     # padded in Python: padding 0, H + 4
    (2, 32, 32, 14, 16, (2, 0), (2, 1), 1, "zeros"),   # one axis undilated
    (0, 32, 32, 16, 16, 2, 2, 1, "zeros"),       # N = 0
]


def _geom(N, Ci, Co, H, W, pad, dil, groups):
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    dh, dw = (dil, dil) if isinstance(dil, int) else dil
    Ho, Wo = H + 2 * ph - 2 * dh, W + 2 * pw - 2 * dw
    return (N, Ci, H, W, Co, 3, 3, Ho, Wo, 1, 1, ph, pw, dh, dw, groups)


def _data(case, dtype, seed=0):
    N, Ci, Co, H, W, pad, dil, groups, mode = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, Ci, H, W)).astype(dtype)
    w = rng.standard_normal((Co, Ci // groups, 3, 3)).astype(dtype)
    kw = dict(padding=pad, dilation=dil, groups=groups, padding_mode=mode)
    y = reference.conv2d(x.astype(np.float64), w.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    return x, w, gy, kw


def _close(got, ref, dtype, what):
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    # float32: F(2x2)'s rounding (within 4x direct's, tests/data/winograd_error.json) over
    # reductions of a few hundred terms; a wrong phase or offset is off by O(1)
    tol = (2e-4 if dtype == np.float32 else 1e-11) * scale
    assert got.shape == ref.shape, what
    err = float(np.max(np.abs(got - ref), initial=0.0))
    assert err <= tol, f"{what}: worst {err:.3g} > {tol:.3g}"


def test_auto_picks_phases_for_these_layers(isa):
    for c in PHASED[:3]:
        g = _geom(*c[:8])
        assert _kernels.choose_conv_algo(g, 0, 4) == "winograd_phases", c
        assert _kernels.choose_conv_algo(g, 1, 8) == "winograd_phases", c
    # not when the dilation does not divide the padding or the size, nor at stride 2
    assert _kernels.choose_conv_algo(_geom(2, 32, 32, 16, 16, 1, 2, 1), 0, 4) != "winograd_phases"
    assert _kernels.choose_conv_algo(_geom(2, 32, 32, 17, 16, 2, 2, 1), 0, 4) != "winograd_phases"
    g = list(_geom(2, 32, 32, 16, 16, 2, 2, 1))
    g[7:11] = [8, 8, 2, 2]
    assert _kernels.choose_conv_algo(tuple(g), 0, 4) != "winograd_phases"
    # nor for undilated or narrow layers
    assert _kernels.choose_conv_algo(_geom(2, 32, 32, 16, 16, 1, 1, 1), 0, 4) == "winograd"
    assert _kernels.choose_conv_algo(_geom(2, 8, 8, 16, 16, 2, 2, 1), 0, 4) != "winograd_phases"


def test_weight_gradient_phases_follow_its_rule(isa):
    # the float32 weight gradient's Winograd rule on the phase images: 64 channels, 128 tiles
    g = _geom(2, 64, 64, 16, 16, 2, 2, 1)
    wide = isa.startswith("avx512")
    assert (_kernels.choose_conv_algo(g, 2, 4) == "winograd_phases") == wide
    assert _kernels.choose_conv_algo(g, 2, 8) != "winograd_phases"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", PHASED, ids=lambda c: "x".join(map(str, c[:5])) + f"-{c[8]}")
def test_matches_reference(isa, dtype, case):
    x, w, gy, kw = _data(case, dtype)
    b = np.linspace(-1, 1, w.shape[0]).astype(dtype)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, w, gy))
    y = fastconv.conv2d(x, w, b, **kw)
    assert y.dtype == dtype
    _close(y, reference.conv2d(x64, w64, b.astype(np.float64), **kw), dtype, "forward")
    got = fastconv.conv2d_backward(gy, x, w, **kw)
    ref = reference.conv2d_backward(gy64, x64, w64, **kw)
    for name, g_, r_ in zip(("grad_input", "grad_weight", "grad_bias"), got, ref):
        _close(g_, r_, dtype, name)


def test_weight_gradient_by_phases_matches_reference(isa):
    case = (2, 64, 64, 16, 16, 2, 2, 1, "zeros")
    x, w, gy, kw = _data(case, np.float32, seed=3)
    gw = fastconv.conv2d_backward(gy, x, w, output_mask=(False, True, True), **kw)
    ref = reference.conv2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                    w.astype(np.float64), output_mask=(False, True, True), **kw)
    _close(gw[1], ref[1], np.float32, "grad_weight")
    _close(gw[2], ref[2], np.float32, "grad_bias")
    assert gw[0] is None


@pytest.mark.parametrize("where", ["input", "weight", "grad_output"])
def test_non_finite_reaches_only_its_taps(isa, where):
    """A NaN/Inf goes through the phases to the direct algorithm: the same outputs as the
    dilated direct algorithm are non-finite."""
    case = PHASED[0]
    x, w, gy, kw = _data(case, np.float32, seed=4)
    {"input": x, "weight": w, "grad_output": gy}[where].flat[37] = np.inf
    {"input": x, "weight": w, "grad_output": gy}[where].flat[101] = np.nan
    outs = []
    for algo in ("auto", "direct"):
        outs.append([fastconv.conv2d(x, w, **kw, algorithm=algo)] +
                    list(fastconv.conv2d_backward(gy, x, w, **kw, algorithm=algo)))
    for a, b in zip(*outs):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.array_equal(np.isinf(a), np.isinf(b))
        fin = np.isfinite(b)
        assert np.allclose(a[fin], b[fin], rtol=1e-3, atol=1e-3)


def test_independent_of_thread_count():
    x, w, gy, kw = _data((4, 64, 64, 16, 16, 2, 2, 1, "zeros"), np.float32, seed=5)
    before = fastconv.get_num_threads()
    try:
        out = {}
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            out[n] = [fastconv.conv2d(x, w, **kw)] + list(fastconv.conv2d_backward(gy, x, w, **kw))
    finally:
        fastconv.set_num_threads(before)
    for n in (2, 3):
        for a, b in zip(out[1], out[n]):
            assert np.array_equal(a, b)
