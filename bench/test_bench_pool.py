"""Pooling forward and backward per case and implementation (rate in GB/s moved)."""
import numpy as np

from fastconv import _bench
from _harness import run_benchmark

SUITE = "pool"
CASES = {c.name: c for c in _bench.POOL_CASES}


def test_pool(benchmark, layer, pass_, impl, bench_dtype):
    case = CASES[layer]
    dt = np.dtype(bench_dtype)
    fn = _bench.pool_callables(case, pass_, dt, [impl], np.random.default_rng(0))[impl]
    run_benchmark(benchmark, fn, impl, f"pool {layer} {pass_}",
                  case.bytes_moved(pass_, dt.itemsize), "GB/s")
