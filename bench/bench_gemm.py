"""Micro-benchmark of the im2col + GEMM conv kernels against PyTorch, pass by pass.

    python bench/bench_gemm.py                       # layer suite, float32, all passes
    python bench/bench_gemm.py --layers resnet_64,stem --passes fwd --threads 1
    python bench/bench_gemm.py --gemm                # the bare GEMM (1 thread) vs NumPy

Calls fastconv._kernels directly (algo "im2col" and "direct"), and torch's
aten.convolution / aten.convolution_backward with a one-gradient output_mask, in the same
process, interleaved, median of --repeats samples; the machine is shared, so read ratios.
"""
import argparse
import statistics
import time

import numpy as np

import fastconv
from fastconv import _kernels, _bench


def _time(fn, min_time=0.02):
    fn()
    reps, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        t = time.perf_counter() - t0
        if t >= min_time:
            return t / reps
        reps *= 2


def interleaved(fns, repeats):
    samples = {k: [] for k in fns}
    keys = list(fns)
    for r in range(repeats):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            samples[k].append(_time(fns[k]))
    return {k: statistics.median(v) for k, v in samples.items()}


def conv_fns(layer, pass_, dtype, algos, torch):
    rng = np.random.default_rng(0)
    geom = layer.geom()
    N, C, H, W, Co, kH, kW, Ho, Wo, sH, sW, pH, pW, dH, dW, G = geom
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((Co, C // G, kH, kW)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    gy = rng.standard_normal((N, Co, Ho, Wo)).astype(dtype)
    fns = {}
    for a in algos:
        if pass_ == "fwd":
            fns[a] = lambda a=a: _kernels.conv2d_forward(x, w, b, geom, a)
        elif pass_ == "bwd_data":
            fns[a] = lambda a=a: _kernels.conv2d_backward_data(gy, w, geom, a)
        else:
            fns[a] = lambda a=a: _kernels.conv2d_backward_weight(gy, x, geom, a, True, True)
    if torch is not None:
        tx, tw, tb, tgy = (torch.from_numpy(v) for v in (x, w, b, gy))
        args = ((sH, sW), (pH, pW), (dH, dW), False, (0, 0), G)
        aten = torch.ops.aten
        if pass_ == "fwd":
            fns["torch"] = lambda: aten.convolution(tx, tw, tb, *args)
        else:
            mask = [True, False, False] if pass_ == "bwd_data" else [False, True, True]
            fns["torch"] = lambda: aten.convolution_backward(tgy, tx, tw, [Co], *args, mask)
    return fns


def run_conv(args, torch):
    layers = [c for c in _bench.CONV_LAYERS if not args.layers or c.name in args.layers]
    algos = args.algos.split(",")
    print(f"threads {fastconv.get_num_threads()}  dtype {args.dtype}  isa {_kernels.get_isa()}")
    print(f"{'layer':12s} {'pass':9s}" + "".join(f"{a + ' GF/s':>13s}" for a in algos)
          + f"{'torch GF/s':>12s}" + "".join(f"{a + '/torch':>13s}" for a in algos))
    for layer in layers:
        for pass_ in args.passes.split(","):
            flops = layer.flops("fwd")   # each pass is one conv-sized GEMM
            fns = conv_fns(layer, pass_, np.dtype(args.dtype), algos, torch)
            try:
                t = interleaved(fns, args.repeats)
            except NotImplementedError:
                fns = {k: v for k, v in fns.items() if k == "im2col" or k == "torch"}
                t = interleaved(fns, args.repeats)
            row = f"{layer.name:12s} {pass_:9s}"
            row += "".join(f"{flops / t[a] / 1e9:13.1f}" if a in t else f"{'-':>13s}"
                           for a in algos)
            row += f"{flops / t['torch'] / 1e9:12.1f}" if "torch" in t else f"{'-':>12s}"
            row += "".join(f"{t['torch'] / t[a]:13.2f}" if a in t and "torch" in t
                           else f"{'-':>13s}" for a in algos)
            print(row, flush=True)


def run_gemm(args):
    rng = np.random.default_rng(0)
    dt = np.dtype(args.dtype)
    print(f"bare GEMM, 1 thread, {dt}, isa {_kernels.get_isa()}, {_kernels.gemm_info(dt)}")
    for m, n, k in [(64, 3136, 576), (256, 196, 2304), (512, 512, 512), (1000, 1000, 1000)]:
        a = rng.standard_normal((m, k)).astype(dt)
        b = rng.standard_normal((k, n)).astype(dt)
        c = np.empty((m, n), dt)
        t = interleaved({"fastconv": lambda: _kernels.gemm(a, b, c),
                         "numpy": lambda: np.matmul(a, b, out=c)}, args.repeats)
        f = 2.0 * m * n * k
        print(f"{m:5d} x {n:5d} x {k:5d}: fastconv {f / t['fastconv'] / 1e9:6.1f} GF/s   "
              f"numpy (its BLAS threads) {f / t['numpy'] / 1e9:6.1f} GF/s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", default="")
    p.add_argument("--passes", default="fwd,bwd_data,bwd_weight")
    p.add_argument("--algos", default="im2col")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--isa", default=None)
    p.add_argument("--gemm", action="store_true")
    args = p.parse_args()
    args.layers = [s for s in args.layers.split(",") if s]
    if args.isa:
        _kernels.set_isa(args.isa)
    if args.threads:
        fastconv.set_num_threads(args.threads)
    if args.gemm:
        run_gemm(args)
        return
    try:
        import torch
        torch.set_num_threads(fastconv.get_num_threads())
    except ImportError:
        torch = None
    run_conv(args, torch)


if __name__ == "__main__":
    main()
