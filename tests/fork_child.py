"""Run by tests/test_fork.py in a fresh interpreter: use every kind of kernel on the threads
fastconv was asked for, fork in the way argv[1] names, and have each child recompute the same
results and report its thread counts.  Prints one JSON line; any child that does not finish
makes the parent time out, which the test reports as a hang.

argv: mode (os_fork | process | pool | thread_in_flight), dtype."""
import json
import multiprocessing as mp
import os
import sys
import threading

import numpy as np

import fastconv
from fastconv import _kernels

MODE, DTYPE = sys.argv[1], np.dtype(sys.argv[2])
fastconv.set_num_threads(2)
rng = np.random.default_rng(0)
X = rng.standard_normal((4, 8, 21, 19)).astype(DTYPE)
W = rng.standard_normal((6, 8, 3, 3)).astype(DTYPE)
B = rng.standard_normal(6).astype(DTYPE)


def every_kernel():
    """One result per kernel family, as a list of arrays."""
    out = []
    for algo in ("direct", "im2col"):
        y = fastconv.conv2d(X, W, B, padding=1, algorithm=algo)
        gy = np.ones_like(y)
        gx, gw, gb = fastconv.conv2d_backward(gy, X, W, padding=1, algorithm=algo)
        out += [y, gx, gw, gb]
    out.append(fastconv.conv_transpose2d(X, W.transpose(1, 0, 2, 3).copy(), stride=2))
    y, idx = fastconv.max_pool2d(X, 3, 2, 1, return_indices=True)
    out += [y, fastconv.max_pool2d_backward(np.ones_like(y), X, 3, 2, 1, indices=idx)]
    y = fastconv.avg_pool2d(X, 3, 2, 1, ceil_mode=True)
    out += [y, fastconv.avg_pool2d_backward(np.ones_like(y), X.shape, 3, 2, 1, ceil_mode=True)]
    out.append(fastconv.adaptive_avg_pool2d(X, (5, 4)))
    out.append(fastconv.adaptive_max_pool2d(X, (5, 4)))
    return out


def child_report(limit=None):
    """Recompute everything and say how far from the parent's results, on how many threads."""
    if limit is None:
        res = every_kernel()
        team = _kernels.team_size()
    else:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=limit, user_api="openmp"):
            res = every_kernel()
            team = _kernels.team_size()
    from threadpoolctl import threadpool_info
    seen = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
    err = max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(res, PARENT))
    return {"err": err, "team": team, "threads": fastconv.get_num_threads(),
            "threadpoolctl_openmp": seen,
            "pid": os.getpid()}


def _pool_task(limit):
    return child_report(limit)


def _process_task(q, limit):
    q.put(child_report(limit))


PARENT = every_kernel()
report = {"parent_team": _kernels.team_size(), "children": []}

if MODE == "os_fork":
    for limit in (None, 1):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, json.dumps(child_report(limit)).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            report["children"].append(json.loads(f.read()))
        os.waitpid(pid, 0)
elif MODE == "process":
    ctx = mp.get_context("fork")
    for limit in (None, 1):
        q = ctx.Queue()
        p = ctx.Process(target=_process_task, args=(q, limit))
        p.start()
        report["children"].append(q.get())
        p.join()
elif MODE == "pool":
    with mp.get_context("fork").Pool(2) as pool:
        report["children"] += pool.map(_pool_task, [None, None, 1, None])
elif MODE == "thread_in_flight":
    # Fork again and again while another thread is inside kernels: each fork must wait for
    # the call in flight, and every child must still work.
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            every_kernel()

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(6):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                os.write(w, json.dumps(child_report()).encode())
                os._exit(0)
            os.close(w)
            with os.fdopen(r) as f:
                report["children"].append(json.loads(f.read()))
            os.waitpid(pid, 0)
    finally:
        stop.set()
        t.join()
else:
    raise SystemExit(f"unknown mode {MODE}")

# The parent keeps working after its children too.
after = every_kernel()
report["parent_err_after"] = max(float(np.max(np.abs(a - b))) if a.size else 0.0
                                 for a, b in zip(after, PARENT))
report["parent_team_after"] = _kernels.team_size()
report["isa"] = _kernels.get_isa()
print(json.dumps(report))
