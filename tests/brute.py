"""Brute-force loop versions of every operation, used only to check fastconv.reference.

Deliberately naive and independent of the reference: one scalar Python loop per index of the
defining sum, no NumPy slicing tricks, padding looked up per element.  Tiny shapes only.
Arguments are already normalised: 4-D float64 arrays, ``(h, w)`` pairs, conv padding as
``(top, bottom, left, right)``.
"""
import math
from itertools import product

import numpy as np


def pad_source(i, n, mode):
    """Index of the input element that padded coordinate ``i`` (may be < 0 or >= n) shows,
    or None for a zero."""
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if i < 0 else n - 1
    if mode == "circular":
        return i % n
    if mode == "reflect":
        while not 0 <= i < n:
            i = -i if i < 0 else 2 * (n - 1) - i
        return i
    raise ValueError(mode)


def conv_out_len(n, k, s, p0, p1, d):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def _conv_terms(x_shape, w_shape, stride, pads, dilation, groups, mode):
    """Every term of the conv2d sum: (output index, input index, weight index)."""
    N, C, H, W = x_shape
    Co, Cg, kH, kW = w_shape
    Ho = conv_out_len(H, kH, stride[0], pads[0], pads[1], dilation[0])
    Wo = conv_out_len(W, kW, stride[1], pads[2], pads[3], dilation[1])
    terms = []
    for n, o, i, j, c, a, b in product(range(N), range(Co), range(Ho), range(Wo), range(Cg),
                                       range(kH), range(kW)):
        g = o // (Co // groups)
        h = pad_source(i * stride[0] - pads[0] + a * dilation[0], H, mode)
        w = pad_source(j * stride[1] - pads[2] + b * dilation[1], W, mode)
        if h is not None and w is not None:
            terms.append(((n, o, i, j), (n, g * Cg + c, h, w), (o, c, a, b)))
    return (N, Co, Ho, Wo), terms


def _sum_terms(shape, terms, x, w, b):
    """y[out] = sum of x[in] * w[tap] over the terms, plus the bias per output channel."""
    y = np.zeros(shape)
    for yi, xi, wi in terms:
        y[yi] += x[xi] * w[wi]
    if b is not None:
        for o in range(shape[1]):
            y[:, o] += b[o]
    return y


def _sum_terms_backward(terms, gy, x, w):
    """Each term x[in] * w[tap] -> y[out] sends gy[out] * w[tap] to x and gy[out] * x[in]
    to w."""
    gx, gw = np.zeros(x.shape), np.zeros(w.shape)
    for yi, xi, wi in terms:
        gx[xi] += gy[yi] * w[wi]
        gw[wi] += gy[yi] * x[xi]
    gb = np.array([gy[:, o].sum() for o in range(gy.shape[1])])
    return gx, gw, gb


def conv2d(x, w, b, stride, pads, dilation, groups, mode="zeros"):
    shape, terms = _conv_terms(x.shape, w.shape, stride, pads, dilation, groups, mode)
    return _sum_terms(shape, terms, x, w, b)


def conv2d_backward(gy, x, w, stride, pads, dilation, groups, mode="zeros"):
    _, terms = _conv_terms(x.shape, w.shape, stride, pads, dilation, groups, mode)
    return _sum_terms_backward(terms, gy, x, w)


def _transpose_terms(x_shape, w_shape, stride, padding, output_padding, groups, dilation):
    """Every term of conv_transpose2d: input element (n, c, i, j) times weight (c, o, a, b)
    lands on output (n, g*Og+o, i*s - p + a*d, j*s - p + b*d) when that is inside."""
    N, C, H, W = x_shape
    _, Og, kH, kW = w_shape
    Ho = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kH - 1) + output_padding[0] + 1
    Wo = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kW - 1) + output_padding[1] + 1
    terms = []
    for n, c, i, j, o, a, b in product(range(N), range(C), range(H), range(W), range(Og),
                                       range(kH), range(kW)):
        g = c // (C // groups)
        h = i * stride[0] - padding[0] + a * dilation[0]
        v = j * stride[1] - padding[1] + b * dilation[1]
        if 0 <= h < Ho and 0 <= v < Wo:
            terms.append(((n, g * Og + o, h, v), (n, c, i, j), (c, o, a, b)))
    return (N, Og * groups, Ho, Wo), terms


def conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    shape, terms = _transpose_terms(x.shape, w.shape, stride, padding, output_padding,
                                    groups, dilation)
    return _sum_terms(shape, terms, x, w, b)


def conv_transpose2d_backward(gy, x, w, stride, padding, output_padding, groups, dilation):
    _, terms = _transpose_terms(x.shape, w.shape, stride, padding, output_padding, groups,
                                dilation)
    return _sum_terms_backward(terms, gy, x, w)


def pool_out_len(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _argmax(x, n, c, cells):
    """Max over x[n, c, h, w] for (h, w) in cells (scan order) with PyTorch's rule: a strictly
    greater value wins (ties stay with the first), any NaN wins.  -> (value, h*W + w)."""
    W = x.shape[3]
    best, where = -math.inf, -1
    for h, w in cells:
        v = x[n, c, h, w]
        if where < 0 or v > best or math.isnan(v):
            best, where = v, h * W + w
    return best, where


def _pool(x, out_hw, windows, reduce):
    """y[n, c, i, j] = reduce(x, n, c, windows[i, j]) for every output cell."""
    N, C = x.shape[:2]
    y = np.zeros((N, C) + tuple(out_hw))
    idx = np.full((N, C) + tuple(out_hw), -1, dtype=np.int64)
    for n, c, (i, j) in product(range(N), range(C), windows):
        y[n, c, i, j], idx[n, c, i, j] = reduce(x, n, c, windows[i, j])
    return y, idx


def _max_pool_windows(H, W, kernel, stride, padding, dilation, ceil_mode):
    Ho = pool_out_len(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    Wo = pool_out_len(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    windows = {}
    for i, j in product(range(Ho), range(Wo)):
        taps = [(i * stride[0] - padding[0] + a * dilation[0],
                 j * stride[1] - padding[1] + b * dilation[1])
                for a, b in product(range(kernel[0]), range(kernel[1]))]
        windows[i, j] = [(h, w) for h, w in taps if 0 <= h < H and 0 <= w < W]
    return (Ho, Wo), windows


def max_pool2d(x, kernel, stride, padding, dilation, ceil_mode):
    """Returns (output, indices)."""
    out_hw, windows = _max_pool_windows(x.shape[2], x.shape[3], kernel, stride, padding,
                                        dilation, ceil_mode)
    return _pool(x, out_hw, windows, _argmax)


def scatter_indices(gy, idx, in_shape):
    gx = np.zeros(in_shape)
    W = in_shape[3]
    for n, c, i, j in product(*(range(s) for s in gy.shape)):
        k = int(idx[n, c, i, j])
        gx[n, c, k // W, k % W] += gy[n, c, i, j]
    return gx


def _avg_windows(x_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    """For each output cell: the real input positions of its window and its divisor."""
    N, C, H, W = x_shape
    Ho = pool_out_len(H, kernel[0], stride[0], padding[0], 1, ceil_mode)
    Wo = pool_out_len(W, kernel[1], stride[1], padding[1], 1, ceil_mode)
    windows = {}
    for i, j in product(range(Ho), range(Wo)):
        real, padded = [], 0
        for a, b in product(range(kernel[0]), range(kernel[1])):
            h = i * stride[0] - padding[0] + a
            w = j * stride[1] - padding[1] + b
            if -padding[0] <= h < H + padding[0] and -padding[1] <= w < W + padding[1]:
                padded += 1
            if 0 <= h < H and 0 <= w < W:
                real.append((h, w))
        if divisor_override is not None:
            div = divisor_override
        else:
            div = padded if count_include_pad else len(real)
        windows[i, j] = (real, div)
    return (Ho, Wo), windows


def _mean(x, n, c, window):
    cells, div = window
    return sum(x[n, c, h, w] for h, w in cells) / div, -1


def _spread_mean(gy, in_shape, windows):
    """Adjoint of a windowed mean: each cell of window (i, j) gets gy[n, c, i, j] / div."""
    gx = np.zeros(in_shape)
    for n, c, ((i, j), (cells, div)) in product(range(in_shape[0]), range(in_shape[1]),
                                                windows.items()):
        for h, w in cells:
            gx[n, c, h, w] += gy[n, c, i, j] / div
    return gx


def avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    out_hw, windows = _avg_windows(x.shape, kernel, stride, padding, ceil_mode,
                                   count_include_pad, divisor_override)
    return _pool(x, out_hw, windows, _mean)[0]


def avg_pool2d_backward(gy, in_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    _, windows = _avg_windows(in_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                              divisor_override)
    return _spread_mean(gy, in_shape, windows)


def _adaptive_windows(H, W, out_hw):
    """Window i covers [floor(i*In/Out), ceil((i+1)*In/Out)), computed with math.floor/ceil."""
    windows = {}
    for i, j in product(range(out_hw[0]), range(out_hw[1])):
        h0, h1 = math.floor(i * H / out_hw[0]), math.ceil((i + 1) * H / out_hw[0])
        w0, w1 = math.floor(j * W / out_hw[1]), math.ceil((j + 1) * W / out_hw[1])
        cells = list(product(range(h0, h1), range(w0, w1)))
        windows[i, j] = (cells, len(cells))
    return windows


def adaptive_avg_pool2d(x, out_hw):
    return _pool(x, out_hw, _adaptive_windows(x.shape[2], x.shape[3], out_hw), _mean)[0]


def adaptive_avg_pool2d_backward(gy, in_shape):
    return _spread_mean(gy, in_shape, _adaptive_windows(in_shape[2], in_shape[3],
                                                        gy.shape[2:]))


def adaptive_max_pool2d(x, out_hw):
    windows = _adaptive_windows(x.shape[2], x.shape[3], out_hw)
    return _pool(x, out_hw, {ij: cells for ij, (cells, _) in windows.items()}, _argmax)


# ----------------------------------------------------------------------------------------------
# Random valid argument sets (hypothesis strategies), shared by the reference tests.  Each
# returns a dict with the arrays' shapes and the keyword arguments of the public function,
# plus the normalised form the brute-force functions above take.
# ----------------------------------------------------------------------------------------------

from hypothesis import assume, strategies as st  # noqa: E402

MODES = ("zeros", "reflect", "replicate", "circular")


def fold_count(case):
    """How many padded positions can copy one input element in a conv case: 1 for zero
    padding; with reflect/replicate/circular and pads <= 2 an element is copied to at most 2
    more rows and 2 more columns, so its gradient sums up to 3 x 3 padded positions."""
    return 1 if case["norm"]["mode"] == "zeros" else 9


def _pair(draw, lo, hi):
    return (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))


def _group_channels(draw, max_c):
    """(groups, input channels per group, output channels per group)."""
    return draw(st.integers(1, 3)), draw(st.integers(1, max_c)), draw(st.integers(1, max_c))


@st.composite
def conv_cases(draw, max_hw=7, max_c=3):
    groups, cg_in, cg_out = _group_channels(draw, max_c)
    k = _pair(draw, 1, 3)
    dil = _pair(draw, 1, 2)
    mode = draw(st.sampled_from(MODES))
    kind = draw(st.sampled_from(("int", "pair", "same", "valid")))
    stride = (1, 1) if kind == "same" else _pair(draw, 1, 3)
    if kind == "same":
        tot = [dil[a] * (k[a] - 1) for a in range(2)]
        pads = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
        padding = "same"
    elif kind == "valid":
        pads, padding = (0, 0, 0, 0), "valid"
    else:
        p = _pair(draw, 0, 2)
        if kind == "int":
            p = (p[0], p[0])
        pads, padding = (p[0], p[0], p[1], p[1]), (p if kind == "pair" else p[0])
    # Input big enough for the kernel, and for reflect (pad < size) / circular (pad <= size).
    hw = []
    for a, (p0, p1) in enumerate(((pads[0], pads[1]), (pads[2], pads[3]))):
        lo = max(1, dil[a] * (k[a] - 1) + 1 - p0 - p1, max(p0, p1) + 1)
        hw.append(draw(st.integers(lo, max(lo, max_hw))))
    n = draw(st.sampled_from((1, 1, 2, 0)))
    return dict(x_shape=(n, groups * cg_in, hw[0], hw[1]),
                w_shape=(groups * cg_out, cg_in, k[0], k[1]),
                bias=draw(st.booleans()),
                kwargs=dict(stride=stride, padding=padding, dilation=dil, groups=groups,
                            padding_mode=mode),
                norm=dict(stride=stride, pads=pads, dilation=dil, groups=groups, mode=mode))


@st.composite
def conv_transpose_cases(draw, max_hw=5, max_c=3):
    groups, cg_in, cg_out = _group_channels(draw, max_c)
    k = _pair(draw, 1, 3)
    stride = _pair(draw, 1, 3)
    dil = _pair(draw, 1, 2)
    hw = _pair(draw, 1, max_hw)
    opad = tuple(draw(st.integers(0, max(stride[a], dil[a]) - 1)) for a in range(2))
    # Keep the output at least one element: 2*p <= (H-1)*s + d*(k-1) + op.
    pad = tuple(draw(st.integers(0, ((hw[a] - 1) * stride[a] + dil[a] * (k[a] - 1)
                                     + opad[a]) // 2)) for a in range(2))
    n = draw(st.sampled_from((1, 1, 2, 0)))
    kwargs = dict(stride=stride, padding=pad, output_padding=opad, groups=groups, dilation=dil)
    return dict(x_shape=(n, groups * cg_in) + hw, w_shape=(groups * cg_in, cg_out) + k,
                bias=draw(st.booleans()), kwargs=kwargs, norm=kwargs)


@st.composite
def max_pool_cases(draw, max_hw=7):
    k = _pair(draw, 1, 3)
    stride = _pair(draw, 1, 3)
    dil = _pair(draw, 1, 2)
    pad = tuple(draw(st.integers(0, (dil[a] * (k[a] - 1) + 1) // 2)) for a in range(2))
    ceil_mode = draw(st.booleans())
    hw = tuple(draw(st.integers(max(1, dil[a] * (k[a] - 1) + 1 - 2 * pad[a]), max_hw + 2))
               for a in range(2))
    # Dilation may step a window from the padding straight over a small input; such
    # geometries are rejected (tested separately).
    for a in range(2):
        n_out = pool_out_len(hw[a], k[a], stride[a], pad[a], dil[a], ceil_mode)
        assume(all(any(0 <= i * stride[a] - pad[a] + t * dil[a] < hw[a] for t in range(k[a]))
                   for i in range(n_out)))
    n = draw(st.sampled_from((1, 2, 0)))
    kwargs = dict(kernel_size=k, stride=stride, padding=pad, dilation=dil, ceil_mode=ceil_mode)
    if draw(st.booleans()):
        kwargs["stride"] = None
    return dict(x_shape=(n, draw(st.integers(1, 3))) + hw, kwargs=kwargs,
                norm=dict(kernel=k, stride=stride if kwargs["stride"] else k, padding=pad,
                          dilation=dil, ceil_mode=ceil_mode))


@st.composite
def avg_pool_cases(draw, max_hw=7):
    k = _pair(draw, 1, 3)
    stride = _pair(draw, 1, 3)
    pad = tuple(draw(st.integers(0, k[a] // 2)) for a in range(2))
    ceil_mode = draw(st.booleans())
    hw = tuple(draw(st.integers(max(1, k[a] - 2 * pad[a]), max_hw)) for a in range(2))
    cip = draw(st.booleans())
    div = draw(st.sampled_from((None, None, 1, 3, -2)))
    n = draw(st.sampled_from((1, 2, 0)))
    kwargs = dict(kernel_size=k, stride=stride, padding=pad, ceil_mode=ceil_mode,
                  count_include_pad=cip, divisor_override=div)
    return dict(x_shape=(n, draw(st.integers(1, 3))) + hw, kwargs=kwargs,
                norm=dict(kernel=k, stride=stride, padding=pad, ceil_mode=ceil_mode,
                          count_include_pad=cip, divisor_override=div))


@st.composite
def adaptive_cases(draw, max_hw=9):
    hw = _pair(draw, 1, max_hw)
    out = (draw(st.integers(0, max_hw)), draw(st.integers(1, max_hw)))
    form = draw(st.sampled_from(("pair", "int", "none")))
    if form == "int":
        out, output_size = (out[1], out[1]), out[1]
    elif form == "none":
        out, output_size = (hw[0], out[1]), (None, out[1])
    else:
        output_size = out
    n = draw(st.sampled_from((1, 2, 0)))
    return dict(x_shape=(n, draw(st.integers(1, 3))) + hw, output_size=output_size, out=out)


def distinct_values(rng, shape, dtype=np.float64):
    """Random values at least 0.1 apart, so that the max is unique and stays the max under
    small perturbations (finite differences, float32 rounding)."""
    size = int(np.prod(shape))
    v = (rng.permutation(size) - size / 2) * 0.1 + rng.uniform(-0.01, 0.01, size)
    return v.reshape(shape).astype(dtype)


EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def randn(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def assert_close(got, want, length, magnitude, dtype, what=""):
    """|got - want| <= 4 * length * eps * magnitude elementwise: twice the worst-case rounding
    bound of a sum of `length` terms whose absolute values add up to `magnitude` (both sides
    may round), plus a hair so that exact zeros compare."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    tol = 4 * max(int(length), 1) * EPS[np.dtype(dtype).type] * np.asarray(magnitude) + 1e-300
    err = np.abs(got.astype(np.float64) - np.asarray(want, dtype=np.float64))
    assert np.all(err <= tol), f"{what}: max err {err.max()} (tol {np.max(tol)})"
