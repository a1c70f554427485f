"""Shared by the benchmark modules (a plain module: conftest.py is not importable by name
when tests/ and bench/ are collected together)."""
import pytest


def run_benchmark(benchmark, fn, impl, group, work, unit):
    """Time fn under pytest-benchmark; n/a implementations are skipped; records the rate."""
    if isinstance(fn, Exception):
        pytest.skip(f"n/a: {fn}")
    try:
        fn()   # warm-up, and the check that this implementation exists
    except NotImplementedError as e:
        pytest.skip(f"n/a: {e}")
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["work"] = work
    benchmark.extra_info["unit"] = unit
    if impl == "reference":
        # The NumPy oracle is slow: one timed round is enough for a ratio.
        benchmark.pedantic(fn, rounds=1, iterations=1, warmup_rounds=0)
    else:
        benchmark(fn)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        median = stats.stats.median
        benchmark.extra_info[unit] = work / median / 1e9 if median > 0 else None
