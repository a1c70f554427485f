"""pytest-benchmark suites over the shared layer suite (``fastconv._bench``).

Not part of the default test run (``testpaths`` is ``tests/``).  Run e.g.

    python -m pytest bench/ --benchmark-group-by=param:layer
    python -m pytest bench/ --bench-impls fastconv,torch --bench-layers resnet_64,stem
    python -m pytest bench/test_bench_pool.py --bench-dtype float64 --bench-threads 1

Each benchmark group compares the implementations on one case and pass; GFLOP/s (conv)
or GB/s (pooling) are in each benchmark's extra_info (shown with --benchmark-json).  For
interleaved same-process ratios against torch, prefer ``python -m fastconv bench``.
"""
import pytest

import fastconv
from fastconv import _bench


def pytest_addoption(parser):
    g = parser.getgroup("fastconv bench")
    g.addoption("--bench-impls", default="fastconv,torch,reference",
                help="implementations: fastconv, fastconv[direct], fastconv[im2col], "
                     "fastconv@generic, torch, reference (comma-separated)")
    g.addoption("--bench-layers", default="", help="case names (default: all)")
    g.addoption("--bench-passes", default="fwd,bwd")
    g.addoption("--bench-dtype", default="float32", choices=("float32", "float64"))
    g.addoption("--bench-threads", type=int, default=None,
                help="threads for fastconv and torch (default: fastconv's)")


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def pytest_generate_tests(metafunc):
    cfg = metafunc.config
    suite = getattr(metafunc.module, "SUITE", None)
    if suite is None:
        return
    cases = _bench.CONV_LAYERS if suite == "conv" else _bench.POOL_CASES
    wanted = _split(cfg.getoption("--bench-layers"))
    names = [c.name for c in cases if not wanted or c.name in wanted]
    impls = _split(cfg.getoption("--bench-impls"))
    if suite == "pool":
        # The algorithm variants exist for convolution only.
        impls = [i for i in impls
                 if _bench.parse_variant(i) is None or _bench.parse_variant(i)[0] == "auto"]
    if "layer" in metafunc.fixturenames:
        metafunc.parametrize("layer", names)
    if "pass_" in metafunc.fixturenames:
        metafunc.parametrize("pass_", _split(cfg.getoption("--bench-passes")))
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", impls)


@pytest.fixture(scope="session")
def bench_dtype(request):
    return request.config.getoption("--bench-dtype")


@pytest.fixture(scope="session", autouse=True)
def bench_threads(request):
    """Same thread count for fastconv and torch, restored afterwards."""
    n = request.config.getoption("--bench-threads")
    old = fastconv.get_num_threads()
    if n is not None:
        fastconv.set_num_threads(n)
    n = fastconv.get_num_threads()
    torch, _ = _bench._load_torch()
    old_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    yield n
    fastconv.set_num_threads(old)
    if torch is not None:
        torch.set_num_threads(old_torch)
