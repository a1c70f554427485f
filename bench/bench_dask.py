"""fastconv.dask throughput against the single call (issue 15).

    python bench/bench_dask.py [--size 8000] [--tiles 1000,2000] [--cout 8] [--rounds 5]
                               [--no-distributed]

A 3 x size x size float32 image and a 5x5 conv to --cout channels (padding 2).  In one
process, in alternating rounds (the order reversed every other round): one fastconv.conv2d
call on the whole array (2 OpenMP threads) against fastconv.dask on the threaded scheduler
with 2 dask threads, the blocks writing into an output array allocated once: fastconv.dask.store,
whose kernels write each block in place, and dask.array.store, which copies each block array
over (as a pipeline into Zarr does); and dask's compute(), which also joins the blocks into
one new array.  Every case runs once before timing (first-touch page faults of fresh
memory in this VM cost seconds and vary, so the script re-runs itself with glibc's malloc
keeping freed memory instead of unmapping it: MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_
large).  Medians, GFLOP/s and the throughput ratio to the single call, and to the single call
followed by writing its result into the same kind of destination array; then the same graph on a dask.distributed LocalCluster of 2 worker
processes, checked against the single call."""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import dask.array as da

import fastconv
import fastconv.dask as fd


def main():
    if os.environ.get("MALLOC_MMAP_MAX_") is None:
        env = dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(1 << 40))
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--tiles", default="1000,2000")
    ap.add_argument("--cout", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-distributed", action="store_true")
    o = ap.parse_args()
    fastconv.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, o.size, o.size), dtype=np.float32)
    w = rng.standard_normal((o.cout, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(o.cout).astype(np.float32)
    flops = 2.0 * o.cout * 3 * 25 * o.size * o.size
    want = fastconv.conv2d(x, w, b, padding=2)
    out = np.zeros_like(want)
    tiles = [int(t) for t in o.tiles.split(",")]

    def single_into():
        out[...] = fastconv.conv2d(x, w, b, padding=2)

    cases = {"single call": lambda: fastconv.conv2d(x, w, b, padding=2),
             "single call, into out": single_into}
    graphs = {}
    for t in tiles:
        y = fd.conv2d(da.from_array(x, chunks=(1, 3, t, t)), w, b, padding=2)
        graphs[t] = y
        cases[f"fd.store, tiles {t}"] = (
            lambda y=y: fd.store(y, out, scheduler="threads", num_workers=2))
        cases[f"dask store, tiles {t}"] = (
            lambda y=y: da.store(y, out, scheduler="threads", num_workers=2, lock=False))
        cases[f"dask compute, tiles {t}"] = (
            lambda y=y: y.compute(scheduler="threads", num_workers=2))
        if t == tiles[0]:   # the threaded scheduler's scaling: the same graph on 1 thread
            cases[f"fd.store 1 thread, {t}"] = (
                lambda y=y: fd.store(y, out, scheduler="threads", num_workers=1))
    for name, fn in cases.items():      # warm-up, and every case gives the single call's bits
        r = fn()
        got = out if r is None else r
        np.testing.assert_array_equal(got, want, err_msg=name)
        del r, got
    times = {k: [] for k in cases}
    for r in range(o.rounds):
        order = list(cases) if r % 2 == 0 else list(cases)[::-1]
        for k in order:
            t0 = time.perf_counter()
            res = cases[k]()
            times[k].append(time.perf_counter() - t0)
            del res
    base = statistics.median(times["single call"])
    print(f"fastconv.dask conv2d: 3x{o.size}x{o.size} float32 -> {o.cout} channels, 5x5, "
          f"padding 2; 2 threads; {o.rounds} alternating rounds")
    for k, ts in times.items():
        m = statistics.median(ts)
        fwd = [statistics.median(ts[0::2]), statistics.median(ts[1::2])]
        print(f"  {k:28s} median {m:6.3f} s ({fwd[0]:.3f} fwd order, {fwd[1]:.3f} reversed)  "
              f"{flops / m / 1e9:6.1f} GFLOP/s  throughput x single call {base / m:5.2f}")
    one = statistics.median(times[f"fd.store 1 thread, {tiles[0]}"])
    two = statistics.median(times[f"fd.store, tiles {tiles[0]}"])
    print(f"  threaded scheduler scaling, 1 -> 2 threads (tiles {tiles[0]}): {one / two:.2f}x")
    if o.no_distributed:
        return
    # The timed cases' freed blocks are kept by malloc (MALLOC_TRIM_THRESHOLD_ above); hand
    # them back before starting worker processes, or the cluster runs out of memory.
    del cases, times, out
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        yd = graphs[tiles[0]].compute()
        t = time.perf_counter() - t0
        same = np.array_equal(yd, want)
        print(f"  distributed, 2 worker processes: {t:.3f} s (input shipped from this process); "
              f"equals the single call: {same}")
        if not same:
            raise SystemExit("distributed result differs")


if __name__ == "__main__":
    main()
