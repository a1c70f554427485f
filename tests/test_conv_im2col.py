"""im2col + GEMM conv2d kernels (algo "im2col"), called directly, against a float64 oracle.

The oracle below is written from the definition (one strided slice of the zero-padded
input per kernel tap); it is itself checked against torch.  Tolerances come from the
accumulation length: |err| <= n * eps * (the same computation on absolute values).
"""
import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

import fastconv
from fastconv import _kernels

DTYPES = [np.float32, np.float64]


# ------------------------------------------------------------------ oracle ---------

def _unpack(geom):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = geom
    return N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G


def _padded_shape(geom):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    # big enough for every tap of every output pixel, and for the whole input
    Hp = max(pH + H, (Ho - 1) * sH + (kH - 1) * dH + 1)
    Wp = max(pW + W, (Wo - 1) * sW + (kW - 1) * dW + 1)
    return N, C, Hp, Wp


def _tap(geom, kh, kw):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    return (slice(None), slice(None),
            slice(kh * dH, kh * dH + (Ho - 1) * sH + 1, sH),
            slice(kw * dW, kw * dW + (Wo - 1) * sW + 1, sW))


def ref_forward(x, w, b, geom):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    xp = np.zeros(_padded_shape(geom))
    xp[:, :, pH:pH + H, pW:pW + W] = x
    y = np.zeros((N, Co, Ho, Wo))
    cg, og = C // G, Co // G
    for g in range(G):
        for kh in range(kH):
            for kw in range(kW):
                patch = xp[_tap(geom, kh, kw)][:, g * cg:(g + 1) * cg]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch,
                                                       w[g * og:(g + 1) * og, :, kh, kw])
    if b is not None:
        y += b[None, :, None, None]
    return y


def ref_backward_data(gy, w, geom):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    gxp = np.zeros(_padded_shape(geom))
    cg, og = C // G, Co // G
    for g in range(G):
        for kh in range(kH):
            for kw in range(kW):
                view = gxp[_tap(geom, kh, kw)]
                view[:, g * cg:(g + 1) * cg] += np.einsum(
                    "nohw,oc->nchw", gy[:, g * og:(g + 1) * og], w[g * og:(g + 1) * og, :, kh, kw])
    return gxp[:, :, pH:pH + H, pW:pW + W]


def ref_backward_weight(gy, x, geom):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    xp = np.zeros(_padded_shape(geom))
    xp[:, :, pH:pH + H, pW:pW + W] = x
    gw = np.zeros((Co, C // G, kH, kW))
    cg, og = C // G, Co // G
    for g in range(G):
        for kh in range(kH):
            for kw in range(kW):
                patch = xp[_tap(geom, kh, kw)][:, g * cg:(g + 1) * cg]
                gw[g * og:(g + 1) * og, :, kh, kw] = np.einsum(
                    "nohw,nchw->oc", gy[:, g * og:(g + 1) * og], patch)
    return gw, gy.sum(axis=(0, 2, 3))


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def make_geom(N, C, H, W, Co, kH, kW, s=(1, 1), p=(0, 0), d=(1, 1), G=1, shrink=(0, 0)):
    Ho = out_size(H, kH, s[0], p[0], d[0]) - shrink[0]
    Wo = out_size(W, kW, s[1], p[1], d[1]) - shrink[1]
    return (N, C, H, W, Co, kH, kW, Ho, Wo, s[0], s[1], p[0], p[1], d[0], d[1], G)


# -------------------------------------------------------------- checking -----------

def _close(got, ref, bound, n_terms, dt, what):
    assert got.dtype == dt and got.shape == ref.shape, what
    tol = n_terms * np.finfo(dt).eps * bound + np.finfo(dt).tiny
    err = np.abs(got - ref)
    bad = ~(err <= tol)
    assert not bad.any(), (f"{what}: {bad.sum()} elements off, max err {err.max():.3g}, "
                           f"tol there {tol[bad].min():.3g}")


def check_all(geom, dt, rng, bias=True, want_w=True, want_b=True):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((Co, C // G, kH, kW)).astype(dt)
    b = rng.standard_normal(Co).astype(dt) if bias else None
    gy = rng.standard_normal((N, Co, Ho, Wo)).astype(dt)
    x64, w64, gy64 = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    K = (C // G) * kH * kW

    y = _kernels.conv2d_forward(x, w, b, geom, "im2col")
    _close(y, ref_forward(x64, w64, b64, geom),
           ref_forward(np.abs(x64), np.abs(w64), None if b is None else np.abs(b64), geom),
           K + 1, dt, "forward")

    gx = _kernels.conv2d_backward_data(gy, w, geom, "im2col")
    _close(gx, ref_backward_data(gy64, w64, geom),
           ref_backward_data(np.abs(gy64), np.abs(w64), geom), (Co // G) * kH * kW, dt,
           "backward_data")

    gw, gb = _kernels.conv2d_backward_weight(gy, x, geom, "im2col", want_w, want_b)
    rgw, rgb = ref_backward_weight(gy64, x64, geom)
    bgw, bgb = ref_backward_weight(np.abs(gy64), np.abs(x64), geom)
    n_red = N * Ho * Wo + 8   # + the fixed-order sum of at most 8 partial chunks
    if want_w:
        _close(gw, rgw, bgw, n_red, dt, "backward_weight")
    else:
        assert gw is None
    if want_b:
        _close(gb, rgb, bgb, n_red, dt, "backward_bias")
    else:
        assert gb is None


# ------------------------------------------------------------------ tests ----------

ORACLE_CASES = [
    make_geom(2, 4, 7, 9, 6, 3, 2, s=(2, 1), p=(1, 2), d=(1, 2), G=2),
    make_geom(1, 3, 6, 6, 3, 3, 3, p=(4, 0), G=3),
    make_geom(3, 2, 5, 8, 4, 1, 3, s=(1, 3), p=(0, 1), d=(1, 1)),
]


@pytest.mark.parametrize("geom", ORACLE_CASES)
def test_oracle_matches_torch(torch, geom, rng):
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = _unpack(geom)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Co, C // G, kH, kW))
    b = rng.standard_normal(Co)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, (sH, sW), (pH, pW), (dH, dW), G)
    gy = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(ref_forward(x, w, b, geom), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ref_backward_data(gy, w, geom), tx.grad.numpy(), atol=1e-12)
    gw, gb = ref_backward_weight(gy, x, geom)
    np.testing.assert_allclose(gw, tw.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), atol=1e-12)


@st.composite
def geometries(draw):
    G = draw(st.sampled_from([1, 1, 2, 3]))
    C, Co = G * draw(st.integers(1, 4)), G * draw(st.integers(1, 5))
    kH, kW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 5)), draw(st.integers(0, 5)))   # may exceed the kernel
    H = draw(st.integers(max(1, d[0] * (kH - 1) + 1 - 2 * p[0]), 10))
    W = draw(st.integers(max(1, d[1] * (kW - 1) + 1 - 2 * p[1]), 10))
    Ho, Wo = out_size(H, kH, s[0], p[0], d[0]), out_size(W, kW, s[1], p[1], d[1])
    # conv_transpose2d with output_padding passes sizes below the formula's
    shrink = (draw(st.integers(0, min(1, Ho - 1))), draw(st.integers(0, min(1, Wo - 1))))
    N = draw(st.sampled_from([0, 1, 1, 2, 3]))
    return make_geom(N, C, H, W, Co, kH, kW, s, p, d, G, shrink)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large], deadline=None)
@given(geom=geometries(), bias=st.booleans(),
       mask=st.sampled_from([(True, True), (True, False), (False, True)]),
       seed=st.integers(0, 2**31 - 1))
def test_im2col_sweep(isa, geom, bias, mask, seed):
    rng = np.random.default_rng(seed)
    for dt in DTYPES:
        check_all(geom, dt, rng, bias=bias, want_w=mask[0], want_b=mask[1])


BLOCKING_CASES = [
    # K > KC, C_out > MC, pixels > one block, several groups
    make_geom(2, 40, 13, 11, 150, 3, 3, p=(1, 1)),
    make_geom(1, 64, 9, 9, 96, 3, 3, p=(1, 1), G=2),
    # few output blocks and a long reduction: backward-weight splits over pixels
    make_geom(2, 3, 48, 48, 8, 5, 5, s=(1, 1), p=(2, 2)),
    # 1x1: strided; stride 1 (col is x itself), also with fewer output rows / columns
    make_geom(3, 33, 12, 12, 17, 1, 1, s=(2, 2)),
    make_geom(2, 20, 10, 10, 12, 1, 1, shrink=(1, 0)),
    make_geom(2, 20, 10, 10, 12, 1, 1, shrink=(0, 1)),
    # rows that are runs of x (im2col_impl.h: col_span), packed without the gather: 1-D
    # rows (one output row, zeros at both ends from the padding), (k, 1) kernels over whole
    # rows with H padding and dilation (blocks spanning many rows, and rows of zeros), and
    # the cases that must not take it (W padding, W stride, fewer output columns)
    make_geom(3, 12, 1, 700, 20, 1, 5, p=(0, 3), d=(1, 2)),
    make_geom(2, 10, 9, 37, 14, 3, 1, p=(2, 0), d=(2, 1)),
    make_geom(2, 9, 5, 300, 13, 4, 1, p=(3, 0)),
    make_geom(2, 9, 6, 30, 13, 3, 1, p=(1, 1)),
    make_geom(2, 9, 6, 30, 13, 3, 1, s=(1, 2), p=(1, 0)),
    make_geom(2, 9, 6, 30, 13, 3, 1, p=(1, 0), shrink=(0, 2)),
    # forward with one B shared by the threads (few pixel blocks, 64+ output channels):
    # columns across images with several row blocks of MC, one image, groups, several
    # images one after another, and an image cut into two super-blocks
    make_geom(8, 40, 7, 7, 300, 3, 3, p=(1, 1)),
    # backward-weight with all rows in one block (past MC, within 2 MC at 512 bits), strided
    make_geom(3, 20, 12, 12, 169, 3, 3, s=(2, 2), p=(1, 1)),
    make_geom(2, 16, 9, 9, 180, 3, 3, s=(2, 2)),
    make_geom(1, 20, 14, 14, 72, 3, 3, p=(1, 1), shrink=(1, 0)),
    make_geom(4, 32, 10, 10, 140, 3, 3, p=(1, 1), G=2),
    make_geom(2, 64, 30, 30, 64, 3, 3, p=(1, 1)),
    make_geom(1, 256, 32, 32, 64, 3, 3, p=(1, 1)),
]


@pytest.mark.parametrize("geom", BLOCKING_CASES, ids=lambda g: "x".join(map(str, g[:7])))
@pytest.mark.parametrize("dt", DTYPES)
def test_im2col_blocking(isa, geom, dt, rng):
    check_all(geom, dt, rng)


# Forward of (k, 1) kernels over whole rows of 32+ channels (im2col_impl.h: fwd_im2col_rows,
# the temporal 3-D convolution's path; also its backward-data): each input row packed once
# into a row buffer whose runs of taps one micro-kernel call walks.  Several KC chunks per run,
# output rows whose taps are all padding, stride and dilation along H (a call per tap), groups,
# several column blocks of a row with a short last one, runs of output rows cut to fit the
# buffer, and a W just short of a multiple of the panel width.
ROWS_CASES = [
    make_geom(2, 64, 6, 96, 20, 3, 1, p=(1, 0)),
    make_geom(1, 300, 4, 64, 13, 3, 1, p=(1, 0)),
    make_geom(1, 32, 3, 32, 7, 2, 1, p=(4, 0)),
    make_geom(2, 48, 11, 64, 30, 3, 1, s=(2, 1), p=(3, 0), d=(2, 1)),
    make_geom(3, 64, 5, 32, 26, 4, 1, s=(3, 1), p=(2, 0), G=2),
    make_geom(1, 256, 7, 400, 40, 3, 1, p=(2, 0), d=(2, 1)),
    make_geom(2, 40, 5, 254, 17, 5, 1, p=(2, 0)),
]


@pytest.mark.parametrize("geom", ROWS_CASES, ids=lambda g: "x".join(map(str, g[:7])))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dt", DTYPES)
def test_im2col_row_buffer(isa, geom, bias, dt, rng):
    check_all(geom, dt, rng, bias=bias)


@pytest.mark.parametrize("dt", DTYPES)
def test_im2col_empty_batch(isa, dt):
    geom = make_geom(0, 4, 5, 5, 6, 3, 3, p=(1, 1), G=2)
    x = np.empty((0, 4, 5, 5), dt)
    w = np.ones((6, 2, 3, 3), dt)
    gy = np.empty((0, 6, 5, 5), dt)
    assert _kernels.conv2d_forward(x, w, np.ones(6, dt), geom, "im2col").shape == (0, 6, 5, 5)
    assert _kernels.conv2d_backward_data(gy, w, geom, "im2col").shape == (0, 4, 5, 5)
    gw, gb = _kernels.conv2d_backward_weight(gy, x, geom, "im2col", True, True)
    assert gw.shape == (6, 2, 3, 3) and np.all(gw == 0)
    assert gb.shape == (6,) and np.all(gb == 0)


@pytest.mark.parametrize("geom", [make_geom(1, 32, 20, 20, 48, 3, 3, p=(1, 1)),
                                  make_geom(4, 16, 12, 12, 24, 3, 3, s=(2, 2), p=(1, 1)),
                                  make_geom(2, 3, 64, 64, 8, 3, 3, p=(1, 1)),
                                  make_geom(8, 40, 7, 7, 72, 3, 3, p=(1, 1)),
                                  # backward-weight: one block of all rows (MC < 200 <= 2 MC
                                  # at 512 bits), its columns cut by the thread count
                                  make_geom(4, 24, 10, 10, 200, 3, 3, s=(2, 2), p=(1, 1)),
                                  # the row buffer: one image of one column block, its
                                  # output rows cut into runs by the thread count
                                  make_geom(1, 64, 9, 64, 40, 3, 1, p=(1, 0))],
                         ids=["batch1", "batch4", "long-reduction", "shared-b", "one-row-block",
                              "row-buffer"])
def test_im2col_thread_count_invariance(isa, geom, rng):
    N, C, H, W, Co, kH, kW, Ho, Wo = geom[:9]
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((Co, C, kH, kW)).astype(np.float32)
    b = rng.standard_normal(Co).astype(np.float32)
    gy = rng.standard_normal((N, Co, Ho, Wo)).astype(np.float32)
    before = fastconv.get_num_threads()
    results = []
    try:
        for nt in (1, 2):
            fastconv.set_num_threads(nt)
            results.append((_kernels.conv2d_forward(x, w, b, geom, "im2col"),
                            _kernels.conv2d_backward_data(gy, w, geom, "im2col"),
                            *_kernels.conv2d_backward_weight(gy, x, geom, "im2col", True, True)))
    finally:
        fastconv.set_num_threads(before)
    K = C * kH * kW
    for one, two, n in zip(results[0], results[1], (K, Co * kH * kW, N * Ho * Wo, N * Ho * Wo)):
        scale = np.abs(one).max() + 1
        np.testing.assert_allclose(two, one, rtol=0, atol=2 * n * np.finfo(np.float32).eps * scale)
