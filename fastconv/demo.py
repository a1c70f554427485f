"""``python -m fastconv demo``: train a LeNet-style CNN on scikit-learn's 8x8 digits.

Shows the model summary, a progress bar per epoch, the held-out test accuracy, the wall time,
and how long one training step takes on the C kernels versus the NumPy reference kernels.
Everything is seeded: the same command prints the same accuracy.
"""
import argparse
import sys
import time

import numpy as np

import fastconv
from fastconv import nn, optim

DEMO_HINT = ('The demo trains on the digits bundled with scikit-learn; install it with\n'
             '    pip install ".[demo]"      (or: pip install scikit-learn)')


def load_digits_split(seed, test_fraction=0.2):
    """(x_train, y_train, x_test, y_test): 1x8x8 float32 images in [0, 1], a stratified split."""
    from sklearn.datasets import load_digits  # ImportError handled by main()
    data = load_digits()
    x = (data.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):  # stratified: every digit in the same proportion in both parts
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[:int(round(len(idx) * test_fraction))]] = True
    return x[~test], y[~test], x[test], y[test]


def build_model(seed):
    """conv -> ReLU -> max-pool, twice, then two linear layers (8x8 -> 4x4 -> 2x2)."""
    nn.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU(), nn.Linear(128, 10))


def train_step(model, criterion, opt, xb, yb):
    opt.zero_grad()
    logits = model(xb)
    loss = criterion(logits, yb)
    model.backward(criterion.backward())
    opt.step()
    return loss, logits


def evaluate(model, x, y, batch_size=256):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int((model(x[i:i + batch_size]).argmax(axis=1) == y[i:i + batch_size]).sum())
    model.train()
    return correct


class ProgressBar:
    """A plain-text bar: redrawn in place on a terminal, one line per epoch otherwise."""

    def __init__(self, total, label, out, width=30):
        self.total, self.label, self.out, self.width = total, label, out, width
        self.live = hasattr(out, "isatty") and out.isatty()
        self.t0 = time.perf_counter()

    def line(self, done, info):
        filled = self.width * done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        return (f"{self.label} [{bar}] {done:>{len(str(self.total))}}/{self.total}  {info}  "
                f"{time.perf_counter() - self.t0:5.1f}s")

    def update(self, done, info):
        if self.live:
            self.out.write("\r" + self.line(done, info))
            self.out.flush()

    def finish(self, info):
        text = self.line(self.total, info)
        self.out.write(("\r" + text if self.live else text) + "\n")
        self.out.flush()


def time_step(model, x, y, batch_size, repeats, backend=None):
    """Median seconds of one training step (forward, loss, backward, Adam update)."""
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xb, yb = x[:batch_size], y[:batch_size]
    times = []
    with nn.use_backend(backend or nn.get_backend()):
        train_step(model, criterion, opt, xb, yb)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            train_step(model, criterion, opt, xb, yb)
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(epochs=12, batch_size=32, threads=None, seed=0, lr=3e-3, out=None, compare=True):
    """Train and report; returns a dict of the figures printed."""
    out = out or sys.stdout
    threads_before = fastconv.get_num_threads()
    if threads is not None:
        fastconv.set_num_threads(threads)
    try:
        return _run(epochs, batch_size, seed, lr, out, compare)
    finally:
        fastconv.set_num_threads(threads_before)


def _run(epochs, batch_size, seed, lr, out, compare):
    t_start = time.perf_counter()
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    model = build_model(seed)
    print(f"fastconv {fastconv.__version__} demo: a LeNet-style CNN on scikit-learn's 8x8 digits "
          f"({len(x_train):,} training / {len(x_test):,} test images, "
          f"{fastconv.get_num_threads()} threads)\n", file=out)
    nn.summary(model, x_train.shape[1:], file=out)
    print(file=out)
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed + 1)
    steps = (len(x_train) + batch_size - 1) // batch_size
    t_train = time.perf_counter()
    for epoch in range(1, epochs + 1):
        # Cosine learning-rate decay: large steps first, a settled model at the end.
        opt.param_groups[0]["lr"] = lr * 0.5 * (1 + np.cos(np.pi * (epoch - 1) / epochs))
        bar = ProgressBar(steps, f"Epoch {epoch:>{len(str(epochs))}}/{epochs}", out)
        order = rng.permutation(len(x_train))
        loss_sum = correct = seen = 0
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            loss, logits = train_step(model, criterion, opt, x_train[idx], y_train[idx])
            loss_sum += loss * len(idx)
            correct += int((logits.argmax(axis=1) == y_train[idx]).sum())
            seen += len(idx)
            bar.update(step + 1, f"loss {loss_sum / seen:.4f}  acc {correct / seen:6.1%}")
        bar.finish(f"loss {loss_sum / seen:.4f}  acc {correct / seen:6.1%}")
    train_time = time.perf_counter() - t_train
    n_correct = evaluate(model, x_test, y_test)
    accuracy = n_correct / len(x_test)
    wall = time.perf_counter() - t_start
    print(f"\nTest accuracy: {accuracy:.2%} ({n_correct}/{len(x_test)})", file=out)
    print(f"Wall time: {wall:.1f} s (training {train_time:.1f} s for {epochs} epochs)", file=out)
    result = {"accuracy": accuracy, "wall_time": wall, "train_time": train_time}
    if compare:
        result.update(_compare_backends(model, x_train, y_train, batch_size, seed, out))
    return result


def _compare_backends(model, x, y, batch_size, seed, out):
    """Time one training step on the kernels and on the NumPy reference (a copy of the model)."""
    probe = build_model(seed)
    probe.load_state_dict(model.state_dict())
    t_kernels = time_step(probe, x, y, batch_size, repeats=10, backend="kernels")
    try:
        t_ref = time_step(probe, x, y, batch_size, repeats=3, backend="reference")
    except (ImportError, NotImplementedError) as e:
        print(f"One training step (batch {batch_size}): {t_kernels * 1e3:.2f} ms "
              f"(NumPy reference kernels unavailable: {e})", file=out)
        return {"step_kernels": t_kernels}
    print(f"One training step (batch {batch_size}): {t_kernels * 1e3:.2f} ms with the C kernels, "
          f"{t_ref * 1e3:.1f} ms with the NumPy reference kernels: "
          f"{t_ref / t_kernels:.1f}x faster", file=out)
    return {"step_kernels": t_kernels, "step_reference": t_ref}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m fastconv demo", description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    p.add_argument("--threads", type=int, default=None,
                   help="OpenMP threads for the kernels (default: OMP_NUM_THREADS or all cores)")
    p.add_argument("--seed", type=int, default=0, help="seed for data split, init and shuffling")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        p.error("--epochs, --batch-size and --threads must be positive")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print(f"error: scikit-learn is not installed.\n{DEMO_HINT}", file=sys.stderr)
        return 1
    with _single_threaded_blas():
        run(args.epochs, args.batch_size, args.threads, args.seed)
    return 0


def _single_threaded_blas():
    """The dense layers' matrix products are tiny: BLAS threads would only compete with the
    kernels' OpenMP threads for the cores.  Limited when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
