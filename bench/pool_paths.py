"""Max-pooling paths the main suite does not time: the forward that also returns indices
(what a training step runs) and the backward that recomputes the argmax from the input
instead of taking indices.  fastconv and PyTorch are timed interleaved in one process;
medians and their ratio are printed.

    python bench/pool_paths.py [--seconds 4] [--threads 2]
"""
import argparse
import time

import numpy as np

import fastconv
from fastconv import _bench

CASES = ["maxpool_2s2", "maxpool_3s2p1"]


def interleaved(f, g, seconds):
    a, b = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(a) < 5:
        for fn, out in ((f, a), (g, b)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return 1e3 * np.median(a), 1e3 * np.median(b)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=4.0, help="timing per path and case")
    p.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    args = p.parse_args()
    import torch
    import torch.nn.functional as F
    fastconv.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    cases = {c.name: c for c in _bench.POOL_CASES}
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}  torch {torch.__version__}  medians in ms")
    print(f"{'case':15s} {'path':28s} {'fastconv':>9s} {'torch':>9s} {'x torch':>8s}")
    for name in CASES:
        c = cases[name]
        x = rng.standard_normal((c.N, c.C, c.H, c.W)).astype(np.float32)
        kw = dict(kernel_size=c.k, stride=c.stride, padding=c.padding)
        y = fastconv.max_pool2d(x, **kw)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        xt, gyt = torch.from_numpy(x), torch.from_numpy(gy)
        xg = xt.clone().requires_grad_(True)
        yt = F.max_pool2d(xg, **kw)
        paths = [
            ("forward + indices",
             lambda: fastconv.max_pool2d(x, return_indices=True, **kw),
             lambda: F.max_pool2d(xt, return_indices=True, **kw)),
            ("backward, argmax from input",
             lambda: fastconv.max_pool2d_backward(gy, x, **kw),
             lambda: torch.autograd.grad(yt, (xg,), gyt, retain_graph=True)),
        ]
        for label, f, g in paths:
            ours, theirs = interleaved(f, g, args.seconds)
            print(f"{name:15s} {label:28s} {ours:9.3f} {theirs:9.3f} {theirs / ours:8.2f}")


if __name__ == "__main__":
    main()
