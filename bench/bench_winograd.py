"""Effective GFLOP/s (direct-convolution FLOPs / time) of every conv2d algorithm on the suite's
3x3 stride-1 layers, forward, backward-data and backward-weight, fastconv alone (no second OpenMP runtime in the
process), algorithms alternating per block of calls; the table behind 'auto's Winograd rule in
csrc/conv/conv.c.

    python bench/bench_winograd.py                                  # the tier in use
    FASTCONV_ISA=avx2 python bench/bench_winograd.py --layers resnet_64,resnet_256
"""
import argparse
import time

import numpy as np

import fastconv
from fastconv._bench import CONV_LAYERS

ALGOS = ("auto", "direct", "im2col", "winograd_2x2", "winograd_4x4")


def _median_time(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", default="", help="comma-separated layer names (default: all 3x3 "
                   "stride-1 layers of the suite)")
    p.add_argument("--algorithms", default=",".join(ALGOS))
    p.add_argument("--blocks", type=int, default=3, help="alternating blocks per algorithm")
    p.add_argument("--reps", type=int, default=5, help="calls per block (median taken)")
    args = p.parse_args()
    names = [n for n in args.layers.split(",") if n]
    algos = [a for a in args.algorithms.split(",") if a]
    rng = np.random.default_rng(0)
    print(f"tier {fastconv._kernels.get_isa()}, {fastconv.get_num_threads()} threads, float32, "
          f"effective GFLOP/s, median over {args.blocks} blocks of {args.reps}")
    for l in CONV_LAYERS:
        if (names and l.name not in names) or not (l.k == 3 and l.stride == 1 and
                                                     l.dilation == 1):
            continue
        x = rng.standard_normal((l.N, l.C_in, l.H, l.W), dtype=np.float32)
        w = rng.standard_normal((l.C_out, l.C_in // l.groups, 3, 3), dtype=np.float32)
        kw = dict(padding=l.padding, groups=l.groups)
        gy = np.ones_like(fastconv.conv2d(x, w, **kw))
        masks = {"bwd_data": (True, False, False), "bwd_weight": (False, True, False)}
        for ps in ("fwd", "bwd_data", "bwd_weight"):
            res = {a: [] for a in algos}
            for _ in range(args.blocks):
                for a in algos:
                    if ps == "fwd":
                        def f(a=a):
                            fastconv.conv2d(x, w, algorithm=a, **kw)
                    else:
                        def f(a=a, m=masks[ps]):
                            fastconv.conv2d_backward(gy, x, w, algorithm=a, **kw, output_mask=m)
                    res[a].append(_median_time(f, args.reps))
            print(f"{l.name:11s} {ps:10s} " + "  ".join(
                f"{a} {l.flops('fwd') / np.median(v) / 1e9:6.0f}" for a, v in res.items()),
                flush=True)


if __name__ == "__main__":
    main()
