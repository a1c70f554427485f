"""The README's first command, verbatim, on a fresh clone, from its root, in a new venv.

`python -m fastconv` run from a checkout's root finds the source tree's fastconv/ first on
sys.path (it has no compiled extension); fastconv/__init__.py must then run the installed
package.  Slow (a clone, a venv, a build): `.ci/run` runs it.
"""
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands(root=ROOT):
    """The non-empty lines of the README's first code block: (install+demo, install+tests)."""
    text = (root / "README.md").read_text()
    block = text.split("```")[1]
    lines = [ln for ln in block.splitlines()[1:] if ln.strip()]
    return lines


def test_readme_starts_with_the_two_commands():
    demo, tests = readme_commands()[:2]
    assert "python -m fastconv demo" in demo and demo.startswith("pip install")
    assert tests.startswith("pip install") and tests.rstrip().endswith("pytest")


def demo_accuracy(output):
    m = re.search(r"Test accuracy:\s*([0-9.]+)%", output)
    assert m, f"no accuracy line in the demo's output:\n{output[-2000:]}"
    return float(m.group(1))


def test_demo_accuracy_parser():
    assert demo_accuracy("x\nTest accuracy: 97.49% (350/359)\n") == 97.49
    with pytest.raises(AssertionError):
        demo_accuracy("Test accuracy: n/a")


@pytest.mark.slow
def test_first_command_on_a_fresh_clone(tmp_path):
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(env_dir)
    env["PATH"] = str(env_dir / "bin") + os.pathsep + env["PATH"]
    cmd = readme_commands(clone)[0]
    r = subprocess.run(["bash", "-c", cmd], cwd=clone, env=env, capture_output=True,
                       text=True, timeout=1200)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"{cmd!r} failed ({r.returncode}):\n{out[-4000:]}"
    assert demo_accuracy(r.stdout) >= 97.0
    # The clone stays a source tree: nothing was built into it, the installed copy ran.
    assert not list((clone / "fastconv").glob("_kernels*.so"))
