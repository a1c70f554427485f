"""Configuration: ISA selection, FASTCONV_ISA, threads, show_config."""
import io
import os
import subprocess
import sys

import pytest

import fastconv
from fastconv import _kernels


def test_isa_detected_and_settable():
    assert _kernels.detect_isa() in _kernels.all_isas()
    assert _kernels.detect_isa() == _kernels.available_isas()[-1]  # the widest is the default
    assert _kernels.available_isas()[0] == "generic"
    before = _kernels.get_isa()
    try:
        for name in _kernels.available_isas():
            _kernels.set_isa(name)
            assert _kernels.get_isa() == name
    finally:
        _kernels.set_isa(before)


def test_set_isa_rejects_unknown():
    with pytest.raises(ValueError, match="ISA must be one of"):
        _kernels.set_isa("sse9")


def _run(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e,
                          cwd=os.path.dirname(os.path.dirname(fastconv.__file__)))


def test_fastconv_isa_env_forces_generic():
    r = _run("import fastconv; from fastconv import _kernels; print(_kernels.get_isa()); "
             "fastconv.show_config()", FASTCONV_ISA="generic")
    assert r.returncode == 0, r.stderr
    first, rest = r.stdout.split("\n", 1)
    assert first == "generic"
    assert "forced by FASTCONV_ISA=generic" in rest


def test_fastconv_isa_env_rejects_garbage():
    r = _run("import fastconv", FASTCONV_ISA="mmx")
    assert r.returncode != 0
    assert f"FASTCONV_ISA must be one of {_kernels.all_isas()}" in r.stderr


def test_fastconv_isa_env_refuses_an_unsupported_tier():
    missing = [t for t in _kernels.all_isas() if t not in _kernels.available_isas()]
    if not missing:
        pytest.skip("this CPU supports every tier")
    r = _run("import fastconv", FASTCONV_ISA=missing[-1])
    assert r.returncode != 0
    assert "this CPU cannot run that tier" in r.stderr


def test_omp_num_threads_is_the_default():
    if not _kernels.have_openmp():
        pytest.skip("built without OpenMP")
    r = _run("import fastconv; print(fastconv.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


def test_set_num_threads_roundtrip_and_validation():
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        assert fastconv.get_num_threads() == 1
        if _kernels.have_openmp() and (os.cpu_count() or 1) >= 2:
            fastconv.set_num_threads(2)
            assert fastconv.get_num_threads() == 2
    finally:
        fastconv.set_num_threads(before)
    with pytest.raises(ValueError, match="n >= 1"):
        fastconv.set_num_threads(0)
    with pytest.raises(ValueError, match="n >= 1"):
        fastconv.set_num_threads(-3)
    with pytest.raises(TypeError, match="expects an int"):
        fastconv.set_num_threads(2.0)
    with pytest.raises(TypeError, match="expects an int"):
        fastconv.set_num_threads(True)
    assert fastconv.get_num_threads() == before


def test_show_config_names_everything():
    buf = io.StringIO()
    fastconv.show_config(file=buf)
    out = buf.getvalue()
    assert f"fastconv {fastconv.__version__}" in out
    assert f"instruction set : {_kernels.get_isa()}" in out
    assert "OpenMP runtime" in out
    assert f"threads         : {fastconv.get_num_threads()}" in out
    if _kernels.have_openmp():
        assert "gomp" in out or "omp" in out
    # every supported tier with its measured peak: SIMD well above generic C; a 512-bit tier
    # at least level with the 256-bit one (Zen 4 runs 512-bit FMAs at the 256-bit rate: 115
    # against 118 GFLOP/s measured, so equal peaks must pass; Zen 5 doubles them)
    import re
    peaks = dict(re.findall(r"(\w+) \((\d+) GFLOP/s\)", out))
    assert list(peaks) == _kernels.available_isas()
    vals = {t: int(peaks[t]) for t in _kernels.available_isas()}
    assert all(v > 0 for v in vals.values())
    if "avx2" in vals:
        assert vals["avx2"] > 1.5 * vals["generic"]
    if "avx512" in vals:
        assert vals["avx512"] >= 0.9 * vals["avx2"]


def test_huge_thread_counts_are_capped_not_fatal():
    """A request far beyond the cores must not make the OpenMP runtime fail to create threads."""
    import numpy as np
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(10 ** 6)
        n = fastconv.get_num_threads()
        assert 1 <= n <= 4 * (os.cpu_count() or 1)
        x = np.ones((2, 3, 16, 16), np.float32)
        w = np.ones((4, 3, 3, 3), np.float32)
        assert np.all(fastconv.conv2d(x, w) == 27.0)
    finally:
        fastconv.set_num_threads(before)


def test_omp_num_threads_huge_is_capped():
    if not _kernels.have_openmp():
        pytest.skip("built without OpenMP")
    r = _run("import fastconv, numpy as np; x = np.ones((2, 3, 8, 8), np.float32); "
             "y = fastconv.conv2d(x, np.ones((4, 3, 3, 3), np.float32)); "
             "print(fastconv.get_num_threads(), float(y.sum()))", OMP_NUM_THREADS="65536")
    assert r.returncode == 0, r.stderr
    n, total = r.stdout.split()
    assert 1 <= int(n) <= 4 * (os.cpu_count() or 1)
    assert float(total) == 2 * 4 * 6 * 6 * 27.0


def test_set_num_threads_reaches_other_python_threads():
    """OpenMP's own setting is per thread; fastconv's must apply to every Python thread."""
    import threading
    if not _kernels.have_openmp():
        pytest.skip("built without OpenMP")
    before = fastconv.get_num_threads()
    seen = []
    try:
        for n in (1, 3):
            fastconv.set_num_threads(n)
            t = threading.Thread(target=lambda: seen.append(fastconv.get_num_threads()))
            t.start()
            t.join()
    finally:
        fastconv.set_num_threads(before)
    assert seen == [1, 3]


# ------------------------------------------------------------------ workspace cache --
# A 64-channel 3x3 layer whose im2col workspaces are several MiB: large enough for the cache.
_WS_CODE = """
import numpy as np, fastconv
from fastconv import _kernels, reference
rng = np.random.default_rng(5)
x = rng.standard_normal((8, 64, 40, 40)).astype(np.float32)
w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
gy = rng.standard_normal((8, 64, 40, 40)).astype(np.float32)
worst = 0.0
for algo in ("im2col", "winograd", "direct"):
    y = fastconv.conv2d(x, w, padding=1, algorithm=algo)
    gx, gw, _ = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=algo)
    for got, ref in ((y, YREF), (gx, GXREF), (gw, GWREF)):
        worst = max(worst, float(np.max(np.abs(got - ref)) / np.max(np.abs(ref))))
print(worst, _kernels.workspace_cached(), _kernels.workspace_limit())
"""


def _ws_run(**env):
    # the float64 reference once, in this process, handed over as files
    import tempfile
    import numpy as np
    from fastconv import reference
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 64, 40, 40)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((8, 64, 40, 40)).astype(np.float32)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, w, gy))
    refs = [reference.conv2d(x64, w64, padding=1)]
    refs += list(reference.conv2d_backward(gy64, x64, w64, padding=1,
                                           output_mask=(True, True, False))[:2])
    with tempfile.TemporaryDirectory() as d:
        names = []
        for name, a in zip(("YREF", "GXREF", "GWREF"), refs):
            np.save(os.path.join(d, name + ".npy"), a)
            names.append(f"{name} = np.load({os.path.join(d, name + '.npy')!r})")
        r = _run("import numpy as np\n" + "\n".join(names) + _WS_CODE, **env)
    assert r.returncode == 0, r.stderr
    worst, cached, limit = r.stdout.split()
    return float(worst), int(cached), int(limit)


def test_workspace_cache_keeps_blocks_within_its_limit():
    worst, cached, limit = _ws_run()
    assert worst < 1e-3
    if not sys.platform.startswith("linux"):
        pytest.skip("the cache maps its blocks with mmap: Linux only")
    assert limit == 256 << 20
    assert 0 < cached <= limit


def test_workspace_cache_limit_env():
    worst, cached, limit = _ws_run(FASTCONV_WORKSPACE_MB="0")
    assert worst < 1e-3
    assert cached == 0 and limit == 0
    worst, cached, limit = _ws_run(FASTCONV_WORKSPACE_MB="3")
    assert limit == 3 << 20 and cached <= limit


def test_workspace_poison_changes_no_result():
    """Every large block handed out filled with NaN bits: a kernel that read workspace it had
    not written would turn its outputs into NaN."""
    worst, _, _ = _ws_run(FASTCONV_WORKSPACE_POISON="1")
    assert worst < 1e-3


def test_workspace_release_and_reuse_give_the_same_bits():
    import numpy as np
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 64, 32, 32)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    first = fastconv.conv2d(x, w, padding=1, algorithm="im2col")
    again = fastconv.conv2d(x, w, padding=1, algorithm="im2col")     # reused blocks
    _kernels.release_workspace()
    assert _kernels.workspace_cached() == 0
    fresh = fastconv.conv2d(x, w, padding=1, algorithm="im2col")
    assert np.array_equal(first, again) and np.array_equal(first, fresh)


def test_fma_full_rate_matches_the_measured_peaks():
    """The tiers' full-rate flag (measured once when they are built) against show_config's
    longer measurement: clear cases only (a full-width unit doubles the rate)."""
    peaks = fastconv._runtime.tier_peaks()
    for tier in _kernels.available_isas():
        parent = {"avx2": "generic", "avx512": "avx2"}.get(tier)
        if parent is None:
            assert not _kernels.fma_full_rate(tier)
            continue
        ratio = peaks[tier] / peaks[parent]
        if ratio >= 1.7:
            assert _kernels.fma_full_rate(tier), (tier, ratio)
        elif ratio <= 1.25:
            assert not _kernels.fma_full_rate(tier), (tier, ratio)


def test_weight_gradient_rule_follows_the_fma_rate():
    if "avx512" not in _kernels.available_isas():
        pytest.skip("no avx512 tier on this CPU")
    before = _kernels.get_isa()
    _kernels.set_isa("avx512")
    try:
        r64 = (8, 64, 56, 56, 64, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 1)
        r128 = (8, 128, 28, 28, 128, 3, 3, 28, 28, 1, 1, 1, 1, 1, 1, 1)
        full = _kernels.fma_full_rate()
        # at full rate the direct weight gradient vectorised along output channels (both
        # dtypes; Xeon float64: resnet_128 16.3 vs 18.6 ms); at half rate the grid kernels'
        # per-range sums for 64 channels, the GEMM for 128
        assert _kernels.choose_conv_algo(r64, 2, 4) == "direct"
        assert _kernels.choose_conv_algo(r128, 2, 8) == ("direct" if full else "im2col")
        # not 1x1 (im2col reads its columns as x itself) nor 7x7 images
        pw = (8, 256, 56, 56, 64, 1, 1, 56, 56, 1, 1, 0, 0, 1, 1, 1)
        assert _kernels.choose_conv_algo(pw, 2, 4) == "im2col"
        r512 = (8, 512, 7, 7, 512, 3, 3, 7, 7, 1, 1, 1, 1, 1, 1, 1)
        assert _kernels.choose_conv_algo(r512, 2, 8) == "im2col"
        # the strided forward on the channel-vectorised direct at full rate
        s2 = (8, 128, 28, 28, 256, 3, 3, 14, 14, 2, 2, 1, 1, 1, 1, 1)
        assert _kernels.choose_conv_algo(s2, 0, 4) == ("direct" if full else "im2col")
        # a (3, 1, 1) temporal kernel as the 2-D (3, 1) one over (D, H*W) images (conv3d.c):
        # its backward-data goes to the GEMM at the full rate only; forward and weight always
        t311 = (2, 64, 16, 3136, 64, 3, 1, 16, 3136, 1, 1, 1, 0, 1, 1, 1)
        assert _kernels.choose_conv_algo(t311, 0, 4) == "im2col"
        assert _kernels.choose_conv_algo(t311, 1, 4) == ("im2col" if full else "direct")
        assert _kernels.choose_conv_algo(t311, 2, 4) == "im2col"
    finally:
        _kernels.set_isa(before)
