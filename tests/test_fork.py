"""A process forked after fastconv ran keeps working (issue 15, CONTRACT "Threads").

Each case runs tests/fork_child.py in a fresh interpreter, which uses every kernel family on 2
threads, forks (bare os.fork, a fork-context Process, a fork-context Pool, or forks while
another thread is inside kernels), and has each child recompute the parent's results.  A hang
shows up as the timeout."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fastconv import _kernels

CHILD = Path(__file__).with_name("fork_child.py")
TIMEOUT = 120

pytest.importorskip("threadpoolctl")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")


def run_child(mode, dtype, isa):
    env = dict(os.environ, FASTCONV_ISA=isa, OMP_NUM_THREADS="2")
    p = subprocess.Popen([sys.executable, str(CHILD), mode, dtype], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)   # the children too
        p.communicate()
        pytest.fail(f"{mode}/{dtype}/{isa}: a forked process hung (no result in {TIMEOUT} s)")
    assert p.returncode == 0, f"{mode}/{dtype}/{isa} failed:\n{err}"
    return json.loads(out.strip().splitlines()[-1])


@needs_fork
@pytest.mark.parametrize("mode", ["os_fork", "process", "pool", "thread_in_flight"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("isa", _kernels.available_isas(include_test=True))
def test_forked_children_compute_the_same_on_their_threads(mode, dtype, isa):
    if not _kernels.fork_safe():
        pytest.fail("this build has no fork handlers (fastconv built without them?)")
    r = run_child(mode, dtype, isa)
    assert r["isa"] == isa
    assert r["parent_team"] == 2
    kids = r["children"]
    assert len(kids) == {"os_fork": 2, "process": 2, "pool": 4, "thread_in_flight": 6}[mode]
    for k in kids:
        # Same machine code, same thread count: the same bits.
        assert k["err"] == 0.0, k
        # threadpoolctl still finds fastconv's OpenMP runtime in the child.
        assert k["threadpoolctl_openmp"], k
    teams = [k["team"] for k in kids]
    if mode in ("os_fork", "process"):
        assert teams == [2, 1]          # as asked; then as threadpoolctl limited it
    elif mode == "pool":
        assert teams == [2, 2, 1, 2]    # the limit ends with its `with` block
    else:
        assert teams == [2] * 6
    assert r["parent_err_after"] == 0.0 and r["parent_team_after"] == 2


@needs_fork
def test_child_can_ask_for_a_different_thread_count():
    code = (
        "import os, numpy as np, fastconv; from fastconv import _kernels\n"
        "fastconv.set_num_threads(2); x = np.ones((2, 3, 9, 9), np.float32)\n"
        "w = np.ones((4, 3, 3, 3), np.float32); y = fastconv.conv2d(x, w)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    z = _kernels.team_size()\n"
        "    fastconv.set_num_threads(1); a = _kernels.team_size()\n"
        "    fastconv.set_num_threads(3); b = _kernels.team_size()\n"
        "    ok = np.array_equal(fastconv.conv2d(x, w), y)\n"
        "    os._exit(0 if (z, a, b, ok) == (2, 1, 3, True) else 3)\n"
        "_, st = os.waitpid(pid, 0); print(os.waitstatus_to_exitcode(st))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
