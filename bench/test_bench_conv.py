"""conv2d forward and backward (all three gradients) per layer and implementation."""
import numpy as np

from fastconv import _bench
from _harness import run_benchmark

SUITE = "conv"
LAYERS = {c.name: c for c in _bench.CONV_LAYERS}


def test_conv(benchmark, layer, pass_, impl, bench_dtype):
    case = LAYERS[layer]
    fn = _bench.conv_callables(case, pass_, np.dtype(bench_dtype), [impl],
                               np.random.default_rng(0))[impl]
    if impl == "fastconv":
        benchmark.extra_info["algo"] = _bench.chosen_algo(case, pass_,
                                                          np.dtype(bench_dtype).itemsize)
    run_benchmark(benchmark, fn, impl, f"conv {layer} {pass_}", case.flops(pass_), "GFLOP/s")
