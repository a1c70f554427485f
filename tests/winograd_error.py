"""Winograd's accuracy against direct convolution, measured and kept (issue: Winograd).

For every 3x3 stride-1 layer of the benchmark suite (and every 3-D layer of the 1-D/3-D suite
with a (kD, 3, 3) kernel, see Layer3), at batch 1, with N(0, 1) data (rounded to
float32, so both dtypes see the same values), the worst-element absolute error of each
algorithm against an extended-precision oracle (im2col and a long-double product), for the
forward pass, backward-data and backward-weight, float32 and float64.  The contract lets ``auto`` pick a
Winograd tile only where its error is at most 4x direct's; test_winograd.py recomputes this
table and checks both the table and the rule.

    python tests/winograd_error.py            # print the table as measured here
    python tests/winograd_error.py --write    # and store it in tests/data/winograd_error.json
"""
import json
import os
import sys

import numpy as np

import fastconv
from fastconv import _kernels
from fastconv._bench import CONV_LAYERS

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "winograd_error.json")
ALGOS = ("direct", "winograd_2x2", "winograd_4x4")
PASSES = ("fwd", "bwd_data", "bwd_weight")
DTYPES = ("float32", "float64")
# the contract's bound on error(winograd) / error(direct) for 'auto'
AUTO_BOUND = 4.0


def layers():
    """The suite's layers Winograd serves (3x3, stride 1, dilation 1), at batch 1, then its
    dilated 3x3 stride-1 layers that 'auto' may run by phases (LayerPhases)."""
    plain = [l for l in CONV_LAYERS if l.k == 3 and l.stride == 1 and l.dilation == 1]
    return plain + [LayerPhases(l) for l in CONV_LAYERS if l.k == 3 and l.stride == 1 and
                    l.dilation > 1 and l.padding % l.dilation == 0 and
                    l.H % l.dilation == 0 and l.W % l.dilation == 0]


class LayerPhases:
    """A dilated 3x3 stride-1 suite layer that splits into phases (csrc/conv/conv_phases.c):
    'auto' may run it as the undilated Winograd convolution of its dilation^2 phase images,
    whose error is that of the undilated layer of the same channels and reduction (full-size
    planes, padding / dilation), measured here against the oracle as the others, direct's
    on that same problem too (dilation only re-indexes the taps: the dilated direct kernel
    sums the same products).  'auto' decides on the dilated geometry at the suite's batch."""

    def __init__(self, layer):
        import dataclasses
        self.name, self.suite = layer.name, layer
        plain = dataclasses.replace(layer, dilation=1, padding=layer.padding // layer.dilation)
        for f in ("C_in", "C_out", "H", "W", "padding", "groups"):
            setattr(self, f, getattr(plain, f))

    def picks(self, pass_, itemsize):
        return _kernels.choose_conv_algo(self.suite.geom(), pass_, itemsize) == "winograd_phases"


def _cols(x, pad, k=3):
    """im2col in long double: (N, C*k*k, Ho*Wo)."""
    N, C, H, W = x.shape
    xp = np.pad(x.astype(np.longdouble), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    cols = np.empty((N, C, k, k, Ho, Wo), np.longdouble)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + Ho, j:j + Wo]
    return cols.reshape(N, C * k * k, Ho * Wo), (Ho, Wo)


def _oracle(x, w, pad, groups=1):
    """conv2d in long double: im2col, then one product per group (every term exact, the sum
    in 64-bit mantissa arithmetic)."""
    if groups > 1:
        xs = np.split(x, groups, axis=1)
        ws = np.split(w, groups, axis=0)
        return np.concatenate([_oracle(a, b, pad) for a, b in zip(xs, ws)], axis=1)
    cols, (Ho, Wo) = _cols(x, pad)
    wm = w.astype(np.longdouble).reshape(w.shape[0], -1)
    return np.stack([wm @ c for c in cols]).reshape(x.shape[0], w.shape[0], Ho, Wo)


def _oracle_gw(gy, x, pad, groups=1):
    """conv2d's weight gradient in long double: per group, sum over images of gy @ cols^T."""
    if groups > 1:
        gs = np.split(gy, groups, axis=1)
        xs = np.split(x, groups, axis=1)
        return np.concatenate([_oracle_gw(a, b, pad) for a, b in zip(gs, xs)], axis=0)
    cols, _ = _cols(x, pad)
    g = gy.astype(np.longdouble).reshape(gy.shape[0], gy.shape[1], -1)
    gw = sum(g[n] @ cols[n].T for n in range(x.shape[0]))
    return gw.reshape(gy.shape[1], x.shape[1], 3, 3)


def measure(layer, seed=0):
    """{pass: {dtype: {algo: worst-element error}}} for one layer."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, layer.C_in, layer.H, layer.W)).astype(np.float32)
    G = layer.groups
    w = rng.standard_normal((layer.C_out, layer.C_in // G, 3, 3)).astype(np.float32)
    p = layer.padding
    y_ref = _oracle(x, w, p, G)
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    # backward-data is the full correlation of gy with the flipped filters, transposed per group
    O, Cg = w.shape[:2]
    wt = w[:, :, ::-1, ::-1].reshape(G, O // G, Cg, 3, 3).transpose(0, 2, 1, 3, 4)
    gx_ref = _oracle(gy, np.ascontiguousarray(wt.reshape(G * Cg, O // G, 3, 3)), 2 - p, G)
    gw_ref = _oracle_gw(gy, x, p, G)
    def passes(xd, wd, gyd, a):
        y = fastconv.conv2d(xd, wd, padding=p, groups=G, algorithm=a)
        gx = fastconv.conv2d_backward(gyd, xd, wd, padding=p, groups=G, algorithm=a,
                                      output_mask=(True, False, False))[0]
        gw = fastconv.conv2d_backward(gyd, xd, wd, padding=p, groups=G, algorithm=a,
                                      output_mask=(False, True, False))[1]
        return y, gx, gw
    return _worst_errors(x, w, gy, (y_ref, gx_ref, gw_ref), passes)


def _worst_errors(x, w, gy, refs, passes):
    """{pass: {dtype: {algorithm: worst |error|}}}: passes(x, w, gy, algorithm) -> (y, gx, gw)
    in each dtype, against the long-double refs (y, gx, gw)."""
    out = {ps: {dt: {} for dt in DTYPES} for ps in PASSES}
    for dt in DTYPES:
        xd, wd, gyd = x.astype(dt), w.astype(dt), gy.astype(dt)
        for a in ALGOS:
            for ps, got, ref in zip(PASSES, passes(xd, wd, gyd, a), refs):
                out[ps][dt][a] = float(np.max(np.abs(got.astype(np.longdouble) - ref)))
    return out


class Layer3:
    """A 3-D suite layer Winograd serves (a (kD, 3, 3) kernel at spatial stride and dilation
    1), measured at a reduced volume -- depth 2, 16 x 16 planes -- with its channels and
    depth kernel: the error of an output is that of the 2-D convolution of the depth-unfolded
    input (C_in * kD channels, csrc/conv/conv3d.c), whose reduction length is kept.  'auto'
    decides at the suite's full size."""
    D = H = W = None

    def __init__(self, c):
        self.name, self.suite = c.name, c
        self.C_in, self.C_out, self.kD = c.C_in, c.C_out, c.k[0]
        self.pD, self.pad = c.padding[0], c.padding[1]
        self.D, self.H, self.W = 2, 16, 16

    def picks_winograd(self, pass_, itemsize=4):
        from fastconv import _args3
        c = self.suite
        a = _args3.conv3d_args(np.zeros((c.N, c.C_in) + c.size, np.float32),
                               np.zeros((c.C_out, c.C_in) + c.k, np.float32), None, c.stride,
                               c.padding, c.dilation)
        return _kernels.choose_conv3d_algo(a.geom(), pass_, itemsize).startswith("winograd")


def layers3():
    from fastconv._bench_nd import ND_CONV
    return [Layer3(c) for c in ND_CONV if c.nd == 3 and c.k[1:] == (3, 3) and
            c.stride[1:] == (1, 1) and c.dilation == (1, 1, 1) and c.groups == 1 and
            c.padding[1] == c.padding[2]]


def picks_winograd(layer, pass_, dtype="float32"):
    """Whether 'auto' runs Winograd for this suite layer, pass and dtype."""
    itemsize = np.dtype(dtype).itemsize
    if isinstance(layer, Layer3):
        return layer.picks_winograd(pass_, itemsize)
    if isinstance(layer, LayerPhases):
        return layer.picks(pass_, itemsize)
    return _kernels.choose_conv_algo(layer.geom(), pass_, itemsize) == "winograd"


def measure3(layer, seed=0):
    """As measure, for a 3-D layer: the oracle is the long-double 2-D one on the
    depth-unfolded input (every depth tap a channel), folded back in long double."""
    rng = np.random.default_rng(seed)
    C, Co, kD, pD, p = layer.C_in, layer.C_out, layer.kD, layer.pD, layer.pad
    D, H, W = layer.D, layer.H, layer.W
    x = rng.standard_normal((1, C, D, H, W)).astype(np.float32)
    w = rng.standard_normal((Co, C, kD, 3, 3)).astype(np.float32)
    Do = D + 2 * pD - kD + 1
    xp = np.pad(x[0], ((0, 0), (pD, pD), (0, 0), (0, 0)))
    xu = np.stack([xp[:, od:od + kD].reshape(C * kD, H, W) for od in range(Do)])
    wu = w.reshape(Co, C * kD, 3, 3)
    y_ref = _oracle(xu, wu, p).transpose(1, 0, 2, 3)[None]
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    gyu = np.ascontiguousarray(gy[0].transpose(1, 0, 2, 3))
    wt = np.ascontiguousarray(wu[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    gxu = _oracle(gyu, wt, 2 - p).reshape(Do, C, kD, H, W)
    gxp = np.zeros((C, D + 2 * pD, H, W), np.longdouble)
    for od in range(Do):
        gxp[:, od:od + kD] += gxu[od]
    gx_ref = gxp[:, pD:pD + D][None]
    gw_ref = _oracle_gw(gyu, xu, p).reshape(Co, C, kD, 3, 3)
    pad = (pD, p, p)
    def passes(xd, wd, gyd, a):
        y = fastconv.conv3d(xd, wd, padding=pad, algorithm=a)
        gx, gw, _ = fastconv.conv3d_backward(gyd, xd, wd, padding=pad, algorithm=a,
                                             output_mask=(True, True, False))
        return y, gx, gw
    return _worst_errors(x, w, gy, (y_ref, gx_ref, gw_ref), passes)


def all_layers():
    """Every suite layer of the table: the 2-D ones, then the 3-D ones."""
    return layers() + layers3()


def measure_any(layer):
    return measure3(layer) if isinstance(layer, Layer3) else measure(layer)


def table():
    return {l.name: measure_any(l) for l in all_layers()}


# The tiers the stored table describes.  Direct's arithmetic differs between them (the
# 32-register tiers run wide layers' forward on the channel-vectorised tile), and a tier's
# kernels give the same values on any CPU that has it, so each is measured where it runs.
TABLE_TIERS = ("avx2", "avx512")


def table_by_tier():
    """table() on each of TABLE_TIERS this CPU has (the rest kept from the stored file)."""
    try:
        with open(TABLE) as f:
            out = json.load(f).get("tiers", {})
    except (OSError, ValueError):
        out = {}
    before = _kernels.get_isa()
    try:
        for tier in TABLE_TIERS:
            if tier in _kernels.available_isas():
                _kernels.set_isa(tier)
                out[tier] = table()
    finally:
        _kernels.set_isa(before)
    return out


def ratios(entry):
    """error(algo) / error(direct) for the Winograd algorithms of one (pass, dtype) entry."""
    return {a: entry[a] / entry["direct"] for a in ALGOS[1:]}


def main(argv):
    t = table()
    print(f"tier {_kernels.get_isa()}")
    print("| layer | pass | dtype | direct | F(2x2) | ratio | F(4x4) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, e in t.items():
        for ps in PASSES:
            for dt in DTYPES:
                r = ratios(e[ps][dt])
                print(f"| {name} | {ps} | {dt} | {e[ps][dt]['direct']:.2e} | "
                      f"{e[ps][dt]['winograd_2x2']:.2e} | {r['winograd_2x2']:.2f} | "
                      f"{e[ps][dt]['winograd_4x4']:.2e} | {r['winograd_4x4']:.2f} |")
    if "--write" in argv:
        with open(TABLE, "w") as f:
            json.dump({"tiers": table_by_tier()}, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"written to {TABLE}")


if __name__ == "__main__":
    main(sys.argv[1:])
