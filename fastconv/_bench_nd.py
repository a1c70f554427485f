"""``python -m fastconv bench --suite nd``: the 1-D and 3-D layers and pooling against PyTorch.

Same discipline as the 2-D suite (fastconv._bench.measure): one process, fastconv and torch
interleaved with the order rotating, medians of the samples, torch on the same thread count.
The backward pass is every gradient (input, weight, bias for a convolution) from saved
forward state, as autograd computes it.
"""
import json
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from ._bench import _load_torch, _steady_heap, cases_named, measure

# name  dims,N,C_in,size,C_out,kernel,stride,padding,dilation,groups  (sizes DxHxW in 3-D)
ND_CONV_SPEC = """
tcn_64        1,16,64,2048,64,3,1,2,2,1
audio_front   1,8,1,16000,64,80,4,38,1,1
dilated_256   1,8,256,1024,256,3,1,8,8,1
depthwise_k31 1,8,256,1024,256,31,1,15,1,256
c3d_in        3,1,3,16x112x112,64,3,1,1,1,1
c3d_64        3,1,64,16x56x56,128,3,1,1,1,1
unet3d_32     3,1,32,32x64x64,32,3,1,1,1,1
temporal_311  3,2,64,16x56x56,64,3x1x1,1,1x0x0,1,1
"""

# name  dims,op,N,C,size,kernel,stride,padding   (adaptive: dims,op,N,C,size,output_size)
ND_POOL_SPEC = """
maxpool1d_3s2    1,max,16,64,4096,3,2,1
avgpool1d_4s4    1,avg,16,64,4096,4,4,0
adaptive1d_avg   1,adaptive_avg,16,256,1000,1
maxpool3d_2s2    3,max,1,64,16x56x56,2,2,0
maxpool3d_122    3,max,1,64,16x112x112,1x2x2,1x2x2,0
avgpool3d_2s2    3,avg,1,128,8x28x28,2,2,0
adaptive3d_avg   3,adaptive_avg,2,256,4x14x14,1
"""


def _sizes(text, nd):
    v = [int(t) for t in text.split("x")]
    return tuple(v * nd if len(v) == 1 else v)


@dataclass(frozen=True)
class NdConv:
    name: str
    nd: int
    N: int
    C_in: int
    size: tuple
    C_out: int
    k: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int

    def out(self):
        return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in
                     zip(self.size, self.k, self.stride, self.padding, self.dilation))

    def flops(self, pass_):
        f = (2 * self.N * self.C_out * math.prod(self.out()) * (self.C_in // self.groups)
             * math.prod(self.k))
        return f if pass_ == "fwd" else 2 * f


@dataclass(frozen=True)
class NdPool:
    name: str
    nd: int
    op: str
    N: int
    C: int
    size: tuple
    k: tuple
    stride: tuple = ()
    padding: tuple = ()


def parse_conv(line):
    name, spec = line.split()
    f = spec.split(",")
    nd = int(f[0])
    ints = [int(v) for v in (f[1], f[2], f[4], f[9])]
    return NdConv(name, nd, ints[0], ints[1], _sizes(f[3], nd), ints[2], _sizes(f[5], nd),
                  _sizes(f[6], nd), _sizes(f[7], nd), _sizes(f[8], nd), ints[3])


def parse_pool(line):
    name, spec = line.split()
    f = spec.split(",")
    nd, op = int(f[0]), f[1]
    if op.startswith("adaptive"):
        return NdPool(name, nd, op, int(f[2]), int(f[3]), _sizes(f[4], nd), _sizes(f[5], nd))
    return NdPool(name, nd, op, int(f[2]), int(f[3]), _sizes(f[4], nd), _sizes(f[5], nd),
                  _sizes(f[6], nd), _sizes(f[7], nd))


ND_CONV = tuple(parse_conv(l) for l in ND_CONV_SPEC.strip().splitlines())
ND_POOL = tuple(parse_pool(l) for l in ND_POOL_SPEC.strip().splitlines())


def _conv_callables(c, pass_, rng):
    import fastconv
    torch, F = _load_torch()
    x = rng.standard_normal((c.N, c.C_in) + c.size).astype(np.float32)
    w = (rng.standard_normal((c.C_out, c.C_in // c.groups) + c.k) * 0.1).astype(np.float32)
    b = rng.standard_normal(c.C_out).astype(np.float32)
    gy = rng.standard_normal((c.N, c.C_out) + c.out()).astype(np.float32)
    geo = dict(stride=c.stride, padding=c.padding, dilation=c.dilation, groups=c.groups)
    f_fc = getattr(fastconv, f"conv{c.nd}d")
    b_fc = getattr(fastconv, f"conv{c.nd}d_backward")
    f_t = getattr(F, f"conv{c.nd}d")
    out = {}
    if pass_ == "fwd":
        out["fastconv"] = lambda: f_fc(x, w, b, **geo)
    else:
        out["fastconv"] = lambda: b_fc(gy, x, w, **geo)
    if torch is None:
        out["torch"] = NotImplementedError("torch is not installed")
        return out
    xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
    if pass_ == "fwd":
        def run():
            with torch.no_grad():
                return f_t(xt, wt, bt, **geo)
    else:
        xr, wr, br = (t.clone().requires_grad_(True) for t in (xt, wt, bt))
        yr = f_t(xr, wr, br, **geo)

        def run():
            return torch.autograd.grad(yr, (xr, wr, br), gyt, retain_graph=True)
    out["torch"] = run
    return out


def _pool_callables(c, pass_, rng):
    import fastconv
    torch, F = _load_torch()
    x = rng.standard_normal((c.N, c.C) + c.size).astype(np.float32)
    fname = f"{c.op}_pool{c.nd}d"
    kw = (dict(output_size=c.k) if c.op.startswith("adaptive")
          else dict(kernel_size=c.k, stride=c.stride, padding=c.padding))
    f_fc = getattr(fastconv, fname)
    y = f_fc(x, **kw)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    out = {}
    if pass_ == "fwd":
        out["fastconv"] = lambda: f_fc(x, **kw)
    elif c.op == "max":
        _, idx = f_fc(x, return_indices=True, **kw)
        bwd = getattr(fastconv, fname + "_backward")
        out["fastconv"] = lambda: bwd(gy, x, indices=idx, **kw)
    elif c.op == "avg":
        bwd = getattr(fastconv, fname + "_backward")
        out["fastconv"] = lambda: bwd(gy, x.shape, **kw)
    else:
        bwd = getattr(fastconv, fname + "_backward")
        out["fastconv"] = lambda: bwd(gy, x.shape)
    if torch is None:
        out["torch"] = NotImplementedError("torch is not installed")
        return out
    f_t = getattr(F, fname)
    xt, gyt = torch.from_numpy(x), torch.from_numpy(gy)
    if pass_ == "fwd":
        def run():
            with torch.no_grad():
                return f_t(xt, **kw)
    else:
        xr = xt.clone().requires_grad_(True)
        yr = f_t(xr, **kw)

        def run():
            return torch.autograd.grad(yr, (xr,), gyt, retain_graph=True)
    out["torch"] = run
    return out


def run(cases=None, passes=("fwd", "bwd"), threads=None, repeats=7, budget=3.0, seed=0,
        out=sys.stdout):
    """Time every case; print the table; return the rows."""
    import fastconv
    from . import _kernels
    torch, _ = _load_torch()
    if threads is not None:
        fastconv.set_num_threads(threads)
    nt = fastconv.get_num_threads()
    if torch is not None:
        torch.set_num_threads(nt)
    cases = list(cases or (ND_CONV + ND_POOL))
    rows = []
    rng = np.random.default_rng(seed)
    for c in cases:
        for p in passes:
            fns = (_conv_callables if isinstance(c, NdConv) else _pool_callables)(c, p, rng)
            res = measure(fns, repeats, budget=budget)
            fc_s, t_s = res["fastconv"].median_s, res["torch"].median_s
            gf = c.flops(p) / fc_s / 1e9 if isinstance(c, NdConv) and fc_s else None
            rows.append(dict(case=c.name, nd=c.nd, kind="conv" if isinstance(c, NdConv)
                             else "pool", pass_=p, fastconv_ms=fc_s and fc_s * 1e3,
                             torch_ms=t_s and t_s * 1e3, x_torch=t_s / fc_s if fc_s and t_s
                             else None, gflops=gf))
            print(f"  {c.name} {p}: fastconv {fc_s * 1e3:.2f} ms", file=sys.stderr, flush=True)
    peak = _kernels.fma_peak_gflops("float32", nt, 0.1, 15)
    print(f"1-D/3-D suite, float32, {nt} threads, tier {_kernels.get_isa()}, torch "
          f"{getattr(torch, '__version__', '-')}; x torch = torch time / fastconv time "
          f"(median of interleaved samples)", file=out)
    if peak:
        print(f"measured FMA peak {peak:.0f} GFLOP/s; GFLOP/s is effective (direct-convolution "
              f"FLOPs / time: Winograd does fewer and can pass the peak)", file=out)
    print("| case | pass | fastconv ms | torch ms | x torch | GFLOP/s | % peak |", file=out)
    print("|---|---|---|---|---|---|---|", file=out)
    for r in rows:
        pk = f"{100 * r['gflops'] / peak:.0f}" if r["gflops"] and peak else "-"
        gf = f"{r['gflops']:.0f}" if r["gflops"] else "-"
        xt = f"{r['x_torch']:.2f}" if r["x_torch"] else "-"
        tm = f"{r['torch_ms']:.2f}" if r["torch_ms"] else "-"
        print(f"| {r['case']} | {r['pass_']} | {r['fastconv_ms']:.2f} | {tm} | {xt} | {gf} | "
              f"{pk} |", file=out)
    for p in passes:
        v = [r["x_torch"] for r in rows if r["pass_"] == p and r["x_torch"]]
        if v:
            print(f"{p}: geomean x torch {math.exp(sum(map(math.log, v)) / len(v)):.2f}, "
                  f"min {min(v):.2f} over {len(v)} cases", file=out)
    return rows


def main(args):
    every = {c.name: c for c in ND_CONV + ND_POOL}
    cases = cases_named(args.layers, every, "1-D/3-D case(s)") if args.layers else None
    passes = tuple(p.strip() for p in args.passes.split(",") if p.strip())
    _steady_heap()
    rows = run(cases, passes, args.threads, args.repeats,
               args.budget if args.budget > 0 else None)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "fastconv-bench-nd.json")
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    print(f"\nwrote {path}")
    return 0
