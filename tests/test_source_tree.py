"""`import fastconv` from a source tree without a compiled extension runs the installed copy
(the README's `python -m fastconv demo` from a checkout's root)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastconv

INSTALLED = Path(fastconv.__file__).resolve().parent


def _source_tree(tmp_path):
    """A copy of the package's Python files without its extension, as a checkout has it."""
    dst = tmp_path / "fastconv"
    shutil.copytree(INSTALLED, dst, ignore=shutil.ignore_patterns("_kernels*.so", "*.pyd",
                                                                   "__pycache__"))
    return dst


def _run(code, cwd, env_extra=None):
    env = dict(os.environ)
    # the installed package must stay reachable (it is, in site-packages; tests may run with
    # it on PYTHONPATH instead)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(INSTALLED.parent)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_source_tree_runs_the_installed_package(tmp_path):
    src = _source_tree(tmp_path)
    # cwd first on sys.path, as with `python -m` / `python -c` from a checkout's root
    r = _run("import sys; sys.path.insert(0, ''); import fastconv, fastconv._kernels as k;"
             "import numpy as np;"
             "print(fastconv.__file__); print(k.__file__);"
             "print(fastconv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).sum())",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    init, ext, total = r.stdout.split()
    assert Path(init).resolve().parent == INSTALLED
    assert Path(ext).resolve().parent == INSTALLED
    assert float(total) == 16.0
    assert src.exists()


def test_python_m_from_source_tree_root(tmp_path):
    _source_tree(tmp_path)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(INSTALLED.parent)
    r = subprocess.run([sys.executable, "-m", "fastconv", "config"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "instruction set" in r.stdout and "CPU" in r.stdout


def test_source_tree_alone_fails_with_import_error(tmp_path):
    """Without any built copy the import fails loudly (no silent pure-Python fallback)."""
    _source_tree(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-I", "-c",
                        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' "
                        "not in p]; sys.path.insert(0, ''); import fastconv"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "fastconv._kernels" in r.stderr
    assert "pip install ." in r.stderr
