"""The benchmark harness: its suite data, its arithmetic, the probes, and a smoke run of
``python -m fastconv bench`` on a tiny case (speed itself is never asserted here)."""
import glob
import json
import math
import os

import numpy as np
import pytest

import fastconv
from fastconv import _bench, _kernels

# The suite as specified for the project (name: N, C_in, H, W, C_out, k, s, p, d, groups).
EXPECTED_CONV = [
    ("lenet_c1", 64, 1, 32, 32, 6, 5, 1, 0, 1, 1),
    ("lenet_c3", 64, 6, 14, 14, 16, 5, 1, 0, 1, 1),
    ("cifar_in", 64, 3, 32, 32, 32, 3, 1, 1, 1, 1),
    ("cifar_32", 64, 32, 32, 32, 32, 3, 1, 1, 1, 1),
    ("cifar_64", 64, 64, 16, 16, 64, 3, 1, 1, 1, 1),
    ("resnet_64", 8, 64, 56, 56, 64, 3, 1, 1, 1, 1),
    ("resnet_128", 8, 128, 28, 28, 128, 3, 1, 1, 1, 1),
    ("resnet_256", 8, 256, 14, 14, 256, 3, 1, 1, 1, 1),
    ("resnet_512", 8, 512, 7, 7, 512, 3, 1, 1, 1, 1),
    ("stem", 8, 3, 224, 224, 64, 7, 2, 3, 1, 1),
    ("pointwise", 8, 256, 56, 56, 64, 1, 1, 0, 1, 1),
    ("depthwise", 8, 32, 112, 112, 32, 3, 1, 1, 1, 32),
    ("strided", 8, 128, 28, 28, 256, 3, 2, 1, 1, 1),
    ("dilated", 8, 64, 56, 56, 64, 3, 1, 2, 2, 1),
]
# (op, N, C, H, W, kernel or output size, stride, padding)
EXPECTED_POOL = [
    ("max", 64, 32, 32, 32, 2, 2, 0),
    ("max", 8, 64, 112, 112, 3, 2, 1),
    ("avg", 64, 6, 28, 28, 2, 2, 0),
    ("avg", 8, 64, 56, 56, 3, 1, 1),
    ("adaptive_avg", 32, 512, 7, 7, 1, 0, 0),
]


def test_conv_suite_matches_spec():
    got = [(c.name, c.N, c.C_in, c.H, c.W, c.C_out, c.k, c.stride, c.padding, c.dilation,
            c.groups) for c in _bench.CONV_LAYERS]
    assert got == EXPECTED_CONV


def test_pool_suite_matches_spec():
    got = [(c.op, c.N, c.C, c.H, c.W, c.k, c.stride, c.padding) for c in _bench.POOL_CASES]
    assert got == EXPECTED_POOL
    assert len({c.name for c in _bench.POOL_CASES + _bench.CONV_LAYERS}) == 19


def test_flops_and_output_sizes():
    layers = {c.name: c for c in _bench.CONV_LAYERS}
    assert layers["resnet_64"].flops("fwd") == 2 * 8 * 64 * 56 * 56 * 64 * 9
    assert layers["resnet_64"].flops("bwd") == 2 * layers["resnet_64"].flops("fwd")
    assert layers["stem"].out_hw == (112, 112)
    assert layers["strided"].out_hw == (14, 14)
    assert layers["dilated"].out_hw == (56, 56)
    assert layers["lenet_c1"].out_hw == (28, 28)
    # depthwise: one input channel per output channel.
    assert layers["depthwise"].flops("fwd") == 2 * 8 * 32 * 112 * 112 * 1 * 9
    g = layers["strided"].geom()
    assert g == (8, 128, 28, 28, 256, 3, 3, 14, 14, 2, 2, 1, 1, 1, 1, 1)
    pools = {c.name: c for c in _bench.POOL_CASES}
    p = pools["maxpool_3s2p1"]
    assert p.out_hw == (56, 56)
    assert p.bytes_moved("fwd", 4) == 4 * 8 * 64 * (112 * 112 + 56 * 56)
    assert pools["adaptive_avg_1"].out_hw == (1, 1)


def test_spec_parsers_reject_malformed():
    with pytest.raises(ValueError):
        _bench.parse_conv_layer("bad=1,2,3x3,4,3,1,1,1")
    with pytest.raises(ValueError):
        _bench.parse_pool_case("bad=min,1,2,3x3,2,2,0")
    assert _bench.parse_pool_case("a=adaptive_avg,1,2,5x5,3").out_hw == (3, 3)


def test_geomean():
    assert _bench.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert _bench.geomean([]) is None


def test_probes_measure_something():
    f32 = _kernels.fma_peak_gflops("float32", 1, min_time=0.01, repeats=1)
    f64 = _kernels.fma_peak_gflops(np.float64, 1, min_time=0.01, repeats=1)
    assert math.isfinite(f32) and f32 > 0
    assert math.isfinite(f64) and f64 > 0
    bw = _kernels.memory_bandwidth_gbs(1, nbytes=1 << 20, repeats=1)
    assert math.isfinite(bw) and bw > 0
    with pytest.raises(TypeError):
        _kernels.fma_peak_gflops("int32", 1)
    with pytest.raises(ValueError):
        _kernels.fma_peak_gflops("float32", 0)


def test_probes_on_every_isa(isa):
    assert _kernels.fma_peak_gflops("float32", 1, min_time=0.005, repeats=1) > 0


def test_peak_memory_sees_a_c_allocation():
    mem = _bench.PeakMemory()
    if not mem.available:
        pytest.skip("needs Linux /proc/self/clear_refs")

    def allocate():
        # 64 MiB: beyond glibc's largest mmap threshold, so fresh pages whatever the heap
        # state; touched so that they count as resident; freed before returning.
        a = np.ones(8 << 20)
        return float(a[-1])

    extra = mem.extra_mib(allocate)
    assert 56 <= extra <= 80
    assert mem.extra_mib(lambda: np.ones(8 << 20)) < 16   # a returned result is not "extra"


def test_bench_command_smoke(tmp_path, capsys):
    threads = fastconv.get_num_threads()
    # torch is left out here (its first autograd call alone takes seconds); the next test
    # checks that the torch callables compute what fastconv's compute.
    rc = _bench.main(["--custom", "tiny=2,3,9x9,4,3,2,1,1,1",
                      "--custom-pool", "tinypool=max,2,3,8x8,2,2,0",
                      "--repeats", "1", "--no-memory", "--probe-time", "0.005", "--no-torch",
                      "--no-chart",
                      "--threads", "1", "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    assert fastconv.get_num_threads() == threads       # restored
    out = capsys.readouterr().out
    for text in ("measured FMA peak", "GFLOP/s", "GB/s", "tiny ", "tinypool", "conv fwd"):
        assert text in out
    files = glob.glob(os.path.join(str(tmp_path), "fastconv-bench-*.json"))
    assert len(files) == 1
    with open(files[0]) as f:
        data = json.load(f)
    assert data["meta"]["threads"] == 1 and data["meta"]["fma_peak_gflops"] > 0
    rows = {(r["name"], r["pass"]): r for r in data["results"]}
    assert set(rows) == {("tiny", "fwd"), ("tiny", "bwd"),
                         ("tinypool", "fwd"), ("tinypool", "bwd")}
    # H_out = W_out = 5 with stride 2, padding 1.
    assert rows["tiny", "fwd"]["flops"] == 2 * 2 * 4 * 5 * 5 * 3 * 9
    assert rows["tiny", "bwd"]["flops"] == 2 * rows["tiny", "fwd"]["flops"]
    assert rows["tinypool", "fwd"]["bytes"] == 4 * 2 * 3 * (64 + 16)
    for r in data["results"]:
        assert "torch" not in r["impls"]
        # Each implementation either ran or is reported missing; a harness bug (wrong call)
        # would show up as "error: ...".
        for name, res in r["impls"].items():
            assert res["status"] in ("ok", "n/a", "skipped"), (r["name"], name, res["status"])
            if res["status"] == "ok":
                assert res["median_s"] > 0 and res["rate"] > 0
        ref = r["impls"]["reference"]
        if r["impls"]["fastconv"]["status"] == "ok" and ref["status"] == "ok":
            assert r["ratio"]["reference"] == pytest.approx(
                ref["median_s"] / r["impls"]["fastconv"]["median_s"])
    assert not glob.glob(os.path.join(str(tmp_path), "*.png"))


def test_chart(tmp_path):
    pytest.importorskip("matplotlib")
    case = _bench.parse_conv_layer("c=1,2,5x5,2,3,1,1,1,1")
    pool = _bench.parse_pool_case("p=avg,1,2,4x4,2,2,0")
    rows = []
    for c in (case, pool):
        for pass_ in _bench.PASSES:
            work = c.flops(pass_) if c.kind == "conv" else c.bytes_moved(pass_, 4)
            rows.append({"case": c, "pass": pass_, "work": work, "algo": "direct", "ratio": {},
                         "impls": {"fastconv": _bench.ImplResult(median_s=1e-3),
                                   "torch": _bench.ImplResult(status="n/a")}})
    meta = {"fma_peak_gflops": 50.0, "memory_bandwidth_gbs": 10.0, "dtype": "float32",
            "threads": 1, "isa": "avx2"}
    path = os.path.join(str(tmp_path), "c.png")
    assert _bench.write_chart(meta, rows, path) is None
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def _as_numpy(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [None if o is None else np.asarray(o.detach() if hasattr(o, "detach") else o)
            for o in outs]


@pytest.mark.parametrize("case", [
    _bench.parse_conv_layer("t=2,4,7x7,6,3,2,1,1,2"),
    _bench.parse_pool_case("p=max,2,3,7x7,3,2,1"),
    _bench.parse_pool_case("p=avg,2,3,7x7,3,2,1"),
    _bench.parse_pool_case("p=adaptive_avg,2,3,7x7,1"),
], ids=["conv", "max", "avg", "adaptive"])
@pytest.mark.parametrize("pass_", _bench.PASSES)
def test_implementations_compute_the_same_thing(case, pass_):
    """The timed callables of every implementation must do the same work, else the ratios
    compare different things."""
    impls = ["fastconv", "fastconv[im2col]@generic", "fastconv@generic", "torch", "reference",
             "ort"]
    fns = _bench._callables(case, pass_, np.dtype(np.float64), impls,
                            np.random.default_rng(1))
    results = {}
    for name, fn in fns.items():
        if isinstance(fn, Exception):
            continue
        try:
            results[name] = _as_numpy(fn())
        except NotImplementedError:
            continue
    if len(results) < 2:
        pytest.skip(f"fewer than two implementations available: {sorted(results)}")
    names = sorted(results)
    first = results[names[0]]
    for name in names[1:]:
        assert len(results[name]) == len(first), name
        for a, b in zip(first, results[name]):
            # float64, accumulation over at most 2 * 3 * 3 * 7 * 7 terms.
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=name)


def test_ort_session_is_the_layer():
    """ONNX Runtime's timed session computes the layer's convolution (else x ort compares
    different work)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    layer = _bench.parse_conv_layer("t=2,4,9x8,6,3,2,1,2,2")
    x, w, b, _ = _bench._conv_inputs(layer, np.float32, np.random.default_rng(0))
    (y,) = _bench.ort_conv_session(layer, w, b, 2).run(None, {"X": x})
    want = fastconv.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                           stride=2, padding=1, dilation=2, groups=2)
    # float32, sums of 2 * 3 * 3 = 18 products of magnitude ~ 0.1 * 4
    np.testing.assert_allclose(y, want, rtol=0, atol=20 * np.finfo(np.float32).eps * 4)
    # float64 is refused with a reason, not timed as something else
    fns = _bench._callables(layer, "fwd", np.dtype(np.float64), ["ort"],
                            np.random.default_rng(0))
    assert isinstance(fns["ort"], NotImplementedError)


def test_measure_interleaves_and_classifies():
    calls = []

    def make(name):
        return lambda: calls.append(name)

    def missing():
        raise NotImplementedError("not yet")

    def broken():
        raise RuntimeError("boom")

    fns = {"a": make("a"), "b": make("b"), "ref": make("ref"), "gone": missing,
           "bad": broken, "absent": NotImplementedError("no torch")}
    res = _bench.measure(fns, repeats=4, slow=("ref",), slow_repeats=2, min_sample=0.0)
    assert res["gone"].status == "n/a" and res["absent"].status == "n/a"
    assert res["bad"].status.startswith("error: RuntimeError")
    for name in ("a", "b"):
        assert res[name].status == "ok" and len(res[name].samples) == 4
        assert res[name].median_s == pytest.approx(sum(sorted(res[name].samples)[1:3]) / 2)
    assert len(res["ref"].samples) == 2          # its first (unwarmed) call counts
    timed = calls[3:]                            # after the three first calls
    # Interleaved: no implementation runs twice in a row within a round of a and b.
    assert timed[:2] in (["a", "b"], ["b", "a"]) and timed.count("a") == 4


def test_measure_budget_limits_slow_samples():
    import time
    res = _bench.measure({"slow": lambda: time.sleep(0.002)}, repeats=50, min_sample=0.0,
                         budget=0.001)
    assert len(res["slow"].samples) == 3


def test_variant_names():
    assert _bench.parse_variant("fastconv") == ("auto", None)
    assert _bench.parse_variant("fastconv[im2col]") == ("im2col", None)
    assert _bench.parse_variant("fastconv[direct]@generic") == ("direct", "generic")
    assert _bench.parse_variant("fastconv@avx2") == ("auto", "avx2")
    assert _bench.parse_variant("torch") is None
    assert _bench.variant_label("fastconv[im2col]@generic") == "im2col@generic"
    before = _kernels.get_isa()
    seen = []
    fn = _bench._on_isa("generic", lambda: seen.append(_kernels.get_isa()))
    fn()
    assert seen == ["generic"] and _kernels.get_isa() == before
    assert isinstance(_bench._on_isa("no-such-isa", lambda: None), NotImplementedError)


def test_nd_suite_parses_and_times_small_cases(capsys):
    """The 1-D/3-D suite (python -m fastconv bench --suite nd): every spec line parses, and a
    run on small cases of each kind times fastconv (and torch when installed)."""
    from fastconv import _bench_nd as nd
    assert {c.nd for c in nd.ND_CONV} == {1, 3} and {c.nd for c in nd.ND_POOL} == {1, 3}
    assert all(len(c.size) == c.nd == len(c.k) for c in nd.ND_CONV + nd.ND_POOL)
    small = [nd.parse_conv("t3 3,1,2,4x6x5,3,3,1,1,1,1"),
             nd.parse_conv("t1 1,2,3,50,4,5,2,2,1,1"),
             nd.parse_pool("p3 3,max,1,2,4x6x6,2,2,0"),
             nd.parse_pool("a1 1,adaptive_avg,2,3,20,4")]
    assert small[0].out() == (4, 6, 5) and small[1].out() == (25,)
    rows = nd.run(small, repeats=1, budget=None)
    assert len(rows) == 8 and all(r["fastconv_ms"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "| t3 | fwd |" in out and "geomean" in out


def test_ukernel_bench_covers_every_registered_tier():
    """`bench --ukernels` times the registry's kernels, test-only tiers (avx512emu) included:
    each GEMM row gets a rate and a % of its own tier's measured peak."""
    from fastconv import _ukbench
    lines = []
    rows = _ukbench.run(threads=1, out=lines.append, names=["_gemm_"])
    tiers = {u["tier"] for u in _kernels.ukernels() if "_gemm_" in u["name"]}
    assert {r["tier"] for r in rows} == tiers
    flops = [r for r in rows if r["unit"] == "flop"]
    assert flops and all(r["rate"] > 0 for r in flops)
    for r in flops:
        row = next(l for l in lines if l.startswith(r["name"] + " "))
        assert float(row.split()[-1]) > 0        # the % of peak column
