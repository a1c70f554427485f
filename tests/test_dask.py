"""fastconv.dask against the single call (issue 15, CONTRACT "fastconv.dask").

Random chunkings of N, H and W (chunks of one row included, narrower than the halo and than
the stride) x strides x paddings x dilations x ceil_mode: the dask result must equal
fastconv's single call on the whole array, which the rest of the suite checks against the
reference.  The blocks run the same kernels on the same windows, so the results agree to the
bit except where avg_pool2d divides after summing (one rounding)."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastconv

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
fd = pytest.importorskip("fastconv.dask")


def random_chunks(rng, n, small=False):
    """A random split of n into chunks, often with chunks of 1 and 2 rows."""
    out, left = [], n
    while left:
        c = int(rng.integers(1, 3 if small or rng.random() < 0.3 else max(2, n // 2) + 1))
        c = min(c, left)
        out.append(c)
        left -= c
    return tuple(out)


def random_dask(rng, x):
    N, C, H, W = x.shape
    chunks = (random_chunks(rng, N) if N else (0,), (C,),
              random_chunks(rng, H, rng.random() < 0.3), random_chunks(rng, W, rng.random() < 0.3))
    return da.from_array(x, chunks=chunks)


def conv_case(rng):
    k = tuple(int(v) for v in rng.integers(1, 6, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    mode = str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"]))
    u = rng.random()
    if u < 0.2:
        pad = "same"       # at any stride (TensorFlow's rule)
    elif u < 0.3:
        pad = "valid"
    elif u < 0.5:          # per side
        pad = tuple(tuple(int(v) for v in rng.integers(0, d[i] * (k[i] - 1) + 2, 2))
                    for i in range(2))
    else:
        pad = tuple(int(rng.integers(0, (d[i] * (k[i] - 1)) // 2 + 2)) for i in range(2))
    return k, s, d, pad, mode


@pytest.mark.parametrize("seed", range(40))
def test_conv2d_matches_single_call(seed):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if seed % 3 else np.float64
    k, s, d, pad, mode = conv_case(rng)
    groups = int(rng.choice([1, 2]))
    C_in, C_out = 2 * groups, 3 * groups
    H = int(rng.integers(d[0] * (k[0] - 1) + 1, 30))
    W = int(rng.integers(d[1] * (k[1] - 1) + 1, 30))
    if mode != "zeros":   # reflect needs pad < size; keep every mode valid
        H, W = max(H, 8), max(W, 8)
    x = rng.standard_normal((int(rng.integers(1, 4)), C_in, H, W)).astype(dtype)
    w = rng.standard_normal((C_out, C_in // groups) + k).astype(dtype)
    b = rng.standard_normal(C_out).astype(dtype) if seed % 2 else None
    kw = dict(stride=s, padding=pad, dilation=d, groups=groups, padding_mode=mode)
    try:
        want = fastconv.conv2d(x, w, b, **kw)
    except ValueError as e:   # the dask version refuses the same arguments the same way
        with pytest.raises(ValueError, match=re.escape(str(e)[:30])):
            fd.conv2d(random_dask(rng, x), w, b, **kw)
        return
    X = random_dask(rng, x)
    y = fd.conv2d(X, w, b, **kw)
    assert y.shape == want.shape and y.dtype == want.dtype
    # output blocks follow the input chunks (one per chunk holding a window start)
    assert len(y.chunks[0]) == len(X.chunks[0])
    got = y.compute(scheduler="threads")
    np.testing.assert_array_equal(got, want, err_msg=f"{kw} chunks={X.chunks}")


@pytest.mark.parametrize("seed", range(24))
def test_store_writes_the_single_call_in_place(seed, monkeypatch):
    """fastconv.dask.store: the kernels write each block through the destination's strides.
    Destinations: a fresh array, a region of a larger one (NaN sentinels around it must stay),
    a Fortran-ordered one and one of another dtype (both written by assignment instead)."""
    rng = np.random.default_rng(1000 + seed)
    dtype = np.float32 if seed % 3 else np.float64
    k, s, d, pad, mode = conv_case(rng)
    H = int(rng.integers(d[0] * (k[0] - 1) + 8, 40))
    W = int(rng.integers(d[1] * (k[1] - 1) + 8, 40))
    x = rng.standard_normal((int(rng.integers(1, 4)), 3, H, W)).astype(dtype)
    w = rng.standard_normal((4, 3) + k).astype(dtype)
    b = rng.standard_normal(4).astype(dtype) if seed % 2 else None
    kw = dict(stride=s, padding=pad, dilation=d, padding_mode=mode,
              algorithm=["auto", "direct", "im2col"][seed % 3])
    want = fastconv.conv2d(x, w, b, **kw)
    y = fd.conv2d(random_dask(rng, x), w, b, **kw)
    kind = seed % 4
    if kind < 2:    # in place: no block may go through the kernel that returns an array
        def boom(*a):
            raise AssertionError("a block was computed into its own array")
        monkeypatch.setattr(fd._kernels, "conv2d_forward", boom)
    if kind == 0:
        out = np.zeros_like(want)
        fd.store(y, out, scheduler="threads")
        got = out
    elif kind == 1:
        big = np.full((want.shape[0] + 1, 6, want.shape[2] + 3, want.shape[3] + 5), np.nan,
                      dtype)
        reg = (slice(1, None), slice(1, 5), slice(2, 2 + want.shape[2]),
               slice(3, 3 + want.shape[3]))
        fd.store(y, big, regions=reg, scheduler="sync")
        got = big[reg]
        rest = np.ones(big.shape, bool)
        rest[reg] = False
        assert np.isnan(big[rest]).all(), "wrote outside the region"
    elif kind == 2:
        out = np.zeros(want.shape, dtype, order="F")
        fd.store(y, out)
        got = out
    else:
        other = np.float64 if dtype == np.float32 else np.float32
        out = np.zeros(want.shape, other)
        fd.store(y, out, scheduler="threads")
        got = out
        want = want.astype(other)
    np.testing.assert_array_equal(got, want, err_msg=f"{kw} chunks={y.chunks}")


def test_store_unbatched_memmap_and_lazy(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 30, 27)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    want = fastconv.conv2d(x, w, padding=1)
    y = fd.conv2d(da.from_array(x, chunks=(3, 7, 8)), w, padding=1)
    mm = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float32,
                                   shape=want.shape)
    d = fd.store(y, mm, compute=False)
    assert not mm.any()          # nothing ran yet
    d.compute()
    mm.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)


class _Recorder:
    """A destination that is not a NumPy array (as Zarr or HDF5 datasets are)."""

    def __init__(self, shape, dtype):
        self.a = np.zeros(shape, dtype)
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)
        self.writes = 0

    def __setitem__(self, index, value):
        self.writes += 1
        self.a[index] = value


def test_store_hands_other_pairs_to_dask_store():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 20, 21)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    X = da.from_array(x, chunks=(1, 3, 9, 10))
    yc = fd.conv2d(X, w, padding=1)
    yp = fd.max_pool2d(X, 2)
    rec = _Recorder(yc.shape, np.float32)
    outp = np.zeros(yp.shape, np.float32)
    outc = np.zeros(yc.shape, np.float32)
    fd.store([yc, yp, yc], [rec, outp, outc], scheduler="threads")
    assert rec.writes == yc.npartitions
    np.testing.assert_array_equal(rec.a, fastconv.conv2d(x, w, padding=1))
    np.testing.assert_array_equal(outc, rec.a)
    np.testing.assert_array_equal(outp, fastconv.max_pool2d(x, 2))
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        fd.store([yc, yp], [outc])


def pool_case(seed, base):
    """-> rng, dtype, kernel, stride, padding (at most half the kernel on a side, or "same")
    for one seed."""
    rng = np.random.default_rng(base + seed)
    dtype = np.float32 if seed % 3 else np.float64
    k = tuple(int(v) for v in rng.integers(1, 5, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    u = rng.random()
    if u < 0.2:
        p = "same"
    elif u < 0.4:      # per side
        p = tuple(tuple(int(v) for v in rng.integers(0, k[i] // 2 + 1, 2)) for i in range(2))
    else:
        p = tuple(int(rng.integers(0, k[i] // 2 + 1)) for i in range(2))
    return rng, dtype, k, s, p


@pytest.mark.parametrize("seed", range(40))
def test_max_pool2d_matches_single_call(seed):
    rng, dtype, k, s, p = pool_case(seed, 100)
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    ceil = bool(rng.random() < 0.5)
    x = rng.standard_normal((int(rng.integers(1, 3)), 3, int(rng.integers(8, 28)),
                             int(rng.integers(8, 28)))).astype(dtype)
    x[x > 1.5] = 2.0      # ties: the first in scan order must win in every block
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    X = random_dask(rng, x)
    try:
        want, want_i = fastconv.max_pool2d(x, return_indices=True, **kw)
    except ValueError as e:   # a window of padding only: refused the same way
        with pytest.raises(ValueError, match=re.escape(str(e)[:30])):
            fd.max_pool2d(X, **kw)
        return
    y, i = fd.max_pool2d(X, return_indices=True, **kw)
    np.testing.assert_array_equal(y.compute(), want, err_msg=f"{kw} {X.chunks}")
    np.testing.assert_array_equal(i.compute(), want_i, err_msg=f"{kw} {X.chunks}")
    np.testing.assert_array_equal(fd.max_pool2d(X, **kw).compute(), want)


@pytest.mark.parametrize("seed", range(40))
def test_avg_pool2d_matches_single_call(seed):
    rng, dtype, k, s, p = pool_case(seed, 200)
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=bool(rng.random() < 0.5),
              count_include_pad=bool(rng.random() < 0.5),
              divisor_override=[None, None, 3][seed % 3])
    x = rng.standard_normal((int(rng.integers(1, 3)), 2, int(rng.integers(6, 25)),
                             int(rng.integers(6, 25)))).astype(dtype)
    want = fastconv.avg_pool2d(x, **kw)
    X = random_dask(rng, x)
    got = fd.avg_pool2d(X, **kw).compute()
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=4 * eps, atol=4 * eps,
                               err_msg=f"{kw} {X.chunks}")


def test_one_row_chunks_and_unbatched_and_empty_batch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 17, 13)).astype(np.float32)       # unbatched (C, H, W)
    w = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    X = da.from_array(x, chunks=(3, 1, 1))                          # every chunk 1x1
    for kw in (dict(stride=2, padding=2), dict(stride=3, dilation=2), dict(padding="same"),
               dict(padding=9, stride=2)):      # padding wider than the kernel: bias-only blocks
        b = np.arange(4, dtype=np.float32)
        np.testing.assert_array_equal(fd.conv2d(X, w, b, **kw).compute(),
                                      fastconv.conv2d(x, w, b, **kw))
    e = da.zeros((0, 3, 9, 9), chunks=(1, 3, 4, 4), dtype=np.float32)
    assert fd.conv2d(e, w).compute().shape == (0, 4, 5, 5)
    assert fd.max_pool2d(e, 2).compute().shape == (0, 3, 4, 4)


def test_refusals_are_clear():
    x = da.zeros((2, 4, 10, 10), chunks=(1, 2, 5, 5), dtype=np.float32)
    w = np.zeros((2, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="channels must be one chunk"):
        fd.conv2d(x, w)
    with pytest.raises(ValueError, match="channels must be one chunk"):
        fd.max_pool2d(x, 2)
    with pytest.raises(TypeError, match="must be a dask array"):
        fd.conv2d(np.zeros((2, 4, 10, 10), np.float32), w)
    with pytest.raises(ValueError, match="3-D .* or 4-D"):
        fd.avg_pool2d(da.zeros((10, 10), chunks=5), 2)
    good = x.rechunk({1: -1})
    with pytest.raises(TypeError, match="weight"):          # the single call's own checks
        fd.conv2d(good, w.astype(np.float64))
    with pytest.raises(ValueError, match="4 channels"):
        fd.conv2d(good, np.zeros((2, 3, 3, 3), np.float32))


def test_weights_are_one_key_of_the_graph():
    x = da.zeros((4, 3, 40, 40), chunks=(1, 3, 10, 10), dtype=np.float32)
    w = np.ones((8, 3, 3, 3), np.float32)
    y = fd.conv2d(x, w, np.ones(8, np.float32))
    g = dict(y.__dask_graph__())
    weight_keys = [k for k, v in g.items() if isinstance(v, np.ndarray) and v.shape == w.shape]
    assert len(weight_keys) == 1
    assert y.npartitions == 4 * 16


def _model(dtype=np.float32):
    nn = fastconv.nn
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, dtype=dtype), nn.BatchNorm2d(6, dtype=dtype),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 4, 3, dtype=dtype),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5, dtype=dtype))


def test_predict_matches_the_model_and_leaves_it_alone():
    rng = np.random.default_rng(3)
    m = _model()
    m.train()
    x = rng.standard_normal((11, 3, 16, 16)).astype(np.float32)
    X = da.from_array(x, chunks=(3, 3, 8, 16))       # spatial chunks are joined
    p = fd.predict(m, X)
    assert m.training                                 # the caller's model is unchanged
    assert p.shape == (11, 5) and p.chunks[0] == (3, 3, 3, 2)
    want = m.eval()(x)
    np.testing.assert_allclose(p.compute(scheduler="threads"), want, rtol=1e-5, atol=1e-6)


def test_distributed_cluster_of_two_processes():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 41, 37)).astype(np.float32)
    w = rng.standard_normal((5, 4, 5, 5)).astype(np.float32)
    X = da.from_array(x, chunks=(2, 4, 9, 7))
    m = _model()
    xm = rng.standard_normal((6, 3, 12, 12)).astype(np.float32)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        y, ym, ya, p = client.compute([
            fd.conv2d(X, w, stride=2, padding="valid"),
            fd.max_pool2d(X, 3, 2, 1, ceil_mode=True),
            fd.avg_pool2d(X, 3, 2, 1, count_include_pad=False),
            fd.predict(m, da.from_array(xm, chunks=(2, 3, 12, 12)))], sync=True)
        ran_on = client.run(lambda: __import__("fastconv").__name__)
    assert len(ran_on) == 2
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, stride=2))
    np.testing.assert_array_equal(ym, fastconv.max_pool2d(x, 3, 2, 1, ceil_mode=True))
    np.testing.assert_allclose(ya, fastconv.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(p, m.eval()(xm), rtol=1e-5, atol=1e-6)


def test_example_runs_small():
    ex = Path(__file__).resolve().parents[1] / "examples" / "dask_large_image.py"
    out = subprocess.run([sys.executable, str(ex), "--images", "2", "--size", "96",
                          "--tile", "40"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "mean activation per filter" in out.stdout


def test_store_writes_in_place_only_for_schedulers_in_this_process():
    assert fd._shares_memory_with_caller({})
    assert fd._shares_memory_with_caller({"scheduler": "threads"})
    assert fd._shares_memory_with_caller({"scheduler": "sync"})
    # worker processes would write into pickled copies of a NumPy target
    assert not fd._shares_memory_with_caller({"scheduler": "processes"})
