"""conv2d / conv_transpose2d (forward and the three gradients) against a float64 oracle.

Oracle: ``fastconv.reference`` run in float64 when it is available, else PyTorch in float64.
Tolerance: a sum of L terms computed in floating point (any order, with or without FMA) is
within (L + 1) * eps * sum|terms| of the exact sum (Higham's gamma_L bound is L*eps/2; the
other half covers the float64 oracle's own rounding).  sum|terms| is obtained exactly like the
result, by running the oracle on |x|, |w|, |b|, |grad_output|.  L is the accumulation length
of the pass: taps per output for forward/backward-data, N*H_out*W_out for grad_weight and
grad_bias, plus the extra terms that folding a non-zero padding back adds.
"""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, assume, HealthCheck, strategies as st

import fastconv
from fastconv import _kernels
from fastconv.conv import ALGORITHMS

try:
    from fastconv import reference as _reference
    _reference.conv2d  # noqa: B018  (present once the reference lands)
except (ImportError, AttributeError):
    _reference = None

FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])


def _im2col_available():
    x = np.zeros((1, 1, 2, 2))
    try:
        fastconv.conv2d(x, np.zeros((1, 1, 1, 1)), algorithm="im2col")
    except NotImplementedError:
        return False
    return True


@pytest.fixture(params=ALGORITHMS)
def algorithm(request):
    if request.param == "im2col" and not _im2col_available():
        pytest.skip("im2col kernels not built yet")
    return request.param


# ------------------------------------------------------------------------------ oracle --

def _torch_conv(torch, x, w, b, gy, stride, pads, dilation, groups, mode):
    """(y, gx, gw, gb) in float64 via autograd; pads = (top, bottom, left, right)."""
    with _torch_serial(torch):
        return _torch_conv_inner(torch, x, w, b, gy, stride, pads, dilation, groups, mode)


class _torch_serial:
    """Tiny oracle problems: torch's thread pool only adds latency on a busy machine."""

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        self.n = self.torch.get_num_threads()
        self.torch.set_num_threads(1)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.n)


def _torch_conv_inner(torch, x, w, b, gy, stride, pads, dilation, groups, mode):
    F = torch.nn.functional
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    tb = None if b is None else torch.tensor(b, dtype=torch.float64, requires_grad=True)
    t, bo, l, r = pads
    if mode == "zeros":
        xp = F.pad(tx, (l, r, t, bo))
    else:
        xp = F.pad(tx, (l, r, t, bo), mode=mode)
    y = F.conv2d(xp, tw, tb, stride, 0, dilation, groups)
    y.backward(torch.tensor(gy, dtype=torch.float64))
    return (y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(),
            None if b is None else tb.grad.numpy())


def _torch_convt(torch, x, w, b, gy, stride, padding, output_padding, groups, dilation):
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    tb = None if b is None else torch.tensor(b, dtype=torch.float64, requires_grad=True)
    with _torch_serial(torch):
        y = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride, padding, output_padding,
                                                 groups, dilation)
        y.backward(torch.tensor(gy, dtype=torch.float64))
    return (y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(),
            None if b is None else tb.grad.numpy())


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _reference_all(forward, backward, x, w, b, gy, kw):
    y = forward(x, w, b, **kw)
    gx, gw, gb = backward(gy, x, w, **kw)
    return y, gx, gw, (gb if b is not None else None)


def oracle_conv2d(x, w, b, gy, kw):
    """Exact-enough (float64) y, gx, gw, gb of conv2d; kw are conv2d's keyword args."""
    x, w, b, gy = _f64(x), _f64(w), _f64(b), _f64(gy)
    if _reference is not None:
        return _reference_all(_reference.conv2d, _reference.conv2d_backward, x, w, b, gy, kw)
    torch = pytest.importorskip("torch")
    a = fastconv._args.conv2d_args(x, w, b, kw.get("stride", 1), kw.get("padding", 0),
                                   kw.get("dilation", 1), kw.get("groups", 1),
                                   kw.get("padding_mode", "zeros"))
    squeeze = x.ndim == 3
    r = _torch_conv(torch, a.x, w, b, gy[None] if squeeze else gy, a.stride, a.pad,
                    a.dilation, a.groups, a.padding_mode)
    if squeeze:
        r = (r[0][0], r[1][0], r[2], r[3])
    return r


def oracle_convt(x, w, b, gy, kw):
    x, w, b, gy = _f64(x), _f64(w), _f64(b), _f64(gy)
    if _reference is not None:
        return _reference_all(_reference.conv_transpose2d,
                              _reference.conv_transpose2d_backward, x, w, b, gy, kw)
    torch = pytest.importorskip("torch")
    return _torch_convt(torch, x, w, b, gy, kw["stride"], kw["padding"],
                        kw["output_padding"], kw["groups"], kw["dilation"])


def _abs(a):
    return None if a is None else np.abs(a)


def assert_within(got, exact, mag, L, dtype, what):
    """|got - exact| <= (L + 1) * eps * mag, elementwise."""
    assert got is not None, what
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.flags.c_contiguous, f"{what}: result not C-contiguous"
    assert got.shape == exact.shape, f"{what}: shape {got.shape}, expected {exact.shape}"
    eps = np.finfo(dtype).eps
    tol = (L + 1) * eps * mag + np.finfo(dtype).tiny
    err = np.abs(got.astype(np.float64) - exact)
    bad = err > tol
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} elements off; worst err "
                           f"{err[bad].max():.3g} vs tol {tol[bad][err[bad].argmax()]:.3g} "
                           f"(L={L}, dtype={dtype})")


# ---------------------------------------------------------------------- strategies --

@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kH, kW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kind = draw(st.sampled_from(["int", "pair", "same", "same", "valid", "sides"]))
    effH, effW = dilation[0] * (kH - 1) + 1, dilation[1] * (kW - 1) + 1
    if kind == "same":   # at any stride: TensorFlow's rule (PyTorch's at stride 1)
        padding = "same"
        H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
        sides = fastconv._args.same_padding(H, kH, stride[0], dilation[0]) + \
            fastconv._args.same_padding(W, kW, stride[1], dilation[1])
        pads = [sides[0] + sides[1], sides[2] + sides[3]]
    elif kind == "sides":    # per side, ((top, bottom), (left, right))
        padding = ((draw(st.integers(0, 3)), draw(st.integers(0, 3))),
                   (draw(st.integers(0, 3)), draw(st.integers(0, 3))))
        pads = [sum(padding[0]), sum(padding[1])]
    elif kind == "valid":
        padding, pads = "valid", [0, 0]
    elif kind == "int":
        p = draw(st.integers(0, 3))
        padding, pads = p, [2 * p, 2 * p]
    else:
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        pads = [2 * padding[0], 2 * padding[1]]
    if kind != "same":
        H = max(1, effH - pads[0] + draw(st.integers(0, 6)))
        W = max(1, effW - pads[1] + draw(st.integers(0, 6)))
    assume(H + pads[0] >= effH and W + pads[1] >= effW)
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    if kind == "sides":
        half = (max(padding[0]), max(padding[1]))
    else:
        half = (max(pads[0] - pads[0] // 2, pads[0] // 2),
                max(pads[1] - pads[1] // 2, pads[1] // 2))
    if mode == "reflect":
        assume(half[0] < H and half[1] < W)
    if mode == "circular":
        assume(half[0] <= H and half[1] <= W)
    N = draw(st.integers(0, 3))
    unbatched = draw(st.integers(0, 4)) == 0
    if unbatched:
        N = 1
    return dict(N=N, cin=cin, cout=cout, H=H, W=W, kH=kH, kW=kW, unbatched=unbatched,
                bias=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**31 - 1)),
                kw=dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                        padding_mode=mode))


def _fold_terms(pad_mode, pads):
    """Extra summands per input element when the padded-input gradient is folded back;
    pads = (top, bottom, left, right)."""
    if pad_mode == "zeros":
        return 0
    return (pads[0] + pads[1] + 1) * (pads[2] + pads[3] + 1)


# ------------------------------------------------------------------------- conv2d --

@FIXTURE_OK
@given(case=conv_cases())
def test_conv2d_all_passes_match_oracle(case, algorithm, isa):
    rng = np.random.default_rng(case["seed"])
    dt, kw, g = case["dtype"], case["kw"], case["kw"]["groups"]
    shape = (case["cin"], case["H"], case["W"])
    if not case["unbatched"]:
        shape = (case["N"],) + shape
    x = rng.standard_normal(shape).astype(dt)
    w = rng.standard_normal((case["cout"], case["cin"] // g, case["kH"], case["kW"])).astype(dt)
    b = rng.standard_normal(case["cout"]).astype(dt) if case["bias"] else None

    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm,
                                          output_mask=(True, True, b is not None), **kw)
    ey, egx, egw, egb = oracle_conv2d(x, w, b, gy, kw)
    my, mgx, mgw, mgb = oracle_conv2d(_abs(x), _abs(w), _abs(b), _abs(gy), kw)

    taps = case["kH"] * case["kW"]
    n_out = (1 if case["unbatched"] else case["N"]) * y.shape[-1] * y.shape[-2]
    pads = fastconv._args.conv2d_args(x, w, b, **kw).pad
    fold = _fold_terms(kw["padding_mode"], pads)
    assert_within(y, ey, my, (case["cin"] // g) * taps + 1, dt, "output")
    assert_within(gx, egx, mgx, (case["cout"] // g) * taps + fold, dt, "grad_input")
    assert_within(gw, egw, mgw, n_out, dt, "grad_weight")
    if b is not None:
        assert_within(gb, egb, mgb, n_out, dt, "grad_bias")
    else:
        assert gb is None


# ----------------------------------------------------------------- conv_transpose2d --

@st.composite
def convt_cases(draw):
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kH, kW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    opad = (draw(st.integers(0, max(stride[0], dilation[0]) - 1)),
            draw(st.integers(0, max(stride[1], dilation[1]) - 1)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kH - 1) + opad[0] + 1
    W_out = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kW - 1) + opad[1] + 1
    assume(H_out > 0 and W_out > 0)
    N = draw(st.integers(0, 3))
    return dict(N=N, cin=cin, cout=cout, H=H, W=W, kH=kH, kW=kW, bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**31 - 1)),
                kw=dict(stride=stride, padding=padding, output_padding=opad, groups=groups,
                        dilation=dilation))


@FIXTURE_OK
@given(case=convt_cases())
def test_conv_transpose2d_all_passes_match_oracle(case, isa):
    rng = np.random.default_rng(case["seed"])
    dt, kw, g = case["dtype"], case["kw"], case["kw"]["groups"]
    x = rng.standard_normal((case["N"], case["cin"], case["H"], case["W"])).astype(dt)
    w = rng.standard_normal((case["cin"], case["cout"] // g, case["kH"], case["kW"])).astype(dt)
    b = rng.standard_normal(case["cout"]).astype(dt) if case["bias"] else None

    y = fastconv.conv_transpose2d(x, w, b, **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    gx, gw, gb = fastconv.conv_transpose2d_backward(gy, x, w, **kw)
    ey, egx, egw, egb = oracle_convt(x, w, b, gy, kw)
    my, mgx, mgw, mgb = oracle_convt(_abs(x), _abs(w), _abs(b), _abs(gy), kw)

    taps = case["kH"] * case["kW"]
    assert_within(y, ey, my, (case["cin"] // g) * taps + 1, dt, "output")
    assert_within(gx, egx, mgx, (case["cout"] // g) * taps, dt, "grad_input")
    assert_within(gw, egw, mgw, case["N"] * case["H"] * case["W"], dt, "grad_weight")
    egb = _f64(gy).sum(axis=(0, 2, 3))
    assert_within(gb, egb, np.abs(_f64(gy)).sum(axis=(0, 2, 3)),
                  case["N"] * y.shape[2] * y.shape[3], dt, "grad_bias")


# -------------------------------------------------- the layers direct is meant for --

# (N, C_in, H, W, C_out, k, stride, padding, dilation, groups), batch cut down for tests.
LAYERS = {
    "lenet_c1": (2, 1, 32, 32, 6, 5, 1, 0, 1, 1),
    "lenet_c3": (2, 6, 14, 14, 16, 5, 1, 0, 1, 1),
    "cifar_in": (2, 3, 32, 32, 32, 3, 1, 1, 1, 1),
    "stem": (1, 3, 40, 44, 64, 7, 2, 3, 1, 1),
    "depthwise": (2, 32, 20, 22, 32, 3, 1, 1, 1, 32),
    "strided": (1, 16, 14, 14, 24, 3, 2, 1, 1, 1),
    "dilated": (1, 8, 15, 15, 8, 3, 1, 2, 2, 1),
    "pointwise": (2, 24, 9, 9, 16, 1, 1, 0, 1, 1),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_match_torch(layer, dtype, algorithm, isa, torch):
    N, C, H, W, Co, k, s, p, d, g = LAYERS[layer]
    rng = np.random.default_rng(len(layer))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((Co, C // g, k, k)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **kw)
    pads = (p, p, p, p)
    ey, egx, egw, egb = _torch_conv(torch, x, w, b, gy, s, pads, d, g, "zeros")
    my, mgx, mgw, mgb = _torch_conv(torch, abs(x), abs(w), abs(b), abs(gy), s, pads, d, g,
                                    "zeros")
    n_out = N * y.shape[2] * y.shape[3]
    assert_within(y, ey, my, C // g * k * k + 1, dtype, "output")
    assert_within(gx, egx, mgx, Co // g * k * k, dtype, "grad_input")
    assert_within(gw, egw, mgw, n_out, dtype, "grad_weight")
    assert_within(gb, egb, mgb, n_out, dtype, "grad_bias")


# ------------------------------------------------------------ layouts and edge cases --

def _layouts(a):
    """The same values in other memory layouts, each read-only."""
    f = np.asfortranarray(a)
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    strided = big[..., ::2]
    strided[...] = a
    neg = np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    ro = a.copy()
    out = []
    for v in (f, strided, neg, ro):
        v.flags.writeable = False
        out.append(v)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_layout_gives_same_result_and_inputs_untouched(dtype, algorithm, rng):
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 2)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    kw = dict(stride=(1, 2), padding=(1, 2), groups=2, padding_mode="reflect")
    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    ref = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **kw)
    wt = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    yt = fastconv.conv_transpose2d(x, wt, None, stride=2, padding=1, output_padding=1)
    gyt = rng.standard_normal(yt.shape).astype(dtype)
    reft = fastconv.conv_transpose2d_backward(gyt, x, wt, stride=2, padding=1,
                                              output_padding=1)
    for xv, wv, bv, gv in zip(_layouts(x), _layouts(w), _layouts(b), _layouts(gy)):
        keep = [a.copy() for a in (xv, wv, bv, gv)]
        np.testing.assert_array_equal(fastconv.conv2d(xv, wv, bv, algorithm=algorithm, **kw), y)
        for got, exp in zip(fastconv.conv2d_backward(gv, xv, wv, algorithm=algorithm, **kw),
                            ref):
            assert got.flags.c_contiguous
            np.testing.assert_array_equal(got, exp)
        for a, k in zip((xv, wv, bv, gv), keep):
            np.testing.assert_array_equal(a, k)
    for xv, wv, gv in zip(_layouts(x), _layouts(wt), _layouts(gyt)):
        np.testing.assert_array_equal(
            fastconv.conv_transpose2d(xv, wv, None, stride=2, padding=1, output_padding=1), yt)
        for got, exp in zip(fastconv.conv_transpose2d_backward(
                gv, xv, wv, stride=2, padding=1, output_padding=1), reft):
            np.testing.assert_array_equal(got, exp)


def test_unbatched_is_batch_of_one(algorithm, rng):
    x = rng.standard_normal((3, 8, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    y = fastconv.conv2d(x, w, b, padding="same", algorithm=algorithm)
    assert y.shape == (4, 8, 9)
    np.testing.assert_array_equal(y, fastconv.conv2d(x[None], w, b, padding="same",
                                                     algorithm=algorithm)[0])
    gy = rng.standard_normal(y.shape)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, padding="same", algorithm=algorithm)
    gx1, gw1, gb1 = fastconv.conv2d_backward(gy[None], x[None], w, padding="same",
                                             algorithm=algorithm)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(gx, gx1[0])
    np.testing.assert_array_equal(gw, gw1)
    np.testing.assert_array_equal(gb, gb1)
    wt = rng.standard_normal((3, 2, 2, 2))
    yt = fastconv.conv_transpose2d(x, wt, stride=2)
    assert yt.shape == (2, 16, 18)
    np.testing.assert_array_equal(yt, fastconv.conv_transpose2d(x[None], wt, stride=2)[0])
    gxt, _, _ = fastconv.conv_transpose2d_backward(np.ones_like(yt), x, wt, stride=2)
    assert gxt.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_batch(dtype, algorithm):
    x = np.zeros((0, 3, 5, 5), dtype)
    w = np.ones((4, 3, 3, 3), dtype)
    b = np.ones(4, dtype)
    y = fastconv.conv2d(x, w, b, padding=1, algorithm=algorithm)
    assert y.shape == (0, 4, 5, 5) and y.dtype == dtype
    gx, gw, gb = fastconv.conv2d_backward(y, x, w, padding=1, algorithm=algorithm)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(gw, np.zeros_like(w))
    np.testing.assert_array_equal(gb, np.zeros(4, dtype))
    yt = fastconv.conv_transpose2d(x, np.ones((3, 2, 3, 3), dtype), b[:2])
    assert yt.shape == (0, 2, 7, 7)
    gxt, gwt, gbt = fastconv.conv_transpose2d_backward(yt, x, np.ones((3, 2, 3, 3), dtype))
    assert gxt.shape == x.shape
    np.testing.assert_array_equal(gwt, np.zeros((3, 2, 3, 3), dtype))
    np.testing.assert_array_equal(gbt, np.zeros(2, dtype))


def test_output_mask_leaves_unrequested_gradients_none(algorithm, rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)
    full = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm)
    for mask in [(True, False, False), (False, True, False), (False, False, True),
                 (False, False, False), (False, True, True)]:
        got = fastconv.conv2d_backward(gy, x, w, output_mask=mask, algorithm=algorithm)
        for want, g, f in zip(mask, got, full):
            if want:
                np.testing.assert_array_equal(g, f)
            else:
                assert g is None
    wt = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    gyt = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    got = fastconv.conv_transpose2d_backward(gyt, x[:, :2], wt, output_mask=(False, True, False))
    assert got[0] is None and got[2] is None and got[1].shape == wt.shape


def test_bad_algorithm_names():
    x = np.zeros((1, 1, 3, 3))
    w = np.zeros((1, 1, 1, 1))
    with pytest.raises(ValueError, match="algorithm"):
        fastconv.conv2d(x, w, algorithm="winograd")
    with pytest.raises(TypeError, match="algorithm"):
        fastconv.conv2d(x, w, algorithm=1)
    with pytest.raises(ValueError, match="algorithm"):
        fastconv.conv2d_backward(x, x, w, algorithm="fft")


def test_dtype_mismatch_is_type_error():
    with pytest.raises(TypeError):
        fastconv.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 1, 1), np.float32))
    with pytest.raises(TypeError):
        fastconv.conv2d(np.zeros((1, 1, 3, 3), np.int32), np.zeros((1, 1, 1, 1), np.int32))


# ------------------------------------------------------------------------ threads --

def _problem(rng, dtype):
    x = rng.standard_normal((3, 8, 23, 21)).astype(dtype)
    w = rng.standard_normal((12, 4, 3, 3)).astype(dtype)
    b = rng.standard_normal(12).astype(dtype)
    return x, w, b, dict(stride=(1, 2), padding=1, groups=2)


def _run_all(x, w, b, gy, kw, algorithm):
    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    return (y,) + tuple(fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_results(dtype, algorithm, rng):
    x, w, b, kw = _problem(rng, dtype)
    gy = rng.standard_normal(fastconv.conv2d(x, w, b, **kw).shape).astype(dtype)
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        one = _run_all(x, w, b, gy, kw, algorithm)
        fastconv.set_num_threads(2)
        two = _run_all(x, w, b, gy, kw, algorithm)
    finally:
        fastconv.set_num_threads(before)
    ex = oracle_conv2d(x, w, b, gy, kw)
    mag = oracle_conv2d(abs(x), abs(w), abs(b), abs(gy), kw)
    Ls = (4 * 9 + 1, 6 * 9, 3 * one[0].shape[2] * one[0].shape[3],
          3 * one[0].shape[2] * one[0].shape[3])
    for a, c, e, m, L in zip(one, two, ex, mag, Ls):
        # Both within the rounding bound of the exact value, hence of each other.
        assert_within(a, e, m, L, dtype, "1 thread")
        assert_within(c, e, m, L, dtype, "2 threads")
        if algorithm == "direct":
            # The direct kernels partition every reduction independently of the thread count.
            np.testing.assert_array_equal(a, c)


def test_concurrent_python_threads_give_serial_results(algorithm):
    rng = np.random.default_rng(7)
    problems = []
    for i in range(4):
        x, w, b, kw = _problem(rng, np.float32 if i % 2 else np.float64)
        gy = rng.standard_normal(fastconv.conv2d(x, w, b, **kw).shape).astype(x.dtype)
        problems.append((x, w, b, gy, kw))
    serial = [_run_all(*p, algorithm) for p in problems]
    results = [None] * 4
    errors = []

    def work(i):
        try:
            for _ in range(3):
                results[i] = _run_all(*problems[i], algorithm)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got, exp in zip(results, serial):
        for a, e in zip(got, exp):
            # Same thread count, deterministic partitions: bit-identical.
            np.testing.assert_array_equal(a, e)


# --------------------------------------------------------------- non-finite values --

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_values_reach_exactly_the_outputs_they_touch(dtype, algorithm, isa, rng):
    """A NaN/Inf weight or grad_output value makes exactly the outputs whose real (non-padding)
    taps meet it non-finite: multiplying it by padding zeros (0 * Inf = NaN) must not spread
    it further.  Elsewhere the result is the convolution with those values left out."""
    if _reference is None:
        pytest.skip("fastconv.reference not available")
    ref = _reference
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    w[1, 2, 0, 0] = np.nan
    w[2, 0, 2, 1] = np.inf
    kw = dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2))
    y = fastconv.conv2d(x, w, algorithm=algorithm, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gy[0, 3, 0, 0] = np.inf
    gy[1, 0, -1, -1] = np.nan
    got = (y,) + fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **kw)

    def finite_part(a):
        return np.where(np.isfinite(a), a, 0).astype(np.float64)

    def indicator(a):
        return (~np.isfinite(a)).astype(np.float64)

    one_x, one_w, one_gy = np.ones(x.shape), np.ones(w.shape), np.ones(gy.shape)
    x0, w0, gy0 = finite_part(x), finite_part(w), finite_part(gy)
    exp = (ref.conv2d(x0, w0, **kw),) + ref.conv2d_backward(gy0, x0, w0, **kw)
    mag = (ref.conv2d(abs(x0), abs(w0), **kw),) + ref.conv2d_backward(abs(gy0), abs(x0),
                                                                       abs(w0), **kw)
    # Where a non-finite value meets a real tap: the op on its indicator, ones elsewhere.
    gx_w, _, _ = ref.conv2d_backward(one_gy, one_x, indicator(w), **kw)
    gx_g, gw_g, gb_g = ref.conv2d_backward(indicator(gy), one_x, one_w, **kw)
    touched = (ref.conv2d(one_x, indicator(w), **kw) > 0, (gx_w + gx_g) > 0, gw_g > 0,
               gb_g > 0)
    n_out = y.shape[0] * y.shape[2] * y.shape[3]
    for what, g, e, m, t, L in zip(("output", "grad_input", "grad_weight", "grad_bias"), got,
                                   exp, mag, touched, (3 * 9 + 1, 4 * 9, n_out, n_out)):
        assert t.any() and not t.all(), what   # the case exercises both kinds of element
        np.testing.assert_array_equal(~np.isfinite(g), t, err_msg=what)
        assert_within(np.where(t, 0, g).astype(dtype), np.where(t, 0, e), m, L, dtype, what)


# ------------------------------------------- direct forward vectorised along channels --
# The 32-register tiers' direct forward runs layers with an NR panel of output channels and
# 256+ taps per output on the gathered-A GEMM tile (direct_impl.h: fwd_chanvec); these
# shapes take it there (and the grid kernels elsewhere): channels off the panel width, two
# KC blocks of taps, stride phases, dilation, groups, 1-D, batch 1 cut into bands, uneven
# padding.
def _fwd_oracle(x, w, b, kw):
    from fastconv import reference
    return reference.conv2d(_f64(x), _f64(w), _f64(b), **kw)


CHANVEC_CASES = [
    ((2, 32, 9, 11), (40, 32, 3, 3), dict(padding=1)),
    ((1, 30, 13, 13), (33, 30, 3, 3), dict(stride=2, padding=1)),
    ((1, 16, 17, 15), (32, 16, 5, 5), dict(padding=3, dilation=2)),
    ((2, 64, 8, 8), (64, 32, 3, 3), dict(padding=1, groups=2)),
    ((2, 64, 1, 50), (32, 64, 1, 5), dict(padding=(0, 2))),
    ((1, 16, 12, 10), (32, 16, 4, 4), dict(padding="same")),
    ((3, 40, 7, 7), (72, 40, 3, 3), dict(stride=(1, 2), padding=(1, 0))),
]


@pytest.mark.parametrize("xs, ws, kw", CHANVEC_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_channel_vectorised_forward(xs, ws, kw, dtype, isa, rng):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    for b in (rng.standard_normal(ws[0]).astype(dtype), None):
        y = fastconv.conv2d(x, w, b, algorithm="direct", **kw)
        ey = _fwd_oracle(x, w, b, kw)
        my = _fwd_oracle(_abs(x), _abs(w), _abs(b), kw)
        assert_within(y, ey, my, ws[1] * ws[2] * ws[3] + 1, dtype, "output")


def test_direct_channel_vectorised_non_finite_input(isa, rng):
    """An Inf in x reaches exactly the outputs whose taps read it (the dropped columns of
    the flattened grid read it too, and must not leak)."""
    x = rng.standard_normal((1, 32, 9, 9)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    x[0, 5, 4, 8] = np.inf
    x[0, 7, 0, 0] = np.nan
    y = fastconv.conv2d(x, w, padding=1, algorithm="direct")
    ey = _fwd_oracle(x, w, None, dict(padding=1))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ey))
    fin = np.isfinite(ey)
    np.testing.assert_allclose(y[fin], ey[fin], rtol=1e-4, atol=1e-3)


# Its weight gradient (direct_impl.h: bwd_weight_chanvec) from 256 output points per image
# and taps > 1: the same variety, a batch cut into more bands than its 16 fixed chunks, and
# grad_bias beside it.
CHANVEC_WEIGHT_CASES = [
    ((2, 32, 16, 18), (40, 32, 3, 3), dict(padding=1)),
    ((1, 30, 34, 34), (33, 30, 3, 3), dict(stride=2, padding=1)),
    ((2, 16, 20, 20), (32, 16, 5, 5), dict(padding=3, dilation=2)),
    ((2, 64, 16, 16), (64, 32, 3, 3), dict(padding=1, groups=2)),
    ((2, 64, 1, 300), (32, 64, 1, 5), dict(padding=(0, 2))),
    ((20, 32, 16, 16), (32, 32, 3, 3), dict(padding=1)),
    ((2, 48, 1, 400), (32, 48, 1, 3), dict(padding=(0, 2), dilation=(1, 2))),  # 1-D, 144 taps
]


@pytest.mark.parametrize("xs, ws, kw", CHANVEC_WEIGHT_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_channel_vectorised_weight_gradient(xs, ws, kw, dtype, isa, rng):
    from fastconv import reference
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    y = fastconv.conv2d(x, w, algorithm="direct", **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    _, gw, gb = fastconv.conv2d_backward(gy, x, w, algorithm="direct",
                                         output_mask=(False, True, True), **kw)
    _, egw, egb = reference.conv2d_backward(_f64(gy), _f64(x), _f64(w), **kw)
    _, mgw, mgb = reference.conv2d_backward(_abs(_f64(gy)), _abs(_f64(x)), _f64(w), **kw)
    n = xs[0] * y.shape[2] * y.shape[3]
    assert_within(gw, egw, mgw, n + 16, dtype, "grad_weight")
    assert_within(gb, egb, mgb, n, dtype, "grad_bias")


def test_direct_channel_vectorised_weight_gradient_non_finite_input(isa, rng):
    """An Inf in x: the grid's dropped columns would multiply it by zero, so this path is
    not taken; the gradient's NaNs are exactly the reference's."""
    from fastconv import reference
    x = rng.standard_normal((2, 32, 16, 16))
    w = rng.standard_normal((32, 32, 3, 3))
    x[1, 3, 5, 15] = np.inf
    gy = rng.standard_normal((2, 32, 16, 16))
    _, gw, _ = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm="direct",
                                        output_mask=(False, True, False))
    _, egw, _ = reference.conv2d_backward(gy, x, w, padding=1)
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(egw))
    fin = np.isfinite(egw)
    np.testing.assert_allclose(gw[fin], egw[fin], rtol=1e-9, atol=1e-9)
