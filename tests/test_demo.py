"""`python -m fastconv demo` end to end (few epochs), its options and its error message."""
import io
import os
import subprocess
import sys

import pytest

from fastconv import demo
from fastconv.__main__ import main as cli_main
from nn_support import _missing

pytest.importorskip("sklearn")


@pytest.fixture(autouse=True)
def kernels_available():
    reason = _missing("kernels")
    if reason:
        pytest.skip(reason)


def test_demo_trains_and_reports():
    import fastconv
    threads = fastconv.get_num_threads()
    out = io.StringIO()
    result = demo.run(epochs=2, batch_size=32, threads=1, seed=0, out=out)
    text = out.getvalue()
    assert "Total params:" in text and "(None, 10)" in text  # the summary comes first
    assert text.index("Total params:") < text.index("Epoch 1/2")
    assert "Epoch 2/2 [" + "#" * 30 + "]" in text
    assert "Test accuracy:" in text and "Wall time:" in text and "One training step" in text
    # Two epochs already separate most digits (the default twelve reach >= 97%: the slow test).
    assert result["accuracy"] >= 0.8
    assert fastconv.get_num_threads() == threads  # run() restores the thread count
    if "step_reference" in result:
        assert "NumPy reference" in text


def test_cli_options_and_help(capsys):
    assert cli_main(["demo", "--epochs", "1", "--batch-size", "64", "--threads", "1",
                     "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "Epoch 1/1" in text and "Test accuracy" in text
    assert "threads" in text
    again = io.StringIO()
    demo.run(epochs=1, batch_size=64, threads=1, seed=3, out=again, compare=False)
    accuracy = [line for line in text.splitlines() if line.startswith("Test accuracy")]
    assert accuracy and accuracy[0] in again.getvalue()  # seeded: same command, same accuracy
    with pytest.raises(SystemExit):
        cli_main(["demo", "--epochs", "0"])
    assert cli_main([]) == 2
    assert cli_main(["nonsense"]) == 2
    assert cli_main(["config"]) == 0
    assert "fastconv" in capsys.readouterr().out


def test_missing_scikit_learn_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    assert demo.main(["--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert 'pip install ".[demo]"' in err and "scikit-learn" in err


def test_python_dash_m_runs():
    # `-m` puts the working directory first on sys.path: run beside the fastconv this test
    # run imported (the installed one in CI), not in an unbuilt checkout.
    import fastconv
    here = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    proc = subprocess.run([sys.executable, "-m", "fastconv", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=here)
    assert proc.returncode == 0 and "demo" in proc.stdout


@pytest.mark.slow
def test_default_demo_reaches_97_percent():
    result = demo.run(out=io.StringIO(), compare=False)
    assert result["accuracy"] >= 0.97
