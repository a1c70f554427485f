"""Winograd F(2x2,3x3) / F(4x4,3x3) conv2d (forward, backward-data, backward-weight): against the float64 reference and torch on every
tier, its refusals, non-finite data, thread-count independence, and the accuracy table that
lets 'auto' use it (tests/winograd_error.py)."""
import json
import os
import sys

import numpy as np
import pytest

import fastconv
from fastconv import _kernels, reference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import winograd_error  # noqa: E402

TILES = ("winograd", "winograd_2x2", "winograd_4x4")
# How much more rounding a tile's transforms may add than direct's summation: the measured
# ratios of tests/data/winograd_error.json (F(2x2) <= 1.4, F(4x4) <= 39, depthwise the worst)
# with headroom; a wrong tap or tile offset is off by O(1), far outside either.
AMPLIFY = {"winograd": 8, "winograd_2x2": 8, "winograd_4x4": 160}


def _tile_mag(x, w, groups):
    """A tile mixes all its inputs, so an output's rounding error scales with its whole
    patch, not only with its own taps: per (image, output channel), sum over input channels
    of the largest |x| in the plane times the channel's sum of |w|."""
    N, C = x.shape[:2]
    O = w.shape[0]
    xm = np.abs(x).reshape(N, C, x.shape[2] * x.shape[3]).max(axis=2, initial=0.0)
    xm = xm.reshape(N, groups, C // groups)
    ws = np.abs(w).sum(axis=(2, 3)).reshape(groups, O // groups, C // groups)
    return np.einsum("ngc,goc->ngo", xm, ws).reshape(N, O, 1, 1)


def _bound(x, w, groups, dtype, algo, L):
    """(L + 1) * eps * the tile's amplification * its magnitude."""
    return (L + 1) * np.finfo(dtype).eps * AMPLIFY[algo] * _tile_mag(x, w, groups) + \
        np.finfo(dtype).tiny


def _check(got, exact, tol, what):
    assert got.shape == exact.shape, what
    err = np.abs(got.astype(np.float64) - exact)
    bad = err > tol
    assert not bad.any(), f"{what}: {bad.sum()} of {bad.size} off, worst {err.max():.3g}"


CASES = [
    # N, C_in, C_out, H, W, padding, groups, padding_mode
    (2, 3, 5, 8, 8, 1, 1, "zeros"),
    (1, 16, 13, 13, 11, 1, 1, "zeros"),
    (2, 8, 8, 7, 9, 0, 2, "zeros"),
    (1, 4, 6, 5, 5, 2, 1, "zeros"),
    (3, 6, 4, 14, 17, 3, 1, "zeros"),      # padding 3: backward-data starts inside gy
    (1, 3, 3, 3, 3, 0, 1, "zeros"),        # a single output
    (1, 2, 2, 1, 1, 1, 1, "zeros"),        # 1x1 image, all padding
    (2, 6, 9, 9, 12, "same", 3, "zeros"),
    (1, 4, 4, 10, 7, ((0, 2), (1, 0)), 1, "zeros"),   # per-side
    (2, 3, 4, 9, 9, 1, 1, "reflect"),
    (1, 4, 2, 6, 8, 1, 2, "circular"),
    (1, 3, 3, 6, 5, 2, 1, "replicate"),
    (1, 12, 12, 9, 70, 1, 12, "zeros"),    # depthwise; rows of 35 tiles (past one run)
    (0, 3, 4, 6, 6, 1, 1, "zeros"),        # N = 0
]


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:5])))
def test_matches_reference(isa, algo, dtype, case):
    N, Ci, Co, H, W, pad, G, mode = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Co, Ci // G, 3, 3))
    b = rng.standard_normal(Co)
    kw = dict(padding=pad, groups=G, padding_mode=mode)
    y_ref = reference.conv2d(x, w, b, **kw)
    gy = rng.standard_normal(y_ref.shape)
    gx_ref, gw_ref, gb_ref = reference.conv2d_backward(gy, x, w, **kw)
    L = 9 * Ci // G + 1
    y = fastconv.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype), algorithm=algo,
                        **kw)
    assert y.dtype == dtype
    tol = _bound(x, w, G, dtype, algo, L) + np.finfo(dtype).eps * 4 * np.abs(b)[
        None, :, None, None]
    _check(y, y_ref, tol, f"forward {algo} {isa}")
    gx, gw, gb = fastconv.conv2d_backward(gy.astype(dtype), x.astype(dtype), w.astype(dtype),
                                          algorithm=algo, **kw)
    # backward-data is the full correlation of gy with the flipped filters, transposed per
    # group; non-zero padding modes then fold up to 3 padded positions onto an edge element
    Og = Co // G
    wt = w.reshape(G, Og, Ci // G, 3, 3).transpose(0, 2, 1, 3, 4).reshape(Ci, Og, 3, 3)
    Lb = 9 * Og + 1
    fold = 1 if mode == "zeros" else 4
    _check(gx, gx_ref, fold * _bound(gy, wt, G, dtype, algo, Lb), f"backward-data {algo} {isa}")
    # the weight gradient sums, over every tile, products of transformed grad_output tiles
    # and input patches: its error scales with the planes' largest values times the count
    Ho, Wo = y_ref.shape[2:]
    Lw = N * Ho * Wo + 1
    gmax = np.abs(gy).reshape(N, Co, Ho * Wo).max(axis=2, initial=0.0).reshape(N, G, Co // G)
    xmax = np.abs(x).reshape(N, Ci, H * W).max(axis=2, initial=0.0).reshape(N, G, Ci // G)
    magw = Ho * Wo * np.einsum("ngo,ngc->goc", gmax, xmax).reshape(Co, Ci // G, 1, 1)
    fold = 1 if mode == "zeros" else 4   # a padded copy of an edge value counts again
    _check(gw, gw_ref, fold * (Lw + 1) * np.finfo(dtype).eps * AMPLIFY[algo] * magw +
           np.finfo(dtype).tiny, f"backward-weight {algo} {isa}")
    _check(gb, gb_ref, (Lw + 1) * np.finfo(dtype).eps * np.abs(gy).sum(axis=(0, 2, 3)) +
           np.finfo(dtype).tiny, "grad_bias")


@pytest.mark.parametrize("algo", TILES)
def test_blocks_panels_and_depth_chunks(isa, algo):
    """Enough tiles for several blocks per thread, a GEMM depth past one KC chunk (300 > 256),
    output channels not a multiple of any MR, odd planes."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 300, 11, 13))
    w = rng.standard_normal((19, 300, 3, 3))
    y_ref = reference.conv2d(x, w, padding=1)
    y = fastconv.conv2d(x, w, padding=1, algorithm=algo)
    _check(y, y_ref, _bound(x, w, 1, np.float64, algo, 2701), algo)
    gy = rng.standard_normal(y_ref.shape)
    gx_ref = reference.conv2d_backward(gy, x, w, padding=1, output_mask=(True, False, False))[0]
    gx = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=algo,
                                  output_mask=(True, False, False))[0]
    assert np.max(np.abs(gx - gx_ref)) <= 1e-11 * AMPLIFY[algo] * np.max(np.abs(gx_ref))


SCHEDULE_CASES = [
    # N, C_in, C_out, H, W, padding, groups, padding_mode
    (3, 300, 19, 20, 20, 1, 1, "zeros"),    # 300 tiles (F(2x2)): past one deep block of 4
                                            # panels; depth past one KC chunk
    (2, 24, 37, 7, 7, 1, 1, "zeros"),       # rows of 4 tiles: runs cross the panel rows
    (1, 12, 30, 9, 70, 1, 3, "reflect"),    # groups; rows of 35 tiles, past one run
    (2, 5, 3, 6, 11, ((0, 2), (1, 0)), 1, "circular"),
    (1, 33, 40, 3, 3, 2, 1, "zeros"),       # a handful of tiles, mostly padding
    (1, 20, 200, 8, 8, 1, 1, "zeros"),      # one tile block: each item transforms its filter
                                            # panels itself, several groups of up to 4 and
                                            # a short last one
]


@pytest.fixture
def schedule():
    """Force Winograd's work schedule within one test; 'auto' again afterwards."""
    yield _kernels.winograd_schedule
    _kernels.winograd_schedule("auto")


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SCHEDULE_CASES, ids=lambda c: "x".join(map(str, c[:5])))
def test_schedules_agree_bit_for_bit(isa, algo, dtype, case, schedule):
    """The deep-layer schedule (shared input transform, output channels split among work
    items) against the tile-block one, forward and backward-data: the same operations per
    element, so the same bits; and against the reference."""
    N, Ci, Co, H, W, pad, G, mode = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Co, Ci // G, 3, 3))
    b = rng.standard_normal(Co)
    kw = dict(padding=pad, groups=G, padding_mode=mode)
    y_ref = reference.conv2d(x, w, b, **kw)
    gy = rng.standard_normal(y_ref.shape)
    xs, ws, bs, gys = (a.astype(dtype) for a in (x, w, b, gy))
    got = {}
    for name in ("tiles", "deep"):
        schedule(name)
        got[name] = (fastconv.conv2d(xs, ws, bs, algorithm=algo, **kw),
                     fastconv.conv2d_backward(gys, xs, ws, algorithm=algo,
                                              output_mask=(True, False, False), **kw)[0])
    assert np.array_equal(got["tiles"][0], got["deep"][0]), "forward"
    assert np.array_equal(got["tiles"][1], got["deep"][1]), "backward-data"
    tol = _bound(x, w, G, dtype, algo, 9 * Ci // G + 1) + np.finfo(dtype).eps * 4 * np.abs(b)[
        None, :, None, None]
    _check(got["deep"][0], y_ref, tol, f"forward, deep schedule, {algo} {isa}")
    gx_ref = reference.conv2d_backward(gy, x, w, output_mask=(True, False, False), **kw)[0]
    Og = Co // G
    wt = w.reshape(G, Og, Ci // G, 3, 3).transpose(0, 2, 1, 3, 4).reshape(Ci, Og, 3, 3)
    fold = 1 if mode == "zeros" else 4
    _check(got["deep"][1], gx_ref, fold * _bound(gy, wt, G, dtype, algo, 9 * Og + 1),
           f"backward-data, deep schedule, {algo} {isa}")


def test_schedule_knob(schedule):
    assert schedule("deep") == "auto"
    assert schedule("tiles") == "deep"
    with pytest.raises(ValueError, match="schedule must be one of"):
        schedule("fast")
    assert schedule("auto") == "tiles"


@pytest.mark.parametrize("algo", TILES)
def test_weight_gradient_over_several_chunks(isa, algo):
    """More than one fixed chunk of 256 tiles (F(2x2): 7, F(4x4): 2), a partial tile row."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 8, 39, 40))
    w = rng.standard_normal((6, 8, 3, 3))
    gy = rng.standard_normal((4, 6, 39, 40))
    gw_ref = reference.conv2d_backward(gy, x, w, padding=1, output_mask=(False, True, False))[1]
    gw = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=algo,
                                  output_mask=(False, True, False))[1]
    assert np.max(np.abs(gw - gw_ref)) <= 1e-12 * AMPLIFY[algo] * np.max(np.abs(gw_ref))


def test_matches_torch(torch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 32, 20, 18)).astype(np.float32)
    w = rng.standard_normal((40, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    ty = torch.nn.functional.conv2d(tx, torch.from_numpy(w.astype(np.float64)),
                                    torch.from_numpy(b.astype(np.float64)), padding=1)
    gy = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.from_numpy(gy.astype(np.float64)))
    for algo in TILES:
        y = fastconv.conv2d(x, w, b, padding=1, algorithm=algo)
        scale = np.max(np.abs(ty.detach().numpy()))
        assert np.max(np.abs(y - ty.detach().numpy())) <= 1e-6 * AMPLIFY[algo] * scale, algo
        gx = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=algo)[0]
        scale = np.max(np.abs(tx.grad.numpy()))
        assert np.max(np.abs(gx - tx.grad.numpy())) <= 1e-6 * AMPLIFY[algo] * scale, algo


@pytest.mark.parametrize("bad", [
    dict(w=(4, 3, 5, 5)), dict(w=(4, 3, 3, 1)), dict(stride=2), dict(stride=(1, 2)),
    dict(dilation=2)])
def test_refuses_what_it_does_not_serve(bad):
    x = np.zeros((1, 3, 12, 12))
    w = np.zeros(bad.get("w", (4, 3, 3, 3)))
    kw = {k: v for k, v in bad.items() if k != "w"}
    for algo in TILES:
        with pytest.raises(ValueError, match="serves 3x3 kernels at stride 1 and dilation 1"):
            fastconv.conv2d(x, w, algorithm=algo, **kw)
        y = fastconv.conv2d(x, w, **kw)
        with pytest.raises(ValueError, match="serves 3x3"):
            fastconv.conv2d_backward(np.zeros_like(y), x, w, algorithm=algo, **kw)


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("where", ["input", "weight", "grad_output"])
def test_non_finite_reaches_only_its_taps(isa, algo, where):
    """An Inf must not turn a whole tile into NaN: the result matches direct's bit pattern
    of non-finite values and the reference's finite ones."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 10, 10))
    w = rng.standard_normal((5, 4, 3, 3))
    gy = rng.standard_normal((1, 5, 10, 10))
    if where == "input":
        x[0, 1, 4, 6] = np.inf
    elif where == "weight":
        w[2, 1, 0, 2] = np.nan
    else:
        gy[0, 3, 2, 2] = -np.inf
    d = fastconv.conv2d(x, w, padding=1, algorithm="direct")
    y = fastconv.conv2d(x, w, padding=1, algorithm=algo)
    assert np.array_equal(np.isnan(y), np.isnan(d)) and np.array_equal(np.isinf(y), np.isinf(d))
    assert np.isfinite(d).any()
    gd = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm="direct")
    gx = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=algo)
    for a, b in zip(gx, gd):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.array_equal(np.isinf(a), np.isinf(b))


def test_independent_of_thread_count():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 40, 30, 30)).astype(np.float32)
    w = rng.standard_normal((48, 40, 3, 3)).astype(np.float32)
    before = fastconv.get_num_threads()
    try:
        out = {}
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            out[n] = [fastconv.conv2d(x, w, padding=1, algorithm=a) for a in TILES]
    finally:
        fastconv.set_num_threads(before)
    for n in (2, 3):
        for a, b in zip(out[1], out[n]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("shape", [
    (4, 40, 30, 30, 48, 1),     # 900 tiles: four chunks, split by product at 3 threads only
    (2, 16, 12, 12, 24, 2),     # 72 tiles, two groups: each one chunk, always split
])
def test_weight_gradient_independent_of_thread_count(isa, shape):
    """The weight gradient's work split (chunks, or ranges of the A*A products when chunks
    are few) changes with the thread count; its bits must not."""
    N, C, H, W, Co, groups = shape
    rng = np.random.default_rng(12)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((Co, C // groups, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((N, Co, H, W)).astype(np.float32)
    before = fastconv.get_num_threads()
    try:
        out = {}
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            out[n] = [fastconv.conv2d_backward(gy, x, w, padding=1, groups=groups, algorithm=a,
                                               output_mask=(False, True, False))[1]
                      for a in TILES]
    finally:
        fastconv.set_num_threads(before)
    ref = reference.conv2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                    w.astype(np.float64), padding=1, groups=groups,
                                    output_mask=(False, True, False))[1]
    for a, got in zip(TILES, out[1]):
        assert np.max(np.abs(got - ref)) <= 2e-5 * AMPLIFY[a] * np.max(np.abs(ref))
    for n in (2, 3):
        for a, b in zip(out[1], out[n]):
            assert np.array_equal(a, b)


def test_auto_uses_winograd_on_wide_3x3(isa):
    geom = (8, 128, 28, 28, 128, 3, 3, 28, 28, 1, 1, 1, 1, 1, 1, 1)
    assert _kernels.choose_conv_algo(geom, 0, 4) == "winograd"
    assert _kernels.choose_conv_algo(geom, 1, 4) == "winograd"
    # the weight gradient: on the 32-register tiers from 128 to 4096 tiles (1568 here), in
    # float32 only (conv.c, wino_weight_pays); never past 4096 tiles, where its error passes
    # the contract's bound (resnet_64: 6272)
    wide = isa.startswith("avx512")
    assert (_kernels.choose_conv_algo(geom, 2, 4) == "winograd") == wide
    assert _kernels.choose_conv_algo(geom, 2, 8) != "winograd"
    r64 = (8, 64, 56, 56, 64, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 1)
    assert _kernels.choose_conv_algo(r64, 2, 4) != "winograd"
    # from 64 input and 32 output channels (unet3d_32's unfolded 96 -> 32), not 32 -> 32
    u = (4, 96, 64, 64, 32, 3, 3, 64, 64, 1, 1, 1, 1, 1, 1, 1)
    assert (_kernels.choose_conv_algo(u, 2, 4) == "winograd") == wide
    for c_in, c_out in [(32, 32), (96, 16)]:
        n = (4, c_in) + u[2:4] + (c_out,) + u[5:]
        assert _kernels.choose_conv_algo(n, 2, 4) != "winograd"
    # from 128 tiles on every tier (resnet_512), from 64 on the 32-register ones
    r512 = (8, 512, 7, 7, 512, 3, 3, 7, 7, 1, 1, 1, 1, 1, 1, 1)
    assert _kernels.choose_conv_algo(r512, 0, 4) == "winograd"
    r512_4 = (4,) + r512[1:]
    assert (_kernels.choose_conv_algo(r512_4, 0, 4) == "winograd") == wide
    assert (_kernels.choose_conv_algo(r512, 2, 4) == "winograd") == wide
    assert _kernels.choose_conv_algo(r512_4, 2, 4) != "winograd"          # 64 tiles
    assert _kernels.choose_conv_algo((2,) + r512[1:], 0, 4) != "winograd"
    # not for strided, dilated or narrow layers
    for g in [(8, 128, 28, 28, 128, 3, 3, 14, 14, 2, 2, 1, 1, 1, 1, 1),
              (8, 128, 28, 28, 128, 3, 3, 28, 28, 1, 1, 2, 2, 2, 2, 1),
              (8, 3, 28, 28, 128, 3, 3, 28, 28, 1, 1, 1, 1, 1, 1, 1)]:
        assert _kernels.choose_conv_algo(g, 0, 4) != "winograd"


def test_error_table_holds():
    """Recompute tests/data/winograd_error.json: it must still describe these kernels
    (each error within 2x of the stored one), and wherever 'auto' picks Winograd (always
    F(2x2); the weight gradient's rule is float32's only) its error in that dtype must be at
    most 4x direct's, as the contract says."""
    with open(winograd_error.TABLE) as f:
        tables = json.load(f)["tiers"]
    assert set(tables) == set(winograd_error.TABLE_TIERS)
    tiers = [t for t in winograd_error.TABLE_TIERS if t in _kernels.available_isas()]
    assert tiers, "no tier of the table on this CPU"
    before = _kernels.get_isa()
    try:
        for tier in tiers:
            _kernels.set_isa(tier)
            _check_error_table(tables[tier])
    finally:
        _kernels.set_isa(before)


def _check_error_table(stored):
    names = {l.name: l for l in winograd_error.all_layers()}
    assert set(stored) == set(names)
    for name, layer in names.items():
        now = winograd_error.measure_any(layer)
        for ps, pass_ in (("fwd", 0), ("bwd_data", 1), ("bwd_weight", 2)):
            for dt in winograd_error.DTYPES:
                picks = winograd_error.picks_winograd(layer, pass_, dt)
                for a in winograd_error.ALGOS:
                    s, n = stored[name][ps][dt][a], now[ps][dt][a]
                    assert s / 2 <= n <= 2 * s, (name, ps, dt, a, s, n)
                r = winograd_error.ratios(now[ps][dt])
                if picks:
                    assert r["winograd_2x2"] <= winograd_error.AUTO_BOUND, (name, ps, dt, r)
                # F(4x4) is never picked; the table shows why
                assert max(winograd_error.ratios(stored[name][ps][dt]).values()) > 1
