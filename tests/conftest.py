"""Shared fixtures: every ISA path, optional torch, hypothesis profiles."""
import os

import numpy as np
import pytest
from hypothesis import settings, HealthCheck

import fastconv
from fastconv import _kernels

# "ci" keeps the default run short; "slow" (HYPOTHESIS_PROFILE=slow, with -m slow) sweeps wide.
settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("slow", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ISAS = _kernels.available_isas(include_test=True)   # avx512emu too: the 16-lane bodies


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test once per instruction-set path this CPU supports, then restore."""
    before = _kernels.get_isa()
    _kernels.set_isa(request.param)
    try:
        yield request.param
    finally:
        _kernels.set_isa(before)


@pytest.fixture(scope="session")
def torch():
    """PyTorch when installed (an optional extra), else the test is skipped."""
    t = pytest.importorskip("torch")
    t.set_num_threads(max(1, fastconv.get_num_threads()))
    return t


@pytest.fixture
def rng():
    return np.random.default_rng(0)
