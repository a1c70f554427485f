"""Thread safety, leaks and the OpenMP pool as other tools see it.

* 8 Python threads calling every forward and backward kernel at once give bitwise the results
  of the same calls made one at a time (the kernels release the GIL, so they really overlap).
* 10^4 small calls (including rejected ones) leave resident memory flat: measured in a fresh
  subprocess so nothing else in the test run moves the numbers.
* threadpoolctl finds fastconv's OpenMP runtime and its limit reaches fastconv.
"""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _kernels

# The directory holding the fastconv this run imported, for the subprocesses to import too.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
N_THREADS = 8


def _ops(rng, dtype):
    """A list of (name, thunk) covering every public kernel, on inputs big enough for the
    kernels to go parallel but quick (a few ms each)."""
    x = rng.standard_normal((4, 8, 20, 18)).astype(dtype)
    w = rng.standard_normal((12, 4, 3, 3)).astype(dtype)
    b = rng.standard_normal(12).astype(dtype)
    kw = dict(stride=(1, 2), padding=1, dilation=(2, 1), groups=2)
    y = fastconv.conv2d(x, w, b, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    wt = rng.standard_normal((8, 3, 3, 3)).astype(dtype)
    tkw = dict(stride=2, padding=1, output_padding=1, groups=2)
    yt = fastconv.conv_transpose2d(x, wt, None, **tkw)
    gyt = rng.standard_normal(yt.shape).astype(dtype)
    pkw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    m, idx = fastconv.max_pool2d(x, return_indices=True, **pkw)
    gm = rng.standard_normal(m.shape).astype(dtype)
    ga = rng.standard_normal((4, 8, 5, 7)).astype(dtype)
    _, aidx = fastconv.adaptive_max_pool2d(x, (5, 7), return_indices=True)
    F = fastconv
    return [
        ("conv2d_direct", lambda: F.conv2d(x, w, b, **kw, algorithm="direct")),
        ("conv2d_im2col", lambda: F.conv2d(x, w, b, **kw, algorithm="im2col")),
        ("conv2d_backward_direct", lambda: F.conv2d_backward(gy, x, w, **kw, algorithm="direct")),
        ("conv2d_backward_im2col", lambda: F.conv2d_backward(gy, x, w, **kw, algorithm="im2col")),
        ("conv2d_reflect", lambda: F.conv2d(x, w, b, padding=2, groups=2,
                                            padding_mode="reflect")),
        ("conv_transpose2d", lambda: F.conv_transpose2d(x, wt, None, **tkw)),
        ("conv_transpose2d_backward", lambda: F.conv_transpose2d_backward(gyt, x, wt, **tkw)),
        ("max_pool2d", lambda: F.max_pool2d(x, return_indices=True, **pkw)),
        ("max_pool2d_backward", lambda: F.max_pool2d_backward(gm, x, **pkw)),
        ("max_pool2d_backward_idx", lambda: F.max_pool2d_backward(gm, x, **pkw, indices=idx)),
        ("avg_pool2d", lambda: F.avg_pool2d(x, **pkw)),
        ("avg_pool2d_backward", lambda: F.avg_pool2d_backward(gm, x.shape, **pkw)),
        ("adaptive_avg_pool2d", lambda: F.adaptive_avg_pool2d(x, (5, 7))),
        ("adaptive_avg_pool2d_backward", lambda: F.adaptive_avg_pool2d_backward(ga, x.shape)),
        ("adaptive_max_pool2d", lambda: F.adaptive_max_pool2d(x, (5, 7), return_indices=True)),
        ("adaptive_max_pool2d_backward",
         lambda: F.adaptive_max_pool2d_backward(ga, x, (5, 7), indices=aidx)),
    ]


def _as_list(r):
    return list(r) if isinstance(r, tuple) else [r]


def _in_fresh_thread(fn):
    """Run fn in a new thread: OpenMP's thread-count setting is per calling thread, so the
    serial results must come from the same kind of thread as the concurrent ones."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()))
    t.start()
    t.join()
    return out["r"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_concurrent_calls_match_serial(isa, dtype):
    ops = _ops(np.random.default_rng(7), dtype)
    serial = _in_fresh_thread(lambda: [_as_list(fn()) for _, fn in ops])

    results = [[None] * len(ops) for _ in range(N_THREADS)]
    errors = []
    start = threading.Barrier(N_THREADS)

    def worker(t):
        try:
            start.wait()
            # Each thread walks the ops in its own rotation, 2 rounds: every pair of kernels
            # overlaps with every other at some point.
            for rnd in range(2):
                for j in range(len(ops)):
                    k = (j + t * 3 + rnd) % len(ops)
                    results[t][k] = _as_list(ops[k][1]())
        except BaseException as e:  # reported below with the thread's number
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a worker thread hung"
    assert not errors, errors
    for t in range(N_THREADS):
        for k, (name, _) in enumerate(ops):
            for a, b in zip(results[t][k], serial[k]):
                assert (a is None) == (b is None), name
                if a is not None:
                    # Same thread count, same ISA, same inputs: bitwise identical, however
                    # the calls interleave.
                    assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), \
                        f"thread {t}: {name} differs from the serial result"


def test_results_do_not_depend_on_thread_count(isa):
    """1 thread vs the default: equal within rounding (accumulation order may differ)."""
    rng = np.random.default_rng(3)
    ops = _ops(rng, np.float32)
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        one = [_as_list(fn()) for _, fn in ops]
    finally:
        fastconv.set_num_threads(before)
    many = [_as_list(fn()) for _, fn in ops]
    for (name, _), r1, rn in zip(ops, one, many):
        for a, b in zip(r1, rn):
            if a is None:
                assert b is None
                continue
            if a.dtype.kind == "i":
                assert np.array_equal(a, b), name
                continue
            # float32 accumulations of at most a few hundred terms of O(1) values.
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=0, atol=400 * np.finfo(np.float32).eps * scale,
                                       err_msg=name)


LEAK_SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import fastconv
N = int(sys.argv[2])

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
b = rng.standard_normal(6).astype(np.float32)
y = fastconv.conv2d(x, w, b, padding=1)
gy = np.ones_like(y)
m, idx = fastconv.max_pool2d(x, 2, return_indices=True)
gm = np.ones_like(m)
xt = np.asfortranarray(x)
bad_w = w.astype(np.float64)
F = fastconv
ops = [
    lambda: F.conv2d(x, w, b, padding=1),
    lambda: F.conv2d(xt, w, b, padding=1, algorithm="im2col"),
    lambda: F.conv2d_backward(gy, x, w, padding=1),
    lambda: F.conv2d_backward(gy, x, w, padding=1, algorithm="im2col"),
    lambda: F.conv_transpose2d(x, w.transpose(1, 0, 2, 3), None, stride=2),
    lambda: F.conv_transpose2d_backward(
        np.ones((2, 6, 19, 19), np.float32), x, w.transpose(1, 0, 2, 3), stride=2),
    lambda: F.max_pool2d(x, 2, return_indices=True),
    lambda: F.max_pool2d_backward(gm, x, 2, indices=idx),
    lambda: F.max_pool2d_backward(gm, x, 2),
    lambda: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda: F.avg_pool2d_backward(np.ones((2, 4, 5, 5), np.float32), x.shape, 3, 2, 1,
                                  ceil_mode=True),
    lambda: F.adaptive_avg_pool2d(x, 4),
    lambda: F.adaptive_avg_pool2d_backward(np.ones((2, 4, 4, 4), np.float32), x.shape),
    lambda: F.adaptive_max_pool2d(x, 4, return_indices=True),
    lambda: F.adaptive_max_pool2d_backward(np.ones((2, 4, 4, 4), np.float32), x, 4),
]
bad = [
    lambda: F.conv2d(x, bad_w),                  # TypeError after some validation
    lambda: F.conv2d(x, w, groups=3),            # ValueError
    lambda: F.max_pool2d_backward(gm, x, 2, indices=idx + 1000),   # ValueError (range)
]

def run(n):
    for i in range(n):
        ops[i % len(ops)]()
        if i % 10 == 0:
            try:
                bad[(i // 10) % len(bad)]()
            except (TypeError, ValueError):
                pass
            else:
                raise AssertionError("a bad call was accepted")

import gc
run(2000)                 # warm up: allocator pools, OpenMP thread pool, caches
gc.collect()
r0, b0 = rss(), sys.getallocatedblocks()
run(N)
gc.collect()
r1, b1 = rss(), sys.getallocatedblocks()
run(N)                    # a second round: a leak grows again, allocator churn does not
gc.collect()
b2 = sys.getallocatedblocks()
print(json.dumps({"before": r0, "after": r1, "blocks_before": b0, "blocks_after": b1,
                  "blocks_after2": b2, "calls": N}))
"""


def _leak_run(n):
    r = subprocess.run([sys.executable, "-c", LEAK_SCRIPT, ROOT, str(n)], capture_output=True,
                       text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_no_leak_10k_calls():
    d = _leak_run(10_000)
    _check_flat(d, rss_slack=1 << 20)


def _check_flat(d, rss_slack):
    grown = d["after"] - d["before"]
    if os.environ.get("FASTCONV_UNDER_SANITIZER"):
        # ASan's allocator keeps freed memory in quarantine: RSS says nothing there (ASan
        # itself reports invalid frees; leaks are the blocks check below).
        rss_slack = 1 << 40
    # C-side leaks (a workspace not freed) show in RSS: a small im2col buffer is ~10 KiB, so
    # leaking one per call would add tens of MiB.
    assert grown < rss_slack, f"RSS grew by {grown} bytes over {d['calls']} calls"
    # Python-side leaks (a reference kept to an output or an exception) show as live
    # small-object blocks: every leaked array object is one, in each round of calls.  One
    # round alone also moves by up to ~200 blocks of churn (free lists, dict resizes) that a
    # second round does not repeat, so the smaller of the two rounds' growths is tested: a
    # leak of one block per bad call (1 call in 30) already adds over 300 to both.
    rounds = (d["blocks_after"] - d["blocks_before"], d["blocks_after2"] - d["blocks_after"])
    assert min(rounds) < 200, f"{rounds} more live Python blocks in two rounds of {d['calls']} calls"


@pytest.mark.slow
def test_no_leak_100k_calls():
    d = _leak_run(100_000)
    _check_flat(d, rss_slack=2 << 20)


# ------------------------------------------------------------------------- threadpoolctl --

def _our_openmp():
    from fastconv import _runtime
    path = _runtime.openmp_runtime()
    if not path or not os.path.exists(path):
        pytest.skip("fastconv built without OpenMP (or runtime path unknown)")
    return os.path.realpath(path)


def test_threadpoolctl_sees_fastconv_openmp():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    ours = _our_openmp()
    info = threadpoolctl.threadpool_info()
    omp = [i for i in info if i.get("user_api") == "openmp"]
    assert any(os.path.realpath(i["filepath"]) == ours for i in omp), (ours, omp)


def test_threadpool_limits_reaches_fastconv():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _our_openmp()
    before = fastconv.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1):
        assert fastconv.get_num_threads() == 1
        # ... and a kernel still runs (serially) and is right.
        y = fastconv.conv2d(np.ones((2, 3, 16, 16)), np.ones((4, 3, 3, 3)))
        assert np.array_equal(y, np.full((2, 4, 14, 14), 27.0))
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastconv.get_num_threads() == 1
    assert fastconv.get_num_threads() == before


def test_threadpoolctl_in_subprocess_without_torch():
    """The same, in a clean process where fastconv's libgomp is the only OpenMP runtime."""
    pytest.importorskip("threadpoolctl")
    if not _kernels.have_openmp():
        pytest.skip("built without OpenMP")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import fastconv, threadpoolctl, json; "
            "from fastconv import _runtime; "
            "info = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'openmp']; "
            "n0 = fastconv.get_num_threads(); "
            "ctl = threadpoolctl.threadpool_limits(1); n1 = fastconv.get_num_threads(); "
            "ctl.restore_original_limits(); n2 = fastconv.get_num_threads(); "
            "print(json.dumps(dict(info=info, ours=_runtime.openmp_runtime(), n=[n0, n1, n2])))")
    r = subprocess.run([sys.executable, "-c", code, ROOT], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["n"] == [2, 1, 2], d
    assert [os.path.realpath(i["filepath"]) for i in d["info"]] == \
        [os.path.realpath(d["ours"])], d
